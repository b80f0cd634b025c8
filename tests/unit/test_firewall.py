"""The firewall compiler and the security-group service (pure, no switch)."""
import pytest

from controller.compile import pipeline as P
from controller.compile.host import compile_host
from controller.features import firewall
from controller.state.inventory import Inventory
from controller.state.model import ValidationError
from controller.features.security_groups import SecurityGroups
from tests.unit.conftest import add_hv, add_port


@pytest.mark.parametrize('low,high', [(1, 1), (80, 80), (1, 65535), (1000, 1999), (8080, 8090)])
def test_port_masks_cover_exactly_the_range(low, high):
    covered = set()
    for value, mask in firewall.port_masks(low, high):
        covered |= {p for p in range(value, value + (0xffff ^ mask) + 1)}
    assert covered == set(range(low, high + 1))


def setup(service, n_members=3):
    net = service.create_network({'name': 'n', 'kind': 'vxlan'})
    add_hv(service, 'hv1', 1)
    client = SecurityGroups(service).create_group({'name': 'client', 'zone': 'app',
                                   'rules': [{'direction': 'egress'}]})
    web = SecurityGroups(service).create_group({'name': 'web', 'rules': [
        {'direction': 'ingress', 'protocol': 'tcp', 'port_range_min': 8000,
         'port_range_max': 8015, 'remote_group_id': 'client'}]})
    server = add_port(service, net, 1, 'hv1', ofport=1)
    service.update_port(server.id, {'security_groups': ['web']})
    for k in range(2, 2 + n_members):
        port = add_port(service, net, k, 'hv1', ofport=k)
        service.update_port(port.id, {'security_groups': ['client']})
    return client, web


def ingress_flows(service, ofport=1):
    """Ingress flows for one vNIC: its own, and the shared clause-1 flows of the
    conjunctions it takes part in."""
    inv = Inventory.from_store(service.store)
    flows = [f for f in compile_host(inv, inv.hosts['hv1']) if f.table == P.INGRESS_ACL]
    own = [f for f in flows if (P.REG_OUT_PORT, ofport) in f.match]
    conj_ids = {a[1] for f in own for a in f.actions if a[0] == 'conjunction'}
    shared = [f for f in flows if dict(f.match).get(P.REG_OUT_PORT) is None
              and (dict(f.match).get('conj_id') in conj_ids
                   or any(a[0] == 'conjunction' and a[1] in conj_ids for a in f.actions))]
    return own + shared


def test_remote_group_addresses_are_shared_by_all_vnics(service):
    setup(service, n_members=10)          # web server (ofport 1) + 10 clients on hv1
    net = service.store.list('network')[0]
    second = add_port(service, net, 20, 'hv1', ofport=20)
    service.update_port(second.id, {'security_groups': ['web']})       # 2nd server
    inv = Inventory.from_store(service.store)
    flows = [f for f in compile_host(inv, inv.hosts['hv1']) if f.table == P.INGRESS_ACL]
    per_address = [f for f in flows if 'ipv4_src' in dict(f.match)
                   and any(a[0] == 'conjunction' for a in f.actions)]
    # one flow per client address, one conjunction (per rule) for both servers
    assert len(per_address) == len({dict(f.match)['ipv4_src'] for f in per_address}) == 10
    assert all(len(f.actions) == 1 for f in per_address)
    servers = [f for f in flows if any(a[0] == 'conjunction' and a[2] == 2 for a in f.actions)]
    assert {dict(f.match)[P.REG_OUT_PORT] for f in servers} == {1, 20}


def test_remote_group_uses_conjunction_not_n_times_m(service):
    setup(service, n_members=10)
    conj = [f for f in ingress_flows(service) if any(a[0] == 'conjunction' for a in f.actions)]
    # 10 member addresses + 1 port mask (8000-8015 is one mask), not 10 x 1 commits
    assert len(conj) == 11
    commits = [f for f in ingress_flows(service) if 'conj_id' in dict(f.match)]
    assert len(commits) == 1 and commits[0].actions[0][0] == 'ct'


def test_membership_change_recompiles_remote_addresses(service):
    setup(service, n_members=2)
    before = {f.cookie for f in ingress_flows(service)}
    port = next(p for p in service.store.list('port') if p.device == 'tapvm2')
    service.update_port(port.id, {'security_groups': []})        # leaves "client"
    after = ingress_flows(service)
    assert {f.cookie for f in after} != before
    sources = {dict(f.match).get('ipv4_src') for f in after}
    assert '10.0.0.2' not in sources and '10.0.0.3' in sources


def test_port_without_groups_joins_default_and_sealed_group_drops(service):
    net = service.create_network({'name': 'n', 'kind': 'vlan'})
    add_hv(service, 'hv1', 1)
    port = add_port(service, net, 1, 'hv1', ofport=1)
    inv = Inventory.from_store(service.store)
    assert [g.name for g in inv.groups_of(inv.ports[port.id])] == ['default']
    sealed = SecurityGroups(service).create_group({'name': 'sealed', 'rules': []})
    service.update_port(port.id, {'security_groups': [sealed.id]})
    inv = Inventory.from_store(service.store)
    flows = compile_host(inv, inv.hosts['hv1'])
    commits = [f for f in flows if any(a[0] == 'ct' and a[1] for a in f.actions)]
    assert commits == []                                 # nothing may start a connection


def test_disabled_port_security_compiles_no_firewall(service):
    net = service.create_network({'name': 'n', 'kind': 'vlan'})
    add_hv(service, 'hv1', 1)
    port = add_port(service, net, 1, 'hv1', ofport=1)
    service.update_port(port.id, {'port_security_enabled': False, 'security_groups': []})
    inv = Inventory.from_store(service.store)
    assert [f for f in compile_host(inv, inv.hosts['hv1']) if f.owner == 'firewall'] == []


def test_same_traffic_from_two_rules_is_one_flow(service):
    net = service.create_network({'name': 'n', 'kind': 'vlan'})
    add_hv(service, 'hv1', 1)
    SecurityGroups(service).create_group({'name': 'a', 'rules': [{'direction': 'egress'}]})
    SecurityGroups(service).create_group({'name': 'b', 'rules': [{'direction': 'egress'}]})
    port = add_port(service, net, 1, 'hv1', ofport=1)
    service.update_port(port.id, {'security_groups': ['a', 'b']})
    inv = Inventory.from_store(service.store)
    flows = compile_host(inv, inv.hosts['hv1'])
    keys = [(f.table, f.priority, f.match) for f in flows]
    assert len(keys) == len(set(keys))


@pytest.mark.parametrize('rule,field', [
    ({'direction': 'sideways'}, 'direction'),
    ({'direction': 'ingress', 'protocol': 'grex'}, 'protocol'),
    ({'direction': 'ingress', 'protocol': 'gre', 'port_range_min': 1}, 'port_range_min'),
    ({'direction': 'ingress', 'protocol': 'icmp', 'port_range_min': 256}, 'port_range_min'),
    ({'direction': 'ingress', 'protocol': 'tcp', 'port_range_min': 0}, 'port_range_min'),
    ({'direction': 'ingress', 'protocol': 'tcp', 'port_range_min': 90,
      'port_range_max': 80}, 'port_range_max'),
    ({'direction': 'ingress', 'remote_ip_prefix': '10.0.0.0/33'}, 'remote_ip_prefix'),
    ({'direction': 'ingress', 'remote_group_id': 'nope'}, 'remote_group_id'),
    ({'direction': 'ingress', 'remote_ip_prefix': '10.0.0.0/8',
      'remote_zone': 'web'}, 'remote_zone'),
    ({'direction': 'ingress', 'ethertype': 'IPv5'}, 'ethertype'),
    ({'direction': 'ingress', 'protocol': 'icmpv6'}, 'protocol'),       # IPv6 only
    ({'direction': 'ingress', 'protocol': 58}, 'protocol'),
    ({'direction': 'ingress', 'ethertype': 'IPv6', 'remote_ip_prefix': '10.0.0.0/8'},
     'remote_ip_prefix'),
    ({'direction': 'ingress', 'remote_ip_prefix': 'fd00::/64'}, 'remote_ip_prefix'),
    ({'direction': 'ingress', 'ethertype': 'IPv6', 'remote_ip_prefix': 'fd00::/129'},
     'remote_ip_prefix'),
    ({'direction': 'ingress', 'ethertype': 'IPv6', 'protocol': 'icmpv6',
      'port_range_min': 256}, 'port_range_min'),
])
def test_malformed_rule_rejected_and_nothing_changes(service, rule, field):
    group = SecurityGroups(service).create_group({'name': 'g'})
    before = service.store.list('security_group')
    with pytest.raises(ValidationError) as err:
        SecurityGroups(service).add_rule(group.id, rule)
    assert err.value.field == field and 400 <= err.value.status < 500
    assert service.store.list('security_group') == before


def test_group_in_use_cannot_be_deleted(service):
    setup(service, n_members=1)
    for name in ('client', 'web', 'default'):
        with pytest.raises(ValidationError) as err:
            SecurityGroups(service).delete_group(name)
        assert err.value.status == 409


def test_remote_zone_names_every_member_of_the_zone(service):
    net = service.create_network({'name': 'n', 'kind': 'vxlan'})
    add_hv(service, 'hv1', 1)
    SecurityGroups(service).create_group({'name': 'app1', 'zone': 'app', 'rules': [{'direction': 'egress'}]})
    SecurityGroups(service).create_group({'name': 'app2', 'zone': 'app', 'rules': [{'direction': 'egress'}]})
    SecurityGroups(service).create_group({'name': 'db', 'zone': 'db', 'rules': [
        {'direction': 'ingress', 'protocol': 'tcp', 'port_range_min': 5432,
         'remote_zone': 'app'}]})
    for k, group in ((1, 'db'), (2, 'app1'), (3, 'app2'), (4, 'default')):
        port = add_port(service, net, k, 'hv1', ofport=k)
        if group != 'default':
            service.update_port(port.id, {'security_groups': [group]})
    flows = ingress_flows(service)
    sources = {dict(f.match).get('ipv4_src') for f in flows} - {None}
    assert sources == {'10.0.0.2', '10.0.0.3'}        # both app groups, not the others
