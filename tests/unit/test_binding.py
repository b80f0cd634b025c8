"""What a switch's port reports mean for bindings: one test per rule of
controller/switch/binding.py."""
from controller.switch import binding


def test_an_added_port_binds_there_even_link_down():
    d = binding.port_added({}, 'hv1', 'tap1', 5, link_up=False, arriving=False)
    assert d.bind == {'tap1': 5}


def test_an_arriving_port_plugged_link_down_waits_for_its_link():
    seen = {'tap1': ('hv1', 5)}
    assert binding.port_added(seen, 'hv2', 'tap1', 2000, link_up=False, arriving=True) \
        == binding.NOTHING
    d = binding.port_modified(seen, 'hv2', 'tap1', 2000, link_up=True, arriving=True)
    assert d.bind == {'tap1': 2000}                 # its link coming up: the switch-over


def test_a_modify_binds_only_where_it_is_with_its_link_up():
    seen = {'tap1': ('hv2', 7)}
    assert binding.port_modified(seen, 'hv1', 'tap1', 5, True, False) == binding.NOTHING
    assert binding.port_modified(seen, 'hv2', 'tap1', 7, False, False) == binding.NOTHING
    assert binding.port_modified(seen, 'hv2', 'tap1', 7, True, False).bind == {'tap1': 7}
    assert binding.port_modified({}, 'hv3', 'tap9', 3, True, False).bind == {'tap9': 3}


def test_a_delete_unbinds_later_and_only_if_not_seen_elsewhere():
    seen = {'tap1': ('hv1', 5)}
    d = binding.port_deleted(seen, 'hv1', 'tap1')
    assert d.unbind_later == 'tap1' and d.forget
    assert binding.still_gone({}, 'hv1', 'tap1')
    assert not binding.still_gone({'tap1': ('hv2', 7)}, 'hv2', 'tap1')
    moved = binding.port_deleted({'tap1': ('hv2', 7)}, 'hv1', 'tap1')   # late, from the source
    assert not moved.forget


def test_a_port_list_replaces_what_that_host_reported():
    seen = binding.Seen({'tap1': ('hv1', 5), 'tap2': ('hv1', 6), 'tap3': ('hv2', 1)})
    assert binding.port_list(seen, 'hv1', {'tap2': 6, 'tap4': 8}) == {
        'tap2': ('hv1', 6), 'tap3': ('hv2', 1), 'tap4': ('hv1', 8)}
    assert seen.of_host('hv1') == {'tap2', 'tap4'}


def test_seen_files_each_device_under_the_host_it_was_last_seen_on():
    seen = binding.Seen({'tap1': ('hv1', 5)})
    seen['tap1'] = ('hv2', 7)                       # moved
    assert seen.of_host('hv1') == set() and seen.of_host('hv2') == {'tap1'}
    del seen['tap1']
    assert seen.of_host('hv2') == set() and seen == {}
