"""Dual stack on a real data center (issue 30): 2 racks x 2 hypervisors x 2 VMs,
VLAN 10 (vm1 vm3 vm5 vm7) and VXLAN 5000 (vm2 vm4 vm6 vm8), every VM with
10.0.0.k/16 and fd00::k/64 (``--ipv6``).

The IPv4 and IPv6 reachability matrices are exact; an IPv6 firewall matrix;
attacks from a VM (a router advertisement, a neighbor advertisement for a
neighbour's address, a packet from a neighbour's source, the same behind a
Hop-by-Hop or fragment header) each reach nothing, while the same frames sent
by a VM entitled to them arrive (so the capture would have seen them)."""
import pytest

from controller import addresses
from mininet_topos import ndprobe, probe
from mininet_topos.cli import VnetsecCLI
from mininet_topos.datacenter import DataCenter
from tests.integration.helpers import (capture, check, expected_pairs, ip6_of, ip_of,
                                       reachability)

NDPROBE = ndprobe.__file__.replace('.pyc', '.py')
ALL_NODES = ('33:33:00:00:00:01', 'ff02::1')


@pytest.fixture(scope='module')
def dc():
    with DataCenter(racks=2, hypervisors=2, vms=2, networks='vlan:10,vxlan:5000',
                    ipv6=True) as running:
        running.ports = {p['name']: p for p in running.client.get('/v1/ports')}
        yield running


def network_of(dc, vm):
    return dc.topo.network_of_vm[vm.name]


def test_ipv4_and_ipv6_matrices_follow_the_networks(dc):
    same = expected_pairs(dc, lambda a, b: network_of(dc, a) == network_of(dc, b))
    assert len(same) == 24            # 2 networks x 4 VMs x 3 peers, across both racks
    assert reachability(dc, address=ip_of) == same
    assert reachability(dc, address=ip6_of) == same
    assert dc.ports['vm1']['ips'] == ['10.0.0.1', 'fd00::1']


def test_ipv6_firewall_matrix(dc):
    """On VLAN 10: vm1 serves TCP 8080 to group clients over IPv6 only and
    answers ICMPv6 echo from fd00::/64; vm3 is a client, vm5 and vm7 not."""
    api = dc.client
    api.post('/v1/security-groups', {'name': 'clients6', 'rules': [
        {'direction': 'egress'}, {'direction': 'egress', 'ethertype': 'IPv6'}]})
    api.post('/v1/security-groups', {'name': 'web6', 'rules': [
        {'direction': 'egress', 'ethertype': 'IPv6'},
        {'direction': 'ingress', 'ethertype': 'IPv6', 'protocol': 'tcp',
         'port_range_min': 8080, 'remote_group_id': 'clients6'},
        {'direction': 'ingress', 'ethertype': 'IPv6', 'protocol': 'icmpv6',
         'port_range_min': 128, 'remote_ip_prefix': 'fd00::/64'}]})
    try:
        api.call('PATCH', '/v1/ports/%s' % dc.ports['vm1']['id'], {'security_groups': ['web6']})
        api.call('PATCH', '/v1/ports/%s' % dc.ports['vm3']['id'],
                 {'security_groups': ['clients6', 'default']})
        dc.wait_ready()
        server = dc.node('vm1')
        server.cmd('python3 %s serve tcp 8080 &' % probe.__file__)
        server.cmd('python3 %s wait-listening 8080' % probe.__file__)
        seen = {}
        for src in ('vm3', 'vm5', 'vm7'):
            node = dc.node(src)
            seen[src] = (
                check(dc, src, 'vm1', 'tcp', 8080, address=ip6_of),
                check(dc, src, 'vm1', 'tcp', 8080, address=ip_of),
                ' 0% packet loss' in node.cmd('ping -c1 -W1 %s' % ip6_of(server)),
                ' 0% packet loss' in node.cmd('ping -c1 -W1 %s' % ip_of(server)))
        assert seen == {'vm3': (True, False, True, False),      # tcp6, tcp4, ping6, ping4
                        'vm5': (False, False, True, False),
                        'vm7': (False, False, True, False)}
        server.cmd('kill %python3; wait')
    finally:
        for vm in ('vm1', 'vm3'):
            api.call('PATCH', '/v1/ports/%s' % dc.ports[vm]['id'],
                     {'security_groups': ['default']})
        dc.wait_ready()


def send(dc, vm, kind, dst_mac, dst_ip, src_ip=None, target='-', ext='none'):
    node = dc.node(vm)
    mac = dc.ports[vm]['mac']
    src_ip = src_ip or addresses.link_local(mac)
    out = node.cmd('python3 %s %s %s %s %s %s %s %s %s 3' % (
        NDPROBE, node.defaultIntf().name, kind, mac, dst_mac, src_ip, dst_ip, target, ext))
    assert 'sent 3' in out, out


def seen_by(dc, victim, act, what):
    """Lines of the victim's capture (of IPv6) during ``act()`` containing ``what``."""
    node = dc.node(victim)
    result = capture(node, node.defaultIntf().name, 'ip6', seconds=3)
    act()
    return [line for line in result().splitlines() if what in line]


# attacker vm4 (hv2), victim vm2 (hv1), neighbour vm6 (hv3, the other rack), all on
# VXLAN 5000 in 'default'; vm8 (hv4) is made a router's port for the controls
@pytest.mark.parametrize('ext', ['none', 'hbh', 'frag'])
def test_router_advertisements_from_a_vm_reach_nothing(dc, ext):
    assert seen_by(dc, 'vm2', lambda: send(dc, 'vm4', 'ra', *ALL_NODES, ext=ext),
                   'router advertisement') == []
    router = dc.ports['vm8']
    dc.client.call('PATCH', '/v1/ports/%s' % router['id'],
                   {'device_owner': 'network:router_interface'})
    try:
        dc.wait_ready()
        assert len(seen_by(dc, 'vm2', lambda: send(dc, 'vm8', 'ra', *ALL_NODES, ext=ext),
                           'router advertisement')) == 3          # a router's pass
    finally:
        dc.client.call('PATCH', '/v1/ports/%s' % router['id'], {'device_owner': ''})
        dc.wait_ready()
    assert '2001:db8:bad' not in dc.node('vm2').cmd('ip -6 addr; ip -6 route')


@pytest.mark.parametrize('ext', ['none', 'hbh', 'frag'])
def test_a_neighbor_advertisement_for_a_neighbours_address_reaches_nothing(dc, ext):
    victim_mac, victim_ip = dc.ports['vm2']['mac'], ip6_of(dc.node('vm2'))
    own, neighbour = ip6_of(dc.node('vm4')), ip6_of(dc.node('vm6'))
    assert seen_by(dc, 'vm2', lambda: send(dc, 'vm4', 'na', victim_mac, victim_ip,
                                           target=neighbour, ext=ext),
                   'tgt is %s' % neighbour) == []
    assert len(seen_by(dc, 'vm2', lambda: send(dc, 'vm4', 'na', victim_mac, victim_ip,
                                               target=own, ext=ext),
                       'tgt is %s' % own)) == 3                    # its own: passes
    assert 'fd00::6 ' not in dc.node('vm2').cmd('ip -6 neigh show fd00::6 | grep %s'
                                                % dc.ports['vm4']['mac'])


def test_a_packet_from_a_neighbours_source_reaches_nothing(dc):
    victim_mac, victim_ip = dc.ports['vm2']['mac'], ip6_of(dc.node('vm2'))
    neighbour, own = ip6_of(dc.node('vm6')), ip6_of(dc.node('vm4'))
    assert seen_by(dc, 'vm2', lambda: send(dc, 'vm4', 'echo', victim_mac, victim_ip,
                                           src_ip=neighbour), 'echo request') == []
    assert len(seen_by(dc, 'vm2', lambda: send(dc, 'vm4', 'echo', victim_mac, victim_ip,
                                               src_ip=own), 'echo request')) == 3


def test_pingall6_prints_the_matrix(dc, caplog):
    with open('/dev/null') as nothing:
        cli = VnetsecCLI(dc.net, dc=dc, stdin=nothing, script='/dev/null')
    cli.onecmd('pingall6')
    text = ''.join(r.getMessage() for r in caplog.records if r.name == 'mininet')
    assert 'vm1 -> X vm3 X vm5 X vm7 X\n' in text and 'vm2 -> X X vm4 X vm6 X vm8\n' in text
    assert '*** Results: 57% dropped (24/56 received)' in text
    assert cli.failed                 # packets dropped (across networks), as pingall says


def test_nd_suppression_answers_at_the_source_and_nothing_crosses(dc):
    """VXLAN: vm2 (hv1) resolves vm4 (hv2) and vm6 (hv3, the other rack) afresh:
    hv1 answers each Neighbor Solicitation with the owner's Advertisement, so
    not one NS crosses the underlay (counted on every uplink, while the pings
    themselves do cross) and the owners never see one asking for them; vm2 holds
    their MACs."""
    vm2 = dc.node('vm2')
    uplinks = {h: capture(dc.node(h), 'up0', 'udp port 4789', seconds=5, count=500)
               for h in ('hv1', 'hv2', 'hv3', 'hv4')}
    owners = {vm: capture(dc.node(vm), dc.node(vm).defaultIntf().name, 'icmp6', seconds=5)
              for vm in ('vm4', 'vm6')}
    vm2.cmd('ip -6 neigh flush all')
    for target in ('vm4', 'vm6'):
        assert ' 0% packet loss' in vm2.cmd('ping -c2 -i0.2 -W1 %s' % ip6_of(dc.node(target)))
    crossed = {h: result() for h, result in uplinks.items()}
    assert sum('echo request' in line for line in crossed['hv1'].splitlines()) >= 4
    assert [line for text in crossed.values() for line in text.splitlines()
            if 'neighbor solicitation' in line] == []
    for vm, result in owners.items():
        # vm2's solicitations for the owner's address never reach it; the owner
        # may still resolve vm2 itself to answer (its cache may have lost vm2),
        # and that solicitation is answered at its own hypervisor.
        asked = 'who has %s,' % ip6_of(dc.node(vm))
        assert [line for line in result().splitlines()
                if 'neighbor solicitation' in line and asked in line] == []
        neigh = vm2.cmd('ip -6 neigh show %s' % ip6_of(dc.node(vm)))
        assert dc.ports[vm]['mac'] in neigh, neigh
