"""A switch-neutral flow: what the compilers return and the reconciler installs.

A flow is a frozen value (table, priority, match, actions, owner). Its cookie is
the owner's byte plus a hash of everything else, so a flow installed on a switch
is recognised by its cookie alone: the reconciler diffs cookies, never parses
actions back.

Actions are tuples:
  ('output', port)              port: int, 'in_port', 'normal'
  ('set_field', field, value)   ('push_vlan',)  ('pop_vlan',)
  ('move', src, dst, n_bits)    ('resubmit', table)  ('goto', table)  (last only)
  ('ct', commit, zone, table, mark)   table None: no recirculation;
                                mark: ct_mark to set on commit, or None;
                                zone: a number, or a register holding it
  ('conjunction', conj_id, clause, n_clauses)
An empty action list drops.
"""
import functools
import hashlib
from dataclasses import dataclass

from controller import pipeline


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


_REUSED = {}


def reuse(key, build):
    """The flows ``build()`` makes (as a tuple), kept under ``key`` (plain values naming
    every input) from one compile to the next: equal inputs give the very same
    Flow objects, whose cookies (and the reconciler's encodings) are then
    computed once. Compilers stay pure: only the cost changes."""
    flows = _REUSED.get(key)
    if flows is None:
        if len(_REUSED) > 200_000:
            _REUSED.clear()
        flows = _REUSED[key] = tuple(build())
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
_OFCTL_FIELD = {'eth_dst': 'dl_dst', 'eth_src': 'dl_src', 'eth_type': 'dl_type',
                'tunnel_id': 'tun_id', 'tun_ipv4_dst': 'tun_dst', 'ipv4_src': 'nw_src',
                'ipv4_dst': 'nw_dst', 'ip_proto': 'nw_proto', 'icmpv4_type': 'icmp_type',
                'icmpv4_code': 'icmp_code'}


def _value(value):
    if isinstance(value, tuple):
        return '%s/%s' % tuple(_value(v) for v in value)
    return str(value)


_CT_FLAGS = ((0x01, 'new'), (0x02, 'est'), (0x04, 'rel'), (0x08, 'rpl'), (0x10, 'inv'),
             (0x20, 'trk'))


def _match_text(name, value):
    if name == 'ct_state':
        bits, mask = value
        return 'ct_state=' + ''.join(('+' if bits & b else '-') + n
                                     for b, n in _CT_FLAGS if mask & b)
    if name == 'vlan_vid':          # OXM value carries the OFPVID_PRESENT bit
        if value == 0:
            return 'vlan_tci=0x0000/0x1fff'
        return 'dl_vlan=%d' % (value & 0xfff)
    return '%s=%s' % (_OFCTL_FIELD.get(name, name), _value(value))


def _action_text(action):
    kind = action[0]
    if kind == 'output':
        return {'in_port': 'IN_PORT', 'normal': 'NORMAL'}.get(action[1], 'output:%s' % action[1])
    if kind == 'set_field':
        name, value = action[1], action[2]
        if name == 'vlan_vid':
            return 'mod_vlan_vid:%d' % (value & 0xfff)
        return 'set_field:%s->%s' % (_value(value), _OFCTL_FIELD.get(name, name))
    if kind == 'push_vlan':
        return 'push_vlan:0x8100'
    if kind == 'pop_vlan':
        return 'pop_vlan'
    if kind == 'move':
        return 'move:%s[0..%d]->%s[0..%d]' % (
            _nxm(action[1]), action[3] - 1, _nxm(action[2]), action[3] - 1)
    if kind == 'resubmit':
        return 'resubmit(,%d)' % action[1]
    if kind == 'goto':
        return 'goto_table:%d' % action[1]
    if kind == 'ct':
        _, commit, zone, table, mark = action
        parts = (['commit'] if commit else []) + [
            'zone=%s' % ('%s[0..15]' % _nxm(zone) if isinstance(zone, str) else zone)]
        if table is not None:
            parts.append('table=%d' % table)
        if mark is not None:
            parts.append('exec(set_field:%d->ct_mark)' % mark)
        return 'ct(%s)' % ','.join(parts)
    if kind == 'conjunction':
        return 'conjunction(%d,%d/%d)' % (action[1], action[2], action[3])
    raise ValueError('unknown action %r' % (action,))


_NXM = {'eth_src': 'NXM_OF_ETH_SRC', 'eth_dst': 'NXM_OF_ETH_DST',
        'arp_sha': 'NXM_NX_ARP_SHA', 'arp_tha': 'NXM_NX_ARP_THA',
        'arp_spa': 'NXM_OF_ARP_SPA', 'arp_tpa': 'NXM_OF_ARP_TPA',
        'reg6': 'NXM_NX_REG6', 'reg7': 'NXM_NX_REG7'}


def _nxm(name):
    return _NXM.get(name, name)


def to_ofctl(f):
    """One line for ``ovs-ofctl add-flows`` (same flow, same cookie)."""
    match = ','.join(_match_text(k, v) for k, v in f.match)
    actions = ','.join(_action_text(a) for a in f.actions) or 'drop'
    return 'cookie=%#x,table=%d,priority=%d%s actions=%s' % (
        f.cookie, f.table, f.priority, ',' + match if match else '', actions)
