"""Sessions that move with the VM (controller/features/firewall_sessions.py, agent/): conntrack
entries as the agent parses and serves them, the ones a move carries, and their
admissions at a destination."""
import json
import struct
import threading
import urllib.request
from http.server import ThreadingHTTPServer

import pytest

from agent import conntrack, server
from controller.features import firewall_sessions as sessions
from controller.switch import agent_client
from controller.compile import pipeline as P
from controller.compile.host import feature_flows
from controller.features import firewall
from controller.features.security_groups import SecurityGroups
from controller.state.inventory import Inventory
from controller.state.model import changed
from controller.switch.reconciler import Reconciler
from controller.features.firewall_carrier import carries
from tests.unit.conftest import add_hv, add_port
from tests.unit.fakes import FakeDatapath, FlowStat

DUMP = '''\
udp,orig=(src=10.0.0.1,dst=10.0.0.2,sport=55813,dport=9001),reply=(src=10.0.0.2,dst=10.0.0.1,sport=9001,dport=55813),id=0,zone=1,status=0,mark=417158794
tcp,orig=(src=10.0.0.1,dst=10.0.0.2,sport=39372,dport=9000),reply=(src=10.0.0.2,dst=10.0.0.1,sport=9000,dport=39372),id=0,zone=1,status=0,mark=417158794,protoinfo=(state_orig=ESTABLISHED,state_reply=ESTABLISHED,wscale_orig=10,wscale_reply=10,flags_orig=WINDOW_SCALE,flags_reply=WINDOW_SCALE)
icmp,orig=(src=10.0.0.1,dst=10.0.0.2,id=32757,type=8,code=0),reply=(src=10.0.0.2,dst=10.0.0.1,id=32757,type=0,code=0),id=0,zone=1,status=0,mark=417158794
not an entry
'''


def test_the_agent_parses_what_ovs_dumps():
    udp, tcp, icmp = conntrack.parse_dump(DUMP)
    assert tcp == {'proto': 'tcp', 'zone': 1, 'mark': 417158794,
                   'orig': {'src': '10.0.0.1', 'dst': '10.0.0.2', 'sport': 39372,
                            'dport': 9000},
                   'reply': {'src': '10.0.0.2', 'dst': '10.0.0.1', 'sport': 9000,
                             'dport': 39372},
                   'state': ['ESTABLISHED', 'ESTABLISHED']}
    assert udp['orig']['dport'] == 9001 and udp['state'] == []
    assert icmp['orig'] == {'src': '10.0.0.1', 'dst': '10.0.0.2', 'id': 32757, 'type': 8,
                            'code': 0}
    assert conntrack.parse_entry('tcp,orig=(src=1.2.3.4),zone=x') is None
    plain = conntrack.parse_entry(
        'tcp,orig=(src=10.0.0.1,dst=10.0.0.2,sport=1,dport=2),reply=(src=10.0.0.2,'
        'dst=10.0.0.1,sport=2,dport=1),zone=1,mark=5,protoinfo=(state=ESTABLISHED)')
    assert plain['state'] == ['ESTABLISHED'] and plain['mark'] == 5


def reader(service):
    """vm1 (10.0.0.1, ofport 1) in a group allowing all egress and ICMP ingress."""
    net = service.create_network({'name': 'n', 'kind': 'vxlan'})
    add_hv(service, 'hv1', 1)
    group = SecurityGroups(service).create_group({'name': 'reader', 'rules': [
        {'direction': 'egress'}, {'direction': 'ingress', 'protocol': 'icmp'}]})
    port = add_port(service, net, 1, 'hv1', ofport=1)
    port = service.update_port(port.id, {'security_groups': ['reader']})
    return net, group, port


def entry(proto, src, dst, mark, sport=0, dport=0, state=()):
    orig = {'src': src, 'dst': dst}
    if proto in ('tcp', 'udp'):
        orig.update(sport=sport, dport=dport)
    return {'proto': proto, 'orig': orig, 'reply': {}, 'zone': 1, 'mark': mark,
            'state': list(state)}


def test_a_move_carries_the_vms_sessions_while_their_rule_exists(service):
    _, group, port = reader(service)
    mark = firewall.rule_mark(group.rules[0])
    vm = port.ips[0]
    est = ('ESTABLISHED', 'ESTABLISHED')
    entries = [
        entry('tcp', vm, '10.0.0.3', mark, 40000, 9000, est),
        entry('udp', '10.0.0.3', vm, mark, 5353, 7070),           # the peer spoke first
        entry('icmp', vm, '10.0.0.3', mark),
        entry('tcp', vm, '10.0.0.4', 77, 40001, 22, est),         # its rule is gone
        entry('tcp', vm, '10.0.0.5', mark, 40002, 80, ('TIME_WAIT', 'TIME_WAIT')),
        entry('tcp', vm, '10.0.0.6', mark, 40003, 80, ('SYN_SENT', 'CLOSED')),
        entry('udp', '10.0.0.7', '10.0.0.8', mark, 1, 2),         # not this VM's
        entry('sctp', vm, '10.0.0.3', mark),
    ]
    marks = {firewall.rule_mark(r) for r in group.rules}
    assert sessions.from_conntrack(entries, port, marks) == [
        sessions.Session('egress', mark, 1, vm, '10.0.0.3'),
        sessions.Session('egress', mark, 6, vm, '10.0.0.3', 40000, 9000),
        sessions.Session('ingress', mark, 17, '10.0.0.3', vm, 5353, 7070)]


def test_the_firewall_commits_with_the_rules_mark_and_nothing_per_connection(service):
    """What a move reads (ct_mark = the rule's mark) is set by the commit itself:
    no per-connection flow is learned, recorded or refreshed."""
    _, group, _ = reader(service)
    inv = Inventory.from_store(service.store)
    flows = feature_flows(inv, inv.hosts['hv1'], firewall.FEATURE)
    commit = next(f for f in flows if f.table == P.EGRESS_ACL
                  and f.priority == P.priority(P.EGRESS_ACL, 'rule'))
    assert commit.actions == (('ct', True, 1, None, firewall.rule_mark(group.rules[0])),
                              ('goto', P.ARP_RESPONDER))
    assert not [a for f in flows for a in f.actions if a[0] in ('learn', 'resubmit')]


def test_a_session_is_admitted_both_ways_at_the_destination_port():
    s = sessions.Session('egress', 1234, 6, '10.0.0.1', '10.0.0.3', 40000, 9000)
    egress, ingress = sessions.carried_flows(s, 2000)
    new = (sessions.CT_TRK | sessions.CT_NEW, sessions.CT_TRK | sessions.CT_NEW
           | sessions.CT_INV)
    assert dict(egress.match) == {'in_port': 2000, 'ct_zone': 2000, 'ct_state': new,
                                  'eth_type': 0x800, 'ip_proto': 6, 'ipv4_src': '10.0.0.1',
                                  'ipv4_dst': '10.0.0.3', 'tcp_src': 40000, 'tcp_dst': 9000}
    assert egress.actions == (('ct', True, 2000, None, 1234), ('goto', P.ARP_RESPONDER))
    assert dict(ingress.match)['reg7'] == 2000
    assert (dict(ingress.match)['ipv4_src'], dict(ingress.match)['tcp_src']) == ('10.0.0.3',
                                                                                  9000)
    assert ingress.actions == (('ct', True, 2000, None, 1234), ('goto', P.OUTPUT))
    assert {f.priority for f in (egress, ingress)} == {80}
    # a session the VM accepted (ingress): the VM is the destination of the entry
    accepted = sessions.Session('ingress', 5, 17, '10.0.0.3', '10.0.0.1', 5353, 7070)
    out, _ = sessions.carried_flows(accepted, 7)
    assert (dict(out.match)['ipv4_src'], dict(out.match)['udp_src']) == ('10.0.0.1', 7070)


def test_admissions_go_out_with_an_idle_timeout_in_the_unmanaged_cookie_space():
    dp, written = FakeDatapath(), []
    dp.send = written.append                # the bytes as they leave, in one write
    s = sessions.Session('egress', 1234, 17, '10.0.0.1', '10.0.0.3', 40000, 9001)
    c = sessions.cookie(sessions.CARRIED)
    Reconciler().add_unmanaged(dp, sessions.carried_flows(s, 2000), c, idle_timeout=30)
    (buf,) = written
    offset, seen = 0, []
    while offset < len(buf):
        length = struct.unpack('!H', buf[offset + 2:offset + 4])[0]
        cookie, _, table, command, idle, hard = struct.unpack(
            '!QQBBHH', buf[offset + 8:offset + 30])
        seen.append((cookie, table, command, idle, hard))
        offset += length
    assert seen == [(c, P.EGRESS_ACL, 0, 30, 0), (c, P.INGRESS_ACL, 0, 30, 0)]
    assert c >> P.COOKIE_OWNER_SHIFT in P.UNMANAGED


def test_the_reconciler_leaves_carried_flows_alone():
    dp, reconciler = FakeDatapath(), Reconciler()
    reconciler.start_sync(dp)
    ours = FlowStat(0x0400000000000001, P.EGRESS_ACL, 70, None)
    carried = FlowStat(sessions.cookie(sessions.CARRIED), P.INGRESS_ACL, 80, None)
    assert reconciler.on_flow_stats(dp, [ours, carried], more=False)
    assert set(reconciler.installed[dp.id]) == {ours.cookie}
    removed, _ = reconciler.diff(dp.id, [])
    assert [f.cookie for f in removed] == [ours.cookie]


def test_carried_when_a_move_is_announced_and_whenever_the_vnic_shows_up_elsewhere(service):
    _, _, port = reader(service)
    left = {}
    planned = changed(port, migrating_to='hv3', migrating_ofport=2000)
    assert carries(port, planned, left) == [(port.id, 'hv1', 1, 'hv3', 2000)]
    arrived = changed(planned, bound_host='hv3', ofport=2000, migrating_to='',
                      migrating_ofport=0)
    assert carries(planned, arrived, left) == [(port.id, 'hv1', 1, 'hv3', 2000)]
    # unplanned, its vNIC gone from hv3 a while before it appears on hv2
    gone = changed(arrived, bound_host='', ofport=0)
    assert carries(arrived, gone, left) == [] and left == {port.id: ('hv3', 2000)}
    assert carries(gone, changed(gone, bound_host='hv2', ofport=7), left) == [
        (port.id, 'hv3', 2000, 'hv2', 7)]
    assert left == {}
    assert carries(arrived, changed(arrived, name='renamed'), left) == []
    assert carries(arrived, None, left) == []


@pytest.fixture
def agent(tmp_path):
    """The agent's HTTP service on loopback, over a fake ovs-appctl that prints DUMP."""
    appctl = tmp_path / 'ovs-appctl'
    appctl.write_text('#!/bin/sh\necho "$@" > %s/args\ncat <<"EOF"\n%sEOF\n'
                      % (tmp_path, DUMP))
    appctl.chmod(0o755)
    httpd = ThreadingHTTPServer(('127.0.0.1', 0), server.handler_class('/x/vswitchd.ctl',
                                                                       'secret'))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    old_run = server.subprocess.run

    def run(argv, **kwargs):                # the fake binary instead of the real one
        return old_run([str(appctl)] + argv[1:], **kwargs)
    server.subprocess.run = run
    yield '127.0.0.1:%d' % httpd.server_address[1], tmp_path
    server.subprocess.run = old_run
    httpd.shutdown()


def test_the_agent_answers_a_zone_to_the_token_only(agent):
    address, tmp = agent
    entries = agent_client.conntrack(address, 1, 'secret')
    assert [e['proto'] for e in entries] == ['udp', 'tcp', 'icmp']
    assert (tmp / 'args').read_text().split() == ['-t', '/x/vswitchd.ctl',
                                                  'dpctl/dump-conntrack', 'zone=1']
    with pytest.raises(agent_client.AgentError, match='401'):
        agent_client.conntrack(address, 1, 'wrong')
    req = urllib.request.Request('http://%s/v1/conntrack?zone=abc' % address,
                                 headers={'Authorization': 'Bearer secret'})
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req)
    assert e.value.code == 400 and json.loads(e.value.read())['field'] == 'zone'
    with pytest.raises(agent_client.AgentError):
        agent_client.conntrack('127.0.0.1:1', 1, 'secret', timeout=0.5)
