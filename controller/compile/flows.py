"""A switch-neutral flow: what the compilers return and the reconciler installs.

A flow is a frozen value (table, priority, match, actions, owner). Its cookie is
the owner's byte plus a hash of everything else, so a flow installed on a switch
is recognised by its cookie alone: the reconciler diffs cookies, never parses
actions back.

Actions are tuples of the vocabulary declared in :mod:`controller.compile.actions`
(which also encodes and prints them); an empty action list drops.
"""
import functools
import hashlib
import ipaddress
from dataclasses import dataclass

from controller.constants import CT_NAMES
from controller.compile import pipeline
from controller.compile.actions import OFCTL_FIELD, value_text
from controller.compile.actions import text as action_text


@dataclass(frozen=True)
class Flow:
    table: int
    priority: int
    match: tuple        # sorted ((field, value), ...); value may be (value, mask)
    actions: tuple
    owner: str

    @functools.cached_property
    def cookie(self):
        """Computed once per Flow object (compilers reuse their flows)."""
        return _cookie(self)


@functools.lru_cache(maxsize=1 << 20)
def _cookie(f):
    """Owner byte + 56-bit hash of the flow; cached, as every reconcile asks again."""
    digest = hashlib.blake2b(repr((f.table, f.priority, f.match, f.actions)).encode(),
                             digest_size=7).digest()
    return pipeline.OWNERS[f.owner] << pipeline.COOKIE_OWNER_SHIFT | int.from_bytes(digest, 'big')


def address_match(text):
    """An address's match value: '10.0.0.5' as it is, a prefix '10.0.0.0/24' as
    (address, mask) (either family)."""
    if '/' not in text:
        return text
    net = ipaddress.ip_network(text)
    return str(net.network_address), str(net.netmask)


_REUSED = {}        # owner -> {key: flows}: each feature's pieces apart


def reuse(owner, key, build):
    """The flows ``build()`` makes (as a tuple), kept under ``owner`` (the feature
    whose flows they are) and ``key`` (plain values naming every input) from one
    compile to the next: equal inputs give the very same Flow objects, whose
    cookies (and the reconciler's encodings) are then computed once. Compilers
    stay pure: only the cost changes. Each feature's cache is bounded on its own."""
    cache = _REUSED.setdefault(owner, {})
    flows = cache.get(key)
    if flows is None:
        if len(cache) > 200_000:
            cache.clear()
        flows = cache[key] = tuple(build())
    return flows


def flow(owner, table, priority, match=None, actions=()):
    """Build a Flow from a match dict (ryu OXM field names) and an action list."""
    items = tuple(sorted((match or {}).items()))
    return Flow(table, priority, items, tuple(tuple(a) for a in actions), owner)


def goto(table):
    return ('goto', table)


def output(port):
    return ('output', port)


def set_field(name, value):
    return ('set_field', name, value)


def resubmit(table):
    return ('resubmit', table)


# ---- rendering in ovs-ofctl syntax (docs, benchmarks, the CLI's dumps) -------
_CT_FLAGS = CT_NAMES


def _match_text(name, value):
    if name == 'ct_state':
        bits, mask = value
        return 'ct_state=' + ''.join(('+' if bits & b else '-') + n
                                     for b, n in _CT_FLAGS if mask & b)
    if name == 'vlan_vid':          # OXM value carries the OFPVID_PRESENT bit
        if value == 0:
            return 'vlan_tci=0x0000/0x1fff'
        return 'dl_vlan=%d' % (value & 0xfff)
    return '%s=%s' % (OFCTL_FIELD.get(name, name), value_text(value))


def to_ofctl(f):
    """One line for ``ovs-ofctl add-flows`` (same flow, same cookie)."""
    match = ','.join(_match_text(k, v) for k, v in f.match)
    actions = ','.join(action_text(a) for a in f.actions) or 'drop'
    return 'cookie=%#x,table=%d,priority=%d%s actions=%s' % (
        f.cookie, f.table, f.priority, ',' + match if match else '', actions)
