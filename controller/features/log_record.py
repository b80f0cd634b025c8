"""A firewall log record from one packet a switch sent up, pure.

What decided comes from the flow that sent the packet (found by the cookie the
packet-in carries, among the switch's desired flows): a commit flow admitted a
connection under the rule whose mark it sets (ACCEPT), a ``deny_ip`` flow
refused it (DROP, "no rule"). Which vNIC: the ACL's table says the direction,
``in_port`` (egress) or ``reg7`` (ingress) its OpenFlow port on that
hypervisor. The 5-tuple is read from the packet's own headers.

A record is one JSON object: time, hypervisor, port and VM, network,
direction, protocol, addresses and ports, verdict, rule and group.
:class:`Sessions` keeps records per connection, not per packet.
"""
import collections
import socket
import struct
import time

from controller import constants as C
from controller import protocols
from controller.compile import pipeline as P

NO_RULE = 'no rule'
SESSION_SECONDS = 30.0      # a connection's packets within this are one record
SESSIONS_KEPT = 65536       # connections remembered at most (the oldest are forgotten)
_VLAN_TPIDS = (0x8100, 0x88a8)
_PROTO_NAMES = {number: name for name, number in protocols.NAMES.items()}


def _ipv4(data):
    """(IP protocol, src, dst, offset of the L4 header) of an Ethernet frame
    carrying IPv4 (VLAN tags skipped), or None."""
    if len(data) < 14:
        return None
    offset, eth_type = 12, struct.unpack_from('!H', data, 12)[0]
    while eth_type in _VLAN_TPIDS and len(data) >= offset + 6:
        offset += 4
        eth_type = struct.unpack_from('!H', data, offset)[0]
    ip = offset + 2
    if eth_type != C.IPV4 or len(data) < ip + 20:
        return None
    return (data[ip + 9], socket.inet_ntoa(data[ip + 12:ip + 16]),
            socket.inet_ntoa(data[ip + 16:ip + 20]), ip + (data[ip] & 0x0f) * 4)


def five_tuple(data):
    """(protocol name, src, sport, dst, dport) of an Ethernet frame carrying
    IPv4; ICMP's type and code stand for the ports. None if not IPv4."""
    headers = _ipv4(data)
    if headers is None:
        return None
    proto, src, dst, l4 = headers
    sport = dport = None
    if proto in (C.TCP, C.UDP, C.SCTP) and len(data) >= l4 + 4:
        sport, dport = struct.unpack_from('!HH', data, l4)
    elif proto == C.ICMP and len(data) >= l4 + 2:
        sport, dport = data[l4], data[l4 + 1]
    return _PROTO_NAMES.get(proto, str(proto)), src, sport, dst, dport


def instance(data):
    """What tells two connections of one 5-tuple apart: a TCP SYN's initial
    sequence number (its retransmissions carry the same one; a new connection
    reusing the ports, a new one), an ICMP echo's identifier; else None."""
    headers = _ipv4(data)
    if headers is None:
        return None
    proto, _, _, l4 = headers
    if proto == C.TCP and len(data) >= l4 + 14 and data[l4 + 13] & 0x12 == 0x02:
        return struct.unpack_from('!I', data, l4 + 4)[0]       # SYN, not SYN-ACK
    if proto == C.ICMP and len(data) >= l4 + 6 and data[l4] in (0, 8):
        return struct.unpack_from('!H', data, l4 + 4)[0]
    return None


def verdict_of(flow):
    """'ACCEPT' for a commit flow sending its packet up, 'DROP' for a deny flow
    doing so, None for anything else (not a log flow)."""
    if flow is None or ('controller', C.LOG_MAX_LEN) not in flow.actions:
        return None
    return 'ACCEPT' if flow.actions[0][0] == 'ct' and flow.actions[0][1] else 'DROP'


def rule_of(inv, flow):
    """(rule, group) whose mark a commit flow sets, or (None, None)."""
    mark = flow.actions[0][4] if flow.actions and flow.actions[0][0] == 'ct' else None
    by_mark = inv.memo(('log-rules',), lambda: {
        P.rule_mark(rule): (rule, group) for group in inv.groups.values()
        for rule in group.rules})
    return by_mark.get(mark, (None, None))


def port_at(inv, host_name, ofport):
    """The vNIC at ``ofport`` on the host (bound there, or arriving)."""
    return inv.memo(('log-ports', host_name), lambda: {
        port.ofport: port for port in inv.local_ports(host_name)
        + inv.arriving_ports(host_name)}).get(ofport)


def build(inv, host_name, table_id, fields, data, flow, now=None):
    """The record of one logged packet, or None if it is not one (unknown
    flow, unknown vNIC, not IPv4). ``fields``: the packet-in's match as a dict
    (``in_port``, ``reg7``); ``flow``: the desired flow with its cookie."""
    verdict = verdict_of(flow)
    if verdict is None or table_id not in (P.EGRESS_ACL, P.INGRESS_ACL):
        return None
    egress = table_id == P.EGRESS_ACL
    port = port_at(inv, host_name, fields.get('in_port' if egress else P.REG_OUT_PORT))
    packet = five_tuple(data)
    if port is None or packet is None:
        return None
    proto, src, sport, dst, dport = packet
    network = inv.networks.get(port.network_id)
    rule, group = rule_of(inv, flow) if verdict == 'ACCEPT' else (None, None)
    return {
        'time': stamp(time.time() if now is None else now),
        'hypervisor': host_name, 'port': port.id, 'vm': port.name, 'device': port.device,
        'network': network.name if network else port.network_id,
        'network_kind': network.kind if network else '',
        'segmentation_id': network.segmentation_id if network else None,
        'direction': 'egress' if egress else 'ingress',
        'protocol': proto, 'src': src, 'sport': sport, 'dst': dst, 'dport': dport,
        'verdict': verdict, 'rule': rule['id'] if rule else NO_RULE,
        'group': group.name if group else None, 'group_id': group.id if group else None,
    }


def stamp(t):
    """A record's time: UTC, ISO 8601, milliseconds."""
    return time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(t)) + '.%03dZ' % ((t % 1) * 1000)


def connection(record, data):
    """What makes a record's connection one: its vNIC, direction, verdict,
    5-tuple and :func:`instance` (the packet's ``data``)."""
    return (record['port'], record['direction'], record['verdict'], record['protocol'],
            record['src'], record['sport'], record['dst'], record['dport'], instance(data))


class Sessions:
    """The connections recorded recently: a packet of one seen within
    ``seconds`` is not recorded again (conntrack sends a connection's first
    packets up until it is established: retransmitted SYNs, an unanswered UDP
    stream; a refused flow keeps coming)."""

    def __init__(self, seconds=SESSION_SECONDS, kept=SESSIONS_KEPT):
        self.seconds, self.kept = seconds, kept
        self._seen = collections.OrderedDict()

    def first(self, key, now):
        """True if ``key`` starts a connection to record (and remembers it)."""
        last = self._seen.get(key)
        if last is not None and now - last < self.seconds:
            return False
        self._seen[key] = now
        self._seen.move_to_end(key)
        while len(self._seen) > self.kept:
            self._seen.popitem(last=False)
        return True
