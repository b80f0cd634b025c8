"""Work divided by mastership (controller/switch/ofctrl.py): a replica reads the
table of a switch only when it masters it, and keeps nothing compiled for a
switch once another replica masters it; the simulator (bench/ofsim.py) keeps
roles as OVS does, so the scale benchmark's replicas are held to them."""
import struct

from bench import ofsim
from controller.compile.flows import flow
from controller.switch.ofctrl import OfCtrl
from tests.unit.fakes import FakeDatapath


def test_a_switch_we_do_not_master_is_not_read_until_it_becomes_ours():
    mine = set()
    ofctrl = OfCtrl(store=None, is_master=lambda dpid: dpid in mine, timeline=[])
    dp = FakeDatapath(7)
    ofctrl.connected(dp)
    assert dp.sent == [] and not ofctrl.is_synced(7) and ofctrl.unprogrammed() == []
    mine.add(7)
    ofctrl.resync(dp)                       # what the core does on becoming master
    assert len(dp.sent) == 1 and 7 in ofctrl.reconciler._reading


def test_a_released_switch_keeps_no_compiled_flows_and_is_read_again_when_back():
    mine = {7}
    ofctrl = OfCtrl(store=None, is_master=lambda dpid: dpid in mine, timeline=[])
    dp = FakeDatapath(7)
    ofctrl.connected(dp)
    ofctrl.reconciler.installed[7] = {}     # its (empty) table was read back
    host = type('Host', (), {'name': 'hv7'})()
    f = flow('core', 0, 100, {'in_port': 1})
    ofctrl.program(host, dp, {('core', 'port', 'a'): (f,)}, None, full=True)
    assert 7 in ofctrl.desired and 7 in ofctrl.applied and ofctrl.reconciler.last_bundle[7]
    mine.clear()
    ofctrl.released(7)
    assert 7 not in ofctrl.desired and 7 not in ofctrl.applied
    assert not ofctrl.is_synced(7) and 7 not in ofctrl.reconciler.last_bundle
    assert ofctrl.datapaths[7] is dp        # still connected: port status, roles
    assert ofctrl.needs_full(7)             # back to us: compiled whole, diffed


def role_request(role, generation):
    return struct.pack('!BBHII4xQ', 5, ofsim.ROLE_REQUEST, 24, 9, role, generation)


def test_the_simulator_keeps_one_master_and_refuses_a_slaves_writes():
    sim = ofsim.Simulator([('127.0.0.1', 1), ('127.0.0.1', 2)], [{'dpid': 1}])
    sw = sim.switches[1]
    a, b = sw.conns
    sent = []
    sim.send = lambda conn, data: sent.append((conn, data))
    sim.handle(a, role_request(ofsim.ROLE_MASTER, 5))
    sim.handle(b, role_request(ofsim.ROLE_SLAVE, 5))
    assert (a.role, b.role) == (ofsim.ROLE_MASTER, ofsim.ROLE_SLAVE)
    sent.clear()
    commit = struct.pack('!BBHIIHH', 5, ofsim.BUNDLE_CONTROL, 16, 2, 1, ofsim.COMMIT_REQUEST, 3)
    sim.handle(b, commit)
    (conn, error), = sent
    assert conn is b and error[1] == ofsim.ERROR
    assert struct.unpack_from('!HH', error, 8) == (1, ofsim.OFPBRC_IS_SLAVE)
    # b becomes master at a newer generation: a is told it is a slave now
    sent.clear()
    sim.handle(b, role_request(ofsim.ROLE_MASTER, 6))
    assert (a.role, b.role) == (ofsim.ROLE_SLAVE, ofsim.ROLE_MASTER)
    assert [(c, m[1]) for c, m in sent] == [(a, ofsim.ROLE_STATUS), (b, ofsim.ROLE_REPLY)]
    # a's older generation is stale
    sent.clear()
    sim.handle(a, role_request(ofsim.ROLE_MASTER, 5))
    (conn, error), = sent
    assert struct.unpack_from('!HH', error, 8) == (ofsim.OFPET_ROLE_REQUEST_FAILED,
                                                   ofsim.OFPRRFC_STALE)
    assert a.role == ofsim.ROLE_SLAVE
