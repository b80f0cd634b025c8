"""VLAN segmentation on a real data center: VLANs 10, 20, 30 over 4 hypervisors
in 2 racks (hv1 and hv4 host no VLAN-30 VM)."""
import re
import time

import pytest

from controller.compile import pipeline
from mininet_topos.client import ApiError
from mininet_topos.datacenter import DataCenter
from tests.integration.helpers import capture, expected_pairs, flow_cookies, reachability

VLAN_OF = {}


@pytest.fixture(scope='module')
def dc():
    with DataCenter(racks=2, hypervisors=2, vms=2,
                    networks='vlan:10,vlan:20,vlan:30') as running:
        for vm, network in running.topo.network_of_vm.items():
            VLAN_OF[vm] = int(network[len('vlan'):])
        yield running


def test_reachability_matrix_follows_vlans(dc):
    assert set(VLAN_OF.values()) == {10, 20, 30}
    assert reachability(dc) == expected_pairs(dc, lambda a, b: VLAN_OF[a.name] == VLAN_OF[b.name])


def test_tor_ports_admit_only_vlans_behind_them(dc):
    hv1 = dc.client.get('/v1/hosts/hv1')
    assert hv1['vlans'] == [10, 20] and hv1['tor']['allowed_vlans'] == [10, 20]
    tor1 = dc.client.get('/v1/hosts/tor1')['allowed_vlans']
    assert tor1 == {'hv:hv1': [10, 20], 'hv:hv2': [10, 30], 'rack:2': [10, 20, 30]}


def test_trunk_carries_tags_and_no_sprawl_to_hosts_without_the_vlan(dc):
    vm3, vm6 = dc.node('vm3'), dc.node('vm6')        # VLAN 30: hv2 (rack 1), hv3 (rack 2)
    assert VLAN_OF['vm3'] == VLAN_OF['vm6'] == 30
    trunk = capture(dc.node('tor1'), 'tr2', 'vlan', seconds=4)
    hv1_uplink = capture(dc.node('hv1'), 'up0', 'vlan 30', seconds=4)
    vm3.cmd('ip neigh flush all')                     # an ARP broadcast on VLAN 30 too
    assert ' 0% packet loss' in vm3.cmd('ping -c3 -i0.2 -W1 %s' % vm6.IP())
    trunk_text, hv1_text = trunk(), hv1_uplink()
    vlan30 = [line for line in trunk_text.splitlines() if 'vlan 30,' in line]
    assert any('ARP' in line for line in vlan30) and any('ICMP' in line for line in vlan30)
    vids = set(re.findall(r'vlan (\d+),', trunk_text))
    assert vids <= {"10", "20", "30"}                 # only the data center's VLANs
    assert hv1_text.strip() == ''                     # hv1 hosts no VLAN 30: never sees it


def test_bad_input_changes_neither_state_nor_flows(dc):
    before_nets = dc.client.get('/v1/networks')
    before_flows = {s.name: flow_cookies(s, s.bridge) for s in dc.switches()}
    bad = [({'name': 'x', 'kind': 'vlan', 'segmentation_id': 4095}, 'segmentation_id', 400),
           ({'name': 'x', 'kind': 'vlan', 'segmentation_id': 10}, 'segmentation_id', 409),
           ({'name': 'x', 'kind': 'vlan', 'segmentation_id': -1}, 'segmentation_id', 400)]
    for body, field, status in bad:
        with pytest.raises(ApiError) as err:
            dc.client.post('/v1/networks', body)
        assert (err.value.status, err.value.field) == (status, field)
    with pytest.raises(ApiError) as err:
        dc.client.post('/v1/ports', {'network_id': 'nope', 'mac': '02:00:00:00:99:01',
                                     'device': 'tapx'})
    assert err.value.field == 'network_id'
    time.sleep(0.5)
    assert dc.client.get('/v1/networks') == before_nets
    assert {s.name: flow_cookies(s, s.bridge) for s in dc.switches()} == before_flows


def test_allowed_vlans_follow_port_delete_and_create(dc):
    port = next(p for p in dc.client.get('/v1/ports') if p['device'] == 'tapvm3')
    dc.client.call('DELETE', '/v1/ports/%s' % port['id'])
    dc.wait_ready()
    assert dc.client.get('/v1/hosts/hv2')['tor']['allowed_vlans'] == [10]
    assert 'dl_vlan=30' not in dc.node('tor1').ovs.ofctl('dump-flows br-tor in_port=hv2')
    fields = {k: port[k] for k in ('name', 'network_id', 'mac', 'ips', 'device', 'host')}
    dc.client.post('/v1/ports', fields)              # the VM is still plugged: binds again
    dc.wait_ready()
    assert dc.client.get('/v1/hosts/hv2')['tor']['allowed_vlans'] == [10, 30]
    assert ' 0% packet loss' in dc.node('vm3').cmd('ping -c2 -i0.2 -W1 %s'
                                                    % dc.node('vm6').IP())


def test_a_vlan_port_changes_only_its_hypervisor_and_the_tors(dc):
    """Hypervisors hold no remote MAC of a VLAN network (one flow per network
    sends unicast up; the ToRs know where each MAC is), so deleting and
    re-creating a port leaves every other hypervisor's flows as they were, but
    for the firewall's remote-group address flows its address is in. Both
    writes wait (?wait=applied): when they answer, the switches hold the change."""
    ports = dc.client.get('/v1/ports')
    port = next(p for p in ports if VLAN_OF[p['device'][len('tap'):]] == 10
                and p['host'] == 'hv1')
    peers = {p['host'] for p in ports if p['network_id'] == port['network_id']} - {'hv1'}
    assert len(peers) >= 2
    hv2_l2 = dc.node('hv2').ovs.ofctl('dump-flows br-int table=42')
    assert 'dl_dst=%s' % port['mac'] not in hv2_l2
    assert hv2_l2.count('dl_dst=00:00:00:00:00:00/01:00:00:00:00:00') == 2   # VLANs 10, 30
    others = [s for s in dc.switches() if s.name.startswith('hv') and s.name != 'hv1']
    tor1 = next(s for s in dc.switches() if s.name == 'tor1')
    before = {s.name: flow_cookies(s, s.bridge) for s in others}
    tor_before = flow_cookies(tor1, tor1.bridge)
    dc.client.call('DELETE', '/v1/ports/%s' % port['id'], wait=True)    # ?wait=applied
    assert 'dl_dst=%s' % port['mac'] not in tor1.ovs.ofctl('dump-flows br-tor')
    after = {s.name: flow_cookies(s, s.bridge) for s in others}
    gone = {c for name in after for c in set(before[name]) ^ set(after[name])}
    assert gone and {int(c, 16) >> pipeline.COOKIE_OWNER_SHIFT for c in gone} == {
        pipeline.OWNERS['firewall']}      # its address left the default group's rule
    assert flow_cookies(tor1, tor1.bridge) != tor_before
    fields = {k: port[k] for k in ('name', 'network_id', 'mac', 'ips', 'device', 'host')}
    dc.client.post('/v1/ports', fields, wait=True)  # answers once the switches confirm
    assert 'dl_dst=%s' % port['mac'] in dc.node('hv1').ovs.ofctl('dump-flows br-int table=40')
    assert flow_cookies(tor1, tor1.bridge) == tor_before
    assert {s.name: flow_cookies(s, s.bridge) for s in others} == before
    peer = next(p for p in ports if p['network_id'] == port['network_id']
                and p['host'] != 'hv1')
    assert ' 0% packet loss' in dc.node(port['device'][len('tap'):]).cmd(
        'ping -c2 -i0.2 -W1 %s' % peer['ips'][0])


def test_the_benchmarks_switch_floor_commits_its_flows_and_removes_them(dc):
    """bench/switch_floor.py times real commits (its flows are in the tables
    when it answers) and leaves the switches as the controller programmed them."""
    from bench import switch_floor
    before = {sw.name: flow_cookies(sw, sw.bridge) for sw in dc.switches()}
    times = switch_floor.time_switches(dc, {'hv1': 3, 'tor1': 1}, runs=2, pause=0, keep=True)
    assert len(times) == 2 and all(t > 0 for t in times)
    for name, count in (('hv1', 6), ('tor1', 2)):
        sw = dc.node(name)
        out = sw.ovs.ofctl('dump-flows %s table=%d --no-stats' % (sw.bridge, switch_floor.TABLE))
        assert len(re.findall(r'cookie=0x7e', out)) == count, out
    switch_floor.remove(dc, ['hv1', 'tor1'])
    assert {sw.name: flow_cookies(sw, sw.bridge) for sw in dc.switches()} == before
    assert all(s['synced'] for s in dc.client.get('/v1/status')['switches'].values())
