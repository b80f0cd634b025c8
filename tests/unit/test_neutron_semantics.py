"""Security groups with Neutron's meanings (issue 19): protocol names and
numbers, ports only where a protocol has them, ICMP type and code, an explicit
empty group list, a new group's egress rule, and stored records of the old
meaning upgraded."""
import json
import sqlite3

import pytest

from controller.compile import pipeline as P
from controller.state import schemas
from controller import protocols
from controller.compile.host import compile_host
from controller.features import firewall
from controller.state.inventory import Inventory
from controller.state.model import ValidationError
from controller.state.service import Service
from controller.state.store import SqliteStore
from controller.features.security_groups import SecurityGroups
from controller.protocols import rule_words
from controller.cli.words import rule_body
from mininet_topos.nftables import direction_rules
from tests.unit.conftest import add_hv, add_port


def rule(**fields):
    return schemas.parse(schemas.RuleCreate, dict(fields, direction='ingress')).record()


# ---- protocols -------------------------------------------------------------------
@pytest.mark.parametrize('given,stored', [
    ('tcp', 'tcp'), ('TCP', 'tcp'), ('Sctp', 'sctp'), ('gre', 'gre'), ('esp', 'esp'),
    ('vrrp', 'vrrp'), ('any', 'any'), ('ANY', 'any'), (None, 'any'),
    (6, 6), ('6', 6), (47, 47), ('47', 47), (0, 0), (255, 255), ('255', 255)])
def test_names_are_normalised_and_numbers_kept(given, stored):
    assert rule(protocol=given)['protocol'] == stored


@pytest.mark.parametrize('given,message', [
    (256, 'must be a number 0-255'), (-1, 'must be a number 0-255'),
    ('256', 'must be any, a protocol name'), ('06', 'must be any, a protocol name'),
    ('tcp ', 'must be any, a protocol name'), ('', 'must be any, a protocol name'),
    (True, 'must be a string or an integer'), (6.0, 'must be a string or an integer'),
    ([6], 'must be a string or an integer'),
    ('ipv6-icmp', 'IPv6 only'), ('icmpv6', 'IPv6 only'), (58, 'IPv6 only'),
    ('41', 'IPv6 only')])
def test_bad_protocols_name_the_field(given, message):
    with pytest.raises(ValidationError) as err:
        rule(protocol=given)
    assert err.value.field == 'protocol' and message in err.value.message


@pytest.mark.parametrize('fields,stored', [
    ({'protocol': 'tcp', 'port_range_min': 80}, (80, 80)),
    ({'protocol': 17, 'port_range_min': 5000, 'port_range_max': 5010}, (5000, 5010)),
    ({'protocol': 'sctp', 'port_range_min': 1, 'port_range_max': 65535}, (1, 65535)),
    ({'protocol': '132', 'port_range_min': 3868}, (3868, 3868)),
    ({'protocol': 'icmp', 'port_range_min': 8}, (8, None)),           # type 8, any code
    ({'protocol': 1, 'port_range_min': 3, 'port_range_max': 4}, (3, 4)),
    ({'protocol': 'icmp', 'port_range_min': 0, 'port_range_max': 0}, (0, 0)),
    ({'protocol': 'icmp', 'port_range_min': 5, 'port_range_max': 0}, (5, 0)),  # not a range
])
def test_port_ranges_and_icmp_type_code(fields, stored):
    out = rule(**fields)
    assert (out['port_range_min'], out['port_range_max']) == stored


@pytest.mark.parametrize('fields,field,message', [
    ({'protocol': 'gre', 'port_range_min': 1}, 'port_range_min', 'need protocol tcp, udp'),
    ({'protocol': 'any', 'port_range_min': 1}, 'port_range_min', 'need protocol tcp, udp'),
    ({'protocol': 0, 'port_range_min': 1}, 'port_range_min', 'need protocol tcp, udp'),
    ({'protocol': 'dccp', 'port_range_min': 1}, 'port_range_min', 'cannot match dccp ports'),
    ({'protocol': 136, 'port_range_min': 1}, 'port_range_min', 'cannot match udplite'),
    ({'protocol': 'tcp', 'port_range_min': 0}, 'port_range_min', 'must be in 1-65535'),
    ({'protocol': 'udp', 'port_range_min': 65536}, 'port_range_min', 'must be in 1-65535'),
    ({'protocol': 'sctp', 'port_range_min': 9, 'port_range_max': 8}, 'port_range_max',
     'below port_range_min'),
    ({'protocol': 'icmp', 'port_range_min': 256}, 'port_range_min', 'ICMP type'),
    ({'protocol': 'icmp', 'port_range_min': 8, 'port_range_max': 256}, 'port_range_max',
     'ICMP code'),
    ({'protocol': 'icmp', 'port_range_max': 0}, 'port_range_min', 'the ICMP type of'),
])
def test_ports_only_where_the_protocol_has_them(fields, field, message):
    with pytest.raises(ValidationError) as err:
        rule(**fields)
    assert err.value.field == field and message in err.value.message, err.value.message


def test_every_accepted_protocol_fits_the_declared_json_schema():
    import jsonschema
    schema = schemas.json_schema(schemas.RuleCreate)[0]['properties']['protocol']
    for value in list(range(-2, 258)) + [str(n) for n in range(-2, 258)] + [
            'any', 'TcP', 'ipv6-icmp', 'icmpv6', 'grex', '06', True, None, 1.5] + list(
            protocols.NAMES):
        try:
            protocols.normalise(value)
            accepted = True
        except ValueError:
            accepted = False
        assert jsonschema.Draft202012Validator(schema).is_valid(value) == accepted, value


# ---- compiled matches ----------------------------------------------------------
@pytest.mark.parametrize('fields,matches', [
    ({}, [{}]),
    ({'protocol': 0}, [{}]),                              # iptables' -p 0: every protocol
    ({'protocol': 'gre'}, [{'ip_proto': 47}]),
    ({'protocol': 47}, [{'ip_proto': 47}]),
    ({'protocol': 'sctp'}, [{'ip_proto': 132}]),
    ({'protocol': 200}, [{'ip_proto': 200}]),
    ({'protocol': 'sctp', 'port_range_min': 3868},
     [{'ip_proto': 132, 'sctp_dst': (3868, 0xffff)}]),
    ({'protocol': 6, 'port_range_min': 80, 'port_range_max': 81},
     [{'ip_proto': 6, 'tcp_dst': (80, 0xfffe)}]),
    ({'protocol': 'icmp', 'port_range_min': 8}, [{'ip_proto': 1, 'icmpv4_type': 8}]),
    ({'protocol': 1, 'port_range_min': 3, 'port_range_max': 4},
     [{'ip_proto': 1, 'icmpv4_type': 3, 'icmpv4_code': 4}]),
])
def test_the_compiler_matches_every_protocol(fields, matches):
    assert firewall.protocol_matches(rule(**fields)) == matches


def test_a_gre_rule_commits_gre_only_on_its_vnic(service):
    net = service.create_network({'name': 'n', 'kind': 'vxlan'})
    add_hv(service, 'hv1', 1)
    SecurityGroups(service).create_group({'name': 'tunnels', 'rules': [
        {'direction': 'ingress', 'protocol': 'GRE', 'remote_ip_prefix': '10.0.0.0/16'}]})
    port = add_port(service, net, 1, 'hv1', ofport=1)
    service.update_port(port.id, {'security_groups': ['tunnels']})
    inv = Inventory.from_store(service.store)
    commits = [dict(f.match) for f in compile_host(inv, inv.hosts['hv1'])
               if f.table == P.INGRESS_ACL and any(a[0] == 'ct' and a[1] for a in f.actions)]
    assert [(m['ip_proto'], m['ipv4_src'], m[P.REG_OUT_PORT]) for m in commits] == [
        (47, ('10.0.0.0', '255.255.0.0'), 1)]


def test_the_nftables_lab_renders_the_same_protocols():
    groups = {'g': {'members': ['10.0.0.1'], 'rules': [
        {'direction': 'ingress', 'protocol': 47},
        {'direction': 'ingress', 'protocol': 'SCTP', 'port_range_min': 3868},
        {'direction': 'ingress', 'protocol': 'icmp', 'port_range_min': 8,
         'port_range_max': 0},
        {'direction': 'ingress', 'protocol': 1, 'port_range_min': 3},
        {'direction': 'ingress', 'protocol': '0'}]}}
    assert [m.split(' } ', 1)[1] if ' } ' in m else '' for m, _ in
            direction_rules(groups, 'ingress')] == [
        'ip protocol 47', 'sctp dport 3868', 'icmp type 8 icmp code 0', 'icmp type 3', '']


@pytest.mark.parametrize('words,body', [
    ('ingress 47', {'direction': 'ingress', 'protocol': '47'}),
    ('ingress sctp 3868-3869', {'direction': 'ingress', 'protocol': 'sctp',
                                'port_range_min': 3868, 'port_range_max': 3869}),
    ('ingress icmp 3/4', {'direction': 'ingress', 'protocol': 'icmp',
                          'port_range_min': 3, 'port_range_max': 4}),
])
def test_cli_words_take_numbers_and_icmp_type_code(words, body):
    assert rule_body(words.split()) == body
    stored = rule(**{k: v for k, v in body.items() if k != 'direction'})
    shown = rule_words(dict(stored, direction='ingress'), {})
    assert rule(**{k: v for k, v in rule_body(shown.split()).items()
                   if k != 'direction'}) == stored            # shown as it is added


# ---- ports and groups ------------------------------------------------------------
def test_omitted_groups_mean_default_and_an_empty_list_means_none(service):
    net = service.create_network({'name': 'n', 'kind': 'vlan'})
    add_hv(service, 'hv1', 1)
    default = service.get_group('default')
    omitted = add_port(service, net, 1, 'hv1', ofport=1)
    assert omitted.security_groups == [default.id]
    none = service.create_port({'network_id': net.id, 'mac': '02:00:00:00:00:02',
                                'ips': ['10.0.0.2'], 'device': 'tapvm2',
                                'security_groups': []})
    assert none.security_groups == []
    null = service.create_port({'network_id': net.id, 'mac': '02:00:00:00:00:03',
                                'device': 'tapvm3', 'security_groups': None})
    assert null.security_groups == [default.id]                 # null: as omitted
    # PATCH: [] empties, an omitted field keeps
    assert service.update_port(omitted.id, {'name': 'x'}).security_groups == [default.id]
    assert service.update_port(omitted.id, {'security_groups': []}).security_groups == []


def test_an_empty_group_list_seals_the_port_and_leaves_default(service):
    net = service.create_network({'name': 'n', 'kind': 'vlan'})
    add_hv(service, 'hv1', 1)
    server = add_port(service, net, 1, 'hv1', ofport=1)
    add_port(service, net, 2, 'hv1', ofport=2)

    def state():
        inv = Inventory.from_store(service.store)
        flows = [f for f in compile_host(inv, inv.hosts['hv1'])
                 if any(a[0] == 'ct' and a[1] for a in f.actions)
                 or any(a[0] == 'conjunction' for a in f.actions)]
        mine = [f for f in flows if (P.REG_OUT_PORT, 1) in f.match
                or ('in_port', 1) in f.match]
        members = inv.members([service.get_group('default').id])
        return mine, members
    mine, members = state()
    assert mine and members == ['10.0.0.1', '10.0.0.2']
    service.update_port(server.id, {'security_groups': []})
    mine, members = state()
    assert mine == [] and members == ['10.0.0.2']       # nothing may start a connection


def test_a_new_group_sends_anywhere_unless_created_empty(service):
    fresh = SecurityGroups(service).create_group({'name': 'fresh'})
    assert [(r['direction'], r['protocol'], r['remote_ip_prefix'], r['remote_group_id'])
            for r in fresh.rules] == [('egress', 'any', '', '')] * 2
    assert [r['ethertype'] for r in fresh.rules] == ['IPv4', 'IPv6']   # as Neutron's
    assert SecurityGroups(service).create_group({'name': 'empty', 'rules': []}).rules == []
    given = SecurityGroups(service).create_group({'name': 'given', 'rules': [
        {'direction': 'ingress', 'protocol': 'tcp', 'port_range_min': 22}]})
    assert [r['direction'] for r in given.rules] == ['ingress']   # given rules only
    default = service.get_group('default')
    assert sorted((r['ethertype'], r['direction'], r['remote_group_id'])
                  for r in default.rules) == [
        ('IPv4', 'egress', ''), ('IPv4', 'ingress', default.id),
        ('IPv6', 'egress', ''), ('IPv6', 'ingress', default.id)]


# ---- stored records of the old meaning -------------------------------------------
def test_upgrade_gives_old_ports_without_groups_the_default_group(tmp_path):
    path = str(tmp_path / 'state.db')
    service = Service(SqliteStore(path))
    net = service.create_network({'name': 'n', 'kind': 'vlan'})
    web = SecurityGroups(service).create_group({'name': 'web'})
    old = service.create_port({'network_id': net.id, 'mac': '02:00:00:00:00:01',
                               'device': 'tapvm1', 'security_groups': []})
    kept = service.create_port({'network_id': net.id, 'mac': '02:00:00:00:00:02',
                                'device': 'tapvm2', 'security_groups': ['web']})
    service.store.conn.close()
    with sqlite3.connect(path) as conn:                  # as the version before wrote it
        conn.execute('PRAGMA user_version=0')
    assert json.loads(sqlite3.connect(path).execute(
        "SELECT body FROM records WHERE key=?", (old.id,)).fetchone()[0])[
            'security_groups'] == []
    store = SqliteStore(path)
    default = next(g for g in store.list('security_group') if g.name == 'default')
    assert store.get('port', old.id).security_groups == [default.id]
    assert store.get('port', kept.id).security_groups == [web.id]
    store.conn.close()
    store = SqliteStore(path)                            # once: [] now stays none
    store_service = Service(store)
    store_service.update_port(old.id, {'security_groups': []})
    store.conn.close()
    assert SqliteStore(path).get('port', old.id).security_groups == []
