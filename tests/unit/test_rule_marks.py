"""Rule marks (each rule's ct_mark and conjunction id) are allocated, unique and
never reused; a store written when marks were hashed from rule ids upgrades
once, keeping each mark that was unique and separating two rules that shared
one (their conjunctions merged: one rule's ports with the other's peers)."""
import pytest

from controller.state import model
from controller.compile import pipeline as P
from controller.compile.host import ALL, feature_flows
from controller.features import firewall
from controller.features.security_groups import SecurityGroups
from controller.state.inventory import Inventory
from controller.state.schemas import TraceRequest
from controller.state.rule_marks import legacy_mark
from controller.state.service import Service
from controller.state.store import SqliteStore
from controller.api.trace import trace
from tests.unit.conftest import add_hv, add_port

# two rule ids that the hashed marks of earlier versions gave one mark
TWINS = ('00000000000000000000000000923e9f', '00000000000000000000000001200841')


def test_the_twins_collide_under_the_old_function():
    assert legacy_mark(TWINS[0]) == legacy_mark(TWINS[1])


def test_marks_are_allocated_unique_and_never_given_again(tmp_path):
    path = str(tmp_path / 'state.db')
    groups = SecurityGroups(Service(SqliteStore(path)))
    group = groups.create_group({'name': 'g', 'rules': [{'direction': 'egress'}] * 3})
    marks = [r['mark'] for r in group.rules]
    assert len(set(marks)) == 3 and all(m & P.MARK_ALLOCATED for m in marks)
    groups.delete_rule(group.id, group.rules[-1]['id'])
    # a restarted controller, on the same file: the deleted rule's mark stays retired
    groups = SecurityGroups(Service(SqliteStore(path)))
    added = groups.add_rule('g', {'direction': 'ingress'})
    assert added['mark'] > max(marks)
    every = [r['mark'] for g in groups.store.list('security_group') for r in g.rules]
    assert len(every) == len(set(every))


def test_a_rejected_rule_takes_no_mark(service):
    groups = SecurityGroups(service)
    group = groups.create_group({'name': 'g'})
    with pytest.raises(model.ValidationError) as err:
        groups.add_rule('g', {'direction': 'ingress', 'remote_group_id': 'nowhere'})
    assert err.value.field == 'remote_group_id'
    added = groups.add_rule('g', {'direction': 'ingress'})
    assert added['mark'] == group.rules[-1]['mark'] + 1


@pytest.fixture
def twins_dc(tmp_path):
    """hv1: vm1 (group a), vm2 (group b); hv2: vm3 (group srv), whose rules admit
    tcp 22 from group a and tcp 80 from group b; written by a version that
    hashed marks, the two rules having the twin ids (so no marks are stored)."""
    path = str(tmp_path / 'state.db')
    service = Service(SqliteStore(path))
    for i in (1, 2):
        add_hv(service, 'hv%d' % i, i)
    net = service.create_network({'name': 'blue', 'kind': 'vxlan', 'segmentation_id': 5000})
    groups = SecurityGroups(service)
    a = groups.create_group({'name': 'a'})
    b = groups.create_group({'name': 'b'})
    srv = groups.create_group({'name': 'srv', 'rules': [
        {'direction': 'ingress', 'protocol': 'tcp', 'port_range_min': 22,
         'remote_group_id': a.id},
        {'direction': 'ingress', 'protocol': 'tcp', 'port_range_min': 80,
         'remote_group_id': b.id}]})
    for k, host, group in ((1, 'hv1', 'a'), (2, 'hv1', 'b'), (3, 'hv2', 'srv')):
        port = add_port(service, net, k, host, ofport=k)
        service.update_port(port.id, {'name': 'vm%d' % k, 'security_groups': [group]})
    store = service.store
    with store.transaction() as tx:          # as an older version stored them
        for group in store.list('security_group'):
            rules = [{k: v for k, v in r.items() if k != 'mark'} for r in group.rules]
            if group.id == srv.id:
                rules = [dict(r, id=twin) for r, twin in zip(rules, TWINS)]
            tx.put('security_group', group.id, model.changed(group, rules=rules))
    store.close()
    return path


def verdict(store, source, port):
    request = TraceRequest(source=source, destination='vm3', protocol='tcp', port=port)
    return trace(Inventory.from_store(store), ALL, request)['verdict']


def test_twins_merged_under_the_old_marks(twins_dc):
    """What the review found: with one mark, b's peer reaches a's port."""
    store = SqliteStore(twins_dc)
    with store.transaction() as tx:
        for group in store.list('security_group'):
            tx.put('security_group', group.id, model.changed(group, rules=[
                dict(r, mark=legacy_mark(r['id'])) for r in group.rules]))
    assert verdict(store, 'vm2', 22) == 'allowed'         # neither rule allows it


def test_upgrade_keeps_unique_marks_and_separates_the_twins(twins_dc):
    store = SqliteStore(twins_dc)
    hashed = {r['id']: legacy_mark(r['id']) for g in store.list('security_group')
              for r in g.rules}
    Service(store)
    marks = {r['id']: r['mark'] for g in store.list('security_group') for r in g.rules}
    assert set(marks) == set(hashed)
    assert len(set(marks.values())) == len(marks)
    changed = {i for i in marks if marks[i] != hashed[i]}
    assert changed == {TWINS[1]} and marks[TWINS[1]] & P.MARK_ALLOCATED
    # separate on the switch: two conjunctions, each with its own clauses
    flows = feature_flows(Inventory.from_store(store), store.get('host', 'hv2'), firewall.FEATURE)
    conj = {a[1] for f in flows for a in f.actions if a[0] == 'conjunction'}
    assert {marks[TWINS[0]], marks[TWINS[1]]} <= conj
    # and in traffic
    assert verdict(store, 'vm1', 22) == 'allowed' and verdict(store, 'vm2', 80) == 'allowed'
    assert verdict(store, 'vm2', 22) == 'dropped' and verdict(store, 'vm1', 80) == 'dropped'
    # once: a second start changes nothing
    before = {g.id: g for g in store.list('security_group')}
    Service(store)
    assert {g.id: g for g in store.list('security_group')} == before
