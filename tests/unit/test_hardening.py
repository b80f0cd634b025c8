"""Hardening: no input can misprogram a switch, no client can stall the API, no
one in who does not belong. One test per rule of issue 11."""
import io
import json
import os
import stat

import pytest
import webob

from controller.api.v1 import Api
from controller.api.rest import MAX_BODY, MAX_DEPTH, MAX_PATH
from controller.state.model import ValidationError
from controller.state.private_files import AuditLog, copy_private, load_or_create_token
from controller.state.store import SqliteStore
from controller.features.security_groups import SecurityGroups
from tests.unit.conftest import add_hv, add_port


def snapshot(store):
    return {k: store.list(k) for k in ('host', 'network', 'port', 'security_group')}


def rejected(service, store, call, *args):
    before = snapshot(store)
    with pytest.raises(ValidationError) as err:
        call(*args)
    assert snapshot(store) == before
    return err.value


# ---- 1. validation that matches what the switch and the kernel can hold ------
@pytest.mark.parametrize('body,field', [
    ({'name': 'web\n'}, 'name'),                                   # matched whole
    ({'name': 'w' * 65}, 'name'),                                  # bounded
    ({'name': 'web', 'segmentation_id': True}, 'segmentation_id'),  # a bool is no int
    ({'name': 'web', 'segmentation_id': 10.0}, 'segmentation_id'),  # nor is a float
    ({'name': 'web', 'kind': 'vxlan', 'segmentation_id': 2 ** 24}, 'segmentation_id'),
    ({'name': 'web', 'kind': 'vlan', 'segmentation_id': 4095}, 'segmentation_id'),
    ({'name': 'web', 'kind': 'vlan\n'}, 'kind'),
])
def test_network_fields(service, store, body, field):
    assert rejected(service, store, service.create_network, body).field == field


PORT = {'network_id': 'n1', 'mac': '02:00:00:00:00:09', 'ips': ['10.0.0.9'],
        'device': 'tapvm9'}


@pytest.mark.parametrize('change,field', [
    ({'mac': '02:00:00:00:00:09\n'}, 'mac'),
    ({'mac': '00:00:00:00:00:00'}, 'mac'),                 # all-zero
    ({'mac': '01:00:5e:00:00:01'}, 'mac'),                 # multicast
    ({'device': 'tapvm9\n'}, 'device'),
    ({'device': '..'}, 'device'),
    ({'ips': [167772161]}, 'ips[0]'),                      # an integer is no address
    ({'ips': ['127.0.0.1']}, 'ips[0]'),                    # loopback
    ({'ips': ['0.0.0.0']}, 'ips[0]'),                      # unspecified
    ({'ips': ['224.0.0.1']}, 'ips[0]'),                    # multicast
    ({'ips': ['255.255.255.255']}, 'ips[0]'),
    ({'ips': ['10.0.0.09']}, 'ips[0]'),                    # leading zero: ambiguous
    ({'ips': ['10.0.0.9', '10.0.0.9']}, 'ips'),            # repeated within the port
    ({'ips': ['10.0.0.%d' % i for i in range(1, 18)]}, 'ips'),
    ({'host': 'hv1\n'}, 'host'),
    ({'host': 'h' * 65}, 'host'),
    ({'security_groups': ['nope']}, 'security_groups'),    # names something that exists
    ({'security_groups': ['default', 'default']}, 'security_groups'),
    ({'port_security_enabled': 1}, 'port_security_enabled'),
    ({'colour': 'red'}, 'colour'),
])
def test_port_fields(service, store, change, field):
    service.create_network({'name': 'n1', 'kind': 'vxlan'})
    err = rejected(service, store, service.create_port, dict(PORT, **change))
    assert err.field == field and err.status in (400, 404)


def test_unknown_field_is_named_once(service, store):
    err = rejected(service, store, service.create_network, {'name': 'a', 'colour': 'red'})
    assert err.message == "unknown field 'colour'"


@pytest.mark.parametrize('rule,field', [
    ({'direction': 'ingress', 'protocol': 'tcp', 'port_range_min': 0}, 'port_range_min'),
    ({'direction': 'ingress', 'protocol': 'tcp', 'port_range_min': 65536}, 'port_range_min'),
    ({'direction': 'ingress', 'protocol': 'tcp', 'port_range_min': True}, 'port_range_min'),
    ({'direction': 'ingress', 'remote_ip_prefix': '10.0.0.0/33'}, 'remote_ip_prefix'),
    ({'direction': 'ingress', 'remote_ip_prefix': '10.0.0.0/8\n'}, 'remote_ip_prefix'),
    ({'direction': 'ingress', 'remote_zone': 'z' * 65}, 'remote_zone'),
    ({'direction': 'ingress', 'remote_zone': 'a b'}, 'remote_zone'),
    ({'direction': 'ingress', 'remote_group_id': 'nope'}, 'remote_group_id'),
    ({'direction': 'ingress', 'description': 'd' * 256}, 'description'),
])
def test_rule_fields(service, store, rule, field):
    err = rejected(service, store, SecurityGroups(service).create_group, {'name': 'g', 'rules': [rule]})
    assert err.field == 'rules[0].%s' % field


@pytest.mark.parametrize('body,field', [
    ({'name': 'hv9', 'dpid': 0, 'vtep_ip': '172.16.1.9'}, 'dpid'),
    ({'name': 'hv9', 'dpid': 2 ** 64, 'vtep_ip': '172.16.1.9'}, 'dpid'),
    ({'name': 'hv9', 'dpid': True, 'vtep_ip': '172.16.1.9'}, 'dpid'),
    ({'name': 'hv9', 'dpid': 9}, 'vtep_ip'),                      # a hypervisor needs one
    ({'name': 'hv9', 'dpid': 9, 'vtep_ip': 2886729993}, 'vtep_ip'),
    ({'name': 'hv9', 'dpid': 9, 'vtep_ip': '127.0.0.1'}, 'vtep_ip'),
    ({'name': 'hv9', 'dpid': 9, 'vtep_ip': '172.16.1.9', 'rack': 0}, 'rack'),
    ({'name': 'hv9', 'dpid': 9, 'vtep_ip': '172.16.1.9', 'uplinks': {'tor': 0}}, 'uplinks.tor'),
    ({'name': 't9', 'dpid': 9, 'role': 'tor', 'uplinks': {'hv:a': 70000}}, 'uplinks.hv:a'),
    ({'name': 't9', 'dpid': 9, 'role': 'tor', 'uplinks': {'tor': 1}}, 'uplinks'),
    ({'name': 't9', 'dpid': 9, 'role': 'tor', 'uplinks': {'x\n': 1}}, 'uplinks.x\n.[key]'),
])
def test_host_fields(service, store, body, field):
    err = rejected(service, store, service.create_host, body)
    assert err.field == field


def test_hosts_create_patch_delete(service, store):
    add_hv(service, 'hv1', 1)
    err = rejected(service, store, service.create_host,
                   {'name': 'hv1', 'dpid': 7, 'role': 'tor'})       # no silent overwrite
    assert (err.field, err.status) == ('name', 409)
    assert service.update_host('hv1', {'vtep_ip': '172.16.1.99'}).vtep_ip == '172.16.1.99'
    net = service.create_network({'name': 'n1', 'kind': 'vxlan'})
    add_port(service, net, 1, 'hv1', ofport=5)
    err = rejected(service, store, service.update_host, 'hv1', {'role': 'tor'})
    assert (err.field, err.status) == ('role', 409)
    err = rejected(service, store, service.delete_host, 'hv1')
    assert err.status == 409
    service.unbind('hv1', keep={})
    service.delete_host('hv1')
    assert store.get('host', 'hv1') is None
    assert rejected(service, store, service.delete_host, 'hv1').status == 404


def test_migration_slots_running_out_is_a_409(service, store):
    add_hv(service, 'hv1', 1)
    add_hv(service, 'hv2', 2)
    net = service.create_network({'name': 'n1', 'kind': 'vxlan'})
    service.MIGRATION_OFPORTS = range(2000, 2002)
    ports = [add_port(service, net, k, 'hv1', ofport=k) for k in (1, 2, 3)]
    for port in ports[:2]:
        service.migrate_port(port.id, {'host': 'hv2'})
    err = rejected(service, store, service.migrate_port, ports[2].id, {'host': 'hv2'})
    assert (err.field, err.status) == ('host', 409)
    err = rejected(service, store, service.migrate_port, ports[2].id, {'host': 'hv9'})
    assert err.status == 404


# ---- 2. one bad record never stops the rest -----------------------------------
def test_a_record_that_cannot_be_read_leaves_the_others(tmp_path):
    path = str(tmp_path / 's.db')
    store = SqliteStore(path)
    store.conn.execute("INSERT INTO records VALUES ('host', 'odd', '{\"name\": 1, \"x\": 2}')")
    with store.transaction() as tx:
        from controller.state.model import Host
        tx.put('host', 'hv1', Host(name='hv1', dpid=1, vtep_ip='172.16.1.11'))
    again = SqliteStore(path)
    assert [h.name for h in again.list('host')] == ['hv1']


def test_host_list_never_answers_500(service, store):
    add_hv(service, 'hv1', 1)
    from controller.state.model import Host
    with store.transaction() as tx:       # a host the views cannot show (old record)
        tx.put('host', 'bad', Host(name='bad', dpid=9, role='tor', uplinks=None))
    status, hosts = call(Api(service, 'adm'), 'GET', '/v1/hosts')
    assert status == 200
    assert [h['name'] for h in hosts] == ['bad', 'hv1']
    assert 'cannot be used: uplinks' in hosts[0]['error'] and 'error' not in hosts[1]


# ---- 3. the API cannot be stalled or made to parse without bound ----------------
def call(api, method, path, body=None, token='adm', headers=None, raw=None):
    req = webob.Request.blank(path, method=method)
    if raw is not None:
        req.body_file = raw
        req.environ.pop('CONTENT_LENGTH', None)
    elif body is not None:
        req.body = body if isinstance(body, bytes) else json.dumps(body).encode()
    if token:
        req.headers['Authorization'] = 'Bearer ' + token
    for k, v in (headers or {}).items():
        req.headers[k] = v
    resp = req.get_response(api)
    return resp.status_int, (resp.json if resp.body else None)


@pytest.fixture
def api(service, tmp_path):
    return Api(service, 'adm', reader_token='rdr', audit=AuditLog(str(tmp_path / 'audit')))


def test_body_limit_with_and_without_length(api, store):
    before = snapshot(store)
    big = json.dumps({'name': 'x', 'description': 'd' * MAX_BODY}).encode()
    status, err = call(api, 'POST', '/v1/networks', big)
    assert status == 413 and err['error']['field'] == 'body'
    status, err = call(api, 'POST', '/v1/networks', raw=io.BytesIO(big))   # "chunked"
    assert status == 413
    assert snapshot(store) == before


def test_json_depth_is_bounded(api):
    for depth in (MAX_DEPTH + 1, 100_000):
        status, err = call(api, 'POST', '/v1/networks', b'[' * depth + b']' * depth)
        assert status == 400 and 'deeper' in err['error']['message']


def test_long_path_is_a_json_414_and_405_names_allow(api):
    status, err = call(api, 'GET', '/v1/ports/' + 'a' * MAX_PATH)
    assert status == 414 and err['error']['code'] == 414
    req = webob.Request.blank('/v1/networks', method='PUT')
    req.headers['Authorization'] = 'Bearer adm'
    resp = req.get_response(api)
    assert resp.status_int == 405 and resp.headers['Allow'] == 'GET, POST'


# ---- 4. who may do what ---------------------------------------------------------------
def test_roles(api, tmp_path):
    assert call(api, 'GET', '/v1/networks', token=None)[0] == 401
    assert call(api, 'GET', '/v1/networks', token='rdr')[0] == 200
    status, err = call(api, 'POST', '/v1/networks', {'name': 'x'}, token='rdr')
    assert status == 403 and err['error']['field'] == 'Authorization'
    assert call(api, 'POST', '/v1/networks', {'name': 'x'}, token=None,
                headers={'Authorization': 'bEaReR adm'})[0] == 201
    entries = [json.loads(line) for line in open(tmp_path / 'audit')]
    assert [(e['role'], e['method'], e['path'], e['status']) for e in entries] == [
        ('reader', 'POST', '/v1/networks', 403), ('admin', 'POST', '/v1/networks', 201)]
    assert stat.S_IMODE(os.stat(tmp_path / 'audit').st_mode) == 0o600


def test_open_reads_are_opt_in(service):
    api = Api(service, 'adm', open_reads=True)
    assert call(api, 'GET', '/v1/networks', token=None)[0] == 200
    assert call(api, 'POST', '/v1/networks', {'name': 'x'}, token=None)[0] == 401


def test_generated_token_is_private_kept_and_never_follows_a_symlink(tmp_path):
    path = str(tmp_path / 'db.token')
    token = load_or_create_token(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600 and len(token) == 32
    assert load_or_create_token(path) == token                  # kept across restarts
    os.remove(path)
    target = tmp_path / 'elsewhere'
    target.write_text('')
    os.symlink(target, path)
    with pytest.raises(OSError):
        load_or_create_token(path)
    assert target.read_text() == ''


def test_a_kept_controller_log_is_private_and_never_written_through_a_symlink(tmp_path):
    log, kept = tmp_path / 'controller.log', tmp_path / 'last-controller.log'
    log.write_text('REST API token in /tmp/x/db.token\n')
    kept.write_text('older run')
    os.chmod(kept, 0o644)
    copy_private(str(log), str(kept))
    assert kept.read_text() == log.read_text()
    assert stat.S_IMODE(os.stat(kept).st_mode) == 0o600
    os.remove(kept)
    target = tmp_path / 'elsewhere'
    target.write_text('')
    os.symlink(target, kept)
    with pytest.raises(OSError):
        copy_private(str(log), str(kept))
    assert target.read_text() == ''


def test_database_is_private_and_synced_fully(tmp_path):
    path = str(tmp_path / 'state.db')
    store = SqliteStore(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert store.conn.execute('PRAGMA synchronous').fetchone()[0] == 2     # FULL


def test_store_indexes_follow_every_commit(tmp_path):
    from controller.state.model import Port
    store = SqliteStore(str(tmp_path / 'i.db'))
    store.add_index('port', 'device', lambda p: (p.device,))
    port = Port(id='p1', name='p1', network_id='n', mac='02:00:00:00:00:01', ips=[],
                device='tap1')
    with store.transaction() as tx:                 # the same key twice in one commit
        tx.put('port', 'p1', port)
        tx.put('port', 'p1', Port(**dict(port.__dict__, device='tap2')))
    assert store.find('port', 'device', 'tap1') == set()
    assert store.find('port', 'device', 'tap2') == {'p1'}
    with store.transaction() as tx:
        tx.delete('port', 'p1')
    assert store.find('port', 'device', 'tap2') == set()
    reopened = SqliteStore(str(tmp_path / 'i.db'))
    reopened.add_index('port', 'device', lambda p: (p.device,))
    assert reopened.find('port', 'device', 'tap2') == set()


def test_a_controller_log_is_created_private(tmp_path, monkeypatch):
    from mininet_topos import controller_proc
    monkeypatch.setattr(controller_proc, 'controller_command', lambda: '/bin/false')
    log = tmp_path / 'controller.log'
    conf = tmp_path / 'vnetsec.conf'
    conf.write_text('')
    proc = controller_proc.ControllerProcess(str(conf), str(log), 'http://127.0.0.1:9', 't')
    with pytest.raises(RuntimeError, match='false exited'):
        proc.start(timeout=5)
    assert stat.S_IMODE(os.stat(log).st_mode) == 0o600
    os.chmod(log, 0o644)                       # a log of an older run: made private too
    with pytest.raises(RuntimeError):
        proc.start(timeout=5)
    assert stat.S_IMODE(os.stat(log).st_mode) == 0o600
