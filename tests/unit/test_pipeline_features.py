"""The declared pipeline and the features: every feature combination compiles,
and every flow keeps to its table's declaration (owner, match fields, priorities,
no backward jumps); a feature not loaded leaves no cookie."""
import itertools

import pytest

from controller.compile import pipeline as P
from controller.api.v1 import Api
from controller.api.rest import Running
from controller.compile.host import ALL, compile_host
from controller.compile.flows import flow, goto
from controller.state.inventory import Inventory
from controller.state.model import ValidationError
from controller.state.service import Service
from controller.features.security_groups import SecurityGroups
from tests.unit.conftest import add_hv, add_port


class NoFirewall(Running):
    def loaded(self):
        return ['vlan', 'vxlan']

COMBINATIONS = [c for n in range(len(ALL) + 1) for c in itertools.combinations(ALL, n)]


def data_center(service):
    """Two racks, VLAN and VXLAN networks, groups with remote groups and zones,
    a planned migration in progress: every kind of flow there is."""
    add_hv(service, 'hv1', 1)
    add_hv(service, 'hv2', 2)
    add_hv(service, 'hv3', 3, rack=2)
    service.create_host({'name': 'tor1', 'dpid': 0x7001, 'role': 'tor', 'rack': 1,
                         'uplinks': {'hv:hv1': 1, 'hv:hv2': 2, 'rack:2': 3}})
    service.create_host({'name': 'tor2', 'dpid': 0x7002, 'role': 'tor', 'rack': 2,
                         'uplinks': {'hv:hv3': 1, 'rack:1': 2}})
    vlan = service.create_network({'name': 'v', 'kind': 'vlan', 'segmentation_id': 10})
    vxlan = service.create_network({'name': 'x', 'kind': 'vxlan'})
    SecurityGroups(service).create_group({'name': 'app', 'zone': 'app', 'rules': [{'direction': 'egress'}]})
    SecurityGroups(service).create_group({'name': 'web', 'rules': [
        {'direction': 'ingress', 'protocol': 'tcp', 'port_range_min': 80,
         'remote_zone': 'app'},
        {'direction': 'ingress', 'protocol': 'udp', 'port_range_min': 5000,
         'port_range_max': 5100, 'remote_ip_prefix': '10.0.0.0/16'},
        {'direction': 'ingress', 'protocol': 'icmp', 'remote_group_id': 'app'}]})
    for k, (net, host) in enumerate([(vlan, 'hv1'), (vlan, 'hv3'), (vxlan, 'hv1'),
                                     (vxlan, 'hv2'), (vxlan, 'hv3')], start=1):
        port = add_port(service, net, k, host, ofport=k)
        service.update_port(port.id, {'security_groups': ['web' if k % 2 else 'app']})
    moving = next(p for p in service.store.list('port') if p.device == 'tapvm4')
    service.migrate_port(moving.id, {'host': 'hv1', 'live': True})


@pytest.mark.parametrize('features', COMBINATIONS,
                         ids=['+'.join(f.name for f in c) or 'core' for c in COMBINATIONS])
def test_every_combination_keeps_to_the_declared_pipeline(service, store, features):
    data_center(service)
    inv = Inventory.from_store(store)
    names = {f.name for f in features}
    for host in inv.hosts.values():
        flows = compile_host(inv, host, features)
        assert flows
        for f in flows:
            assert P.check(f, host.role) == '', '%s: %s' % (host.name, f)
        owners = {f.owner for f in flows}
        assert owners <= {'base', 'core'} | names
        cookies = {f.cookie >> P.COOKIE_OWNER_SHIFT for f in flows}
        assert cookies <= {P.OWNERS[o] for o in {'base', 'core'} | names}


def test_the_check_refuses_what_a_table_does_not_declare():
    assert 'belongs to firewall' in P.check(flow('vxlan', P.INGRESS_ACL, 40, {}))
    assert 'undeclared match fields' in P.check(
        flow('core', P.OUTPUT, 30, {P.REG_OUT_PORT: 1, 'eth_dst': '02:00:00:00:00:01'}))
    assert 'backwards' in P.check(flow('core', P.L2_LOOKUP, 10, {}, [goto(P.L2_LOOKUP)])) \
        or 'may not go' in P.check(flow('core', P.L2_LOOKUP, 10, {}, [goto(P.L2_LOOKUP)]))
    assert 'may not go' in P.check(flow('core', P.OUTPUT, 30, {}, [goto(P.CLASSIFY)]))
    assert 'priority 31 is not declared' in P.check(flow('core', P.OUTPUT, 31, {}))
    assert P.check(flow('base', P.OUTPUT, P.MISS)) == ''


def test_every_table_is_declared_once_with_one_owner():
    assert len(P.BY_NUMBER) == len(P.TABLES)
    for t in P.TABLES:
        assert t.owner in P.OWNERS and t.owner != 'base'
        assert all(n >= t.number for n in t.next)
        assert len(set(t.priorities.values())) == len(t.priorities)


def test_a_vlan_only_controller_emits_no_vxlan_or_firewall_cookie(service, store):
    data_center(service)
    inv = Inventory.from_store(store)
    vlan_only = [f for f in ALL if f.name == 'vlan']
    flows = [f for h in inv.hosts.values() for f in compile_host(inv, h, vlan_only)]
    owners = {f.cookie >> P.COOKIE_OWNER_SHIFT for f in flows}
    assert P.OWNERS['vxlan'] not in owners and P.OWNERS['firewall'] not in owners
    assert P.OWNERS['vlan'] in owners


def test_a_kind_whose_app_is_not_loaded_is_a_400_naming_kind(store):
    service = Service(store, kinds={'vlan': P.VLAN_L2})
    with pytest.raises(ValidationError) as err:
        service.create_network({'name': 'x', 'kind': 'vxlan'})
    assert (err.value.field, err.value.status) == ('kind', 400)
    assert 'vxlan app' in err.value.message
    assert store.list('network') == []


def test_security_group_routes_answer_404_without_the_firewall(service):
    import webob
    api = Api(service, 'adm', running=NoFirewall())
    req = webob.Request.blank('/v1/security-groups')
    req.headers['Authorization'] = 'Bearer adm'
    resp = req.get_response(api)
    assert resp.status_int == 404 and 'firewall app is not loaded' in resp.json['error'][
        'message']
    req = webob.Request.blank('/v1/openapi.json')
    paths = req.get_response(api).json['paths']
    assert '/v1/networks' in paths and not any('security-groups' in p for p in paths)


def test_the_architecture_doc_draws_the_declared_pipeline():
    import os
    doc = open(os.path.join(os.path.dirname(__file__), '..', '..', 'docs',
                            'architecture.md')).read()
    drawn = doc.split('<!-- pipeline:begin -->\n')[1].split('<!-- pipeline:end -->')[0]
    assert drawn == P.describe()
