"""Two rules whose ids the hashed marks of earlier versions gave one mark, on
real switches (issue 28): the store is rewritten as such a version left it,
the controller restarts on it and upgrades it, and the two rules are two
conjunctions on the switch and two separate permissions in traffic (with one
mark, group b's member reached the port group a's rule opens)."""
import re
import signal

import pytest

from controller.state import model
from controller.state.rule_marks import legacy_mark
from controller.state.store import SqliteStore
from mininet_topos import probe
from mininet_topos.datacenter import DataCenter
from tests.unit.test_rule_marks import TWINS

PROBE = probe.__file__


@pytest.fixture(scope='module')
def dc():
    # hv1: vm1 (group a), vm2 (group b); hv2: vm3 (group srv: tcp 22 from a, tcp 80 from b)
    with DataCenter(racks=1, hypervisors=2, vms=2, networks='vxlan:5000') as running:
        c = running.client
        a = c.post('/v1/security-groups', {'name': 'a'})
        b = c.post('/v1/security-groups', {'name': 'b'})
        c.post('/v1/security-groups', {'name': 'srv', 'rules': [
            {'direction': 'ingress', 'protocol': 'tcp', 'port_range_min': 22,
             'remote_group_id': a['id']},
            {'direction': 'ingress', 'protocol': 'tcp', 'port_range_min': 80,
             'remote_group_id': b['id']}]})
        ports = {p['name']: p['id'] for p in c.get('/v1/ports')}
        for vm, group in (('vm1', 'a'), ('vm2', 'b'), ('vm3', 'srv')):
            c.call('PATCH', '/v1/ports/%s' % ports[vm], {'security_groups': [group]})
        vm3 = running.node('vm3')
        for port in (22, 80):
            vm3.cmd('python3 %s serve tcp %d &' % (PROBE, port))
        vm3.cmd('python3 %s wait-listening 22 80' % PROBE)
        running.wait_ready()
        yield running


def as_an_older_version_stored_it(path):
    """No marks; srv's two rules have the twin ids."""
    store = SqliteStore(path)
    with store.transaction() as tx:
        for group in store.list('security_group'):
            rules = [{k: v for k, v in r.items() if k != 'mark'} for r in group.rules]
            if group.name == 'srv':
                rules = [dict(r, id=twin) for r, twin in zip(rules, TWINS)]
            tx.put('security_group', group.id, model.changed(group, rules=rules))
    store.close()


def check(dc, src, port):
    return dc.node(src).cmd('python3 %s check tcp %s %d' % (
        PROBE, dc.node('vm3').IP(), port)).strip() == 'OK'


def test_rules_with_colliding_ids_stay_two_rules(dc):
    dc.controller.stop(signal.SIGKILL)
    as_an_older_version_stored_it(dc.rundir + '/vnetsec.db')
    dc.controller.start()
    dc.wait_ready()
    srv = dc.client.get('/v1/security-groups/srv')
    marks = {r['id']: r['mark'] for r in srv['rules']}
    assert set(marks) == set(TWINS)
    assert marks[TWINS[0]] == legacy_mark(TWINS[0])      # kept: its connections live on
    assert marks[TWINS[1]] != marks[TWINS[0]]            # its twin: a mark of its own
    flows = dc.node('hv2').ovs.ofctl('dump-flows br-int')
    conjunctions = set(int(c) for c in re.findall(r'conjunction\((\d+),', flows))
    assert {marks[TWINS[0]], marks[TWINS[1]]} <= conjunctions
    assert check(dc, 'vm1', 22) and check(dc, 'vm2', 80)
    assert not check(dc, 'vm2', 22), "b's member must not reach the port a's rule opens"
    assert not check(dc, 'vm1', 80)
