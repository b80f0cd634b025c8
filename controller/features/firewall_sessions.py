"""Firewall state that moves with the VM: the sessions a vNIC's ACL committed,
read from the source hypervisor's conntrack at a move and admitted again at the
destination.

Why: conntrack zones are per hypervisor (and per vNIC port there), so after a
move the destination's zone knows nothing of the VM's connections; a reply
that the source let in as *established* is *new* at the destination, and a
VM that only reads (a stream, a UDP peer speaking first) loses the session.

How:
- read: conntrack already holds every session the vNIC's ACLs committed, in
  the vNIC's zone, each with its rule's mark (``ct_mark``). At a move the
  controller asks the source hypervisor's agent (``agent.server``) for that
  zone's entries. Recording them in OpenFlow instead (a ``learn`` per
  connection, the first design) cost 54-65% of the new connections per second:
  each learned flow changes the flow table and makes OVS revalidate. Reading
  conntrack costs nothing per connection, only a request per move.
- keep: entries whose mark is a rule the VM still has (a session cut by a
  rule's removal stays cut), TCP ones only while established or half-closed.
- admit: per session two *carried* admissions at the destination, in the VM's
  egress and ingress ACL: a packet of exactly that 5-tuple that conntrack sees
  as new is committed with the session's rule mark and passed. They match
  only +new: once conntrack holds the session as established they no longer
  match, and they end after the grace time without a match (an idle timeout,
  not a hard one: a UDP or ICMP session in which only the peer speaks stays
  +new at the destination, as unreplied, until the VM answers; its admission
  lives as long as the session does, as its conntrack entry did at the source). They carry the cookie owner
  ``sessions``, which the reconciler leaves alone.

Pure functions.
"""
import ipaddress
from dataclasses import dataclass

from controller.compile import pipeline as P
from controller.compile.pipeline import CT_INV, CT_NEW, CT_TRK
from controller.features.firewall_v6 import family_of
from controller.compile.flows import flow

OWNER_COOKIE = P.OWNERS['sessions'] << P.COOKIE_OWNER_SHIFT
KIND_SHIFT = 48
CARRIED = 4
TCP, UDP, ICMP, ICMPV6 = 6, 17, 1, 58
PROTOCOLS = {'tcp': TCP, 'udp': UDP, 'icmp': ICMP, 'icmpv6': ICMPV6}
PORT_FIELDS = {TCP: ('tcp_src', 'tcp_dst'), UDP: ('udp_src', 'udp_dst')}
# TCP states (conntrack's, per side) in which data still flows
TCP_CARRIED = frozenset({'ESTABLISHED', 'CLOSE_WAIT', 'FIN_WAIT_1', 'FIN_WAIT_2'})


def cookie(kind):
    return OWNER_COOKIE | kind << KIND_SHIFT


@dataclass(frozen=True)
class Session:
    """A connection a vNIC's ACL committed: ``direction`` is the ACL that did
    (egress: the VM is ``src``; ingress: the VM is ``dst``)."""
    direction: str
    mark: int
    proto: int
    src: str
    dst: str
    sport: int = 0
    dport: int = 0


def from_conntrack(entries, port, marks):
    """The sessions of ``port`` among its source zone's conntrack entries (as
    ``agent.conntrack`` parses them) that may be carried: IPv4 or IPv6 TCP,
    UDP, ICMP or ICMPv6, committed under a rule the VM still has (``marks``),
    TCP ones still carrying data."""
    ips, out = {_canonical(ip) for ip in port.ips}, set()
    for e in entries:
        proto, orig = PROTOCOLS.get(e.get('proto')), e.get('orig', {})
        if proto is None or e.get('mark') not in marks:
            continue
        if proto == TCP and not (e.get('state') and set(e['state']) <= TCP_CARRIED):
            continue
        src, dst = _canonical(orig.get('src', '')), _canonical(orig.get('dst', ''))
        if src in ips:
            direction = 'egress'
        elif dst in ips:
            direction = 'ingress'
        else:
            continue
        out.add(Session(direction, e['mark'], proto, src, dst,
                        orig.get('sport', 0), orig.get('dport', 0)))
    return sorted(out, key=lambda s: (s.src, s.dst, s.proto, s.sport, s.dport))


def _canonical(ip):
    """conntrack's text of an address as ports hold it (IPv6 compressed)."""
    return str(ipaddress.ip_address(ip)) if ip else ''


def _tuple_match(proto, src, dst, sport, dport):
    family = family_of(src)
    match = {'eth_type': family['eth_type'], 'ip_proto': proto, family['src']: src,
             family['dst']: dst}
    if proto in PORT_FIELDS:
        match.update(zip(PORT_FIELDS[proto], (sport, dport)))
    return match


def carried_flows(session, ofport):
    """The two admissions of ``session`` for its VM plugged at ``ofport`` (its
    conntrack zone): a packet of the session, either way, that conntrack sees
    as new is committed with the session's mark and passed."""
    s = session
    if s.direction == 'egress':
        out_tuple = (s.src, s.dst, s.sport, s.dport)
    else:
        out_tuple = (s.dst, s.src, s.dport, s.sport)
    vm_ip, peer, vm_port, peer_port = out_tuple
    new = {'ct_state': (CT_TRK | CT_NEW, CT_TRK | CT_NEW | CT_INV), 'ct_zone': ofport}
    flows = []
    for table, who, tup, passed in (
            (P.EGRESS_ACL, {'in_port': ofport}, (vm_ip, peer, vm_port, peer_port),
             P.ARP_RESPONDER),
            (P.INGRESS_ACL, {P.REG_OUT_PORT: ofport}, (peer, vm_ip, peer_port, vm_port),
             P.OUTPUT)):
        match = dict(who, **new, **_tuple_match(s.proto, *tup))
        actions = [('ct', True, ofport, None, s.mark), ('goto', passed)]
        flows.append(flow('sessions', table, P.priority(table, 'carried'), match, actions))
    return flows
