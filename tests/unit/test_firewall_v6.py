"""The firewall's IPv6 side, rule by rule: packets run through one hypervisor's
compiled flows by the pipeline simulator (as Open vSwitch would run them)."""
import pytest

from controller import addresses
from controller import constants as C
from controller.compile import pipeline as P
from controller.compile.explain import priority_name
from controller.compile.host import compile_host
from controller.compile.pipeline_sim import Conntrack, Switch, run
from controller.features.security_groups import SecurityGroups
from controller.state.inventory import Inventory
from tests.unit.conftest import add_hv

MACS = {k: '02:00:00:00:00:%02x' % k for k in range(1, 10)}


def v6(k):
    return 'fd00:1::%d' % k


def make_port(service, net, k, groups=None, owner='', ofport=None):
    body = {'network_id': net.id, 'mac': MACS[k], 'ips': ['10.0.0.%d' % k, v6(k)],
            'device': 'tapvm%d' % k, 'host': 'hv1', 'device_owner': owner}
    if groups is not None:
        body['security_groups'] = groups
    port = service.create_port(body)
    service.bind('hv1', {port.device: ofport or k})
    return service.get_port(port.id)


@pytest.fixture
def dc(service):
    """vm1, vm2 in 'default' (both ethertypes), vm3 a router's port, on one hv."""
    net = service.create_network({'name': 'n', 'kind': 'vxlan'})
    add_hv(service, 'hv1', 1)
    make_port(service, net, 1)
    make_port(service, net, 2)
    make_port(service, net, 3, owner='network:router_interface')
    return net


def send(service, k, **fields):
    """Run a frame from vm k; the ports (by ofport) it reaches and the steps."""
    inv = Inventory.from_store(service.store)
    flows = compile_host(inv, inv.hosts['hv1'])
    assert all(not P.check(f) for f in flows), [P.check(f) for f in flows if P.check(f)]
    packet = dict({'in_port': k, 'eth_src': MACS[k], 'eth_type': C.IPV6,
                   'ipv6_src': v6(k)}, **fields)
    steps, outputs = run(Switch(flows), packet, Conntrack())
    return sorted({port for port, _ in outputs}), steps


def icmp6(kind, **fields):
    return dict({'ip_proto': C.ICMPV6, 'icmpv6_type': kind, 'icmpv6_code': 0}, **fields)


def echo(dst_k, **fields):
    return dict(icmp6(128, eth_dst=MACS[dst_k], ipv6_dst=v6(dst_k)), **fields)


def test_link_local_is_eui64_of_the_mac():
    assert addresses.link_local('52:54:00:12:34:56') == 'fe80::5054:ff:fe12:3456'
    assert addresses.link_local('02:00:00:00:00:01') == 'fe80::ff:fe00:1'
    assert addresses.eui64('fd00:1::/64', '52:54:00:12:34:56') == 'fd00:1::5054:ff:fe12:3456'
    assert addresses.solicited_node('fd00:1::5054:ff:fe12:3456') == (
        'ff02::1:ff12:3456', '33:33:ff:12:34:56')


def test_default_group_passes_ipv6_between_its_members(service, dc):
    reached, _ = send(service, 1, **echo(2))
    assert reached == [2]
    reached, _ = send(service, 1, ipv6_src=addresses.link_local(MACS[1]),
                      **echo(2, ipv6_dst=addresses.link_local(MACS[2])))
    assert reached == []      # link-local is no member address: default admits members


def test_a_neighbours_source_is_dropped_at_port_security(service, dc):
    reached, steps = send(service, 1, **echo(2, ipv6_src=v6(2)))
    assert reached == [] and steps[-1][0] == P.PORT_SECURITY
    assert priority_name(P.PORT_SECURITY, steps[-1][1].priority) == 'spoofed'


def test_neighbor_advertisements_only_for_own_addresses(service, dc):
    own = icmp6(C.ND_NA, eth_dst=MACS[2], ipv6_dst=v6(2), ipv6_nd_target=v6(1),
                ipv6_nd_tll=MACS[1])
    assert send(service, 1, **own)[0] == [2]
    link_local = dict(own, ipv6_nd_target=addresses.link_local(MACS[1]))
    assert send(service, 1, **link_local)[0] == [2]
    for bad in (dict(own, ipv6_nd_target=v6(2)),            # a neighbour's address
                dict(own, ipv6_nd_tll=MACS[2])):            # its MAC for ours
        reached, steps = send(service, 1, **bad)
        assert reached == [] and steps[-1][0] == P.PORT_SECURITY


@pytest.mark.parametrize('what', [
    icmp6(C.ND_RA, eth_dst='33:33:00:00:00:01', ipv6_dst='ff02::1'),
    icmp6(C.ND_REDIRECT, eth_dst=MACS[2], ipv6_dst=v6(2)),
    {'ip_proto': C.UDP, 'udp_src': 547, 'udp_dst': 546, 'eth_dst': MACS[2],
     'ipv6_dst': v6(2)}])
def test_ra_guard_drops_router_messages_from_vms_but_not_from_routers(service, dc, what):
    reached, steps = send(service, 1, **dict(what, ipv6_src=addresses.link_local(MACS[1])))
    assert reached == [] and steps[-1][0] == P.PORT_SECURITY
    assert priority_name(P.PORT_SECURITY, steps[-1][1].priority) == 'guard'
    reached, steps = send(service, 3, **dict(what, ipv6_src=addresses.link_local(MACS[3])))
    assert any(t == P.EGRESS_ACL for t, _, _ in steps)      # the router's pass port security


def test_dad_rs_and_mld_from_the_unspecified_address_pass(service, dc):
    target = 'fd00:1::77'
    group, mac = addresses.solicited_node(target)
    dad = icmp6(C.ND_NS, ipv6_src='::', eth_dst=mac, ipv6_dst=group, ipv6_nd_target=target)
    _, steps = send(service, 1, **dad)      # past the firewall (then ND suppression drops it)
    assert [(t, priority_name(t, f.priority)) for t, f, _ in steps[:3]] == [
        (P.CLASSIFY, 'vnic'), (P.PORT_SECURITY, 'unspecified'), (P.EGRESS_ACL, 'nd')]
    mld = icmp6(C.MLD2_REPORT, ipv6_src='::', eth_dst='33:33:00:00:00:16', ipv6_dst='ff02::16')
    assert 2 in send(service, 1, **mld)[0]
    echo_from_nothing = echo(2, ipv6_src='::')
    assert send(service, 1, **echo_from_nothing)[0] == []


def test_nd_passes_even_a_sealed_port(service, dc):
    net = service.store.list('network')[0]
    make_port(service, net, 4, groups=[])
    group, mac = addresses.solicited_node(v6(4))
    dad = icmp6(C.ND_NS, ipv6_src='::', eth_dst=mac, ipv6_dst=group, ipv6_nd_target=v6(4))
    assert send(service, 1, **dad)[0] == [4]     # through vm4's ingress (DAD: to its owner)
    sealed_asks = icmp6(C.ND_NS, ipv6_src=v6(4), eth_src=MACS[4], eth_dst=mac, ipv6_dst=group,
                        ipv6_nd_target=v6(1), ipv6_nd_sll=MACS[4])
    assert send(service, 4, **sealed_asks)[0] == [4]          # out of vm4, answered
    assert send(service, 1, **echo(4))[0] == []             # but no echo gets in


def test_rules_of_one_ethertype_do_not_admit_the_other(service, dc):
    net = service.store.list('network')[0]
    groups = SecurityGroups(service)
    groups.create_group({'name': 'web4', 'rules': [
        {'direction': 'ingress', 'protocol': 'tcp', 'port_range_min': 80}]})
    groups.create_group({'name': 'ping6', 'rules': [
        {'direction': 'ingress', 'ethertype': 'IPv6', 'protocol': 'icmp',
         'port_range_min': 128, 'port_range_max': 0, 'remote_ip_prefix': 'fd00:1::/120'}]})
    make_port(service, net, 5, groups=['web4'])
    make_port(service, net, 6, groups=['ping6'])
    tcp6 = dict(eth_dst=MACS[5], ipv6_dst=v6(5), ip_proto=C.TCP, tcp_dst=80, tcp_src=4000)
    assert send(service, 1, **tcp6)[0] == []                # an IPv4 rule: not for IPv6
    assert send(service, 1, **echo(6))[0] == [6]            # icmp in IPv6 = ICMPv6, type 128
    assert send(service, 1, **echo(6, icmpv6_code=1))[0] == []
    assert send(service, 1, **echo(6, icmpv6_type=129))[0] == []
    far = 'fd00:1::1:1'                                     # outside the /120
    vm1 = service.port_of_device('tapvm1')
    service.update_port(vm1.id, {'ips': ['10.0.0.1', far]})
    assert send(service, 1, **echo(6, ipv6_src=far))[0] == []


def test_remote_group_expands_to_members_ipv6_addresses(service, dc):
    net = service.store.list('network')[0]
    groups = SecurityGroups(service)
    groups.create_group({'name': 'clients', 'rules': [{'direction': 'egress',
                                                       'ethertype': 'IPv6'}]})
    groups.create_group({'name': 'web', 'rules': [
        {'direction': 'ingress', 'ethertype': 'IPv6', 'protocol': 'tcp',
         'port_range_min': 443, 'remote_group_id': 'clients'}]})
    make_port(service, net, 7, groups=['clients'])
    make_port(service, net, 8, groups=['web'])
    https = dict(eth_dst=MACS[8], ipv6_dst=v6(8), ip_proto=C.TCP, tcp_dst=443, tcp_src=4000)
    assert send(service, 7, **https)[0] == [8]
    assert send(service, 1, **https)[0] == []               # vm1 is no client
    inv = Inventory.from_store(service.store)
    clause1 = [f for f in compile_host(inv, inv.hosts['hv1'])
               if f.table == P.INGRESS_ACL and 'ipv6_src' in dict(f.match)
               and f.actions and f.actions[0][0] == 'conjunction']
    assert sorted(dict(f.match)['ipv6_src'] for f in clause1) == sorted(
        [v6(1), v6(2), v6(3), v6(7)])        # default's members and the client (own rules)


def test_ipv6_connections_are_tracked_and_replies_pass(service, dc):
    net = service.store.list('network')[0]
    SecurityGroups(service).create_group({'name': 'out6', 'rules': [
        {'direction': 'egress', 'ethertype': 'IPv6'}]})
    make_port(service, net, 9, groups=['out6', 'default'])   # only default's ingress
    inv = Inventory.from_store(service.store)
    switch = Switch(compile_host(inv, inv.hosts['hv1']))
    conntrack = Conntrack()
    query = {'in_port': 9, 'eth_src': MACS[9], 'eth_type': C.IPV6, 'ipv6_src': v6(9),
             **echo(1)}
    assert {p for p, _ in run(switch, query, conntrack)[1]} == {1}
    assert conntrack.committed == {('', 9): service.get_group('out6').rules[0]['mark'],
                                   ('', 1): service.get_group('default').rules[3]['mark']}
    conntrack.established = True                            # the reply, once committed
    reply = {'in_port': 1, 'eth_src': MACS[1], 'eth_type': C.IPV6, 'ipv6_src': v6(1),
             **echo(9, icmpv6_type=129)}
    assert {p for p, _ in run(switch, reply, conntrack)[1]} == {9}


def test_nd_responder_answers_known_addresses_at_the_source(service):
    """VXLAN: vm1 (hv1) asks for vm2's addresses (hv2): hv1 answers with vm2's
    Advertisement, nothing leaves it; nobody's address: dropped; DAD for vm2's
    address: not answered, sent to vm2 alone (hv2's VTEP; hv3 holds the
    network too)."""
    net = service.create_network({'name': 'n', 'kind': 'vxlan'})
    for k in (1, 2, 3):
        add_hv(service, 'hv%d' % k, k)
    for k in (1, 2, 3):
        port = service.create_port({'network_id': net.id, 'mac': MACS[k], 'device': 'tap%d' % k,
                                    'ips': ['10.0.0.%d' % k, v6(k)]})
        service.bind('hv%d' % k, {port.device: 5})
    inv = Inventory.from_store(service.store)
    switch = Switch(compile_host(inv, inv.hosts['hv1']))

    def solicit(target, src=v6(1)):
        group, mac = addresses.solicited_node(target)
        packet = {'in_port': 5, 'eth_src': MACS[1], 'eth_dst': mac, 'eth_type': C.IPV6,
                  **icmp6(C.ND_NS, ipv6_src=src, ipv6_dst=group, ipv6_nd_target=target,
                          ipv6_nd_sll=MACS[1])}
        return run(switch, packet, Conntrack())[1]
    for target in (v6(2), addresses.link_local(MACS[2])):
        [(port, na)] = solicit(target)
        assert port == 5 and (na['eth_src'], na['eth_dst']) == (MACS[2], MACS[1])
        assert (na['ipv6_src'], na['ipv6_dst']) == (target, v6(1))
        assert (na['icmpv6_type'], na['nd_reserved'], na['nd_options_type'],
                na['ipv6_nd_target'], na['ipv6_nd_tll']) == (
            C.ND_NA, 0x60000000, 2, target, MACS[2])
    assert solicit('fd00:1::99') == []                       # nobody's: dropped
    dad = solicit(v6(2), src='::')
    assert [(p, pkt['eth_dst'], pkt['tun_ipv4_dst'], pkt['icmpv6_type']) for p, pkt in dad] \
        == [(P.TUNNEL_OFPORT, MACS[2], '172.16.1.12', C.ND_NS)]   # to its owner, unanswered


# ---- the trace (POST /v1/trace) over IPv6 -------------------------------------------
def trace_dc(service):
    """hv1: vm1 (web6: ICMPv6 echo from fd00:1::/64 in, anything out), hv2: vm2
    (default); one VXLAN network, both dual stack."""
    net = service.create_network({'name': 'blue', 'kind': 'vxlan'})
    add_hv(service, 'hv1', 1)
    add_hv(service, 'hv2', 2)
    SecurityGroups(service).create_group({'name': 'web6', 'rules': [
        {'direction': 'egress', 'ethertype': 'IPv6'},
        {'direction': 'ingress', 'ethertype': 'IPv6', 'protocol': 'icmpv6',
         'port_range_min': 128, 'remote_ip_prefix': 'fd00:1::/64'}]})
    for k, host, groups in ((1, 'hv1', ['web6']), (2, 'hv2', ['default'])):
        port = service.create_port({'network_id': net.id, 'mac': MACS[k], 'name': 'vm%d' % k,
                                    'ips': ['10.0.0.%d' % k, v6(k)], 'device': 'tap%d' % k,
                                    'security_groups': groups})
        service.bind(host, {port.device: 1})


def trace_of(service, **request):
    from controller.api.trace import trace
    from controller.compile.host import ALL
    from controller.state.schemas import TraceRequest
    return trace(Inventory.from_store(service.store), ALL, TraceRequest(**request))


def test_trace_follows_ipv6_packets_and_names_their_rules(service):
    trace_dc(service)
    echo6 = trace_of(service, source='vm2', destination='vm1', protocol='icmp', ip_version=6)
    assert echo6['verdict'] == 'allowed', echo6['summary']
    words = '\n'.join(s['says'] for s in echo6['steps'])
    assert 'ingress ipv6 icmpv6 128 from fd00:1::/64' in words and "vm2's own" in words
    echo4 = trace_of(service, source='vm2', destination='vm1', protocol='icmp')
    assert echo4['verdict'] == 'dropped' and 'from 10.0.0.2' in echo4['summary']
    tcp6 = trace_of(service, source='vm2', destination='vm1', protocol='tcp', port=22,
                    ip_version=6)
    assert tcp6['verdict'] == 'dropped' and 'tcp/22 from fd00:1::2' in tcp6['summary']
    ns = trace_of(service, source='vm2', destination='vm1', protocol='nd')
    assert ns['verdict'] == 'answered' and ns['summary'] == (
        'neighbor solicitation for fd00:1::1 answered with %s on hv2' % MACS[1])
    nobody = trace_of(service, source='vm2', address='fd00:1::99', protocol='nd')
    assert nobody['verdict'] == 'dropped' and 'fd00:1::99' in nobody['summary']


def test_trace_cli_words_for_ipv6():
    from controller.cli.words import trace_body
    assert trace_body('vm1 vm2 ipv6 tcp 22'.split()) == {
        'source': 'vm1', 'destination': 'vm2', 'protocol': 'tcp', 'port': 22,
        'state': 'new', 'ip_version': 6}
    assert trace_body('vm1 fd00::9 nd'.split())['address'] == 'fd00::9'


def test_remote_zone_expands_to_members_ipv6_addresses(service, dc):
    net = service.store.list('network')[0]
    groups = SecurityGroups(service)
    groups.create_group({'name': 'app', 'zone': 'app', 'rules': [
        {'direction': 'egress', 'ethertype': 'IPv6'}]})
    groups.create_group({'name': 'db', 'rules': [
        {'direction': 'ingress', 'ethertype': 'IPv6', 'protocol': 'tcp',
         'port_range_min': 5432, 'remote_zone': 'app'}]})
    make_port(service, net, 7, groups=['app'])
    make_port(service, net, 8, groups=['db'])
    sql = dict(eth_dst=MACS[8], ipv6_dst=v6(8), ip_proto=C.TCP, tcp_dst=5432, tcp_src=4000)
    assert send(service, 7, **sql)[0] == [8]
    assert send(service, 1, **sql)[0] == []                 # vm1 is in no group of zone app
    assert send(service, 7, **dict(sql, tcp_dst=5433))[0] == []
