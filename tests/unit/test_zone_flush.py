"""Zones start empty: the conntrack zone a vNIC leaves is flushed on its switch
(Open vSwitch's NXT_CT_FLUSH_ZONE), after the sessions that move with the VM
were read there, and before another vNIC uses that port number."""
import struct
import types

import pytest

from controller.features import firewall_carrier as session_carrier
from controller.state.model import changed
from controller.switch.ofctrl import OfCtrl
from controller.switch.reconciler import NX_VENDOR_ID, NXT_CT_FLUSH_ZONE, Reconciler
from controller.ryu_facade import ofproto
from controller.features.firewall_carrier import SessionCarrier, freed_zone
from tests.unit.fakes import FakeDatapath
from tests.unit.test_sessions import reader


class FlushRecordingDatapath(FakeDatapath):
    def send(self, buf):
        super().send(buf)
        if buf[1] == ofproto.OFPT_EXPERIMENTER:
            vendor, subtype, zone = struct.unpack('!II6xH', buf[8:24])
            assert (vendor, subtype, len(buf)) == (NX_VENDOR_ID, NXT_CT_FLUSH_ZONE, 24)
            self.flushed.append(zone)


@pytest.fixture
def carrier(monkeypatch):
    """A carrier over two switches hv1 (dpid 1) and hv2 (dpid 2) it masters;
    carries run at once (recorded), a kept zone's timer is recorded."""
    dps = {}
    for dpid in (1, 2):
        dps[dpid] = FlushRecordingDatapath(dpid)
        dps[dpid].flushed = []
    hosts = {'hv%d' % d: types.SimpleNamespace(name='hv%d' % d, dpid=d) for d in dps}
    ofctrl = OfCtrl(store=None, is_master=lambda dpid: True, timeline=[])
    ofctrl.datapaths = dps
    c = SessionCarrier(types.SimpleNamespace(hosts=hosts), None, ofctrl, [], enabled=True,
                       grace=30, agent_secret='s')
    c.order, c.timers = [], []

    def fake_carry(port_id, source, zone, dest, ofport):
        c.order.append(('read', source, zone))
        return []
    c._carry = fake_carry
    monkeypatch.setattr(session_carrier.hub, 'spawn', lambda f, *a, **k: f(*a, **k))
    monkeypatch.setattr(session_carrier.hub, 'spawn_after',
                        lambda secs, f, *a: c.timers.append((secs, f, a)))
    original = c.flush

    def flush(host, zone):
        c.order.append(('flush', host, zone))
        original(host, zone)
    c.flush = flush
    c.dps = dps
    return c


def test_the_message_is_nxt_ct_flush_zone_with_the_zone():
    dp = FlushRecordingDatapath(1)
    dp.flushed = []
    Reconciler().flush_zone(dp, 513)
    assert dp.flushed == [513]


def test_freed_zone(service):
    _, _, port = reader(service)           # bound on hv1, port 1
    assert freed_zone(port, changed(port, name='x')) is None
    assert freed_zone(port, changed(port, ofport=9)) == ('hv1', 1)
    assert freed_zone(port, changed(port, bound_host='', ofport=0)) == ('hv1', 1)
    assert freed_zone(port, None) == ('hv1', 1)
    assert freed_zone(None, port) is None


def test_a_deleted_port_leaves_its_zone_flushed(carrier, service):
    _, _, port = reader(service)
    carrier.port_changed(port, None)
    assert carrier.dps[1].flushed == [1]


def test_a_move_reads_the_sessions_then_flushes_the_source(carrier, service):
    _, _, port = reader(service)
    announced = changed(port, migrating_to='hv2', migrating_ofport=5)
    carrier.port_changed(port, announced)          # read ahead, the VM is still on hv1
    assert carrier.order == [('read', 'hv1', 1)]
    arrived = changed(announced, bound_host='hv2', ofport=5, migrating_to='',
                      migrating_ofport=0)
    carrier.port_changed(announced, arrived)
    assert carrier.order == [('read', 'hv1', 1), ('read', 'hv1', 1), ('flush', 'hv1', 1)]
    assert carrier.dps[1].flushed == [1] and carrier.dps[2].flushed == []


def test_a_vanished_vnic_keeps_its_zone_until_it_shows_up_elsewhere(carrier, service):
    _, _, port = reader(service)
    gone = changed(port, bound_host='', ofport=0)
    carrier.port_changed(port, gone)
    assert carrier.dps[1].flushed == [] and carrier.timers[0][0] == 30
    carrier.port_changed(gone, changed(gone, bound_host='hv2', ofport=7))
    assert carrier.order == [('read', 'hv1', 1), ('flush', 'hv1', 1)]
    _, timer, args = carrier.timers[0]
    timer(*args)                                   # too late: flushed once, not twice
    assert carrier.dps[1].flushed == [1]


def test_a_kept_zone_is_flushed_after_the_grace_or_for_the_next_vnic(carrier, service):
    _, _, port = reader(service)
    gone = changed(port, bound_host='', ofport=0)
    carrier.port_changed(port, gone)
    _, timer, args = carrier.timers[0]
    timer(*args)
    assert carrier.dps[1].flushed == [1]
    other = changed(port, id='other', device='tapother')
    carrier.port_changed(other, changed(other, bound_host='', ofport=0))
    newcomer = changed(port, id='new', device='tapnew', bound_host='hv1', ofport=1)
    carrier.port_changed(None, newcomer)           # given port 1 before the grace ends
    assert carrier.dps[1].flushed == [1, 1] and carrier.order[-1] == ('flush', 'hv1', 1)


def test_the_same_vnic_back_on_its_port_keeps_its_sessions(carrier, service):
    _, _, port = reader(service)
    gone = changed(port, bound_host='', ofport=0)
    carrier.port_changed(port, gone)
    carrier.port_changed(gone, port)
    assert carrier.dps[1].flushed == []


def test_only_the_master_of_the_switch_flushes(carrier, service):
    carrier.ofctrl.is_master = lambda dpid: dpid != 1
    _, _, port = reader(service)
    carrier.port_changed(port, None)
    assert carrier.dps[1].flushed == []
