"""A toy feature, kept in the tests' own files to show what a feature is: this
one module (its table declared in the pipeline, its record kind, its pieces,
its change rule, its words) and an app registering ``FEATURE``; no other file
of vnetsec names it (tests/unit/test_toy_feature.py).

A *toy mark* (record kind ``toy_mark``: an id and a MAC) makes every
hypervisor pass that MAC's frames through a flow of its own in table 35,
between the ARP responder and the L2 lookup.
"""
from dataclasses import dataclass

from controller.compile import pipeline as P
from controller.compile.feature import Feature, declare
from controller.compile.flows import flow, goto

TOY = 35
P.declare(P.Table(TOY, 'toy_marks', 'toy', frozenset({'eth_src'}), (P.L2_LOOKUP,),
                  {'marked': 20}, miss=P.L2_LOOKUP, purpose='toy: frames of marked MACs'),
          cookie=0x7e, after=P.ARP_RESPONDER)


@dataclass(frozen=True)
class ToyMark:
    id: str
    mac: str


def pieces(inv, host, want):
    """One piece per mark, ``('toy', 'mark', id)``, on every hypervisor."""
    ids = want.subjects('mark')
    marks = inv.records.get('toy_mark', {})
    return {('toy', 'mark', i): [flow('toy', TOY, P.priority(TOY, 'marked'),
                                      {'eth_src': marks[i].mac}, [goto(P.L2_LOOKUP)])]
            for i in (marks if ids is None else ids) if i in marks}


def mark_changed(inv, change, marks):
    marks.add('*', ('mark', change[1]))


def _words(words, host, name, flow, packet):
    if name == 'marked':
        return 'toy: %s is marked' % packet['eth_src']
    return None


FEATURE = declare(Feature('toy', pieces=pieces, records={'toy_mark': ToyMark},
                          changes={'toy_mark': mark_changed},
                          words={'toy_marks': _words}, summary='a toy'))
