"""The switch simulator (bench.ofsim) against real Open vSwitch: a 10-hypervisor
data center is built with the lab, its desired state (a copy of its store) is
given to a second controller whose switches are simulated with the same dpids
and ports, and every simulated switch must end up holding exactly the flows (by
cookie) its real bridge holds; again after a vNIC moved (unplanned)."""
import re
import sqlite3
import tempfile
import time

import pytest

from bench.scale import ROOT, Controller, Sim
from mininet_topos.datacenter import DataCenter
from mininet_topos.migration import migrate
from tests.integration.helpers import flow_cookies


def ports_of(switch):
    """{name: OpenFlow port number} of the managed bridge, LOCAL left out."""
    out = switch.ovs.ofctl('dump-ports-desc %s' % switch.bridge)
    return {name: int(n) for n, name in re.findall(r'^\s*(\d+)\(([^)]+)\):', out, re.M)}


def real_cookies(dc):
    return {sw.dpid_int: sorted(flow_cookies(sw, sw.bridge)) for sw in dc.switches()}


def simulated_cookies(sim, dpids):
    return {d: sorted('0x%x' % c for c in sim.call(cmd='cookies', dpid=d)['cookies'])
            for d in dpids}


def wait_bound(ctl, device, host, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if any(p['device'] == device and p['bound_host'] == host
               for p in ctl.client.get('/v1/ports')):
            return
        time.sleep(0.05)
    raise AssertionError('%s not bound on %s' % (device, host))


@pytest.fixture(scope='module')
def twins():
    """(the real data center, the second controller, the simulator)."""
    with DataCenter(racks=2, hypervisors=5, vms=2, networks='vlan:10,vxlan:5000') as dc:
        rundir = tempfile.mkdtemp(prefix='vnetsec-ofsim-', dir=dc.rundir)
        ctl = Controller(ROOT, rundir)
        with sqlite3.connect(dc.rundir + '/vnetsec.db') as source, \
                sqlite3.connect(rundir + '/vnetsec.db') as copy:
            source.backup(copy)                 # the same desired state, ids and all
        specs = [{'dpid': sw.dpid_int, 'bridge': sw.bridge, 'ports': ports_of(sw)}
                 for sw in dc.switches()]
        ctl.start()
        sim = None
        try:                                    # the controller stops also if the simulator fails
            sim = Sim(specs, [ctl.ofp_port], rundir)
            ctl.wait_synced({s['dpid'] for s in specs}, timeout=60)
            yield dc, ctl, sim
        finally:
            ctl.kill()
            if sim is not None:
                sim.stop()


def test_simulated_switches_hold_what_real_bridges_hold(twins):
    dc, ctl, sim = twins
    real = real_cookies(dc)
    assert len(real) == 12 and all(len(c) > 5 for c in real.values())
    assert simulated_cookies(sim, real) == real
    stats = sim.call(cmd='stats')['switches']
    assert all(s['errors'] == 0 and s['commits'] >= 1 for s in stats.values())


def test_after_an_unplanned_move_too(twins):
    dc, ctl, sim = twins
    migrate(dc, 'vm1', 'hv3', planned=False, announce=False)
    dc.wait_ready()
    ofport = ports_of(dc.node('hv3'))['tapvm1']
    sim.call(cmd='move', device='tapvm1', ofport=ofport, **{'from': 1, 'to': 3})
    wait_bound(ctl, 'tapvm1', 'hv3')
    time.sleep(binding_delay())
    ctl.wait_synced({sw.dpid_int for sw in dc.switches()}, timeout=30, poll=0.05)
    real = real_cookies(dc)
    assert simulated_cookies(sim, real) == real
    # the zone vm1 left on the source is emptied there, as on a real switch
    stats = sim.call(cmd='stats')['switches']
    assert stats['1']['zone_flushes'] >= 1
    assert all(s['errors'] == 0 for s in stats.values())


def binding_delay():
    from controller.switch.binding import UNBIND_DELAY
    return UNBIND_DELAY + 0.2
