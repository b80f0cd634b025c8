"""Issue 30's port security over IPv6 on a real dual-stack data center (hv1:
vm1, vm2; hv2: vm3, vm4; one VXLAN network, ``--ipv6``): an IPv6 VIP shared by
vm1 and vm3 as allowed address pairs, moved by an unsolicited Neighbor
Advertisement (what keepalived sends for IPv6) and reachable at its new owner
within a second, while vm2, which holds no pair, claims it in vain; stateless
groups with IPv6 rules (no conntrack, replies need rules of their own, ND
passes untracked), with neutron-tempest-plugin's
``StatelessSecGroupDualStackSlaacTest`` ported."""
import time

import pytest

from mininet_topos import ndprobe, probe
from mininet_topos.datacenter import DataCenter
from tests.integration.helpers import (capture, check, conntrack, flush_conntrack, group,
                                       holder_seen_by, ip6_of, ip_of, patch, port_of,
                                       reach_vip)

PROBE = probe.__file__
NDPROBE = ndprobe.__file__
VIP = 'fd00::99'
ALL_NODES = ('33:33:00:00:00:01', 'ff02::1')
SSH = 22
EGRESS = [{'direction': 'egress'}, {'direction': 'egress', 'ethertype': 'IPv6'}]


@pytest.fixture(scope='module')
def dc():
    with DataCenter(racks=1, hypervisors=2, vms=2, networks='vxlan:5000',
                    ipv6=True) as running:
        for vm, served in (('vm1', [('tcp', SSH)]), ('vm3', [('tcp', SSH), ('udp', 8080)]),
                           ('vm4', [('udp', 8080), ('udp', 8081)])):
            node = running.node(vm)
            for proto, port in served:
                node.cmd('python3 %s serve %s %d &' % (PROBE, proto, port))
        for vm in ('vm1', 'vm3'):
            running.node(vm).cmd('python3 %s wait-listening %d' % (PROBE, SSH))
        yield running


def send6(dc, vm, kind, dst_mac, dst_ip, count=1):
    """ndprobe's ``kind`` frame from the VIP (for an NA: the VIP's, Override
    flag set, the VM's MAC as target link-layer address)."""
    node = dc.node(vm)
    out = node.cmd('python3 %s %s %s %s %s %s %s %s none %d' % (
        NDPROBE, node.defaultIntf(), kind, node.MAC(), dst_mac, VIP, dst_ip, VIP, count))
    assert 'sent %d' % count in out, out


def take_vip(dc, vm):
    """What keepalived does on becoming master: the address, then an
    unsolicited NA to all nodes."""
    node = dc.node(vm)
    node.cmd('ip -6 addr add %s/128 dev %s nodad' % (VIP, node.defaultIntf()))
    send6(dc, vm, 'na', *ALL_NODES)


def drop_vip(dc, vm):
    node = dc.node(vm)
    node.cmd('ip -6 addr del %s/128 dev %s' % (VIP, node.defaultIntf()))


# ---- allowed address pairs: an IPv6 VIP under keepalived -------------------------------
def test_an_ipv6_vip_moves_by_unsolicited_na_and_a_third_vm_cannot_claim_it(dc):
    for vm in ('vm1', 'vm3'):
        patch(dc, vm, {'allowed_address_pairs': [{'ip_address': VIP}]})
    vm1, vm2, vm3, vm4 = (dc.node('vm%d' % k) for k in (1, 2, 3, 4))
    try:
        take_vip(dc, 'vm1')
        assert reach_vip(dc, 'vm4', VIP) is not None      # its NS flooded, vm1 answers
        assert holder_seen_by(dc, 'vm4', VIP) == vm1.MAC()
        # keepalived on vm3 takes over
        drop_vip(dc, 'vm1')
        heard = capture(vm4, vm4.defaultIntf(), 'icmp6', 3)
        start = time.time()
        take_vip(dc, 'vm3')
        assert reach_vip(dc, 'vm4', VIP) is not None
        took = time.time() - start
        print('the VIP answered from vm3 %.3f s after its NA' % took)
        assert took < 1.0, took
        assert holder_seen_by(dc, 'vm4', VIP) == vm3.MAC()
        assert [line for line in heard().splitlines() if '%s >' % vm3.MAC() in line
                and 'neighbor advertisement, tgt is %s' % VIP in line]
        # vm2 holds no pair: its NAs and its packets from the VIP reach nothing
        vm2.cmd('ip -6 addr add %s/128 dev %s nodad' % (VIP, vm2.defaultIntf()))
        seen = capture(vm4, vm4.defaultIntf(), 'ether src %s' % vm2.MAC(), 3)
        send6(dc, 'vm2', 'na', *ALL_NODES, count=3)
        send6(dc, 'vm2', 'echo', vm4.MAC(), ip6_of(vm4), count=3)
        vm2.cmd('ping -c2 -i0.2 -W1 -I %s %s' % (VIP, ip6_of(vm4)))
        assert [line for line in seen().splitlines() if VIP in line] == []
        assert holder_seen_by(dc, 'vm4', VIP) == vm3.MAC()
        assert reach_vip(dc, 'vm4', VIP) is not None
        assert holder_seen_by(dc, 'vm4', VIP) == vm3.MAC()
    finally:
        for vm in ('vm1', 'vm2', 'vm3'):
            drop_vip(dc, vm)
        for vm in ('vm1', 'vm3'):
            patch(dc, vm, {'allowed_address_pairs': []})


# ---- stateless groups with IPv6 rules -----------------------------------------------------
def ping(dc, src, dst, address=ip6_of):
    return ' 0% packet loss' in dc.node(src).cmd('ping -c1 -W1 %s' % address(dc.node(dst)))


@pytest.fixture
def stateless(dc):
    """vm3 and vm4 in a stateless group admitting UDP 8080 in over IPv6, anything out."""
    group(dc, 'fast6', EGRESS + [{'direction': 'ingress', 'ethertype': 'IPv6',
                                  'protocol': 'udp', 'port_range_min': 8080}],
          stateful=False)
    for vm in ('vm3', 'vm4'):
        patch(dc, vm, {'security_groups': ['fast6']})
    flush_conntrack(dc)
    yield dc
    for vm in ('vm3', 'vm4'):
        patch(dc, vm, {'security_groups': ['default']})
    dc.client.call('DELETE', '/v1/security-groups/fast6')


def test_stateless_ipv6_rules_pass_their_direction_with_no_conntrack(stateless):
    dc = stateless
    assert check(dc, 'vm1', 'vm3', 'udp', 8080, address=ip6_of)   # vm1 stateful
    assert check(dc, 'vm1', 'vm4', 'udp', 8080, address=ip6_of)
    assert not check(dc, 'vm1', 'vm3', 'udp', 8080)                # the rule is IPv6's
    assert not check(dc, 'vm1', 'vm4', 'udp', 8081, address=ip6_of)
    assert not ping(dc, 'vm1', 'vm3')
    assert conntrack(dc, 'hv2', 'vm3') == [] and conntrack(dc, 'hv2', 'vm4') == []
    assert conntrack(dc, 'hv1', 'vm1') != []                        # the stateful side tracks


def test_nd_crosses_stateless_ports_untracked(stateless):
    """VXLAN answers most NS at the source; an NS for a pair's address is
    flooded, so vm4 resolving vm3's VIP sends ND through both stateless ACLs,
    which have no rule for it: vm4 learns vm3's MAC (its echo, with no ICMPv6
    rule, is dropped)."""
    dc = stateless
    patch(dc, 'vm3', {'allowed_address_pairs': [{'ip_address': VIP}]})
    vm3, vm4 = dc.node('vm3'), dc.node('vm4')
    try:
        vm3.cmd('ip -6 addr add %s/128 dev %s nodad' % (VIP, vm3.defaultIntf()))
        vm4.cmd('ip -6 neigh flush all')
        assert reach_vip(dc, 'vm4', VIP, seconds=1) is None
        assert holder_seen_by(dc, 'vm4', VIP) == vm3.MAC()
        assert conntrack(dc, 'hv2', 'vm3') == [] and conntrack(dc, 'hv2', 'vm4') == []
    finally:
        drop_vip(dc, 'vm3')
        patch(dc, 'vm3', {'allowed_address_pairs': []})


def test_stateless_ipv6_replies_need_rules_of_their_own(stateless):
    """vm3 -> vm4, both stateless: the request passes vm4's UDP 8080 rule, the
    reply (from port 8080 to a high port) has no rule until one is added."""
    dc = stateless
    assert not check(dc, 'vm3', 'vm4', 'udp', 8080, address=ip6_of)
    fast = dc.client.get('/v1/security-groups/fast6')
    dc.client.post('/v1/security-groups/%s/rules' % fast['id'], {
        'direction': 'ingress', 'ethertype': 'IPv6', 'protocol': 'udp',
        'remote_ip_prefix': 'fd00::/64'})
    dc.wait_ready()
    assert check(dc, 'vm3', 'vm4', 'udp', 8080, address=ip6_of)
    assert check(dc, 'vm3', 'vm4', 'udp', 8081, address=ip6_of)
    assert not check(dc, 'vm3', 'vm4', 'udp', 8080)                 # not IPv4's
    assert conntrack(dc, 'hv2', 'vm3') == [] and conntrack(dc, 'hv2', 'vm4') == []


# neutron-tempest-plugin's StatelessSecGroupDualStackSlaacTest.test_default_sec_grp_scenarios
def test_tempest_stateless_dual_stack_default_sec_grp_scenarios(dc):
    """Tempest makes the project's default group stateless before booting its
    servers; a group in use cannot change its mode here (nor in Neutron), so a
    stateless group with Neutron's default rules plays it: servers vm1 (hv1)
    and vm3 (hv2). vm2 stands for tempest's host (stateful, egress only) and
    vm4 for the external network (stateful, answers pings)."""
    own = group(dc, 'default6', EGRESS, stateful=False)
    group(dc, 'host6', EGRESS)
    group(dc, 'external6', EGRESS + [{'direction': 'ingress', 'protocol': 'icmp'},
                                     {'direction': 'ingress', 'ethertype': 'IPv6',
                                      'protocol': 'icmpv6'}])
    uses = {'vm1': 'default6', 'vm3': 'default6', 'vm2': 'host6', 'vm4': 'external6'}
    for vm, name in uses.items():
        patch(dc, vm, {'security_groups': [name]})

    def add(*rules):
        for rule in rules:
            dc.client.post('/v1/security-groups/%s/rules' % own['id'], rule)
        dc.wait_ready()
    both = (ip_of, ip6_of)
    try:
        add(*({'direction': 'ingress', 'ethertype': e, 'remote_group_id': 'default6'}
              for e in ('IPv4', 'IPv6')))
        flush_conntrack(dc)
        assert not any(check(dc, 'vm2', 'vm1', 'tcp', SSH, address=a) for a in both)
        add(*({'direction': 'ingress', 'ethertype': e, 'protocol': 'tcp',
               'port_range_min': SSH, 'port_range_max': SSH} for e in ('IPv4', 'IPv6')))
        assert all(check(dc, 'vm2', 'vm1', 'tcp', SSH, address=a) for a in both)
        # ICMP from the host still fails: only SSH was added
        assert not any(ping(dc, 'vm2', 'vm1', a) for a in both)
        # between the group's servers ICMP passes with no rule for it
        assert all(ping(dc, 'vm1', 'vm3', a) and ping(dc, 'vm3', 'vm1', a) for a in both)
        # to the outside, stateless: the replies need an ingress rule of their own
        assert not any(ping(dc, 'vm1', 'vm4', a) for a in both)
        add({'direction': 'ingress', 'protocol': 'icmp'},
            {'direction': 'ingress', 'ethertype': 'IPv6', 'protocol': 'icmpv6'})
        assert all(ping(dc, 'vm1', 'vm4', a) for a in both)
        assert conntrack(dc, 'hv1', 'vm1') == [] and conntrack(dc, 'hv2', 'vm3') == []
        # and the ports' addresses (IPv4 and IPv6) are configured in the VMs
        for vm in ('vm1', 'vm3'):
            configured = dc.node(vm).cmd('ip -o addr show dev %s' % dc.node(vm).defaultIntf())
            for ip in port_of(dc, vm)['ips']:
                assert ' %s/%d ' % (ip, 64 if ':' in ip else 16) in configured
    finally:
        for vm in uses:
            patch(dc, vm, {'security_groups': ['default']})
        for name in set(uses.values()):
            dc.client.call('DELETE', '/v1/security-groups/%s' % name)


# StatelessNetworkSecGroupIPv4Test.test_ip_prefix(_negative), with IPv6 rules
@pytest.mark.parametrize('cidr, reached', [('fd00::/64', True), ('fd00::dead:fe/128', False)])
def test_tempest_stateless_ip_prefix_v6(dc, cidr, reached):
    group(dc, 'prefix6', EGRESS + [{'direction': 'ingress', 'ethertype': 'IPv6',
                                    'protocol': 'icmpv6', 'remote_ip_prefix': cidr}],
          stateful=False)
    patch(dc, 'vm4', {'security_groups': ['prefix6']})
    try:
        assert ping(dc, 'vm1', 'vm4') is reached
        assert not ping(dc, 'vm1', 'vm4', ip_of)                     # no IPv4 rule
    finally:
        patch(dc, 'vm4', {'security_groups': ['default']})
