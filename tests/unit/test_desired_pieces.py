"""The piece bookkeeping of one switch (controller.compile.desired): what a replaced
piece sends, flows two pieces share, pieces found by their scopes."""
from controller.compile.desired import DesiredFlows
from controller.compile.flows import flow


def f(n):
    return flow('core', 0, 100, {'in_port': n})


def cookies(flows):
    return {x.cookie for x in flows}


def test_without_scopes_the_pieces_given_are_the_whole_switch():
    d = DesiredFlows()
    d.update({('core', 'port', 'a'): (f(1),), ('core', 'port', 'b'): (f(2),)})
    assert cookies(d.update({('core', 'port', 'b'): (f(2),)})[0]) == {f(1).cookie}


def test_a_new_piece_adds_its_flows_and_the_same_piece_again_sends_nothing():
    d = DesiredFlows()
    assert cookies(d.update({('core', 'port', 'a'): (f(1), f(2))})[1]) == cookies([f(1), f(2)])
    assert d.update({('core', 'port', 'a'): (f(1), f(2))}) == ([], [])
    assert d.update({('core', 'port', 'a'): (f(2), f(1))}) == ([], [])     # order is no change


def test_a_flow_shared_by_two_pieces_leaves_with_the_last_one():
    d = DesiredFlows()
    d.update({('firewall', 'port', 'a'): (f(1), f(9)), ('firewall', 'port', 'b'): (f(2), f(9))})
    removed, added = d.update({('firewall', 'port', 'a'): ()}, [('port', 'a')])
    assert cookies(removed) == {f(1).cookie} and added == []
    removed, _ = d.update({}, [('port', 'b')])
    assert cookies(removed) == cookies([f(2), f(9)]) and d.flows == {} and d.fingerprint == 0


def test_a_flow_moving_between_pieces_is_neither_removed_nor_added():
    d = DesiredFlows()
    d.update({('core', 'port', 'a'): (f(1),)})
    assert d.update({('core', 'port', 'b'): (f(1),)}, [('port', 'a'), ('port', 'b')]) == ([], [])
    assert set(d.pieces) == {('core', 'port', 'b')}


def test_pieces_of_a_scope_not_compiled_again_are_gone():
    d = DesiredFlows()
    d.update({('vxlan', 'net', 'n'): (f(1),), ('vxlan', 'remote', 'n', 'p'): (f(2),),
              ('vxlan', 'arp', 'n'): (f(3),), ('core', 'port', 'p'): (f(4),),
              ('firewall', 'clause1', '10.0.0.1'): (f(5),)})
    assert d.keys_in([('remote', 'n', 'p')]) == {('vxlan', 'net', 'n'),
                                                ('vxlan', 'remote', 'n', 'p')}
    assert d.keys_in([('clause1', '10.0.0.1')]) == {('firewall', 'clause1', '10.0.0.1')}
    removed, _ = d.update({}, [('net', 'n')])        # the network left the host
    assert cookies(removed) == cookies([f(1), f(2), f(3)])
    assert set(d.pieces) == {('core', 'port', 'p'), ('firewall', 'clause1', '10.0.0.1')}
    assert d.keys_in(None) == set(d.pieces)
