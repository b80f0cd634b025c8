"""/metrics scraped during a real run: switches, flows, binds, reconciles and
bundle commits are there, per-rule counters move with traffic (read in the
background, not per scrape) and rules come and go with rule changes."""
import time
import urllib.error
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from mininet_topos import probe
from mininet_topos.datacenter import DataCenter

PROBE = probe.__file__


@pytest.fixture(scope='module')
def dc():
    # hv1: vm1 vm2, hv2: vm3 vm4, one VXLAN network
    with DataCenter(racks=1, hypervisors=2, vms=2, networks='vxlan:5000') as running:
        c = running.client
        c.post('/v1/security-groups', {'name': 'web', 'rules': [
            {'direction': 'egress'},
            {'direction': 'ingress', 'protocol': 'tcp', 'port_range_min': 8080,
             'port_range_max': 8080}]})
        for port in c.get('/v1/ports'):
            c.call('PATCH', '/v1/ports/%s' % port['id'], {'security_groups': ['web']})
        node = running.node('vm3')
        node.cmd('python3 %s serve tcp 8080 &' % PROBE)
        node.cmd('python3 %s wait-listening 8080' % PROBE)
        running.wait_ready()
        yield running


def scrape(dc):
    """{name: [(labels, value)]} of every sample."""
    out = {}
    for family in text_string_to_metric_families(dc.client.text('/metrics')):
        for s in family.samples:
            out.setdefault(s.name, []).append((s.labels, s.value))
    return out


def value(metrics, name, **labels):
    return sum(v for got, v in metrics.get(name, []) if labels.items() <= got.items())


def rule_of(dc, protocol):
    group = dc.client.get('/v1/security-groups/web')
    return next(r for r in group['rules'] if r['protocol'] == protocol)


def test_reads_need_the_token(dc):
    req = urllib.request.Request(dc.api_url + '/metrics')
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req, timeout=5)
    assert e.value.code == 401


def test_switches_flows_binds_and_timings(dc):
    m = scrape(dc)
    switches = len(dc.switches())
    assert value(m, 'vnetsec_switches', state='connected') == switches
    assert value(m, 'vnetsec_switches', state='in_sync') == switches
    assert value(m, 'vnetsec_switches', state='failing') == 0
    for hv in ('hv1', 'hv2'):
        flows = value(m, 'vnetsec_switch_flows', switch=hv)
        assert flows == len(dc.client.get('/v1/hosts/%s/flows' % hv)['flows'])
    assert value(m, 'vnetsec_port_binds_total') >= 4
    assert value(m, 'vnetsec_reconcile_duration_seconds_count') > 0
    assert value(m, 'vnetsec_bundle_commit_latency_seconds_count') > 0
    assert value(m, 'vnetsec_api_requests_total', route='/v1/ports/{id}',
                 method='PATCH', status='200') >= 4


def test_rule_counters_move_with_traffic(dc):
    tcp = rule_of(dc, 'tcp')['id']
    before = scrape(dc)
    packets = value(before, 'vnetsec_rule_packets_total', rule=tcp)
    read_at = value(before, 'vnetsec_rule_stats_read_timestamp_seconds')
    out = dc.node('vm1').cmd('python3 %s check tcp %s 8080' % (PROBE, dc.node('vm3').IP()))
    assert out.strip() == 'OK'
    deadline = time.time() + 15             # background reading every 5 s, OVS ~1 s
    while True:
        after = scrape(dc)
        if value(after, 'vnetsec_rule_packets_total', rule=tcp) >= packets + 4:
            break
        assert time.time() < deadline, 'per-rule packets did not move: %s' % (
            after.get('vnetsec_rule_packets_total'),)
        time.sleep(0.5)
    assert value(after, 'vnetsec_rule_bytes_total', rule=tcp) > 0
    assert value(after, 'vnetsec_rule_stats_read_timestamp_seconds') > read_at


def test_rules_and_flows_follow_rule_changes(dc):
    group = dc.client.get('/v1/security-groups/web')
    flows_before = value(scrape(dc), 'vnetsec_switch_flows', switch='hv2')
    rule = dc.client.post('/v1/security-groups/%s/rules' % group['id'],
                          {'direction': 'ingress', 'protocol': 'udp', 'port_range_min': 53})
    dc.wait_ready()
    m = scrape(dc)
    assert [v for labels, v in m['vnetsec_rule_packets_total']
            if labels['rule'] == rule['id']] == [0]
    assert value(m, 'vnetsec_switch_flows', switch='hv2') > flows_before
    dc.client.call('DELETE', '/v1/security-groups/%s/rules/%s' % (group['id'], rule['id']))
    dc.wait_ready()
    m = scrape(dc)
    assert all(labels['rule'] != rule['id'] for labels, _ in m['vnetsec_rule_packets_total'])
    assert value(m, 'vnetsec_switch_flows', switch='hv2') == flows_before
