"""What a feature is: the small set of declarations an app hands to the core.

A feature is one module declaring one :class:`Feature` (and its tables in
:mod:`controller.compile.pipeline`, with its name as their owner and cookie owner):
- ``pieces``: its only compiler, pure, its flows on one switch in pieces (a
  host's whole compile is the union of its pieces);
- ``changes``: for each record kind it reads, the rule marking which pieces a
  change of such a record can alter (:mod:`controller.compile.dirty`);
- ``words``: what the flows of its tables mean, for a trace
  (:mod:`controller.compile.explain`);
- ``records``: the record kinds it brings to the store;
- the network kinds it provides (like Neutron's type drivers: the kind's L2
  table), the fixed ports whose traffic its table takes first, and counters
  read from its flows; ``attach``: what it starts beside its flows.
Its REST routes are declared in its module (``controller.api.rest.route`` with
``feature=`` its name): importing the module registers them. An app file
registers the feature with the core; nothing else names it.
"""
from dataclasses import dataclass, field
from typing import Callable, Optional

_DECLARED = {}      # name -> Feature, in the order their modules were imported


@dataclass(frozen=True)
class Feature:
    name: str
    # (inventory, hypervisor, controller.compile.pieces.Want) -> {piece key: flows}: its
    # only compiler; the whole host is Want() (every piece)
    pieces: Callable
    # (inventory, tor, Want) -> {piece key: flows}: the same on a ToR
    tor_pieces: Optional[Callable] = None
    kinds: dict = field(default_factory=dict)    # network kind -> its L2 table
    ports: dict = field(default_factory=dict)    # fixed ofport -> the table taking it
    # record kind -> rule(inventory, (kind, key, old, new), controller.compile.dirty.Dirty)
    changes: dict = field(default_factory=dict)
    # table name -> explain(words, host, priority name, flow, packet) -> text or None
    words: dict = field(default_factory=dict)
    records: dict = field(default_factory=dict)  # record kind -> its frozen dataclass (an id)
    # (cookie, mask, summarize(inventory, desired flows by dpid, [(dpid, stat)]))
    # when it keeps counters read from its flows (the firewall's per-rule ones)
    counters: Optional[tuple] = None
    # (controller.core.Parts) -> None: once, when an app loads it, to start what runs
    # beside its flows (the firewall: the carrier of migrating VMs' sessions)
    attach: Optional[Callable] = None
    summary: str = ''


def declare(feature):
    """A feature module's last word: ``FEATURE = declare(Feature(...))``. Its
    record kinds become storable (before the store opens: apps are imported
    before the core exists) and its change rules known to
    :func:`controller.compile.dirty.dirty`."""
    from controller.state import store
    for kind, record in feature.records.items():
        if store.KINDS.setdefault(kind, record) is not record:
            raise ValueError('record kind %r is declared twice' % kind)
    _DECLARED[feature.name] = feature
    return feature


def declared():
    """The features whose modules this process imported (a controller imports
    only those of the apps it loads)."""
    return list(_DECLARED.values())
