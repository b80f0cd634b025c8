"""/v2.0, Neutron's API (issue 31), through webob with no server: the
translation both ways (pure), each filter, fields=, the wrappers, the tokens
(X-Auth-Token and Bearer, admin and reader), NeutronError bodies, allocation
of MACs and addresses, IPv6 refused where it cannot work, and /v1 and /v2.0
agreeing on what either created."""
import json

import pytest
import webob

import controller.api.neutron  # noqa: F401 - mounts /v2.0
from controller.state import model
from controller.api.rest import Running
from controller.api.v1 import Api
from controller.api.neutron import schemas as S
from controller.api.neutron import translate as T
from controller.state.schemas import parse

HEX = '0123456789abcdef0123456789abcdef'
DASHED = '01234567-89ab-cdef-0123-456789abcdef'


@pytest.fixture
def api(service):
    return Api(service, token='secret', reader_token='look')


def call(api, method, path, body=None, token='secret', header='X-Auth-Token'):
    req = webob.Request.blank(path, method=method)
    if body is not None:
        req.body = json.dumps(body).encode()
        req.content_type = 'application/json'
    if token:
        req.headers[header] = token if header == 'X-Auth-Token' else 'Bearer ' + token
    resp = req.get_response(api)
    return resp.status_int, (resp.json if resp.body else None)


def net(api, name='blue', **extra):
    status, out = call(api, 'POST', '/v2.0/networks', {'network': dict(name=name, **extra)})
    assert status == 201, out
    return out['network']


def subnet(api, network, cidr='10.1.0.0/24', **extra):
    status, out = call(api, 'POST', '/v2.0/subnets', {'subnet': dict(
        dict(network_id=network['id'], cidr=cidr, ip_version=4), **extra)})
    assert status == 201, out
    return out['subnet']


def port(api, network, **extra):
    status, out = call(api, 'POST', '/v2.0/ports', {'port': dict(
        network_id=network['id'], **extra)})
    assert status == 201, out
    return out['port']


# ---- translation, pure ---------------------------------------------------------------
def test_ids_are_shown_dashed_and_taken_either_way():
    assert T.dashed(HEX) == DASHED and T.undash(DASHED) == HEX
    assert T.undash(HEX) == HEX and T.dashed('default') == 'default'
    assert T.undash('blue') == 'blue' and T.dashed('') == ''
    assert T.device_of(HEX) == 'tap01234567-89'       # as Nova names a port's tap


def test_network_both_ways():
    request = parse(S.NetworkCreate, {'name': 'blue', 'provider:network_type': 'vlan',
                                      'provider:segmentation_id': '42',
                                      'provider:physical_network': 'physnet1'})
    assert T.network_in(request) == {'name': 'blue', 'kind': 'vlan', 'segmentation_id': 42}
    assert T.network_in(parse(S.NetworkCreate, {'name': 'x'})) == {'name': 'x',
                                                                   'kind': 'vxlan'}
    out = T.network_out(model.Network(id=HEX, name='blue', kind='vlan', segmentation_id=42,
                                      nid=1), [HEX])
    assert out['id'] == DASHED and out['subnets'] == [DASHED]
    assert (out['provider:network_type'], out['provider:segmentation_id'],
            out['provider:physical_network'], out['mtu']) == ('vlan', 42, 'physnet1', 1500)
    vx = T.network_out(model.Network(id=HEX, name='v', kind='vxlan', segmentation_id=5000,
                                     nid=2))
    assert vx['provider:physical_network'] is None and vx['mtu'] == 1450


def test_port_both_ways():
    request = parse(S.PortCreate, {
        'network_id': DASHED, 'name': 'p', 'binding:host_id': 'hv1', 'device_id': 'vm-1',
        'device_owner': 'compute:nova', 'security_groups': [DASHED],
        'port_security_enabled': False, 'allowed_address_pairs': [],
        'mac_address': 'FA:16:3E:00:00:01'})
    assert T.port_in(request, ['10.1.0.5']) == {
        'name': 'p', 'ips': ['10.1.0.5'], 'host': 'hv1', 'device_id': 'vm-1',
        'device_owner': 'compute:nova', 'port_security_enabled': False,
        'security_groups': [HEX], 'network_id': HEX, 'mac': 'fa:16:3e:00:00:01',
        'allowed_address_pairs': []}
    sub = model.Subnet(id=HEX, name='s', network_id=HEX, cidr='10.1.0.0/24')
    stored = model.Port(id=HEX, name='p', network_id=HEX, mac='fa:16:3e:00:00:01',
                        ips=['10.1.0.5', '10.9.0.1'], device='tap0', host='',
                        security_groups=[HEX], bound_host='hv1', ofport=3)
    out = T.port_out(stored, [sub], synced_hosts={'hv1'})
    assert out['fixed_ips'] == [{'subnet_id': DASHED, 'ip_address': '10.1.0.5'},
                                {'subnet_id': None, 'ip_address': '10.9.0.1'}]
    assert (out['status'], out['binding:host_id'], out['binding:vif_type']) == \
        ('ACTIVE', 'hv1', 'ovs')
    assert T.port_out(stored, [sub], synced_hosts=set())['status'] == 'DOWN'
    unbound = model.changed(stored, bound_host='', ofport=0, host='hv2')
    assert (T.port_out(unbound, [sub], {'hv1', 'hv2'})['status'],
            T.port_out(unbound)['binding:host_id']) == ('DOWN', 'hv2')


def test_rule_both_ways():
    request = parse(S.RuleCreate, {
        'security_group_id': DASHED, 'direction': 'ingress', 'protocol': 'tcp',
        'port_range_min': 22, 'port_range_max': 22, 'remote_group_id': DASHED,
        'remote_ip_prefix': None, 'description': None, 'ethertype': 'IPv4'})
    assert T.rule_in(request) == {'direction': 'ingress', 'ethertype': 'IPv4',
                                  'protocol': 'tcp', 'port_range_min': 22,
                                  'port_range_max': 22, 'remote_ip_prefix': '',
                                  'remote_group_id': HEX, 'remote_zone': '',
                                  'description': ''}
    any_rule = {'id': HEX, 'direction': 'egress', 'ethertype': 'IPv4', 'protocol': 'any',
                'port_range_min': None, 'port_range_max': None, 'remote_ip_prefix': '',
                'remote_group_id': '', 'remote_zone': 'web', 'description': ''}
    out = T.rule_out(any_rule, HEX)
    assert (out['protocol'], out['remote_ip_prefix'], out['remote_group_id'],
            out['remote_zone'], out['security_group_id']) == (None, None, None, 'web', DASHED)
    assert T.rule_out(dict(any_rule, protocol=47), HEX)['protocol'] == '47'


def test_default_pools_leave_out_the_gateway():
    assert T.default_pools('10.1.0.0/24', '10.1.0.1') == [{'start': '10.1.0.2',
                                                          'end': '10.1.0.254'}]
    assert T.default_pools('10.1.0.0/24', '10.1.0.100') == [
        {'start': '10.1.0.1', 'end': '10.1.0.99'}, {'start': '10.1.0.101', 'end': '10.1.0.254'}]
    assert T.default_pools('10.1.0.0/30', '') == [{'start': '10.1.0.1', 'end': '10.1.0.2'}]


SHOWN = {'id': DASHED, 'name': 'blue', 'admin_state_up': True, 'mtu': 1450,
         'provider:physical_network': None, 'subnets': [DASHED, 'other'],
         'fixed_ips': [{'subnet_id': DASHED, 'ip_address': '10.1.0.5'}]}


@pytest.mark.parametrize('filters,passes', [
    ({}, True),
    ({'name': ['blue']}, True), ({'name': ['red']}, False), ({'name': ['red', 'blue']}, True),
    ({'name': ['Blue']}, False),
    ({'id': [HEX]}, True), ({'id': [DASHED]}, True), ({'id': ['x']}, False),
    ({'admin_state_up': ['true']}, True), ({'admin_state_up': ['True']}, True),
    ({'admin_state_up': ['false']}, False),
    ({'mtu': ['1450']}, True), ({'mtu': ['1500']}, False),
    ({'provider:physical_network': ['']}, True),
    ({'subnets': [HEX]}, True), ({'subnets': ['nope']}, False),
    ({'fixed_ips': ['ip_address=10.1.0.5']}, True),
    ({'fixed_ips': ['ip_address=10.1.0.6']}, False),
    ({'fixed_ips': ['subnet_id=' + HEX]}, True),
    ({'name': ['blue'], 'mtu': ['1500']}, False),
])
def test_each_filter(filters, passes):
    assert T.matches(SHOWN, filters) is passes


def test_fields_select():
    assert T.select(SHOWN, ['id', 'mtu', 'nothing']) == {'id': DASHED, 'mtu': 1450}
    assert T.select(SHOWN, []) == SHOWN


# ---- through the API -----------------------------------------------------------------
def test_versions_and_resources_need_no_token(api):
    status, doc = call(api, 'GET', '/', token=None)
    assert status == 200 and doc['versions'][0]['id'] == 'v2.0'
    assert doc['versions'][0]['links'][0]['href'].endswith('/v2.0/')
    status, doc = call(api, 'GET', '/v2.0/', token=None)
    assert status == 200 and {r['collection'] for r in doc['resources']} == {
        'networks', 'subnets', 'ports', 'security_groups', 'security_group_rules', 'logs'}


def test_extensions_list_what_is_supported(api):
    status, doc = call(api, 'GET', '/v2.0/extensions')
    aliases = {e['alias'] for e in doc['extensions']}
    assert status == 200 and {'provider', 'binding', 'security-group',
                              'port-security'} <= aliases
    assert {'allowed-address-pairs', 'stateful-security-group'} <= aliases
    assert 'router' not in aliases
    assert call(api, 'GET', '/v2.0/extensions/provider')[1]['extension']['alias'] == 'provider'
    assert call(api, 'GET', '/v2.0/extensions/router')[0] == 404
    class NoFirewall(Running):
        def loaded(self):
            return ['vlan', 'vxlan']
    without = Api(api.service, token='secret', running=NoFirewall())
    aliases = {e['alias'] for e in call(without, 'GET', '/v2.0/extensions')[1]['extensions']}
    assert 'security-group' not in aliases
    assert call(without, 'GET', '/v2.0/security-groups')[0] == 404


@pytest.mark.parametrize('header', ['X-Auth-Token', 'Authorization'])
def test_tokens_and_roles(api, header):
    assert call(api, 'GET', '/v2.0/networks', header=header)[0] == 200
    assert call(api, 'GET', '/v2.0/networks', token='look', header=header)[0] == 200
    status, err = call(api, 'POST', '/v2.0/networks', {'network': {'name': 'x'}},
                       token='look', header=header)
    assert status == 403 and err['NeutronError']['type'] == 'HTTPForbidden'
    for token in (None, 'wrong'):
        status, err = call(api, 'GET', '/v2.0/networks', token=token, header=header)
        assert status == 401 and set(err['NeutronError']) == {'type', 'message', 'detail'}
    assert call(api, 'GET', '/v2.0/networks')[1] == {'networks': []}


@pytest.mark.parametrize('body,field', [
    ({'network': {'name': 'x', 'provider:network_type': 'gre'}}, 'provider:network_type'),
    ({'network': {'name': 'x', 'provider:network_type': 'vlan',
                  'provider:segmentation_id': 5000}}, 'provider:segmentation_id'),
    ({'network': {'name': 'x', 'provider:physical_network': 'physnet1'}},
     'provider:physical_network'),
    ({'network': {'name': 'x', 'provider:network_type': 'vlan',
                  'provider:physical_network': 'physnet2'}}, 'provider:physical_network'),
    ({'network': {'name': 'x', 'admin_state_up': False}}, 'admin_state_up'),
    ({'network': {'name': 'x', 'shared': False}}, 'shared'),
    ({'network': {'name': 'x y'}}, 'name'),
    ({'network': {'name': 'x', 'mtu': 9000}}, 'mtu'),
    ({'name': 'x'}, 'network'),                  # not wrapped
])
def test_bad_networks_are_neutron_errors_naming_the_field(api, body, field):
    status, err = call(api, 'POST', '/v2.0/networks', body)
    assert status == 400, err
    assert err['NeutronError']['type'] == 'HTTPBadRequest'
    assert err['NeutronError']['detail'] == field and field in err['NeutronError']['message']
    assert call(api, 'GET', '/v2.0/networks')[1] == {'networks': []}


def test_list_filters_and_fields(api):
    blue = net(api, 'blue', **{'provider:network_type': 'vlan',
                               'provider:segmentation_id': 10})
    net(api, 'red')
    names = lambda q: sorted(n['name'] for n in call(api, 'GET', '/v2.0/networks' + q)[1][  # noqa
        'networks'])
    assert names('') == ['blue', 'red']
    assert names('?name=blue') == ['blue'] and names('?name=blue&name=red') == ['blue', 'red']
    assert names('?provider:network_type=vxlan') == ['red']
    assert names('?provider:segmentation_id=10') == ['blue']
    assert names('?id=' + blue['id']) == ['blue'] and names('?id=' + T.undash(blue['id'])) \
        == ['blue']
    assert names('?shared=true&admin_state_up=True') == ['blue', 'red']
    assert names('?shared=false') == []
    status, out = call(api, 'GET', '/v2.0/networks?fields=id&fields=name&name=blue')
    assert out == {'networks': [{'id': blue['id'], 'name': 'blue'}]}
    status, out = call(api, 'GET', '/v2.0/networks/%s?fields=mtu' % blue['id'])
    assert out == {'network': {'mtu': 1500}}
    for query, field in (('?colour=blue', 'colour'), ('?shared=yes', 'shared'),
                         ('?mtu=big', 'mtu')):
        status, err = call(api, 'GET', '/v2.0/networks' + query)
        assert status == 400 and err['NeutronError']['detail'] == field


def test_subnets_and_address_allocation(api):
    blue = net(api)
    sub = subnet(api, blue, name='s4', allocation_pools=[{'start': '10.1.0.10',
                                                          'end': '10.1.0.11'}])
    assert (sub['gateway_ip'], sub['allocation_pools']) == ('10.1.0.1', [
        {'start': '10.1.0.10', 'end': '10.1.0.11'}])
    assert call(api, 'GET', '/v2.0/networks/%s' % blue['id'])[1]['network']['subnets'] \
        == [sub['id']]
    first, second = port(api, blue), port(api, blue)
    assert [p['fixed_ips'] for p in (first, second)] == [
        [{'subnet_id': sub['id'], 'ip_address': '10.1.0.10'}],
        [{'subnet_id': sub['id'], 'ip_address': '10.1.0.11'}]]
    assert first['mac_address'].startswith('fa:16:3e:')
    assert first['mac_address'] != second['mac_address']
    status, err = call(api, 'POST', '/v2.0/ports', {'port': {
        'network_id': blue['id'], 'fixed_ips': [{'subnet_id': sub['id']}]}})
    assert status == 409 and err['NeutronError']['detail'] == 'fixed_ips[0].subnet_id'
    given = port(api, blue, fixed_ips=[{'ip_address': '10.1.0.77'}])
    assert given['fixed_ips'] == [{'subnet_id': sub['id'], 'ip_address': '10.1.0.77'}]
    status, err = call(api, 'POST', '/v2.0/ports', {'port': {
        'network_id': blue['id'], 'fixed_ips': [{'ip_address': '10.1.0.77'}]}})
    assert status == 409 and err['NeutronError']['type'] == 'IpAddressAlreadyAllocated'
    assert err['NeutronError']['detail'] == 'fixed_ips'
    status, err = call(api, 'POST', '/v2.0/ports', {'port': {
        'network_id': blue['id'], 'fixed_ips': [{'ip_address': '10.7.0.1'}]}})
    assert status == 400 and err['NeutronError']['detail'] == 'fixed_ips[0].ip_address'
    status, err = call(api, 'DELETE', '/v2.0/subnets/%s' % sub['id'])
    assert status == 409 and err['NeutronError']['type'] == 'SubnetInUse'
    status, err = call(api, 'POST', '/v2.0/subnets', {'subnet': {
        'network_id': blue['id'], 'cidr': '10.1.0.128/25', 'ip_version': 4}})
    assert status == 400 and err['NeutronError']['detail'] == 'cidr'       # overlaps
    assert port(api, net(api, 'bare'))['fixed_ips'] == []                  # no subnet


@pytest.mark.parametrize('body,field', [
    ({'cidr': '10.1.0.5/24'}, 'cidr'),
    ({'cidr': '127.0.0.0/24'}, 'cidr'),
    ({'cidr': '10.1.0.0/24', 'ip_version': 6}, 'cidr'),
    ({'cidr': '10.1.0.0/24', 'gateway_ip': '10.2.0.1'}, 'gateway_ip'),
    ({'cidr': '10.1.0.0/24', 'allocation_pools': [{'start': '10.1.0.9', 'end': '10.1.0.2'}]},
     'allocation_pools[0].end'),
    ({'cidr': '10.1.0.0/24', 'dns_nameservers': ['8.8.8.8']}, 'dns_nameservers'),
])
def test_bad_subnets(api, body, field):
    blue = net(api)
    status, err = call(api, 'POST', '/v2.0/subnets', {'subnet': dict(
        body, network_id=blue['id'])})
    assert status == 400 and err['NeutronError']['detail'] == field, err


def test_ipv6_subnets_give_ports_addresses_beside_ipv4(api):
    blue = net(api)
    v4 = subnet(api, blue, cidr='10.1.0.0/24')
    v6 = subnet(api, blue, cidr='fd00:1::/64', ip_version=6)
    assert (v6['ip_version'], v6['gateway_ip']) == (6, 'fd00:1::1')
    assert [(f['subnet_id'], f['ip_address']) for f in port(api, blue)['fixed_ips']] == [
        (v4['id'], '10.1.0.2'), (v6['id'], 'fd00:1::2')]      # one of each version
    assert port(api, blue, fixed_ips=[{'subnet_id': v6['id']}])['fixed_ips'] == [
        {'subnet_id': v6['id'], 'ip_address': 'fd00:1::3'}]
    assert port(api, blue, fixed_ips=[{'ip_address': 'FD00:1:0::0:50'}])['fixed_ips'] == [
        {'subnet_id': v6['id'], 'ip_address': 'fd00:1::50'}]        # canonical text
    for address, why in (('fe80::5', 'link-local'), ('fd00:2::5', 'in no subnet')):
        status, err = call(api, 'POST', '/v2.0/ports', {'port': {
            'network_id': blue['id'], 'fixed_ips': [{'ip_address': address}]}})
        assert status == 400 and err['NeutronError']['detail'] == 'fixed_ips[0].ip_address'
        assert why in err['NeutronError']['message']
    status, out = call(api, 'POST', '/v2.0/security-group-rules', {'security_group_rule': {
        'security_group_id': 'default', 'direction': 'ingress', 'ethertype': 'IPv6',
        'protocol': 'ipv6-icmp', 'port_range_min': 128, 'remote_ip_prefix': 'fd00:1::/64'}})
    assert status == 201 and out['security_group_rule']['ethertype'] == 'IPv6'
    status, err = call(api, 'POST', '/v2.0/security-group-rules', {'security_group_rule': {
        'security_group_id': 'default', 'direction': 'ingress', 'ethertype': 'IPv4',
        'remote_ip_prefix': 'fd00:1::/64'}})
    assert status == 400 and err['NeutronError']['detail'] == 'remote_ip_prefix'


def test_ports_refuse_what_vnetsec_cannot_do(api):
    blue = net(api)
    for extra, field in (({'allowed_address_pairs': [{'ip_address': 'nope'}]},
                          'allowed_address_pairs[0].ip_address'),
                         ({'admin_state_up': False}, 'admin_state_up'),
                         ({'binding:profile': {'x': 1}}, 'binding:profile')):
        status, err = call(api, 'POST', '/v2.0/ports', {'port': dict(
            extra, network_id=blue['id'])})
        assert status == 400 and err['NeutronError']['detail'] == field, err
    assert port(api, blue, allowed_address_pairs=[])['allowed_address_pairs'] == []


def test_security_groups_and_top_level_rules(api):
    status, out = call(api, 'POST', '/v2.0/security-groups', {'security_group': {
        'name': 'ssh', 'description': 'ssh in'}})
    group = out['security_group']
    assert status == 201 and [(r['direction'], r['ethertype'])
                              for r in group['security_group_rules']] == \
        [('egress', 'IPv4'), ('egress', 'IPv6')]
    status, out = call(api, 'POST', '/v2.0/security-group-rules', {'security_group_rule': {
        'security_group_id': group['id'], 'direction': 'ingress', 'protocol': 'tcp',
        'port_range_min': 22, 'port_range_max': 22, 'remote_group_id': group['id']}})
    rule = out['security_group_rule']
    assert status == 201 and rule['remote_group_id'] == group['id']
    stored = api.service.get_group(T.undash(group['id'])).rules[-1]
    assert stored['mark'] and T.dashed(stored['id']) == rule['id']   # made by the service
    assert call(api, 'GET', '/v2.0/security-group-rules/%s' % rule['id'])[1][
        'security_group_rule'] == rule
    listed = call(api, 'GET', '/v2.0/security-group-rules?security_group_id=%s'
                  % group['id'])[1]['security_group_rules']
    assert [r['id'] for r in listed][-1] == rule['id'] and len(listed) == 3
    assert call(api, 'DELETE', '/v2.0/security-group-rules/%s' % rule['id'])[0] == 204
    status, err = call(api, 'GET', '/v2.0/security-group-rules/%s' % rule['id'])
    assert status == 404 and err['NeutronError']['type'] == 'SecurityGroupRuleNotFound'
    status, err = call(api, 'POST', '/v2.0/security-groups', {'security_group': {
        'name': 'x', 'stateful': 'no'}})
    assert status == 400 and err['NeutronError']['detail'] == 'stateful'
    assert call(api, 'DELETE', '/v2.0/security-groups/%s' % group['id'])[0] == 204
    status, err = call(api, 'GET', '/v2.0/security-groups/%s' % group['id'])
    assert status == 404 and err['NeutronError']['type'] == 'SecurityGroupNotFound'


def test_created_through_v2_reads_the_same_through_v1_and_back(api):
    blue = net(api, 'blue', **{'provider:network_type': 'vxlan',
                               'provider:segmentation_id': 5001})
    subnet(api, blue)
    group = call(api, 'POST', '/v2.0/security-groups', {'security_group': {
        'name': 'web'}})[1]['security_group']
    made = port(api, blue, name='p1', security_groups=[group['id']],
                **{'binding:host_id': 'hv1'}, device_id='vm-1', device_owner='compute:nova')
    v1 = call(api, 'GET', '/v1/ports/%s' % T.undash(made['id']), header='Authorization')[1]
    assert (v1['network_id'], v1['mac'], v1['ips'], v1['host'], v1['security_groups'],
            v1['device'], v1['device_id'], v1['device_owner']) == (
        T.undash(blue['id']), made['mac_address'], ['10.1.0.2'], 'hv1',
        [T.undash(group['id'])], T.device_of(T.undash(made['id'])), 'vm-1', 'compute:nova')
    v1net = call(api, 'GET', '/v1/networks/blue', header='Authorization')[1]
    assert (v1net['kind'], v1net['segmentation_id']) == ('vxlan', 5001)
    # and the reverse: made through /v1, read through /v2.0
    call(api, 'POST', '/v1/networks', {'name': 'red', 'kind': 'vlan', 'segmentation_id': 20},
         header='Authorization')
    old = call(api, 'POST', '/v1/ports', {'network_id': 'red', 'mac': '02:00:00:00:00:07',
                                          'ips': ['10.0.0.7'], 'device': 'tapvm7',
                                          'security_groups': ['web']},
               header='Authorization')[1]
    seen = call(api, 'GET', '/v2.0/ports/%s' % T.dashed(old['id']))[1]['port']
    assert (seen['mac_address'], seen['fixed_ips'], seen['security_groups'],
            seen['network_id'], seen['status']) == (
        '02:00:00:00:00:07', [{'subnet_id': None, 'ip_address': '10.0.0.7'}], [group['id']],
        T.dashed(old['network_id']), 'DOWN')
    red = call(api, 'GET', '/v2.0/networks?name=red')[1]['networks'][0]
    assert (red['provider:network_type'], red['provider:segmentation_id']) == ('vlan', 20)
    v1group = call(api, 'GET', '/v1/security-groups/web', header='Authorization')[1]
    assert [T.dashed(r['id']) for r in v1group['rules']] == [
        r['id'] for r in group['security_group_rules']]


def test_port_update_and_delete(api):
    blue = net(api)
    subnet(api, blue)
    made = port(api, blue, name='p1')
    status, out = call(api, 'PUT', '/v2.0/ports/%s' % made['id'], {'port': {
        'security_groups': [], 'fixed_ips': [{'ip_address': '10.1.0.50'}],
        'port_security_enabled': False, 'binding:host_id': 'hv2'}})
    assert status == 200
    assert (out['port']['security_groups'], out['port']['fixed_ips'][0]['ip_address'],
            out['port']['port_security_enabled'], out['port']['binding:host_id']) == (
        [], '10.1.0.50', False, 'hv2')
    status, err = call(api, 'PUT', '/v2.0/ports/%s' % made['id'], {'port': {
        'mac_address': 'fa:16:3e:00:00:01'}})
    assert status == 400 and err['NeutronError']['detail'] == 'mac_address'
    assert call(api, 'DELETE', '/v2.0/ports/%s' % made['id'])[0] == 204
    status, err = call(api, 'GET', '/v2.0/ports/%s' % made['id'])
    assert status == 404 and err['NeutronError']['type'] == 'PortNotFound'
    assert call(api, 'DELETE', '/v2.0/networks/%s' % blue['id'])[0] == 204
    assert call(api, 'GET', '/v2.0/subnets')[1] == {'subnets': []}   # gone with it


def test_openapi_document(api):
    status, doc = call(api, 'GET', '/v2.0/openapi.json', token=None)
    assert status == 200 and doc['openapi'].startswith('3.1')
    assert {'get', 'post'} <= set(doc['paths']['/v2.0/networks'])
    assert set(doc['paths']['/v2.0/ports/{id}']) == {'get', 'put', 'delete'}
    params = {p['name'] for p in doc['paths']['/v2.0/ports']['get']['parameters']}
    assert {'fields', 'network_id', 'binding:host_id', 'fixed_ips'} <= params
    assert doc['paths']['/v2.0/ports']['post']['security'] == [{'token': []}, {'bearer': []}]
    # /v1's own document is unchanged by the mount
    v1 = call(api, 'GET', '/v1/openapi.json', token=None)[1]
    assert not any(p.startswith('/v2.0') for p in v1['paths'])


def test_status_follows_binding_and_the_switch_confirming_its_flows(service):
    synced = {'hv1': False}
    class Switches(Running):
        def status(self):
            return {'switches': {'%016x' % n: {'host': h, 'synced': s}
                                 for n, (h, s) in enumerate(synced.items())}}
    api = Api(service, token='secret', running=Switches())
    made = port(api, net(api), **{'binding:host_id': 'hv1'})
    assert made['status'] == 'DOWN' and made['binding:vif_type'] == 'unbound'
    from tests.unit.conftest import add_hv
    add_hv(service, 'hv1', 1)
    service.bind('hv1', {T.device_of(T.undash(made['id'])): 7})   # its vNIC appears
    shown = lambda: call(api, 'GET', '/v2.0/ports/%s' % made['id'])[1]['port']  # noqa: E731
    assert shown()['status'] == 'DOWN', 'bound, its flows not yet confirmed'
    synced['hv1'] = True
    assert (shown()['status'], shown()['binding:vif_type']) == ('ACTIVE', 'ovs')


def test_writes_are_audited_and_counted(service):
    audit = []
    api = Api(service, token='secret', audit=audit.append)
    net(api)
    call(api, 'POST', '/v2.0/networks', {'network': {'name': 'x'}}, token='look')
    assert [(a['method'], a['path'], a['status'], a['role']) for a in audit] == [
        ('POST', '/v2.0/networks', 201, 'admin'), ('POST', '/v2.0/networks', 401, None)]
    text = api.metrics.text().decode()
    assert 'route="/v2.0/networks"' in text and 'status="201"' in text


def test_slaac_subnets_give_ports_their_eui64_address(api):
    blue = net(api)
    slaac = subnet(api, blue, cidr='fd00:5::/64', ip_version=6, ipv6_ra_mode='slaac',
                   ipv6_address_mode='slaac')
    assert (slaac['ipv6_ra_mode'], slaac['ipv6_address_mode']) == ('slaac', 'slaac')
    made = port(api, blue, mac_address='52:54:00:12:34:56')
    assert made['fixed_ips'] == [{'subnet_id': slaac['id'],
                                  'ip_address': 'fd00:5::5054:ff:fe12:3456'}]
    for extra, field in (({'ipv6_address_mode': 'slaac', 'cidr': 'fd00:6::/80'},
                          'ipv6_address_mode'),
                         ({'ipv6_ra_mode': 'slaac', 'ipv6_address_mode': 'dhcpv6-stateful',
                           'cidr': 'fd00:7::/64'}, 'ipv6_address_mode'),
                         ({'ipv6_ra_mode': 'slaac', 'ip_version': 4, 'cidr': '10.9.0.0/24'},
                          'ipv6_ra_mode')):
        body = dict({'network_id': blue['id'], 'ip_version': 6}, **extra)
        status, err = call(api, 'POST', '/v2.0/subnets', {'subnet': body})
        assert status == 400 and err['NeutronError']['detail'] == field, err
