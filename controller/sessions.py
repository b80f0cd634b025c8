"""Firewall state that moves with the VM: the sessions a vNIC's ACL committed,
recorded on its switch, read at a move and admitted again at the destination.

Why: conntrack zones are per hypervisor (and per vNIC port there), so after a
move the destination's zone knows nothing of the VM's connections; a reply
that the source let in as *established* is *new* at the destination, and a
VM that only reads (a stream, a UDP peer speaking first) loses the session.

How (OpenFlow only, no agent on the hypervisor):
- record: every ACL commit also sets ``reg3`` = the rule's mark (bit 31:
  committed by the ingress ACL) and resubmits to ``session_record``, whose
  per-protocol flows ``learn`` two flows into ``sessions`` (the 5-tuple as
  committed, and reversed) keyed by the network (reg5) and the rule mark, with
  an idle timeout after conntrack's (TCP: closed sessions go after FIN/RST);
  established packets refresh them (they resubmit there too). They carry the
  cookie owner ``sessions``, which the reconciler leaves alone. Keyed by
  network and addresses, not by OpenFlow port: they outlive the vNIC's port,
  so an unplanned move (the port just vanished) still finds them.
- carry: at a move the controller reads the source's records (flow statistics,
  by cookie) of the VM's addresses, keeps those whose rule the VM still has,
  and installs per session two *carried* admissions at the destination: in the
  VM's egress and ingress ACL, a packet of exactly that 5-tuple that conntrack
  sees as new is committed with the session's rule mark (and recorded there,
  so a second move carries it again) and passed. They end at a hard timeout
  (the grace time); once committed, conntrack holds the session and they no
  longer match (they match only +new).

Pure functions except :func:`flow_mods`, which builds OpenFlow messages through
the datapath's own parser (no ``ryu`` import).
"""
from dataclasses import dataclass

from controller import pipeline as P
from controller.flows import flow, resubmit

OWNER_COOKIE = P.OWNERS['sessions'] << P.COOKIE_OWNER_SHIFT
OWNER_MASK = 0xff << P.COOKIE_OWNER_SHIFT
KIND_SHIFT = 48
RECORD_EGRESS, RECORD_INGRESS, RECORD_REVERSED, CARRIED = 1, 2, 3, 4
INGRESS_BIT = 1 << 31       # in reg3: committed by the ingress ACL
MARK_BITS = 31
IPV4 = 0x0800
CT_NEW, CT_INV, CT_TRK = 0x01, 0x10, 0x20
TCP, UDP, ICMP = 6, 17, 1
# idle timeouts after Open vSwitch's userspace conntrack (lib/conntrack-tp.c):
# TCP established 24 h (OpenFlow's limit is 65535 s; after FIN/RST, 30 s), UDP and
# other protocols 60 s, ICMP 60 s
IDLE = {TCP: 65535, UDP: 60, ICMP: 60, None: 60}
FIN_IDLE = 30
PORT_FIELDS = {TCP: ('tcp_src', 'tcp_dst'), UDP: ('udp_src', 'udp_dst')}


def cookie(kind):
    return OWNER_COOKIE | kind << KIND_SHIFT


def kind_of(cookie_value):
    """The kind (RECORD_*, CARRIED) of a sessions cookie, or None for another owner's."""
    if cookie_value & OWNER_MASK != OWNER_COOKIE:
        return None
    return cookie_value >> KIND_SHIFT & 0xff


def register_value(mark, direction):
    """What an ACL commit (or an established packet) puts in reg3."""
    return mark | (INGRESS_BIT if direction == 'ingress' else 0)


def commit_actions(mark, direction):
    """Added after an ACL's ct(commit): record the connection."""
    return [('set_field', P.REG_SESSION, register_value(mark, direction)),
            resubmit(P.SESSION_RECORD)]


def refresh_actions(mark):
    """Added to an established flow: its packets keep their records alive."""
    return [('set_field', P.REG_SESSION, mark), resubmit(P.SESSIONS)]


def _specs(proto, reverse):
    src, dst = ('ipv4_dst', 'ipv4_src') if reverse else ('ipv4_src', 'ipv4_dst')
    specs = [('eth_type', IPV4, 16), (P.REG_NETWORK, P.REG_NETWORK, 32),
             (P.REG_SESSION, P.REG_SESSION, MARK_BITS)]
    if proto is not None:
        specs.append(('ip_proto', proto, 8))
    else:
        specs.append(('ip_proto', 'ip_proto', 8))
    specs += [('ipv4_src', src, 32), ('ipv4_dst', dst, 32)]
    if proto in PORT_FIELDS:
        sport, dport = PORT_FIELDS[proto]
        specs += [(sport, dport if reverse else sport, 16),
                  (dport, sport if reverse else dport, 16)]
    return tuple(specs)


def _learn(proto, kind, reverse):
    return ('learn', P.SESSIONS, P.priority(P.SESSIONS, 'session'), cookie(kind),
            IDLE[proto], FIN_IDLE if proto == TCP else 0, _specs(proto, reverse))


def record_flows():
    """The ``session_record`` table: per direction and protocol, learn the
    committed connection and its reverse."""
    flows = []
    for direction, kind in (('egress', RECORD_EGRESS), ('ingress', RECORD_INGRESS)):
        bit = (INGRESS_BIT if direction == 'ingress' else 0, INGRESS_BIT)
        for proto in (TCP, UDP, ICMP, None):
            match = {P.REG_SESSION: bit, 'eth_type': IPV4}
            name = 'other'
            if proto is not None:
                match['ip_proto'], name = proto, 'protocol'
            flows.append(flow('firewall', P.SESSION_RECORD, P.priority(P.SESSION_RECORD, name),
                              match, [_learn(proto, kind, False),
                                      _learn(proto, RECORD_REVERSED, True)]))
    return flows


@dataclass(frozen=True)
class Session:
    """A connection a vNIC's ACL committed: ``direction`` is the ACL that did
    (egress: the VM is ``src``; ingress: the VM is ``dst``)."""
    direction: str
    mark: int
    network: int            # Network.nid
    proto: int
    src: str
    dst: str
    sport: int = 0
    dport: int = 0


def _value(match, name, default=0):
    """A field of a flow-stats match (Ryu gives masked fields as (value, mask))."""
    value = match.get(name, default)
    return value[0] if isinstance(value, tuple) else value


def _key(match):
    """(mark, network, protocol, src, dst, sport, dport) of a record's match."""
    proto = _value(match, 'ip_proto')
    sport, dport = (_value(match, f) for f in PORT_FIELDS.get(proto, ('', '')))
    return (_value(match, P.REG_SESSION) & ((1 << MARK_BITS) - 1),
            _value(match, P.REG_NETWORK), proto, _value(match, 'ipv4_src', ''),
            _value(match, 'ipv4_dst', ''), sport, dport)


def parse(stats):
    """The sessions recorded in flow-stats replies (the reversed records, which
    only keep a session alive from either side, are skipped)."""
    out = set()
    for stat in stats:
        kind = kind_of(stat.cookie)
        if kind not in (RECORD_EGRESS, RECORD_INGRESS) or stat.table_id != P.SESSIONS:
            continue
        out.add(Session('egress' if kind == RECORD_EGRESS else 'ingress', *_key(stat.match)))
    return out


def of_port(sessions, port, nid, marks):
    """The sessions of ``port`` (in network ``nid``) whose rule it still has
    (``marks``: its rules' marks): a session whose rule was removed stays cut."""
    ips = set(port.ips)
    return sorted((s for s in sessions if s.network == nid and s.mark in marks
                   and (s.src if s.direction == 'egress' else s.dst) in ips),
                  key=lambda s: (s.src, s.dst, s.proto, s.sport, s.dport))


def _tuple_match(proto, src, dst, sport, dport):
    match = {'eth_type': IPV4, 'ip_proto': proto, 'ipv4_src': src, 'ipv4_dst': dst}
    if proto in PORT_FIELDS:
        match.update(zip(PORT_FIELDS[proto], (sport, dport)))
    return match


def carried_flows(session, ofport):
    """The two admissions of ``session`` for its VM plugged at ``ofport`` (its
    conntrack zone): a packet of the session, either way, that conntrack sees
    as new is committed with the session's mark, recorded, and passed."""
    s = session
    if s.direction == 'egress':
        out_tuple = (s.src, s.dst, s.sport, s.dport)
    else:
        out_tuple = (s.dst, s.src, s.dport, s.sport)
    vm_ip, peer, vm_port, peer_port = out_tuple
    new = {'ct_state': (CT_TRK | CT_NEW, CT_TRK | CT_NEW | CT_INV), 'ct_zone': ofport}
    flows = []
    for direction, table, who, tup, passed in (
            ('egress', P.EGRESS_ACL, {'in_port': ofport}, (vm_ip, peer, vm_port, peer_port),
             P.ARP_RESPONDER),
            ('ingress', P.INGRESS_ACL, {P.REG_OUT_PORT: ofport},
             (peer, vm_ip, peer_port, vm_port), P.OUTPUT)):
        match = dict(who, **new, **_tuple_match(s.proto, *tup))
        actions = ([('ct', True, ofport, None, s.mark)] + commit_actions(s.mark, direction)
                   + [('goto', passed)])
        flows.append(flow('sessions', table, P.priority(table, 'carried'), match, actions))
    return flows


def records_of(stats, sessions):
    """The flow stats (records and their reverses) of ``sessions``."""
    keys = set()
    for s in sessions:
        keys.add((s.mark, s.network, s.proto, s.src, s.dst, s.sport, s.dport))
        keys.add((s.mark, s.network, s.proto, s.dst, s.src, s.dport, s.sport))
    out = []
    for stat in stats:
        if kind_of(stat.cookie) not in (RECORD_EGRESS, RECORD_INGRESS, RECORD_REVERSED):
            continue
        if _key(stat.match) in keys:
            out.append(stat)
    return out
