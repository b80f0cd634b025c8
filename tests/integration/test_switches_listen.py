"""Switches that listen for their controllers (``DataCenter(switches_listen=True)``):
the controller dials every switch at the address its host record names, so a
restarted controller has every switch back at once (a switch that connects
itself waits out its reconnect back-off, 1 s or more), loses no packet, and
hears of vNICs plugged afterwards; over mutual TLS as well."""
import os
import signal
import time

import pytest

from mininet_topos.datacenter import SWITCH_PORT, DataCenter
from tests.integration.helpers import expected_pairs, flow_cookies, reachability

BACKOFF = 1.0       # the shortest reconnect back-off OVS allows a switch that connects


@pytest.fixture(scope='module')
def dc():
    with DataCenter(racks=2, hypervisors=2, vms=2, switches_listen=True) as running:
        yield running


def controller_targets(switch):
    return switch.ovs.vsctl('--bare --columns=target list controller').split()


def test_every_switch_listens_on_its_management_address_and_is_dialed(dc):
    hosts = {h['name']: h for h in dc.client.get('/v1/hosts')}
    for sw in dc.switches():
        ip = sw.mgmt_ip.split('/')[0]
        assert controller_targets(sw) == ['ptcp:%d:%s' % (SWITCH_PORT, ip)]
        assert hosts[sw.name]['switch_address'] == '%s:%d' % (ip, SWITCH_PORT)
    synced = {s['host'] for s in dc.client.get('/v1/status')['switches'].values()
              if s['synced']}
    assert synced == {sw.name for sw in dc.switches()}
    assert reachability(dc) == expected_pairs(dc, lambda a, b: True)


def test_a_restarted_controller_has_every_switch_back_at_once(dc):
    vm1, vm8 = dc.node('vm1'), dc.node('vm8')
    before = {hv.name: flow_cookies(hv) for hv in dc.hypervisors()}
    out = '%s/restart-ping.txt' % dc.rundir
    vm1.cmd('ping -i 0.01 -c 400 -W 1 %s > %s 2>&1 &' % (vm8.IP(), out))
    time.sleep(0.5)
    dc.controller.stop(signal.SIGKILL)
    time.sleep(2 * BACKOFF)          # switches that connect would now be backing off
    started = time.time()
    dc.controller.start()
    api_up = time.time()
    dc.wait_ready()
    connects = {e['dpid']: e['time'] for e in dc.client.get('/v1/events')
                if e['event'] == 'connect' and e['time'] >= started}
    assert {int(d, 16) for d in connects} == {sw.dpid_int for sw in dc.switches()}
    # all of them at once, as soon as the controller runs: well before the first
    # retry of a switch backing off (that one comes >= 1 s after a refused try)
    assert max(connects.values()) - min(connects.values()) < BACKOFF / 2, connects
    assert max(connects.values()) - api_up < BACKOFF / 2, (api_up, connects)
    vm1.cmd('wait')
    with open(out) as f:
        summary = f.read()
    os.remove(out)
    assert ' 0% packet loss' in summary, summary
    assert {hv.name: flow_cookies(hv) for hv in dc.hypervisors()} == before


def test_a_vnic_plugged_after_the_restart_is_bound(dc):
    """Port-status events reach the controller on the connections it dialed
    (OVS would make them "service" connections, which hear none, without
    type=primary)."""
    hv = dc.node('hv2')
    hv.cmd('ip link add tapnew type veth peer name tapnewp')
    network = dc.client.get('/v1/networks')[0]['id']
    port = dc.client.post('/v1/ports', {'network_id': network, 'device': 'tapnew',
                                        'host': 'hv2', 'mac': '02:00:00:00:aa:01',
                                        'ips': ['10.0.170.1']})
    hv.plug('tapnew')
    deadline = time.time() + 10
    while time.time() < deadline and not port['bound_host']:
        time.sleep(0.1)
        port = dc.client.get('/v1/ports/%s' % port['id'])
    assert port['bound_host'] == 'hv2' and port['ofport'] > 0


def test_switches_listen_over_tls_too():
    with DataCenter(racks=1, hypervisors=2, vms=1, tls=True, switches_listen=True) as dc:
        for sw in dc.switches():
            assert controller_targets(sw) == ['pssl:%d:%s' % (SWITCH_PORT,
                                                               sw.mgmt_ip.split('/')[0])]
        assert reachability(dc) == expected_pairs(dc, lambda a, b: True)
