"""The OpenFlow pipeline, declared once: every table with its number, name, owner
(the feature that writes its flows), the match fields its flows may use, the
tables they may go on to, its named priorities (one meaning each) and its
table-miss; the registers, fixed port numbers and cookie owners. Nothing else
hard-codes one of these numbers, and :func:`check` holds every compiled flow to
its table's declaration (the unit tests run it over every feature combination).

Owners: ``core`` (vNICs, their networks, delivery; the ToRs' underlay), ``vlan``,
``vxlan``, ``firewall``; ``base`` writes only the table-miss flows, which exist
whatever features are loaded, so a table of a feature that is not loaded passes
traffic on (or drops it) as declared.
"""
from dataclasses import dataclass, replace

from controller.constants import (  # noqa: F401 - the pipeline's numbers, here too
    ARP, CT_EST, CT_INV, CT_NEW, CT_REL, CT_TRK, IPV4, IPV6, MARK_ALLOCATED, MARK_COUNTER,
    TUNNEL_OFPORT, TUNNEL_PORT_NAME, UPLINK_OFPORT, UPLINK_PORT_NAME)

# ---- registers (Nicira extension fields) -----------------------------------
REG_NETWORK = 'reg5'     # local number (Network.nid) of the frame's network
REG_FROM_REMOTE = 'reg4' # 1 when the frame came from the tunnel or the VLAN uplink
REG_OUT_PORT = 'reg7'    # the local vNIC a frame is being delivered to
REG_ZONE = 'reg6'        # the conntrack zone of the vNIC whose ACL is running
REG_RULE = 'reg3'        # the mark of the stateless rule that passed the packet: no
                         # flow matches it; it names the flow's rule (counters, trace)

def rule_mark(rule):
    """A security group rule's mark, carried in ct_mark and used as its
    conjunction id: allocated with the rule (:mod:`controller.state.rule_marks`),
    unique."""
    return rule['mark']


# ---- cookies: the top byte names the owner, the rest is a hash of the flow ---
COOKIE_OWNER_SHIFT = 56
OWNERS = {'base': 0x01, 'core': 0x02, 'vxlan': 0x03, 'firewall': 0x04, 'vlan': 0x05,
          'sessions': 0x06}
# flows the switches hold that no compile produces: the admissions carried to a
# migrated VM's destination, with a timeout of their own. The reconciler never
# reads, diffs nor deletes them.
UNMANAGED = frozenset({OWNERS['sessions']})
MISS = 0                 # the priority of every table-miss flow

_ACL_FIELDS = frozenset({'eth_type', 'ct_state', 'ct_zone', 'ct_mark', 'ip_proto', 'tcp_dst',
                         'udp_dst', 'sctp_dst', 'icmpv4_type', 'icmpv4_code', 'ipv4_src',
                         'ipv4_dst', 'conj_id', 'tcp_src', 'udp_src', 'sctp_src',
                         'ipv6_src', 'ipv6_dst', 'icmpv6_type', 'icmpv6_code'})
# deny_ip (tracked in this vNIC's zone, no rule took it) is above track (anything not
# yet tracked in this zone): below it, a denied packet would meet ct() again and
# again, recirculating until the datapath's depth limit drops it (and
# ofproto/trace, which has no such limit, would loop in ovs-vswitchd's main thread)
# carried: a session a migrated VM held at its source (controller.features.firewall_sessions)
# stateless_*: a stateless group's rules (controller.features.firewall_stateless), on
# untracked packets: its clause-1 flows, matching any port's packets, are at their own
# priority so that they never meet a stateful rule's clauses
# nd: the IPv6 Neighbor Discovery and MLD a host needs, untracked (above track)
_ACL_PRIORITIES = {'invalid': 100, 'established': 90, 'carried': 80, 'remote_group': 75,
                   'stateless_remote': 74, 'rule': 70, 'stateless_rule': 69, 'deny_ip': 65,
                   'nd': 62, 'track': 60, 'arp': 50, 'deny_other': 20}


@dataclass(frozen=True)
class Table:
    number: int
    name: str
    owner: str
    fields: frozenset
    next: tuple             # tables its flows may go on to (goto, resubmit, ct)
    priorities: dict        # name -> priority
    miss: object = None     # the table-miss: None drops, a number goes on there
    switch: str = 'hypervisor'
    purpose: str = ''


def _t(number, name, owner, fields, next_tables, priorities, miss=None, switch='hypervisor',
       purpose=''):
    return Table(number, name, owner, frozenset(fields), tuple(next_tables), priorities, miss,
                 switch, purpose)


# ---- br-int of every hypervisor ---------------------------------------------
CLASSIFY, VXLAN_IN, VLAN_IN = 0, 2, 3
PORT_SECURITY, EGRESS_ACL, ARP_RESPONDER, ND_ANSWER = 10, 20, 30, 31
L2_LOOKUP, VXLAN_L2, VLAN_L2 = 40, 41, 42
INGRESS_ACL, OUTPUT = 50, 60
# ---- ToR switches -------------------------------------------------------------
TOR_CLASSIFY, TOR_ADMIT, TOR_L2 = 0, 1, 2

TABLES = (
    _t(CLASSIFY, 'classify', 'core', {'in_port'}, (PORT_SECURITY, VXLAN_IN, VLAN_IN),
       {'vnic': 30, 'feature_port': 20},
       purpose='a vNIC -> its network (reg5); the tunnel or uplink -> its feature'),
    _t(VXLAN_IN, 'vxlan_in', 'vxlan', {'tunnel_id'}, (L2_LOOKUP,), {'vni': 30},
       purpose='VNI -> network; from remote (reg4=1)'),
    _t(VLAN_IN, 'vlan_in', 'vlan', {'vlan_vid'}, (L2_LOOKUP,), {'vid': 30},
       purpose='VID -> network, tag popped; from remote (reg4=1)'),
    _t(PORT_SECURITY, 'port_security', 'firewall',
       {'in_port', 'eth_src', 'eth_type', 'ipv4_src', 'arp_spa', 'arp_sha', 'ipv6_src',
        'ip_proto', 'icmpv6_type', 'ipv6_nd_target', 'ipv6_nd_tll', 'udp_src'}, (EGRESS_ACL,),
       {'nd_target': 40, 'guard': 35, 'own_address': 30, 'unspecified': 25, 'spoofed': 10},
       miss=EGRESS_ACL,
       purpose="anti-spoofing: only the vNIC's own MAC and IPs, ARP and ND included; RA "
               "guard"),
    _t(EGRESS_ACL, 'egress_acl', 'firewall', _ACL_FIELDS | {'in_port'},
       (EGRESS_ACL, ARP_RESPONDER), _ACL_PRIORITIES,
       miss=ARP_RESPONDER,
       purpose='stateful rules for what a VM sends (conntrack zone per vNIC)'),
    _t(ARP_RESPONDER, 'arp_responder', 'vxlan', {REG_NETWORK, 'eth_type', 'arp_op', 'arp_tpa',
                                                 'ip_proto', 'icmpv6_type', 'ipv6_nd_target',
                                                 'ipv6_src'},
       (ND_ANSWER, L2_LOOKUP), {'known_address': 40, 'dad': 38, 'known_target': 35,
                                'pair_address': 30,
                                'unknown_target': 15, 'unknown_address': 10}, miss=L2_LOOKUP,
       purpose='answers ARP and Neighbor Solicitations for the known addresses of an '
               'overlay network locally (DAD goes to the owner only; an address pair\'s '
               'is flooded: its holder answers)'),
    _t(ND_ANSWER, 'nd_answer', 'vxlan', {REG_NETWORK, 'eth_type', 'ip_proto', 'icmpv6_type'},
       (), {'advertisement': 10},
       purpose="an NS the ND responder made an NA: its target link-layer address (the "
               "owner's MAC), back to the asker"),
    _t(L2_LOOKUP, 'l2_lookup', 'core', {REG_NETWORK, 'eth_dst'},
       (VXLAN_L2, VLAN_L2, INGRESS_ACL), {'local_mac': 30, 'network': 10},
       purpose="a local vNIC's MAC -> deliver (reg7); anything else -> its network's kind"),
    _t(VXLAN_L2, 'vxlan_l2', 'vxlan', {REG_NETWORK, REG_FROM_REMOTE, 'eth_dst'},
       (INGRESS_ACL,), {'arriving': 25, 'remote_mac': 20, 'flood': 10},
       purpose='MAC -> VTEP (tun_dst, tun_id); broadcast -> local vNICs + the VTEPs of the '
               'network'),
    _t(VLAN_L2, 'vlan_l2', 'vlan', {REG_NETWORK, REG_FROM_REMOTE, 'eth_dst'},
       (INGRESS_ACL,), {'unicast': 20, 'flood': 10},
       purpose='unicast -> the tagged uplink (the ToR knows the MAC); broadcast -> local '
               'vNICs + the uplink'),
    _t(INGRESS_ACL, 'ingress_acl', 'firewall', _ACL_FIELDS | {REG_OUT_PORT},
       (INGRESS_ACL, OUTPUT), _ACL_PRIORITIES, miss=OUTPUT,
       purpose='stateful rules for what a VM receives, also from its own bridge'),
    _t(OUTPUT, 'output', 'core', {REG_OUT_PORT}, (), {'vnic': 30},
       purpose='reg7 -> that vNIC'),
    _t(TOR_CLASSIFY, 'tor_classify', 'core', {'in_port', 'vlan_vid'}, (TOR_ADMIT,),
       {'trunk_underlay': 20, 'underlay': 10}, miss=TOR_ADMIT, switch='tor',
       purpose='untagged (VTEP) traffic -> NORMAL, never across racks; tagged -> admit'),
    _t(TOR_ADMIT, 'tor_admit', 'vlan', {'in_port', 'vlan_vid'}, (TOR_L2,), {'allowed': 30},
       switch='tor', purpose='per port, only the VLANs with VMs behind it'),
    _t(TOR_L2, 'tor_l2', 'vlan', {'in_port', 'vlan_vid', 'eth_dst'}, (), {'mac': 20, 'flood': 10},
       switch='tor', purpose='(VID, MAC) -> port; broadcast -> the ports admitting the VID'),
)
BY_NUMBER = {(t.switch, t.number): t for t in TABLES}


def declare(new, cookie, after=None):
    """Declare a feature's table from outside this file (a feature kept
    elsewhere, a test's toy): its owner takes the cookie byte ``cookie``;
    ``after``: the number of the table whose table-miss now goes on to it (give
    it the miss that one had), so traffic passes through it."""
    global TABLES
    if (new.switch, new.number) in BY_NUMBER or OWNERS.get(new.owner, cookie) != cookie \
            or new.owner not in OWNERS and cookie in OWNERS.values():
        raise ValueError('table %d or cookie %#x is taken' % (new.number, cookie))
    OWNERS[new.owner] = cookie
    changed = [new]
    if after is not None:
        before = BY_NUMBER[(new.switch, after)]
        changed.append(replace(before, next=before.next + (new.number,), miss=new.number))
    for t in changed:
        BY_NUMBER[(t.switch, t.number)] = t
    TABLES = tuple(sorted(BY_NUMBER.values(), key=lambda t: (t.switch != 'hypervisor',
                                                             t.number)))


def table(number, switch='hypervisor'):
    return BY_NUMBER[(switch, number)]


def priority(number, name, switch='hypervisor'):
    """A table's named priority: ``priority(L2_LOOKUP, 'local_mac')``."""
    return BY_NUMBER[(switch, number)].priorities[name]


def tables(switch):
    return [t for t in TABLES if t.switch == switch]


def jumps(flow):
    """The tables a flow's actions go on to."""
    out = []
    for a in flow.actions:
        if a[0] in ('goto', 'resubmit'):
            out.append(a[1])
        elif a[0] == 'ct' and a[3] is not None:
            out.append(a[3])
    return out


def check(flow, switch='hypervisor'):
    """Why ``flow`` breaks its table's declaration ('' if it does not)."""
    t = BY_NUMBER.get((switch, flow.table))
    if t is None:
        return 'table %d is not declared for a %s' % (flow.table, switch)
    if flow.owner == 'base':
        if flow.priority != MISS or flow.match:
            return '%s: base writes only the table-miss' % t.name
    elif flow.owner != t.owner:
        return '%s belongs to %s, not %s' % (t.name, t.owner, flow.owner)
    elif flow.priority not in t.priorities.values():
        return '%s: priority %d is not declared' % (t.name, flow.priority)
    fields = {name for name, _ in flow.match} - t.fields
    if fields:
        return '%s: undeclared match fields %s' % (t.name, sorted(fields))
    for target in jumps(flow):
        if target not in t.next:
            return '%s may not go to table %d' % (t.name, target)
        if target < t.number or target == t.number and not any(
                a[0] == 'ct' for a in flow.actions):
            return '%s jumps backwards to %d' % (t.name, target)
    return ''


def describe():
    """The declaration as Markdown tables (docs/architecture.md holds this text;
    a unit test keeps the two equal): ``python -m controller.compile.pipeline``."""
    out = []
    for switch in ('hypervisor', 'tor'):
        out += ['| %s table | name | owner | match fields | goes to | priorities | miss | does |'
                % switch, '|---|---|---|---|---|---|---|---|']
        for t in tables(switch):
            out.append('| %d | %s | %s | %s | %s | %s | %s | %s |' % (
                t.number, t.name, t.owner, ', '.join(sorted(t.fields)),
                ', '.join(map(str, t.next)) or '-',
                ', '.join('%s %d' % (n, p) for n, p in
                          sorted(t.priorities.items(), key=lambda i: -i[1])),
                'drop' if t.miss is None else 'goto %d' % t.miss, t.purpose))
        out.append('')
    return '\n'.join(out)


if __name__ == '__main__':
    print(describe())
