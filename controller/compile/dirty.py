"""Which pieces of which switches a batch of store changes can alter.

From the changes ``(kind, key, old, new)`` and the inventory after them, the
scopes (:mod:`controller.compile.pieces`) to recompile per hypervisor name (``'*'``:
every hypervisor), and those of the ToRs (whole, or some scopes). A host that
had a network before the changes but not after is always one a changed port
left, so the old records name every host that needs a look.

Who knows what: as OVN's incremental engine nodes declare their inputs and a
change handler for each, every feature declares the record kinds it reads and,
for each, a rule marking the scopes a change of such a record can alter
(``Feature.changes``: ``{kind: rule(inv, change, marks)}``); the core's own
rules (:data:`controller.compile.switching.CHANGES`) mark a port's own pieces
and its networks' on the hosts it is (was) on, and recompile whole what a
network or a host changed. A change no rule claims (a record kind no feature
declares) recompiles every switch whole: never an exception, never a miss.
"""
from collections import defaultdict

from controller.compile import switching
from controller.compile.feature import declared

ALL = None          # the whole host


class Dirty:
    """The marks: what a rule (:func:`dirty`) asks to recompile."""

    def __init__(self, rules=None, ports_changed=()):
        self.scopes = defaultdict(set)      # host name or '*' -> scopes
        self.whole = set()                  # hosts to recompile whole
        self.every_switch = False           # every switch whole (an unclaimed change)
        self.tors = False                   # the ToRs to recompile whole
        self.tor_scopes = set()             # else these scopes of theirs (VLAN networks)
        self.ports_changed = set(ports_changed)  # ids of the ports the changes touch
        self._rules = rules or {}

    def add(self, host_name, scope):
        if host_name:
            if scope is ALL:
                self.whole.add(host_name)
            else:
                self.scopes[host_name].add(scope)

    def add_tors(self, scope):
        """Mark a scope of every ToR (ALL: the ToRs whole)."""
        if scope is ALL:
            self.tors = True
        else:
            self.tor_scopes.add(scope)

    def change(self, inv, change):
        """Mark what ``change`` can alter, by the rules of its kind (every
        switch whole if none claims it)."""
        rules = self._rules.get(change[0])
        if not rules:
            self.every_switch = True
            return
        for rule in rules:
            rule(inv, change, self)

    def hosts(self):
        """Names of the hypervisors with any mark (None: every one)."""
        if self.every_switch or '*' in self.scopes:
            return None
        return self.whole | set(self.scopes)

    def of_tors(self):
        """The scopes of every ToR, as :meth:`of`."""
        return ALL if self.tors or self.every_switch else self.tor_scopes

    def of(self, host_name):
        """The scopes of a hypervisor: None (whole), a set, or empty."""
        if self.every_switch or host_name in self.whole:
            return ALL
        return self.scopes.get(host_name, set()) | self.scopes.get('*', set())


def rules(features):
    """{record kind: [its change rules]}: the core's, then each feature's."""
    out = defaultdict(list)
    for declaring in [switching.CHANGES] + [f.changes for f in features]:
        for kind, rule in declaring.items():
            out[kind].append(rule)
    return out


def dirty(inv, changes, features=None):
    """The marks of ``changes`` by the rules of ``features`` (None: every
    feature the process declared, :func:`controller.compile.feature.declared`: a
    feature imported but not loaded only marks more than needed)."""
    features = declared() if features is None else features
    out = Dirty(rules(features), {key for kind, key, _, _ in changes if kind == 'port'})
    for change in changes:
        out.change(inv, change)
    return out

