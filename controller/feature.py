"""What a feature is: the small set of declarations an app hands to the core.

A feature names itself (its name is its cookie owner, see
:mod:`controller.pipeline`, where its tables are declared), compiles its flows
for one switch from the inventory (a pure function), and may provide network
kinds (like Neutron's type drivers: the kind's L2 table), fixed ports whose
traffic its table takes first, and REST routes. A fourth feature is one module
with one ``Feature`` and one app file that registers it.
"""
from dataclasses import dataclass, field
from typing import Callable, Optional


@dataclass(frozen=True)
class Feature:
    name: str
    compile: Callable                     # (inventory, hypervisor) -> [Flow]
    compile_tor: Optional[Callable] = None  # (inventory, tor) -> [Flow]
    kinds: dict = field(default_factory=dict)    # network kind -> its L2 table
    ports: dict = field(default_factory=dict)    # fixed ofport -> the table taking it
    routes: tuple = ()                           # controller.api routes it serves
    # (cookie, mask, summarize(inventory, desired flows by dpid, [(dpid, stat)]))
    # when it keeps counters read from its flows (the firewall's per-rule ones)
    counters: Optional[tuple] = None
    # (inventory, hypervisor, controller.pieces.Want) -> {piece key: flows}: the
    # same flows as ``compile`` in pieces, so a change recompiles only its own
    pieces: Optional[Callable] = None
    # (inventory, tor, Want or None) -> {piece key: flows}: ``compile_tor`` in pieces
    tor_pieces: Optional[Callable] = None
    summary: str = ''
