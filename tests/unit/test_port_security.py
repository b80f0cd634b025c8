"""Issue 30's port security, pure: Neutron's rules for port security, allowed
address pairs (anti-spoofing, delivery, ARP, remote groups, the trace) and
stateless groups (no conntrack, one direction per rule), run through the
pipeline simulator on the compiled flows."""
import pytest

from controller.api.trace import trace
from controller.compile import pipeline as P
from controller.compile.host import ALL, compile_host
from controller.compile.pipeline_sim import Conntrack, Switch, run
from controller.features import firewall
from controller.features.security_groups import SecurityGroups
from controller.state.inventory import Inventory
from controller.state.model import ValidationError
from controller.state.schemas import TraceRequest
from tests.unit.conftest import add_hv, add_port

VIP, VMAC = '10.0.0.100', '02:00:00:00:00:aa'


def refused(call, field, status=409):
    with pytest.raises(ValidationError) as e:
        call()
    assert (e.value.field, e.value.status) == (field, status), e.value.message
    return e.value.message


# ---- Neutron's port-security rules ---------------------------------------------------
def test_port_without_port_security_gets_no_groups(service):
    net = service.create_network({'name': 'n'})
    port = service.create_port({'network_id': net.id, 'mac': '02:00:00:00:00:01',
                                'device': 'tap1', 'port_security_enabled': False})
    assert port.security_groups == []
    assert service.create_port({'network_id': net.id, 'mac': '02:00:00:00:00:02',
                                'device': 'tap2'}).security_groups == [
        service.get_group('default').id]


def test_groups_or_pairs_need_port_security(service):
    net = service.create_network({'name': 'n'})
    body = {'network_id': net.id, 'mac': '02:00:00:00:00:01', 'device': 'tap1',
            'port_security_enabled': False}
    refused(lambda: service.create_port(dict(body, security_groups=['default'])),
            'security_groups')
    refused(lambda: service.create_port(dict(body, allowed_address_pairs=[
        {'ip_address': VIP}])), 'allowed_address_pairs')
    port = service.create_port(dict(body, port_security_enabled=True))
    before = service.get_port(port.id)
    message = refused(lambda: service.update_port(port.id, {'port_security_enabled': False}),
                      'port_security_enabled')
    assert 'security groups' in message
    assert service.get_port(port.id) == before                    # nothing changed
    off = service.update_port(port.id, {'port_security_enabled': False,
                                        'security_groups': []})
    assert (off.port_security_enabled, off.security_groups) == (False, [])
    refused(lambda: service.update_port(port.id, {'security_groups': ['default']}),
            'security_groups')


def test_a_port_cannot_mix_stateful_and_stateless_groups(service):
    net = service.create_network({'name': 'n'})
    groups = SecurityGroups(service)
    groups.create_group({'name': 'fast', 'stateful': False})
    groups.create_group({'name': 'fast2', 'stateful': False})
    body = {'network_id': net.id, 'mac': '02:00:00:00:00:01', 'device': 'tap1'}
    message = refused(lambda: service.create_port(dict(body, security_groups=[
        'default', 'fast'])), 'security_groups')
    assert 'fast (stateless)' in message and 'default (stateful)' in message
    port = service.create_port(dict(body, security_groups=['fast', 'fast2']))
    refused(lambda: service.update_port(port.id, {'security_groups': ['fast', 'default']}),
            'security_groups')
    refused(lambda: groups.update_group('fast', {'stateful': True}), 'stateful')
    assert groups.update_group('default', {'description': 'x'}).stateful is True


def test_pairs_take_the_port_mac_and_a_pair_mac_is_one_port_s(service):
    net = service.create_network({'name': 'n'})
    add_hv(service, 'hv1', 1)
    a = add_port(service, net, 1, 'hv1')
    b = add_port(service, net, 2, 'hv1')
    a = service.update_port(a.id, {'allowed_address_pairs': [
        {'ip_address': VIP}, {'ip_address': '10.0.9.0/24', 'mac_address': VMAC}]})
    assert a.allowed_address_pairs == [
        {'ip_address': VIP, 'mac_address': a.mac},
        {'ip_address': '10.0.9.0/24', 'mac_address': VMAC}]
    # the same VIP on two ports (keepalived): fine; the same extra MAC: refused
    service.update_port(b.id, {'allowed_address_pairs': [{'ip_address': VIP}]})
    refused(lambda: service.update_port(b.id, {'allowed_address_pairs': [
        {'ip_address': VIP, 'mac_address': VMAC}]}), 'allowed_address_pairs')
    refused(lambda: service.create_port({'network_id': net.id, 'mac': VMAC,
                                         'device': 'tap9'}), 'mac')
    # one pair given twice (written alike or not) is one pair
    b = service.update_port(b.id, {'allowed_address_pairs': [
        {'ip_address': VIP}, {'ip_address': VIP + '/32'}]})
    assert b.allowed_address_pairs == [{'ip_address': VIP, 'mac_address': b.mac}]


def test_an_ipv6_pair_is_taken_as_canonical_and_nonsense_refused(service):
    """A dual-stack port's VIP (keepalived over IPv6): /v1 and /v2.0 share this check."""
    net = service.create_network({'name': 'n'})
    add_hv(service, 'hv1', 1)
    a = add_port(service, net, 1, 'hv1')
    a = service.update_port(a.id, {'allowed_address_pairs': [
        {'ip_address': 'FD00:0::99/128'}, {'ip_address': 'fd00:0:0:9::1/64'}]})
    assert [p['ip_address'] for p in a.allowed_address_pairs] == ['fd00::99', 'fd00:0:0:9::/64']
    for bad in ('fd00::99/129', 'ff02::1/128', 'fd00::zz'):
        refused(lambda: service.update_port(a.id, {'allowed_address_pairs': [
            {'ip_address': bad}]}), 'allowed_address_pairs[0].ip_address', 400)


# ---- address pairs in the data plane ---------------------------------------------------
@pytest.fixture
def pairs(service):
    """hv1: vm1 (holds VIP and 10.0.9.0/24 from VMAC), vm2 (holds VIP), vm3
    (nothing); hv2: vm4. All in a group admitting ICMP from its own members."""
    for i in (1, 2):
        add_hv(service, 'hv%d' % i, i)
    net = service.create_network({'name': 'blue', 'kind': 'vxlan'})
    groups = SecurityGroups(service)
    groups.create_group({'name': 'keep'})
    groups.add_rule('keep', {'direction': 'ingress', 'protocol': 'icmp',
                             'remote_group_id': 'keep'})
    ports = {}
    for k, host, ofport in ((1, 'hv1', 1), (2, 'hv1', 2), (3, 'hv1', 3), (4, 'hv2', 1)):
        port = add_port(service, net, k, host, ofport=ofport)
        ports[k] = service.update_port(port.id, {'name': 'vm%d' % k,
                                                 'security_groups': ['keep']})
    service.update_port(ports[1].id, {'allowed_address_pairs': [
        {'ip_address': VIP}, {'ip_address': '10.0.9.0/24', 'mac_address': VMAC}]})
    service.update_port(ports[2].id, {'allowed_address_pairs': [{'ip_address': VIP}]})
    return service


def switch(service, host):
    inv = Inventory.from_store(service.store)
    return inv, Switch(compile_host(inv, inv.hosts[host]))


def send(service, host, packet):
    inv, sw = switch(service, host)
    steps, outputs = run(sw, packet, Conntrack())
    # OVS never sends a frame back out of the port it came in by (but by in_port)
    return steps, [(p, o) for p, o in outputs if p != packet['in_port'] or p == o['in_port']
                   and o.get('arp_op') == 2]


def garp(ofport, mac, ip):
    return {'in_port': ofport, 'eth_src': mac, 'eth_dst': 'ff:ff:ff:ff:ff:ff',
            'eth_type': P.ARP, 'arp_op': 1, 'arp_spa': ip, 'arp_tpa': ip, 'arp_sha': mac,
            'arp_tha': '00:00:00:00:00:00'}


def test_a_gratuitous_arp_for_a_vip_reaches_every_peer_only_from_its_holders(pairs):
    _, out = send(pairs, 'hv1', garp(2, '02:00:00:00:00:02', VIP))
    ports = sorted(p for p, _ in out)
    assert ports == [1, 3, P.TUNNEL_OFPORT]               # flooded, not answered
    _, out = send(pairs, 'hv1', garp(3, '02:00:00:00:00:03', VIP))
    assert out == []                                     # vm3 holds no pair: nothing
    steps, _ = send(pairs, 'hv1', garp(3, '02:00:00:00:00:03', VIP))
    assert steps[1][0] == P.PORT_SECURITY and steps[1][1].priority == P.priority(
        P.PORT_SECURITY, 'spoofed')


def test_arp_for_a_vip_is_flooded_for_its_holder_to_answer(pairs):
    request = dict(garp(3, '02:00:00:00:00:03', '10.0.0.3'), arp_tpa=VIP)
    _, out = send(pairs, 'hv1', request)
    assert sorted(p for p, _ in out) == [1, 2, P.TUNNEL_OFPORT]
    request['arp_tpa'] = '10.0.0.4'                      # a fixed IP: answered here
    _, out = send(pairs, 'hv1', request)
    assert [(p, o['arp_op'], o['eth_src']) for p, o in out] == [(3, 2, '02:00:00:00:00:04')]


def icmp(ofport, mac, src, dst_mac, dst):
    return {'in_port': ofport, 'eth_src': mac, 'eth_dst': dst_mac, 'eth_type': P.IPV4,
            'ipv4_src': src, 'ipv4_dst': dst, 'ip_proto': 1, 'icmpv4_type': 8,
            'icmpv4_code': 0}


def test_ip_from_a_pair_passes_and_from_anything_else_is_dropped(pairs):
    # vm1 from its prefix pair, with the pair's MAC, to vm3: a member of "keep"
    _, out = send(pairs, 'hv1', icmp(1, VMAC, '10.0.9.7', '02:00:00:00:00:03', '10.0.0.3'))
    assert [p for p, _ in out] == [3]
    # the pair's prefix with vm1's own MAC is not a pair: dropped
    assert send(pairs, 'hv1', icmp(1, '02:00:00:00:00:01', '10.0.9.7', '02:00:00:00:00:03',
                                   '10.0.0.3'))[1] == []
    # vm3 claiming the VIP: dropped
    assert send(pairs, 'hv1', icmp(3, '02:00:00:00:00:03', VIP, '02:00:00:00:00:02',
                                   '10.0.0.2'))[1] == []


def test_a_pair_mac_is_delivered_to_its_port_here_and_elsewhere(pairs):
    _, out = send(pairs, 'hv1', icmp(3, '02:00:00:00:00:03', '10.0.0.3', VMAC, '10.0.9.7'))
    assert [p for p, _ in out] == [1]
    _, out = send(pairs, 'hv2', icmp(1, '02:00:00:00:00:04', '10.0.0.4', VMAC, '10.0.9.7'))
    assert [p for p, o in out] == [P.TUNNEL_OFPORT]


def test_remote_groups_count_pairs_addresses_prefixes_masked(pairs):
    inv = Inventory.from_store(pairs.store)
    keep = pairs.get_group('keep').id
    assert set(inv.members([keep])) == {'10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4', VIP,
                                        '10.0.9.0/24'}
    flows = compile_host(inv, inv.hosts['hv2'])
    clause1 = [dict(f.match).get('ipv4_src') for f in flows
               if f.table == P.INGRESS_ACL and f.priority == P.priority(
                   P.INGRESS_ACL, 'remote_group') and 'ipv4_src' in dict(f.match)]
    assert ('10.0.9.0', '255.255.255.0') in clause1 and VIP in clause1


def test_the_trace_follows_a_vip_and_names_the_pair(pairs):
    inv = Inventory.from_store(pairs.store)
    got = trace(inv, ALL, TraceRequest(source='vm4', address=VIP, protocol='icmp'))
    assert got['verdict'] == 'allowed'
    got = trace(inv, ALL, TraceRequest(source='vm1', source_address=VIP,
                                       destination='vm4', protocol='icmp'))
    text = '\n'.join(s['says'] for s in got['steps'])
    assert got['verdict'] == 'allowed' and 'allowed address pair %s' % VIP in text
    got = trace(inv, ALL, TraceRequest(source='vm3', source_address=VIP,
                                       destination='vm4', protocol='icmp'))
    assert got['verdict'] == 'dropped'
    assert 'anti-spoofing' in '\n'.join(s['says'] for s in got['steps'])


# ---- stateless groups -------------------------------------------------------------------
@pytest.fixture
def stateless(service):
    """hv1: vm1 and vm2 in stateless "udp" (UDP 5000 in and out, ICMP in from
    members), vm3 in the stateful default group."""
    add_hv(service, 'hv1', 1)
    net = service.create_network({'name': 'blue', 'kind': 'vxlan'})
    groups = SecurityGroups(service)
    groups.create_group({'name': 'udp', 'stateful': False, 'rules': [
        {'direction': 'egress', 'protocol': 'udp', 'port_range_min': 5000},
        {'direction': 'ingress', 'protocol': 'udp', 'port_range_min': 5000}]})
    groups.add_rule('udp', {'direction': 'ingress', 'protocol': 'icmp',
                            'remote_group_id': 'udp'})
    for k in (1, 2, 3):
        port = add_port(service, net, k, 'hv1', ofport=k)
        service.update_port(port.id, {'name': 'vm%d' % k,
                                      'security_groups': ['udp' if k < 3 else 'default']})
    return service


def udp(ofport, src_k, dst_k, dport):
    return {'in_port': ofport, 'eth_src': '02:00:00:00:00:%02x' % src_k,
            'eth_dst': '02:00:00:00:00:%02x' % dst_k, 'eth_type': P.IPV4,
            'ipv4_src': '10.0.0.%d' % src_k, 'ipv4_dst': '10.0.0.%d' % dst_k, 'ip_proto': 17,
            'udp_dst': dport, 'udp_src': 40000}


def test_stateless_ports_have_no_conntrack_and_their_rules_are_counted(stateless):
    inv = Inventory.from_store(stateless.store)
    flows = compile_host(inv, inv.hosts['hv1'])
    counted = set(firewall.marks_by_cookie(flows).values())
    assert {r['mark'] for r in stateless.get_group('udp').rules} <= counted
    for f in flows:
        mine = dict(f.match).get('in_port', dict(f.match).get(P.REG_OUT_PORT))
        if f.owner == 'firewall' and mine in (1, 2):
            assert not any(a[0] == 'ct' for a in f.actions) and 'ct_state' not in dict(f.match)


def test_stateless_rules_admit_their_direction_only(stateless):
    steps, out = send(stateless, 'hv1', udp(1, 1, 2, 5000))
    assert [p for p, _ in out] == [2]
    assert not any(f and any(a[0] == 'ct' for a in f.actions) for _, f, _ in steps)
    # no conntrack: a "reply" from port 5000 to a high port is not admitted
    reply = dict(udp(2, 2, 1, 40000), udp_src=5000)
    assert send(stateless, 'hv1', reply)[1] == []
    assert send(stateless, 'hv1', udp(1, 1, 2, 5001))[1] == []        # no rule for 5001


def test_stateless_remote_group_rule_and_its_words(stateless):
    ping = icmp(1, '02:00:00:00:00:01', '10.0.0.1', '02:00:00:00:00:02', '10.0.0.2')
    # vm1's egress has no ICMP rule: stateless, so its own egress stops it
    assert send(stateless, 'hv1', ping)[1] == []
    SecurityGroups(stateless).add_rule('udp', {'direction': 'egress', 'protocol': 'icmp'})
    assert [p for p, _ in send(stateless, 'hv1', ping)[1]] == [2]
    # from vm3 (not a member of "udp"): vm2's ingress drops it
    from3 = icmp(3, '02:00:00:00:00:03', '10.0.0.3', '02:00:00:00:00:02', '10.0.0.2')
    assert send(stateless, 'hv1', from3)[1] == []
    inv = Inventory.from_store(stateless.store)
    got = trace(inv, ALL, TraceRequest(source='vm1', destination='vm2', protocol='icmp'))
    text = '\n'.join(s['says'] for s in got['steps'])
    assert got['verdict'] == 'allowed' and 'no conntrack' in text
    rules = {r['protocol']: r for r in stateless.get_group('udp').rules
             if r['direction'] == 'egress'}
    remote = next(r for r in stateless.get_group('udp').rules if r['remote_group_id'])
    assert "vm1's egress: allowed, no conntrack, by rule %s of stateless group udp" % (
        rules['icmp']['id']) in text
    assert "vm2's ingress: allowed, no conntrack, by rule %s of stateless group udp" % (
        remote['id']) in text
    got = trace(inv, ALL, TraceRequest(source='vm1', destination='vm2', protocol='tcp',
                                       port=22))
    assert got['verdict'] == 'dropped'
    assert 'each direction needs its own rule' in '\n'.join(s['says'] for s in got['steps'])


# ---- /v2.0 -------------------------------------------------------------------------------
def test_v2_pairs_stateless_groups_and_port_security(service):
    from controller.api.v1 import Api
    import controller.api.neutron  # noqa: F401 - mounts /v2.0
    from tests.unit.test_neutron_api import call, net, port
    api = Api(service, token='secret')
    blue = net(api)
    # tempest's test_boot_into_disabled_port_security_network_without_secgroup
    made = port(api, blue, port_security_enabled=False)
    assert made['security_groups'] == [] and made['port_security_enabled'] is False
    status, err = call(api, 'POST', '/v2.0/ports', {'port': {
        'network_id': blue['id'], 'port_security_enabled': False,
        'security_groups': ['default']}})
    assert status == 409 and err['NeutronError']['detail'] == 'security_groups'
    vip = port(api, blue, allowed_address_pairs=[{'ip_address': '10.1.0.100'},
                                                 {'ip_address': '10.2.0.0/16',
                                                  'mac_address': '02:00:00:00:00:aa'}])
    assert vip['allowed_address_pairs'] == [
        {'ip_address': '10.1.0.100', 'mac_address': vip['mac_address']},
        {'ip_address': '10.2.0.0/16', 'mac_address': '02:00:00:00:00:aa'}]
    status, err = call(api, 'PUT', '/v2.0/ports/%s' % vip['id'], {'port': {
        'port_security_enabled': False, 'security_groups': []}})
    assert status == 409 and err['NeutronError']['detail'] == 'port_security_enabled'
    assert err['NeutronError']['type'] == 'PortSecurityPortHasSecurityGroup'
    status, out = call(api, 'POST', '/v2.0/security-groups', {'security_group': {
        'name': 'fast', 'stateful': False}})
    assert status == 201 and out['security_group']['stateful'] is False
    status, err = call(api, 'PUT', '/v2.0/ports/%s' % vip['id'], {'port': {
        'security_groups': [out['security_group']['id'], 'default']}})
    assert status == 409 and err['NeutronError']['detail'] == 'security_groups'
    status, _ = call(api, 'PUT', '/v2.0/security-groups/%s' % out['security_group']['id'],
                     {'security_group': {'stateful': True}})
    assert status == 200
    aliases = {e['alias'] for e in call(api, 'GET', '/v2.0/extensions')[1]['extensions']}
    assert {'allowed-address-pairs', 'stateful-security-group', 'port-security'} <= aliases


def test_the_openapi_documents_declare_pairs_and_stateful(service):
    import json
    from controller.api.v1 import Api
    import controller.api.neutron  # noqa: F401 - mounts /v2.0
    from tests.unit.test_neutron_api import call
    api = Api(service, token='secret')
    for path in ('/v1/openapi.json', '/v2.0/openapi.json'):
        status, doc = call(api, 'GET', path)
        text = json.dumps(doc['components']['schemas'])
        assert status == 200 and 'allowed_address_pairs' in text and '"stateful"' in text
        assert 'AddressPair' in doc['components']['schemas']


def test_records_stored_before_pairs_and_stateless_read_with_neutron_defaults():
    import json
    from controller.state.store import decode
    port = decode('port', 'p', json.dumps({
        'id': 'p', 'name': 'p', 'network_id': 'n', 'mac': '02:00:00:00:00:01',
        'ips': ['10.0.0.1'], 'device': 'tap1', 'security_groups': ['g']}))
    group = decode('security_group', 'g', json.dumps({'id': 'g', 'name': 'g', 'rules': []}))
    assert port.allowed_address_pairs == [] and group.stateful is True


def test_a_prefix_member_s_clause1_piece_has_one_key_whole_or_incremental(pairs):
    """The piece of a pair's prefix is keyed by the prefix as members list it,
    whether the host is compiled whole or for that address alone (else the
    incremental compile leaves the whole one's flow behind)."""
    from controller.compile.pieces import Want
    inv = Inventory.from_store(pairs.store)
    host = inv.hosts['hv2']
    whole = firewall.pieces(inv, host, Want())
    alone = firewall.pieces(inv, host, Want([('clause1', '10.0.9.0/24')]))
    key = ('firewall', 'clause1', '10.0.9.0/24')
    assert key in whole and set(alone) == {key} and set(alone[key]) == set(whole[key])
