"""One bad record, or one switch that refuses its flows, never stops the rest:
the other switches are programmed, the status names the failing one and why,
and the controller tries again once the records change."""
import json
import sqlite3
import time

import pytest

from controller.compile import pipeline as P
from mininet_topos.datacenter import DataCenter
from tests.integration.helpers import flow_cookies


@pytest.fixture(scope='module')
def dc():
    with DataCenter(racks=1, hypervisors=2, vms=2, networks='vxlan:5000') as running:
        running.wait_ready()
        yield running


def switch_status(dc):
    status = dc.client.get('/v1/status')['switches']
    return {s['host']: s for s in status.values()}


def wait_for(predicate, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError('timed out')


def pings(dc, src, dst):
    return ' 0% packet loss' in dc.node(src).cmd('ping -c1 -W1 %s' % dc.node(dst).IP())


def test_a_refused_bundle_leaves_the_others_programmed_and_is_retried_after_a_change(dc):
    hv1 = dc.node('hv1')
    table = hv1.ovs.ofctl('dump-flows br-int table=%d --no-stats' % P.INGRESS_ACL)
    held = sum('cookie=' in line for line in table.splitlines())
    # hv1's ingress ACL table may hold no more flows than it holds now
    hv1.ovs.vsctl('-- --id=@t create Flow_Table flow_limit=%d overflow_policy=refuse '
                  '-- set Bridge br-int flow_tables:%d=@t' % (held, P.INGRESS_ACL))
    before = flow_cookies(hv1)
    dc.client.post('/v1/security-groups/default/rules',
                   {'direction': 'ingress', 'protocol': 'tcp', 'port_range_min': 22})
    status = wait_for(lambda: (lambda s: s if s['hv1']['failing'] and s['hv2']['synced']
                               else None)(switch_status(dc)))
    assert 'TABLE_FULL' in status['hv1']['failing'] and not status['hv1']['synced']
    assert status['hv2']['failing'] is None
    assert flow_cookies(hv1) == before          # all or nothing: it kept its flows
    assert pings(dc, 'vm1', 'vm3') and pings(dc, 'vm1', 'vm2')
    time.sleep(1)                                # not resent while nothing changes
    assert flow_cookies(hv1) == before and switch_status(dc)['hv1']['failing']
    hv1.ovs.vsctl('clear Bridge br-int flow_tables')
    dc.client.post('/v1/security-groups/default/rules',
                   {'direction': 'ingress', 'protocol': 'tcp', 'port_range_min': 23})
    dc.wait_ready()
    assert switch_status(dc)['hv1']['failing'] is None


def test_an_unusable_host_record_is_named_and_the_rest_are_programmed(dc):
    hv2 = dc.node('hv2')
    dc.controller.stop()
    db = sqlite3.connect(dc.rundir + '/vnetsec.db')
    (body,) = db.execute("SELECT body FROM records WHERE kind='host' AND key='hv2'").fetchone()
    good_vtep = json.loads(body)['vtep_ip']
    db.execute("UPDATE records SET body=? WHERE kind='host' AND key='hv2'",
               (json.dumps(dict(json.loads(body), vtep_ip='127.0.0.1')),))  # an old version's
    db.commit()
    db.close()
    before = flow_cookies(hv2)
    dc.controller.start()
    status = wait_for(lambda: (lambda s: s if 'hv2' in s and s['hv2']['failing']
                               and s.get('hv1', {}).get('synced') else None)(switch_status(dc)))
    assert 'vtep_ip' in status['hv2']['failing']
    hosts = {h['name']: h for h in dc.client.get('/v1/hosts')}       # never a 500
    assert 'vtep_ip' in hosts['hv2']['error'] and 'error' not in hosts['hv1']
    assert flow_cookies(hv2) == before              # left as it was, not flushed
    assert pings(dc, 'vm1', 'vm2') and pings(dc, 'vm3', 'vm4')
    dc.client.call('PATCH', '/v1/hosts/hv2', {'vtep_ip': good_vtep})
    dc.wait_ready()
    assert switch_status(dc)['hv2']['failing'] is None and pings(dc, 'vm1', 'vm3')
