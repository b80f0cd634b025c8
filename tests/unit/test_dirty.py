"""Which scopes a change marks (controller/compile/dirty.py); that the marks suffice is
tests/unit/test_incremental_property.py's job, these check they stay narrow."""
from controller.compile.host import ALL
from controller.compile.dirty import dirty
from controller.features import firewall, vxlan
from controller.state.inventory import Inventory
from tests.unit.conftest import add_hv, add_port


def binding(service, store, device, host, ofport):
    """(inventory after, store changes) of binding a device."""
    inv = Inventory.from_store(store)
    changes = []
    store.watch(changes.extend)
    service.bind(host, {device: ofport})
    inv.apply(changes)
    return inv, changes


def marks_of_binding(service, store, device, host, ofport):
    return dirty(*binding(service, store, device, host, ofport), ALL)


def test_a_vnic_bound_beside_one_of_its_groups_recompiles_no_clause1(service, store):
    net = service.create_network({'name': 'n', 'kind': 'vlan'})
    add_hv(service, 'hv1', 1)
    add_hv(service, 'hv2', 2)
    add_port(service, net, 1, 'hv1', ofport=1)         # group "default", as the next
    add_port(service, net, 2, 'hv1')
    marked = marks_of_binding(service, store, 'tapvm2', 'hv1', 2)
    port = sorted(service.store.list('port'), key=lambda p: p.device)
    assert port[1].device == 'tapvm2' and ('port', port[1].id) in marked.of('hv1')
    assert ('clause1',) not in marked.of('hv1')
    assert marked.of_tors() == {('remote', net.id, port[1].id)}  # the ToRs: its MAC only


def test_a_vnic_first_of_its_groups_on_a_host_recompiles_its_clause1(service, store):
    net = service.create_network({'name': 'n', 'kind': 'vxlan'})
    add_hv(service, 'hv1', 1)
    add_hv(service, 'hv2', 2)
    add_port(service, net, 1, 'hv1', ofport=1)
    add_port(service, net, 2, 'hv2')
    inv, changes = binding(service, store, 'tapvm2', 'hv2', 2)
    marked = dirty(inv, changes, ALL)
    assert ('clause1',) in marked.of('hv2')
    assert not marked.of_tors()                        # a VXLAN port: not the ToRs'
    # that mark is the firewall's rule's alone
    assert ('clause1',) in dirty(inv, changes, [firewall.FEATURE]).of('hv2')
    assert ('clause1',) not in dirty(inv, changes, [vxlan.FEATURE]).of('hv2')


def test_vnics_bound_together_first_of_their_group_on_a_host_recompile_its_clause1(
        service, store):
    """Each is beside the other after the write, but neither was there before."""
    net = service.create_network({'name': 'n', 'kind': 'vxlan'})
    add_hv(service, 'hv1', 1)
    add_hv(service, 'hv2', 2)
    add_port(service, net, 1, 'hv1', ofport=1)
    add_port(service, net, 2, 'hv1', ofport=2)
    inv = Inventory.from_store(store)
    changes = []
    store.watch(changes.extend)
    service.bind('hv2', {'tapvm1': 1, 'tapvm2': 2})    # one write, as a port list
    inv.apply(changes)
    assert len(changes) == 2
    assert ('clause1',) in dirty(inv, changes, ALL).of('hv2')


def test_a_vlan_port_bound_marks_no_other_hypervisor_once_the_network_is_on_two(
        service, store):
    """Other hypervisors hold no entry for a VLAN port, only whether the
    network has a port bound elsewhere: that flips only while the network's
    other ports are on one host or none."""
    net = service.create_network({'name': 'n', 'kind': 'vlan'})
    for i in (1, 2, 3):
        add_hv(service, 'hv%d' % i, i)
    add_port(service, net, 1, 'hv1', ofport=1)
    add_port(service, net, 2, 'hv3')
    first = marks_of_binding(service, store, 'tapvm2', 'hv3', 1)
    assert first.hosts() == {'hv1', 'hv3'}             # hv1's floods now go up too
    add_port(service, net, 3, 'hv2')
    third = marks_of_binding(service, store, 'tapvm3', 'hv2', 1)
    assert third.hosts() == {'hv2'}
    assert third.of_tors() == {('net', net.id)}       # hv2 gains the VLAN: admitted there


def test_vlan_ports_bound_together_are_not_each_others_reason_to_mark_nothing(
        service, store):
    """Two ports bound in one write to a host new to their network: each is
    beside the other after the write, but hv1 (alone with the network before)
    now has ports elsewhere, and the ToRs admit the VLAN towards hv3."""
    net = service.create_network({'name': 'n', 'kind': 'vlan'})
    for i in (1, 2, 3):
        add_hv(service, 'hv%d' % i, i)
    add_port(service, net, 1, 'hv1', ofport=1)
    add_port(service, net, 2, 'hv3')
    add_port(service, net, 3, 'hv3')
    inv = Inventory.from_store(store)
    changes = []
    store.watch(changes.extend)
    service.bind('hv3', {'tapvm2': 2, 'tapvm3': 3})
    inv.apply(changes)
    marked = dirty(inv, changes, ALL)
    assert marked.hosts() == {'hv1', 'hv3'} and marked.of_tors() == {('net', net.id)}


def test_a_change_no_feature_claims_recompiles_every_switch_whole(service, store):
    """A record kind no loaded feature declares a rule for: no exception, no
    miss, every switch compiled whole."""
    add_hv(service, 'hv1', 1)
    inv = Inventory.from_store(store)
    marked = dirty(inv, [('nobodys', 'k', None, object())], features=[])
    assert marked.hosts() is None and marked.of('hv1') is None and marked.of_tors() is None


def test_a_port_joining_a_group_marks_its_address_where_a_rule_names_the_group_or_its_zone(
        service, store):
    """Only the hosts with a vNIC whose group names the new port's group (by id
    or by zone) as remote get the port's address clause; the others nothing."""
    from controller.features.security_groups import SecurityGroups
    groups = SecurityGroups(service)
    web = groups.create_group({'name': 'web', 'zone': 'front', 'rules': []})
    by_id = groups.create_group({'name': 'by-id', 'rules': [
        {'direction': 'ingress', 'remote_group_id': web.id}]})
    by_zone = groups.create_group({'name': 'by-zone', 'rules': [
        {'direction': 'ingress', 'remote_zone': 'front'}]})
    other = groups.create_group({'name': 'other', 'rules': [
        {'direction': 'ingress', 'remote_zone': 'back'}]})
    net = service.create_network({'name': 'n', 'kind': 'vxlan'})
    for n, group in enumerate((by_id, by_zone, other), 1):
        add_hv(service, 'hv%d' % n, n)
        service.create_port({'network_id': net.id, 'mac': '02:00:00:00:00:%02x' % n,
                             'ips': ['10.0.0.%d' % n], 'device': 'tapvm%d' % n,
                             'host': 'hv%d' % n, 'security_groups': [group.id]})
        service.bind('hv%d' % n, {'tapvm%d' % n: 1})
    add_hv(service, 'hv4', 4)
    inv = Inventory.from_store(store)
    changes = []
    store.watch(changes.extend)
    service.create_port({'network_id': net.id, 'mac': '02:00:00:00:00:09', 'ips': ['10.0.0.9'],
                         'device': 'tapvm9', 'host': 'hv4', 'security_groups': [web.id]})
    inv.apply(changes)
    marked = dirty(inv, changes, ALL)
    assert ('clause1', '10.0.0.9') in marked.of('hv1')
    assert ('clause1', '10.0.0.9') in marked.of('hv2')
    assert ('clause1', '10.0.0.9') not in marked.of('hv3')
