"""A small simulator of one switch's OpenFlow pipeline over our own compiled
flows (:class:`controller.compile.flows.Flow`), as Open vSwitch would run them: highest
priority wins, conjunctions, registers, ``goto``/``resubmit``, ``ct`` with
recirculation (the connection state given by a small conntrack table), output.

It knows only the action vocabulary of :mod:`controller.compile.actions`. Each table
lookup is recorded as a step; what the packet became at each output is
returned, so :mod:`controller.api.trace` can follow it to the next switch.
"""
import ipaddress
import re

from controller.constants import CT_EST, CT_NEW, CT_TRK

DEFAULTS = {'reg4': 0, 'reg5': 0, 'reg6': 0, 'reg7': 0, 'vlan_vid': 0, 'tunnel_id': 0,
            'ct_state': 0, 'ct_zone': 0, 'ct_mark': 0, 'conj_id': 0}
MAX_STEPS = 200     # a loop in the flows ends the trace instead of hanging it


MAC = re.compile(r'^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$')


def _number(value):
    """A match value as an integer: MACs, IPv4 and IPv6 addresses and ints alike."""
    if isinstance(value, int):
        return value
    if MAC.match(value):
        return int(value.replace(':', ''), 16)
    return int(ipaddress.ip_address(value))


def field_matches(packet, name, wanted):
    have = packet.get(name, DEFAULTS.get(name))
    if have is None:
        return False
    if isinstance(wanted, tuple):
        value, mask = (_number(v) for v in wanted)
        return _number(have) & mask == value & mask
    return _number(have) == _number(wanted)


def matches(flow, packet):
    return all(field_matches(packet, name, value) for name, value in flow.match)


class Conntrack:
    """Connections by zone: what a ``ct(commit)`` recorded, and the state the
    next lookup in that zone sees (``established`` only once committed, and
    only when the trace asks for an established packet)."""

    def __init__(self, established=False):
        self.established = established
        self.committed = {}         # (switch, zone) -> ct_mark
        self.at = ''                # the switch the packet is on (zones are per switch)

    def commit(self, zone, mark):
        self.committed[(self.at, zone)] = mark

    def lookup(self, zone):
        mark = self.committed.get((self.at, zone))
        if self.established and mark is not None:
            return CT_TRK | CT_EST, mark
        return CT_TRK | CT_NEW, 0


class Switch:
    """The flows of one switch, by table, best first."""

    def __init__(self, flows):
        self.tables = {}
        for f in sorted(flows, key=lambda f: -f.priority):
            self.tables.setdefault(f.table, []).append(f)

    def lookup(self, table, packet):
        """The flow OVS would pick: conjunction-only flows complete conjunctions
        (all clauses of one id matched) that flows matching ``conj_id`` then
        take; otherwise the best plain match."""
        flows = self.tables.get(table, [])
        clauses = {}
        for f in flows:
            if f.actions and all(a[0] == 'conjunction' for a in f.actions) \
                    and matches(f, packet):
                for _, conj_id, clause, n_clauses in f.actions:
                    clauses.setdefault(conj_id, (set(), n_clauses))[0].add(clause)
        done = sorted(c for c, (seen, n) in clauses.items() if len(seen) == n)
        for f in flows:
            if f.actions and all(a[0] == 'conjunction' for a in f.actions):
                continue
            if 'conj_id' in dict(f.match):
                if any(matches(f, dict(packet, conj_id=c)) for c in done):
                    return f
            elif matches(f, packet):
                return f
        return None


def run(switch, packet, conntrack, table=0, steps=None, outputs=None):
    """Send ``packet`` (a dict of match fields, ``in_port`` included) through
    ``switch`` from ``table``. Returns (steps, outputs): steps are (table,
    flow or None, packet as it was looked up); outputs are (port, packet)."""
    steps = [] if steps is None else steps
    outputs = [] if outputs is None else outputs
    packet = dict(packet)
    while table is not None and len(steps) < MAX_STEPS:
        flow = switch.lookup(table, packet)
        steps.append((table, flow, dict(packet)))
        if flow is None:
            return steps, outputs
        table = None
        for action in flow.actions:
            goto = _act(switch, action, packet, conntrack, steps, outputs)
            table = goto if goto is not None else table
    return steps, outputs


def _act(switch, action, packet, conntrack, steps, outputs):
    """Apply one action to ``packet``; the table to go on to, for ``goto``."""
    kind = action[0]
    if kind == 'goto':
        return action[1]
    if kind == 'set_field':
        packet[action[1]] = action[2]
    elif kind == 'move':
        packet[action[2]] = packet.get(action[1])
    elif kind == 'push_vlan':
        packet['vlan_vid'] = 0x1000
    elif kind == 'pop_vlan':
        packet['vlan_vid'] = 0
    elif kind == 'output':
        port = packet['in_port'] if action[1] == 'in_port' else action[1]
        outputs.append((port, dict(packet)))
    elif kind == 'controller':                 # a logged packet's copy to the controller
        outputs.append(('controller', dict(packet)))
    elif kind == 'resubmit':
        run(switch, packet, conntrack, action[1], steps, outputs)
    elif kind == 'ct':
        _, commit, zone, table, mark = action
        zone = packet.get(zone, 0) if isinstance(zone, str) else zone
        if commit:
            conntrack.commit(zone, mark or 0)
        if table is not None:                  # recirculate: a copy goes on there
            state, ct_mark = conntrack.lookup(zone)
            run(switch, dict(packet, ct_state=state, ct_zone=zone, ct_mark=ct_mark),
                conntrack, table, steps, outputs)
        packet.update(ct_state=0, ct_zone=0, ct_mark=0)   # untracked here on, as in OVS
    return None
