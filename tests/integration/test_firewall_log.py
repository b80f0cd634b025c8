"""Security-group logging on a real data center (issue 33): ACCEPT and DROP
records on VLAN and VXLAN, one per connection, in the log's file and at
/v1/logs/{id}/events; a log removed stops its records and leaves no flow; a
flood of refused packets at line rate bounded by the switch's controller meter
while the API and reconciles keep answering and other traffic loses nothing."""
import json
import os
import re
import statistics
import time

import pytest

from mininet_topos import probe
from mininet_topos.client import ApiError
from mininet_topos.datacenter import DataCenter
from mininet_topos import operator_cli
from mininet_topos.operator_cli import OperatorCommands
from tests.integration.helpers import check, flow_cookies, pings

PROBE = probe.__file__
RATE, BURST = 50, 10            # log_rate, log_burst of this run
# hv1: vm1 (VLAN 10), vm2 (VXLAN), vm3 (VLAN 10), vm4 (VXLAN); hv2: vm5 (VLAN), vm6 (VXLAN)
CASES = (('vm1', 'vm5', 'vlan'), ('vm2', 'vm6', 'vxlan'))


@pytest.fixture(scope='module')
def dc():
    with DataCenter(racks=2, hypervisors=1, vms=4, networks='vlan:10,vxlan:5000',
                    options={'log_rate': RATE, 'log_burst': BURST,
                             'stats_interval': 1}) as running:
        c = running.client
        c.post('/v1/security-groups', {'name': 'client', 'rules': [{'direction': 'egress'}]})
        c.post('/v1/security-groups', {'name': 'web', 'rules': [
            {'direction': 'egress'},
            {'direction': 'ingress', 'protocol': 'tcp', 'port_range_min': 8080,
             'port_range_max': 8080, 'remote_ip_prefix': '10.0.0.0/16'},
            {'direction': 'ingress', 'protocol': 'icmp', 'remote_group_id': 'client'}]})
        for p in c.get('/v1/ports'):
            groups = ['client'] if p['name'] in ('vm1', 'vm2') else ['web']
            c.call('PATCH', '/v1/ports/%s' % p['id'], {'security_groups': groups})
        for vm in ('vm3', 'vm5', 'vm6'):
            node = running.node(vm)
            node.cmd('python3 %s serve tcp 8080 &' % PROBE)
            node.cmd('python3 %s wait-listening 8080' % PROBE)
        running.wait_ready()
        yield running


def _controller_flows(dc, hv):
    out = dc.node(hv).ovs.ofctl('dump-flows br-int --no-stats')
    assert 'cookie=' in out
    return [line for line in out.splitlines() if 'CONTROLLER' in line]


def _records(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f]


def _wait_for(get, test, seconds=5.0):
    deadline = time.time() + seconds
    while True:
        got = get()
        if test(got) or time.time() > deadline:
            return got
        time.sleep(0.2)


def _rule(dc, protocol):
    group = dc.client.get('/v1/security-groups/web')
    return next(r for r in group['rules'] if r['protocol'] == protocol)


def test_logging_off_costs_nothing_then_accept_and_drop_on_vlan_and_vxlan(dc):
    c = dc.client
    before = {hv: flow_cookies(dc.node(hv)) for hv in ('hv1', 'hv2')}
    assert not _controller_flows(dc, 'hv1') and not _controller_flows(dc, 'hv2')
    log = c.call('POST', '/v1/logs?wait=applied', {'name': 'web-all', 'event': 'ALL',
                                                   'security_group': 'web',
                                                   'file': 'web-all.log'})
    try:
        assert _controller_flows(dc, 'hv2')
        tcp = _rule(dc, 'tcp')
        for client, server, kind in CASES:
            ip = dc.node(server).IP()
            assert check(dc, client, server, 'tcp', 8080)
            assert not check(dc, client, server, 'tcp', 9090)
            want = lambda rs: sum(1 for r in rs if r.get('dst') == ip
                                  and r.get('dport') in (8080, 9090)) >= 2
            records = [r for r in _wait_for(lambda: _records(log['path']), want)
                       if r.get('dst') == ip]
            accept = [r for r in records if r['verdict'] == 'ACCEPT' and r['dport'] == 8080]
            drop = [r for r in records if r['verdict'] == 'DROP' and r['dport'] == 9090]
            assert len(accept) == 1 and len(drop) == 1, json.dumps(
                [log, c.get('/v1/logs/%s/events' % log['id'])])
            a, d = accept[0], drop[0]
            assert a['rule'] == tcp['id'] and a['group'] == 'web'
            assert d['rule'] == 'no rule' and d['group'] is None
            for r in (a, d):
                assert r['hypervisor'] == 'hv2' and r['vm'] == server
                assert r['network_kind'] == kind and r['direction'] == 'ingress'
                assert r['protocol'] == 'tcp' and r['src'] == dc.node(client).IP()
                assert r['sport'] > 1024 and r['log'] == log['id']
        denied = c.get('/v1/view')['denials']           # the web view's tail per VM
        assert {r['dport'] for r in denied['vm5'] + denied['vm6']} >= {9090}
        answer = c.post('/v1/trace', {'source': 'vm1', 'destination': 'vm5',
                                      'protocol': 'tcp', 'port': 9090})
        assert answer['verdict'] == 'dropped' and answer['summary'].endswith('web-all')
        assert [g['id'] for g in answer['logged']['logs']] == [log['id']]
        assert answer['logged']['records'][-1]['dport'] == 9090      # the real one
        events = c.get('/v1/logs/%s/events' % log['id'])['events']
        assert {(e['vm'], e['verdict']) for e in events} >= {
            ('vm5', 'ACCEPT'), ('vm5', 'DROP'), ('vm6', 'ACCEPT'), ('vm6', 'DROP')}
        # a rule naming a remote group commits through the bridge's shared conjunction
        assert pings(dc, 'vm1', 'vm5')
        icmp = _rule(dc, 'icmp')
        got = _wait_for(lambda: _records(log['path']),
                        lambda rs: any(r.get('rule') == icmp['id'] for r in rs))
        assert any(r['rule'] == icmp['id'] and r['vm'] == 'vm5' and r['protocol'] == 'icmp'
                   for r in got)
    finally:
        c.call('DELETE', '/v1/logs/%s?wait=applied' % log['id'])
    after = {hv: flow_cookies(dc.node(hv)) for hv in ('hv1', 'hv2')}
    assert after == before                   # the same flows as before any log
    assert not _controller_flows(dc, 'hv1') and not _controller_flows(dc, 'hv2')


def test_a_removed_log_stops_its_records(dc, monkeypatch):
    """Through the lab shell's `log` (the operator's `vnetsec log`)."""
    said = []
    monkeypatch.setattr(operator_cli, 'output', said.append)
    shell = Shell(dc)
    shell.do_log('create DROP --port vm6 --file vm6-drop.log --name vm6-drops')
    assert not shell.failed, said
    log = dc.client.get('/v1/logs/vm6-drops')
    assert not check(dc, 'vm2', 'vm6', 'tcp', 9091)
    got = _wait_for(lambda: _records(log['path']), lambda rs: len(rs) >= 1)
    assert [r['dport'] for r in got] == [9091]
    shell.do_log('show vm6-drops')
    assert 'vm6  ingress  DROP  tcp %s:' % dc.node('vm2').IP() in said[-1], said
    assert '-> %s:9091  no rule' % dc.node('vm6').IP() in said[-1], said
    shell.do_log('delete vm6-drops')
    assert not shell.failed, said
    assert not check(dc, 'vm2', 'vm6', 'tcp', 9092)
    time.sleep(1.5)
    assert [r['dport'] for r in _records(log['path'])] == [9091]
    with pytest.raises(ApiError) as gone:
        dc.client.get('/v1/logs/%s/events' % log['id'])
    assert gone.value.status == 404


class Shell(OperatorCommands):
    """The lab shell's own commands, on this data center."""

    def __init__(self, dc):
        self.dc, self.failed = dc, False


def _timed(call):
    start = time.time()
    call()
    return time.time() - start


def _api_and_reconcile_times(dc, seconds):
    """Times of a read (GET /v1/status) and of a write waiting for its switches
    (a rule added and removed, ?wait=applied: a reconcile), for ``seconds``."""
    c, reads, writes = dc.client, [], []
    group = c.get('/v1/security-groups/client')
    end = time.time() + seconds
    while time.time() < end:
        reads.append(_timed(lambda: c.get('/v1/status')))
        rule = {}
        writes.append(_timed(lambda: rule.update(c.call(
            'POST', '/v1/security-groups/%s/rules?wait=applied' % group['id'],
            {'direction': 'ingress', 'protocol': 'udp', 'port_range_min': 7000}))))
        writes.append(_timed(lambda: c.call(
            'DELETE', '/v1/security-groups/%s/rules/%s?wait=applied' % (group['id'],
                                                                      rule['id']))))
        time.sleep(0.1)
    return reads, writes


def test_a_flood_of_refused_packets_is_bounded_by_the_meter(dc):
    c = dc.client
    base_reads, base_writes = _api_and_reconcile_times(dc, 3)
    log = c.call('POST', '/v1/logs?wait=applied', {'event': 'ALL', 'security_group': 'web',
                                                   'file': 'flood.log'})
    try:
        metrics_before, hits_before, ins_before = _suppressed(c), _deny_hits(dc), _ins(c)
        vm1, vm3, vm2 = dc.node('vm1'), dc.node('vm3'), dc.node('vm2')
        start = time.time()
        vm1.sendCmd('python3 %s flood %s 20000 10' % (PROBE, vm3.IP()))   # same hypervisor
        vm2.cmd('ping -c 400 -i 0.02 -q %s > /tmp/fwlog-ping-%s.txt 2>&1 &'
                % (dc.node('vm6').IP(), dc.run_id))        # other traffic through hv1
        time.sleep(1)
        reads, writes = _api_and_reconcile_times(dc, 7)
        assert check(dc, 'vm2', 'vm6', 'tcp', 8080)          # a connection hv2 logs
        sent = int(vm1.waitOutput().strip().splitlines()[-1])
        took = time.time() - start
        time.sleep(3)                      # the last meter reading, the ping's end
        ping = vm2.cmd('cat /tmp/fwlog-ping-%s.txt; rm -f /tmp/fwlog-ping-%s.txt'
                       % (dc.run_id, dc.run_id))
        records = _records(log['path'])
        hits, sent_up = _deny_hits(dc) - hits_before, _ins(c) - ins_before
        flood = [r for r in records if r['verdict'] == 'DROP' and r.get('dst') == vm3.IP()]
        suppressed = sum(r['suppressed'] for r in records if r['verdict'] == 'SUPPRESSED')
        print('flood: %d datagrams in %.1f s; %d DROP records (log_rate %d/s); '
              'suppressed %d of %d refused by the logged flow, %d received; status p50 %.1f / max %.1f ms (before %.1f / %.1f); '
              'write+reconcile p50 %.1f / max %.1f ms (before %.1f / %.1f)' % (
                  sent, took, len(flood), RATE, suppressed, hits, sent_up,
                  1e3 * statistics.median(reads), 1e3 * max(reads),
                  1e3 * statistics.median(base_reads), 1e3 * max(base_reads),
                  1e3 * statistics.median(writes), 1e3 * max(writes),
                  1e3 * statistics.median(base_writes), 1e3 * max(base_writes)))
        assert sent > 50 * RATE * 10                         # a real flood
        # what the meter lets up: at most its rate, and about that (one record per
        # connection: the flood has 1,000, and sends each many times a second)
        assert RATE * took / 2 < len(flood) <= RATE * took + BURST
        # every refused packet the meter did not let up is counted as suppressed
        # (what OVS itself could not take of the flood never reached the flow)
        assert hits > RATE * 10 * 20 and sent_up <= RATE * took + BURST + 20
        assert hits - sent_up - hits // 100 <= suppressed <= hits + 100
        assert _suppressed(c) - metrics_before >= suppressed
        assert max(reads) < max(0.5, 5 * max(base_reads))
        assert statistics.median(writes) < max(0.5, 3 * statistics.median(base_writes))
        assert max(writes) < max(2.0, 5 * max(base_writes))
        assert ' 0% packet loss' in ping, ping              # nothing else is lost
        assert any(r['verdict'] == 'ACCEPT' and r['vm'] == 'vm6' and r['dport'] == 8080
                   and r['hypervisor'] == 'hv2' for r in records)
    finally:
        c.call('DELETE', '/v1/logs/%s?wait=applied' % log['id'])


def _deny_hits(dc):
    """Packets hv1's logged deny flows (CONTROLLER, priority 65) matched."""
    out = dc.node('hv1').ovs.ofctl('dump-flows br-int')
    return sum(int(re.search(r'n_packets=(\d+)', line).group(1)) for line in out.splitlines()
               if 'priority=65' in line and 'CONTROLLER' in line)


def _ins(c):
    return sum(float(line.rsplit(' ', 1)[1]) for line in c.text('/metrics').splitlines()
               if line.startswith('vnetsec_log_packet_ins_total '))


def _suppressed(c):
    text = c.text('/metrics')
    return sum(float(line.rsplit(' ', 1)[1]) for line in text.splitlines()
               if line.startswith('vnetsec_log_suppressed_total{'))
