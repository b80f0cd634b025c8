"""Rule marks: each rule's ``ct_mark`` and conjunction id on the switches.

Allocated when a rule is created, from a counter in the store
(:meth:`controller.state.store.Store.allocate`: a SQLite row, an etcd
compare-and-swap with replicas), with the top bit set
(``pipeline.MARK_ALLOCATED``), and never given to another rule: two rules never
share a conjunction (their clauses would combine), and a deleted rule's
connections never revive under a new rule. A unique store index on the marks
(:func:`marks`) makes a duplicate a conflict.

Marks were once a crc32 of the rule id (:func:`legacy_mark`; two ids could
collide, about 2% at 10,000 rules). A store written then is upgraded once
(:func:`upgraded`): each rule keeps its hashed mark where it was unique, so the
connections it admitted live on, and the second of two twins gets an
allocated one.
"""
import zlib

from controller.state import model
from controller import constants as C


def new_rule(store, fields):
    """A stored rule: its checked fields, a new id and a mark of its own."""
    return dict(fields, id=model.new_id(),
                mark=C.MARK_ALLOCATED | store.allocate(C.MARK_COUNTER))


def legacy_mark(rule_id):
    """The mark versions before allocation hashed from a rule's id."""
    return zlib.crc32(rule_id.encode()) & 0x7fffffff or 1


def marks(group):
    """The marks a group's rules hold (its values in the unique index)."""
    return tuple(r['mark'] for r in group.rules if 'mark' in r)


def upgraded(store):
    """The stored groups whose rules have no mark yet, each rule given one:
    the hashed mark it had where unique, else an allocated one."""
    groups = store.list('security_group')
    taken = {m for g in groups for m in marks(g)}
    out = []
    for group in groups:
        if len(marks(group)) == len(group.rules):
            continue
        rules = []
        for rule in group.rules:
            if 'mark' not in rule:
                mark = legacy_mark(rule['id'])
                if mark in taken:
                    mark = C.MARK_ALLOCATED | store.allocate(C.MARK_COUNTER)
                taken.add(mark)
                rule = dict(rule, mark=mark)
            rules.append(rule)
        out.append(model.changed(group, rules=rules))
    return out
