"""Security-group logging, pure parts: which flows a log decorates, the record
built from a packet sent up, one record per connection, the log meter sent to
a switch, and /v1/logs (issue 33)."""
import json
import struct

import pytest

from controller import constants as C
from controller.compile import pipeline as P
from controller.compile.host import compile_host
from controller.features import firewall, firewall_log, log_record
from controller.features.log_api import Logs
from controller.features.log_sink import LogSink
from controller.features.security_groups import SecurityGroups
from controller.state.inventory import Inventory
from controller.state.model import ValidationError
from controller.switch.reconciler import Reconciler
from tests.unit import fakes
from tests.unit.conftest import add_hv, add_port

UP = ('controller', C.LOG_MAX_LEN)


def setup(service):
    """hv1: a web server (ofport 1; tcp 8080 from anywhere, icmp from group
    client) and a client (ofport 2)."""
    net = service.create_network({'name': 'blue', 'kind': 'vxlan'})
    add_hv(service, 'hv1', 1)
    SecurityGroups(service).create_group({'name': 'client', 'rules': [{'direction': 'egress'}]})
    SecurityGroups(service).create_group({'name': 'web', 'rules': [
        {'direction': 'ingress', 'protocol': 'tcp', 'port_range_min': 8080,
         'port_range_max': 8080},
        {'direction': 'ingress', 'protocol': 'icmp', 'remote_group_id': 'client'}]})
    server = add_port(service, net, 1, 'hv1', ofport=1)
    service.update_port(server.id, {'security_groups': ['web']})
    client = add_port(service, net, 2, 'hv1', ofport=2)
    service.update_port(client.id, {'security_groups': ['client']})
    return service.get_port(server.id), service.get_port(client.id)


def flows(service):
    inv = Inventory.from_store(service.store)
    return inv, compile_host(inv, inv.hosts['hv1'], [firewall.FEATURE])


def sent_up(fs):
    return [f for f in fs if UP in f.actions]


def test_no_log_no_flow_changes(service):
    server, client = setup(service)
    _, plain = flows(service)
    assert not sent_up(plain)
    log = Logs(service).create({'event': 'DROP', 'port': client.id})
    Logs(service).delete(log.id)
    assert flows(service)[1] == plain


def test_drop_log_decorates_the_vnics_deny_flows_only(service):
    server, client = setup(service)
    _, plain = flows(service)
    Logs(service).create({'event': 'DROP', 'security_group': 'web'})
    _, logged = flows(service)
    up = sent_up(logged)
    assert {(f.table, f.priority) for f in up} == {
        (P.EGRESS_ACL, P.priority(P.EGRESS_ACL, 'deny_ip')),
        (P.INGRESS_ACL, P.priority(P.INGRESS_ACL, 'deny_ip'))}
    assert all(f.actions == (UP,) for f in up)
    assert all(('in_port', server.ofport) in f.match or (P.REG_OUT_PORT, server.ofport)
               in f.match for f in up)                  # not the client's
    assert len(logged) == len(plain)                    # decorated, none added
    for f in logged:
        assert not P.check(f), P.check(f)


def test_accept_log_decorates_commits_and_keeps_them_going_on(service):
    setup(service)
    Logs(service).create({'event': 'ACCEPT', 'security_group': 'web'})
    _, logged = flows(service)
    up = sent_up(logged)
    names = {P.table(f.table).priorities and next(
        n for n, p in P.table(f.table).priorities.items() if p == f.priority) for f in up}
    assert names == {'rule', 'remote_group'}            # direct rule; shared conjunction
    for f in up:
        assert f.actions[0][0] == 'ct' and f.actions[0][1]       # still commits
        assert f.actions[1] == UP and f.actions[-1][0] == 'goto'  # and goes on


def test_record_of_an_accepted_connection(service):
    server, client = setup(service)
    Logs(service).create({'event': 'ALL', 'security_group': 'web'})
    inv, logged = flows(service)
    commit = next(f for f in sent_up(logged) if f.priority == P.priority(P.INGRESS_ACL, 'rule'))
    frame = _frame('10.0.0.2', '10.0.0.1', C.TCP, 40000, 8080)
    record = log_record.build(inv, 'hv1', P.INGRESS_ACL, {P.REG_OUT_PORT: 1}, frame, commit,
                              now=0.5)
    tcp = next(r for r in service.get_group('web').rules if r['protocol'] == 'tcp')
    assert record == {
        'time': '1970-01-01T00:00:00.500Z', 'hypervisor': 'hv1', 'port': server.id,
        'vm': server.name, 'device': server.device, 'network': 'blue',
        'network_kind': 'vxlan', 'segmentation_id': inv.networks[server.network_id]
        .segmentation_id, 'direction': 'ingress', 'protocol': 'tcp', 'src': '10.0.0.2',
        'sport': 40000, 'dst': '10.0.0.1', 'dport': 8080, 'verdict': 'ACCEPT',
        'rule': tcp['id'], 'group': 'web', 'group_id': tcp and service.get_group('web').id}
    json.dumps(record)                                  # one JSON line


def test_record_of_a_refused_packet_names_no_rule(service):
    server, client = setup(service)
    Logs(service).create({'event': 'DROP'})
    inv, logged = flows(service)
    deny = next(f for f in sent_up(logged) if f.table == P.EGRESS_ACL
                and ('in_port', client.ofport) in f.match)
    record = log_record.build(inv, 'hv1', P.EGRESS_ACL, {'in_port': 2},
                              _frame('10.0.0.2', '10.0.0.9', C.UDP, 5000, 53, vlan=10), deny)
    assert (record['verdict'], record['rule'], record['group'], record['vm'],
            record['direction'], record['protocol'], record['dport']) == \
        ('DROP', 'no rule', None, client.name, 'egress', 'udp', 53)


def test_no_record_for_a_flow_that_logs_nothing_or_an_unknown_vnic(service):
    setup(service)
    inv, plain = flows(service)
    frame = _frame('10.0.0.2', '10.0.0.1', C.TCP, 1, 2)
    assert log_record.build(inv, 'hv1', P.INGRESS_ACL, {P.REG_OUT_PORT: 1}, frame,
                            plain[0]) is None
    assert log_record.build(inv, 'hv1', P.INGRESS_ACL, {P.REG_OUT_PORT: 1}, frame, None) is None
    Logs(service).create({'event': 'DROP'})
    inv, logged = flows(service)
    assert log_record.build(inv, 'hv1', P.INGRESS_ACL, {P.REG_OUT_PORT: 77}, frame,
                            sent_up(logged)[0]) is None


def test_icmp_type_and_code_stand_for_ports():
    assert log_record.five_tuple(_frame('10.0.0.1', '10.0.0.2', C.ICMP, 8, 0)) == \
        ('icmp', '10.0.0.1', 8, '10.0.0.2', 0)
    assert log_record.five_tuple(b'\x00' * 12 + b'\x08\x06' + b'\x00' * 28) is None


def test_a_syn_retransmitted_is_one_connection_a_port_reused_another():
    syn = _frame('10.0.0.1', '10.0.0.2', C.TCP, 40000, 22, seq=1000)
    again = _frame('10.0.0.1', '10.0.0.2', C.TCP, 40000, 22, seq=1000)
    reused = _frame('10.0.0.1', '10.0.0.2', C.TCP, 40000, 22, seq=77777)
    assert log_record.instance(syn) == log_record.instance(again) == 1000
    assert log_record.instance(reused) == 77777
    assert log_record.instance(_frame('10.0.0.1', '10.0.0.2', C.UDP, 1, 2)) is None
    record = {'port': 'p', 'direction': 'ingress', 'verdict': 'ACCEPT', 'protocol': 'tcp',
              'src': '10.0.0.1', 'sport': 40000, 'dst': '10.0.0.2', 'dport': 22}
    s = log_record.Sessions()
    assert s.first(log_record.connection(record, syn), 0)
    assert not s.first(log_record.connection(record, again), 1)
    assert s.first(log_record.connection(record, reused), 2)


def test_one_record_per_connection_within_the_window():
    s = log_record.Sessions(seconds=10, kept=2)
    assert s.first('a', 0) and not s.first('a', 5) and s.first('a', 16)
    assert s.first('b', 16) and s.first('c', 16)
    assert s.first('a', 17)                             # forgotten: only 2 kept


def test_sink_writes_per_log_and_counts_suppressed(service, tmp_path):
    server, client = setup(service)
    web = Logs(service).create({'event': 'ALL', 'security_group': 'web'})
    mine = Logs(service).create({'event': 'DROP', 'port': client.id})
    web_file = tmp_path / 'web.log'
    inv, logged = flows(service)
    inv.records['log'][web.id] = firewall_log.Log(**dict(vars(web), file=str(web_file)))
    by_cookie = {f.cookie: f for f in logged}
    meter = [[(1, 0)]]
    sink = LogSink(inv, lambda dpid: by_cookie, lambda: meter[0])
    commit = next(f for f in sent_up(logged) if f.priority == P.priority(P.INGRESS_ACL, 'rule'))
    syn = _frame('10.0.0.2', '10.0.0.1', C.TCP, 40000, 8080)
    assert sink.packet_in(1, P.INGRESS_ACL, commit.cookie, {P.REG_OUT_PORT: 1}, syn,
                          now=1) == [web.id]
    assert sink.packet_in(1, P.INGRESS_ACL, commit.cookie, {P.REG_OUT_PORT: 1}, syn,
                          now=2) == []                  # the same connection
    deny = next(f for f in sent_up(logged) if ('in_port', 2) in f.match)
    assert sink.packet_in(1, P.EGRESS_ACL, deny.cookie, {'in_port': 2},
                          _frame('10.0.0.2', '10.0.0.7', C.UDP, 1, 2), now=3) == [mine.id]
    meter[0] = [(1, 40)]
    assert sink.read_meters(now=4) == 40
    written = [json.loads(line) for line in web_file.read_text().splitlines()]
    assert [r['verdict'] for r in written] == ['ACCEPT', 'SUPPRESSED']
    assert written[1]['suppressed'] == 40 and written[1]['hypervisor'] == 'hv1'
    assert [r['verdict'] for r in sink.events(mine.id)] == ['DROP', 'SUPPRESSED']
    assert [r['vm'] for r in sink.recent_denials()] == [client.name]
    from controller.api import web
    from controller.features import log_sink
    log_sink._SINK[0] = sink
    try:
        assert list(web.denials(['vlan', 'vxlan', 'firewall'])) == [client.name]
        assert web.denials(['vlan', 'vxlan']) == {}
    finally:
        log_sink._SINK[0] = None


def test_meter_is_added_then_modified_outside_any_bundle():
    dp = FakeDatapath()
    Reconciler().set_meter(dp, C.LOG_METER, 100, 25)
    ofp, buf, mods = dp.ofproto, dp.bytes_sent, []
    while buf:                      # ofp_meter_mod: header, command, flags, id, one drop band
        _, kind, length, _ = struct.unpack_from('!BBHI', buf)
        mods.append((kind,) + struct.unpack_from('!HHIHHII', buf, 8))
        buf = buf[length:]
    flags = ofp.OFPMF_PKTPS | ofp.OFPMF_BURST
    assert mods == [
        (ofp.OFPT_METER_MOD, ofp.OFPMC_ADD, flags, C.LOG_METER, ofp.OFPMBT_DROP, 16, 100, 25),
        (ofp.OFPT_METER_MOD, ofp.OFPMC_MODIFY, flags, C.LOG_METER, ofp.OFPMBT_DROP, 16, 100,
         25)]


class FakeDatapath(fakes.FakeDatapath):
    bytes_sent = b''

    def send(self, buf):
        self.bytes_sent += buf


@pytest.mark.parametrize('body,field', [
    ({'event': 'SOME'}, 'event'), ({'file': '../etc/passwd'}, 'file'),
    ({'file': '/tmp/x'}, 'file'), ({'security_group': 'nope'}, 'security_group'),
    ({'port': 'nope'}, 'port'), ({'enabled': 'yes'}, 'enabled'), ({'what': 1}, 'what'),
    ({'name': 'a b'}, 'name')])
def test_bad_log_requests_name_their_field_and_store_nothing(service, body, field):
    setup(service)
    with pytest.raises(ValidationError) as e:
        Logs(service).create(body)
    assert e.value.field == field
    assert service.store.list('log') == []


def _frame(src, dst, proto, sport, dport, vlan=None, seq=0):
    import socket
    l4 = struct.pack('!HHIIBB', sport, dport, seq, 0, 0x50, 0x02) + b'\x00' * 6 \
        if proto != C.ICMP else bytes([sport, dport]) + b'\x00' * 6
    ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(l4), 0, 0, 64, proto, 0,
                     socket.inet_aton(src), socket.inet_aton(dst))
    tag = struct.pack('!HH', 0x8100, vlan) if vlan else b''
    return b'\x02' * 6 + b'\x04' * 6 + tag + b'\x08\x00' + ip + l4


# ---- /v1/logs and /v2.0/log/logs through webob, no server --------------------------
def _call(api, method, path, body=None):
    import webob
    req = webob.Request.blank(path, method=method)
    if body is not None:
        req.body = json.dumps(body).encode()
        req.content_type = 'application/json'
    req.headers['Authorization'] = 'Bearer secret'
    resp = req.get_response(api)
    return resp.status_int, (resp.json if resp.body else None)


@pytest.fixture
def api(service):
    import controller.api.neutron  # noqa: F401 - mounts /v2.0
    from controller.api.v1 import Api
    return Api(service, token='secret')


def test_v1_logs_create_list_show_patch_delete(api, service):
    server, client = setup(service)
    status, log = _call(api, 'POST', '/v1/logs', {'name': 'web', 'event': 'DROP',
                                                 'security_group': 'web', 'file': 'web.log'})
    assert status == 201 and log['group_id'] == service.get_group('web').id
    assert log['path'].endswith('/web.log') and log['enabled']
    assert _call(api, 'GET', '/v1/logs')[1] == [log]
    assert _call(api, 'GET', '/v1/logs/web')[1] == log
    assert _call(api, 'PATCH', '/v1/logs/%s' % log['id'], {'enabled': False})[1]['enabled'] \
        is False
    assert _call(api, 'POST', '/v1/logs', {'name': 'web'})[0] == 409
    assert _call(api, 'GET', '/v1/logs/%s/events' % log['id']) == (
        200, {'log': log['id'], 'events': []})
    status, err = _call(api, 'POST', '/v1/logs', {'event': 'drop'})
    assert status == 400 and err['error']['field'] == 'event'
    assert _call(api, 'DELETE', '/v1/logs/%s' % log['id'])[0] == 204
    assert _call(api, 'GET', '/v1/logs/%s' % log['id'])[0] == 404


def test_v2_network_logs_as_neutron_has_them(api, service):
    server, client = setup(service)
    group = service.get_group('web')
    aliases = {e['alias'] for e in _call(api, 'GET', '/v2.0/extensions')[1]['extensions']}
    assert 'logging' in aliases
    status, out = _call(api, 'POST', '/v2.0/log/logs', {'log': {
        'name': 'sg-drop', 'resource_type': 'security_group', 'event': 'DROP',
        'resource_id': group.id, 'project_id': 'p'}})
    assert status == 201, out
    log = out['log']
    assert (log['event'], log['resource_type'], log['target_id'], log['enabled']) == \
        ('DROP', 'security_group', None, True)
    assert log['resource_id'].replace('-', '') == group.id
    assert _call(api, 'GET', '/v2.0/logs')[1]['logs'] == [log]
    assert _call(api, 'GET', '/v2.0/log/logs?event=ACCEPT')[1]['logs'] == []
    assert _call(api, 'PUT', '/v2.0/log/logs/%s' % log['id'],
                 {'log': {'enabled': False}})[1]['log']['enabled'] is False
    assert _call(api, 'POST', '/v2.0/log/logs', {'log': {'event': 'SOME'}})[0] == 400
    assert _call(api, 'POST', '/v2.0/log/logs', {'log': {'target_id': 'nope'}})[0] == 404
    assert _call(api, 'GET', '/v2.0/log/loggable-resources')[1] == {
        'loggable_resources': [{'type': 'security_group'}]}
    assert _call(api, 'DELETE', '/v2.0/log/logs/%s' % log['id'])[0] == 204
    assert service.store.list('log') == []


def test_a_trace_of_a_logged_drop_points_at_its_log(service):
    from controller.api.trace import trace
    from controller.compile.host import shipped
    from controller.state.schemas import TraceRequest, parse
    server, client = setup(service)
    request = parse(TraceRequest, {'source': client.name, 'destination': server.name,
                                   'protocol': 'tcp', 'port': 22})
    inv = Inventory.from_store(service.store)
    assert 'logged' not in trace(inv, shipped(), request)
    log = Logs(service).create({'event': 'DROP', 'security_group': 'web', 'name': 'drops',
                                'file': 'drops.log'})
    answer = trace(Inventory.from_store(service.store), shipped(), request)
    assert answer['verdict'] == 'dropped' and answer['summary'].endswith('logged by drops')
    assert [(g['id'], g['events']) for g in answer['logged']['logs']] == [
        (log.id, '/v1/logs/%s/events' % log.id)]
    allowed = parse(TraceRequest, {'source': client.name, 'destination': server.name,
                                   'protocol': 'tcp', 'port': 8080})
    assert 'logged' not in trace(Inventory.from_store(service.store), shipped(), allowed)


class WebobClient:
    """The operator command's client, calling the API in this process."""
    url = 'in-process'

    def __init__(self, api):
        self.api = api

    def call(self, method, path, body=None, wait=False):
        status, answer = _call(self.api, method, path + ('?wait=applied' if wait else ''),
                               body)
        if status >= 400:
            from controller.cli.client import ApiError
            raise ApiError(status, answer)
        return answer


def test_the_operator_command_and_the_lab_shell_log(api, service):
    from controller.cli import main, show
    from controller.cli.verbs import Session
    server, client = setup(service)
    out = []

    def run(line):
        return main.run(line.split(), Session(WebobClient(api)), out.append)
    assert run('log create drop --group web --file w.log --name w') == main.OK
    assert out[-1].startswith('created log w (id ') and out[-1].rstrip().endswith('/w.log')
    assert run('log') == main.OK and out[-1].splitlines()[1].split()[:4] == [
        'w', 'DROP', 'group', 'web']
    assert run('log show w') == main.OK and out[-1] == ''
    assert run('log create SOME') == main.USAGE
    assert run('log show nope') == main.NOT_FOUND
    assert run('log delete w') == main.OK and service.store.list('log') == []
    line = show.log_record({'time': '2026-12-07T14:31:33.634Z', 'hypervisor': 'hv1',
                            'vm': 'vm2', 'direction': 'ingress', 'verdict': 'DROP',
                            'protocol': 'tcp', 'src': '10.0.0.1', 'sport': 40000,
                            'dst': '10.0.0.2', 'dport': 22, 'rule': 'no rule'})
    assert line.split() == ['14:31:33.634', 'hv1', 'vm2', 'ingress', 'DROP', 'tcp',
                            '10.0.0.1:40000', '->', '10.0.0.2:22', 'no', 'rule']
