"""Issue 30's port security on a real data center (hv1: vm1, vm2; hv2: vm3,
vm4; one VXLAN network): a VIP shared by vm1 and vm3 as allowed address pairs,
moved by gratuitous ARP (what keepalived sends) and reachable at its new owner
within a second, while vm2, which holds no pair, claims it in vain; stateless
groups, with the stateless scenarios of neutron-tempest-plugin
(``StatelessNetworkSecGroupIPv4Test``) ported; a port without port security
and no groups, as tempest boots one."""
import time

import pytest

from controller.compile import pipeline as P
from mininet_topos import probe
from mininet_topos.client import ApiError
from mininet_topos.datacenter import DataCenter
from tests.integration.helpers import (capture, check, conntrack, flush_conntrack, group,
                                       holder_seen_by, patch, pings, port_of, reach_vip)

PROBE = probe.__file__
VIP = '10.0.0.200'


@pytest.fixture(scope='module')
def dc():
    with DataCenter(racks=1, hypervisors=2, vms=2) as running:
        for vm in ('vm3', 'vm4'):
            node = running.node(vm)
            for proto, port in (('udp', 8080), ('udp', 8081), ('tcp', 9090)):
                node.cmd('python3 %s serve %s %d &' % (PROBE, proto, port))
            node.cmd('python3 %s wait-listening 9090' % PROBE)
        yield running


def garp(dc, vm, count=1):
    node = dc.node(vm)
    node.cmd('python3 %s garp %s %s %s %d' % (PROBE, node.defaultIntf(), node.MAC(), VIP,
                                              count))


# ---- allowed address pairs: a VIP under keepalived ---------------------------------------
def test_a_vip_moves_by_gratuitous_arp_and_a_third_vm_cannot_claim_it(dc):
    for vm in ('vm1', 'vm3'):
        patch(dc, vm, {'allowed_address_pairs': [{'ip_address': VIP}]})
    vm1, vm2, vm3 = dc.node('vm1'), dc.node('vm2'), dc.node('vm3')
    try:
        vm1.cmd('ip addr add %s/32 dev %s' % (VIP, vm1.defaultIntf()))
        garp(dc, 'vm1')
        assert reach_vip(dc, 'vm4', VIP) is not None
        assert holder_seen_by(dc, 'vm4', VIP) == vm1.MAC()
        time.sleep(1.2)               # past the neighbour entry's locktime (1 s)
        # keepalived on vm3 takes over: the address, then an unsolicited ARP
        vm1.cmd('ip addr del %s/32 dev %s' % (VIP, vm1.defaultIntf()))
        vm3.cmd('ip addr add %s/32 dev %s' % (VIP, vm3.defaultIntf()))
        start = time.time()
        garp(dc, 'vm3')
        took = reach_vip(dc, 'vm4', VIP)
        took = took and took + (time.time() - start - took)
        assert took is not None and took < 1.0, took
        assert holder_seen_by(dc, 'vm4', VIP) == vm3.MAC()
        time.sleep(1.2)
        # vm2 holds no pair: its gratuitous ARPs and its packets from the VIP reach nothing
        vm2.cmd('ip addr add %s/32 dev %s' % (VIP, vm2.defaultIntf()))
        seen = capture(dc.node('vm4'), dc.node('vm4').defaultIntf(),
                       'ether src %s' % vm2.MAC(), 3)
        garp(dc, 'vm2', count=3)
        vm2.cmd('ping -c3 -i0.2 -W1 -I %s %s' % (VIP, dc.node('vm4').IP()))
        assert seen().strip() == ''
        assert holder_seen_by(dc, 'vm4', VIP) == vm3.MAC()
        assert reach_vip(dc, 'vm4', VIP) is not None and holder_seen_by(dc, 'vm4', VIP) == vm3.MAC()
    finally:
        for node in (vm1, vm2, vm3):
            node.cmd('ip addr del %s/32 dev %s' % (VIP, node.defaultIntf()))
        for vm in ('vm1', 'vm3'):
            patch(dc, vm, {'allowed_address_pairs': []})


def test_a_prefix_pair_with_a_mac_of_its_own(dc):
    """vm1 routes 10.0.9.0/24 from a second MAC: its frames from there pass
    anti-spoofing and vm4's "default" ingress (vm1's pair prefix is a member),
    frames to that MAC reach vm1 across VXLAN; vm2 sending the same is dropped."""
    vmac, routed = '02:00:00:00:09:01', '10.0.9.1'
    patch(dc, 'vm1', {'allowed_address_pairs': [{'ip_address': '10.0.9.0/24',
                                                 'mac_address': vmac}]})
    vm1, vm2, vm4 = dc.node('vm1'), dc.node('vm2'), dc.node('vm4')

    def datagrams(sender, src_mac, receiver, dst_mac, src_ip, dst_ip):
        seen = capture(receiver, receiver.defaultIntf(), 'udp dst port 9999', 3)
        sender.cmd('python3 %s frame %s %s %s %s %s 9999 3' % (
            PROBE, sender.defaultIntf(), src_mac, dst_mac, src_ip, dst_ip))
        return len([line for line in seen().splitlines() if '.9999:' in line])
    try:
        assert datagrams(vm1, vmac, vm4, vm4.MAC(), routed, vm4.IP()) == 3
        assert datagrams(vm2, vmac, vm4, vm4.MAC(), routed, vm4.IP()) == 0
        assert datagrams(vm1, vm1.MAC(), vm4, vm4.MAC(), routed, vm4.IP()) == 0
        assert datagrams(vm4, vm4.MAC(), vm1, vmac, vm4.IP(), routed) == 3
        # ... by vmac's own entries: vm1's delivery on hv1, and on VXLAN the
        # MAC-to-VTEP entry on hv2, on VLAN the ToRs' MAC entries
        assert 'dl_dst=%s' % vmac in dc.node('hv1').ovs.ofctl(
            'dump-flows br-int table=%d' % P.L2_LOOKUP)
        if dc.client.get('/v1/networks')[0]['kind'] == 'vxlan':
            assert 'dl_dst=%s' % vmac in dc.node('hv2').ovs.ofctl(
                'dump-flows br-int table=%d' % P.VXLAN_L2)
        else:
            for tor in {'tor%d' % h.rack for h in dc.hypervisors()}:
                assert 'dl_dst=%s' % vmac in dc.node(tor).ovs.ofctl(
                    'dump-flows br-tor table=%d' % P.TOR_L2), tor
    finally:
        patch(dc, 'vm1', {'allowed_address_pairs': []})
    # (an unknown MAC is flooded on VXLAN, so frames to vmac could still reach vm1)
    assert datagrams(vm1, vmac, vm4, vm4.MAC(), routed, vm4.IP()) == 0


def test_the_trace_follows_the_vip_and_stops_a_claim(dc):
    patch(dc, 'vm3', {'allowed_address_pairs': [{'ip_address': VIP}]})
    try:
        got = dc.client.post('/v1/trace', {'source': 'vm4', 'address': VIP,
                                           'protocol': 'icmp'})
        assert got['verdict'] == 'allowed'
        got = dc.client.post('/v1/trace', {'source': 'vm2', 'source_address': VIP,
                                           'destination': 'vm4', 'protocol': 'icmp'})
        assert got['verdict'] == 'dropped'
        assert any('anti-spoofing' in s['says'] for s in got['steps'])
    finally:
        patch(dc, 'vm3', {'allowed_address_pairs': []})


# ---- stateless groups ------------------------------------------------------------------------
@pytest.fixture
def stateless(dc):
    """vm3 and vm4 in a stateless group admitting UDP 8080 in, anything out."""
    group(dc, 'fast', [{'direction': 'egress'},
                       {'direction': 'ingress', 'protocol': 'udp', 'port_range_min': 8080}],
          stateful=False)
    for vm in ('vm3', 'vm4'):
        patch(dc, vm, {'security_groups': ['fast']})
    flush_conntrack(dc)
    yield dc
    for vm in ('vm3', 'vm4'):
        patch(dc, vm, {'security_groups': ['default']})
    dc.client.call('DELETE', '/v1/security-groups/fast')


def test_stateless_rules_pass_their_direction_with_no_conntrack(stateless):
    dc = stateless
    assert check(dc, 'vm1', 'vm3', 'udp', 8080)          # vm1 stateful, vm3 stateless
    assert check(dc, 'vm1', 'vm4', 'udp', 8080)
    assert not check(dc, 'vm1', 'vm3', 'udp', 8081)      # nothing else passes
    assert not check(dc, 'vm1', 'vm3', 'tcp', 9090)
    assert not pings(dc, 'vm1', 'vm3')
    assert conntrack(dc, 'hv2', 'vm3') == [] and conntrack(dc, 'hv2', 'vm4') == []
    assert conntrack(dc, 'hv1', 'vm1') != []              # the stateful side tracks
    time.sleep(1.1)                                        # counters are read once a second
    rules = dc.client.get('/v1/security-groups/fast')['rules']
    udp_in = next(r for r in rules if r['direction'] == 'ingress')
    assert udp_in['stats']['packets'] >= 2                 # counted per rule, stateless too


def test_stateless_replies_need_rules_of_their_own(stateless):
    """vm3 -> vm4, both stateless: the request passes vm4's UDP 8080 rule, the
    reply (from port 8080 to a high port) has no rule until one is added."""
    dc = stateless
    assert not check(dc, 'vm3', 'vm4', 'udp', 8080)
    fast = dc.client.get('/v1/security-groups/fast')
    rule = dc.client.post('/v1/security-groups/%s/rules' % fast['id'], {
        'direction': 'ingress', 'protocol': 'udp', 'remote_ip_prefix': '10.0.0.0/16'})
    dc.wait_ready()
    assert check(dc, 'vm3', 'vm4', 'udp', 8081) and check(dc, 'vm3', 'vm4', 'udp', 8080)
    assert conntrack(dc, 'hv2', 'vm3') == [] and conntrack(dc, 'hv2', 'vm4') == []
    dc.client.call('DELETE', '/v1/security-groups/%s/rules/%s' % (fast['id'], rule['id']))


def test_a_port_cannot_mix_stateful_and_stateless_groups(stateless):
    with pytest.raises(ApiError) as e:
        stateless.client.call('PATCH', '/v1/ports/%s' % port_of(stateless, 'vm3')['id'],
                              {'security_groups': ['fast', 'default']})
    assert (e.value.status, e.value.field) == (409, 'security_groups')


# neutron-tempest-plugin's StatelessNetworkSecGroupIPv4Test, on vnetsec
@pytest.mark.parametrize('cidr, reached', [('10.0.0.0/16', True), ('10.100.0.254/32', False)])
def test_tempest_stateless_ip_prefix(dc, cidr, reached):
    group(dc, 'prefix', [{'direction': 'egress'},
                         {'direction': 'ingress', 'protocol': 'icmp', 'remote_ip_prefix': cidr}],
          stateful=False)
    patch(dc, 'vm4', {'security_groups': ['prefix']})
    try:
        assert pings(dc, 'vm1', 'vm4') is reached
    finally:
        patch(dc, 'vm4', {'security_groups': ['default']})


def test_tempest_stateless_remote_group(dc):
    group(dc, 'peers', [{'direction': 'egress'}], stateful=False)
    rule = {'direction': 'ingress', 'protocol': 'icmp', 'remote_group_id': 'peers'}
    for vm in ('vm2', 'vm4'):
        patch(dc, vm, {'security_groups': ['peers']})
    try:
        assert not pings(dc, 'vm2', 'vm4')               # no rule yet
        dc.client.post('/v1/security-groups/peers/rules', rule)
        dc.wait_ready()
        assert pings(dc, 'vm2', 'vm4') and pings(dc, 'vm4', 'vm2')
        assert not pings(dc, 'vm1', 'vm4')               # not a member
        assert conntrack(dc, 'hv2', 'vm4') == []
    finally:
        for vm in ('vm2', 'vm4'):
            patch(dc, vm, {'security_groups': ['default']})


def test_tempest_stateless_reattach_sg_with_changed_mode(dc):
    made = group(dc, 'mode', [{'direction': 'egress'},
                              {'direction': 'ingress', 'protocol': 'icmp'}])
    patch(dc, 'vm4', {'security_groups': ['mode']})
    assert pings(dc, 'vm1', 'vm4')
    patch(dc, 'vm4', {'security_groups': []})
    assert not pings(dc, 'vm1', 'vm4')
    dc.client.call('PATCH', '/v1/security-groups/%s' % made['id'], {'stateful': False})
    patch(dc, 'vm4', {'security_groups': ['mode']})
    try:
        assert pings(dc, 'vm1', 'vm4')
    finally:
        patch(dc, 'vm4', {'security_groups': ['default']})


def test_tempest_stateless_packets_of_any_connection_state_reach_dest(dc):
    """Lone TCP segments (of no connection: ACK, SYN-ACK, RST, FIN, PSH) from a
    stateless vm1 pass vm4's stateless rule; vm4's stateful rule drops those
    conntrack finds invalid."""
    group(dc, 'out', [{'direction': 'egress'}], stateful=False)
    rules = [{'direction': 'egress'},
             {'direction': 'ingress', 'protocol': 'tcp', 'port_range_min': 1022}]
    vm4 = dc.node('vm4')
    flags = ('A', 'SA', 'R', 'F', 'PA')

    def arriving():
        seen = capture(vm4, vm4.defaultIntf(), 'tcp dst port 1022', 3)
        for f in flags:
            dc.node('vm1').cmd('python3 %s tcp-flags %s 1022 %s 1' % (PROBE, vm4.IP(), f))
        return len([line for line in seen().splitlines() if '.1022:' in line])
    patch(dc, 'vm1', {'security_groups': ['out']})
    try:
        for stateful in (False, True):
            group(dc, 'tcp1022', rules, stateful=stateful)
            patch(dc, 'vm4', {'security_groups': ['tcp1022']})
            got = arriving()
            patch(dc, 'vm4', {'security_groups': ['default']})
            if stateful:
                assert got < len(flags)
            else:
                assert got == len(flags)
    finally:
        patch(dc, 'vm1', {'security_groups': ['default']})


# ---- port security off ------------------------------------------------------------------------
def test_port_security_off_means_no_groups_and_no_firewall(dc):
    group(dc, 'sealed', [])
    patch(dc, 'vm2', {'security_groups': ['sealed']})
    try:
        assert not pings(dc, 'vm1', 'vm2')
        with pytest.raises(ApiError) as e:
            dc.client.call('PATCH', '/v1/ports/%s' % port_of(dc, 'vm2')['id'],
                           {'port_security_enabled': False})
        assert (e.value.status, e.value.field) == (409, 'port_security_enabled')
        assert not pings(dc, 'vm1', 'vm2')             # refused: nothing changed
        off = patch(dc, 'vm2', {'port_security_enabled': False, 'security_groups': []})
        assert off['security_groups'] == []
        assert pings(dc, 'vm1', 'vm2')
        # nor is vm2 a member of "default" any more: vm3 admits it no longer
        assert not check(dc, 'vm2', 'vm3', 'udp', 8080)
    finally:
        patch(dc, 'vm2', {'port_security_enabled': True, 'security_groups': ['default']})
    # tempest's test_boot_into_disabled_port_security_network_without_secgroup
    network = dc.client.get('/v1/networks')[0]
    made = dc.client.post('/v1/ports', {'network_id': network['id'], 'device': 'tapnosec',
                                        'mac': '02:00:00:00:0f:01',
                                        'port_security_enabled': False})
    assert made['security_groups'] == []
    dc.client.call('DELETE', '/v1/ports/%s' % made['id'])

