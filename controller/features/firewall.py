"""The distributed per-vNIC stateful firewall, compiled for one hypervisor.

Per vNIC with port security (conntrack zone = its OpenFlow port number):
- PORT_SECURITY: it may send only from its own MAC and IPs, ARP included, and
  from its allowed address pairs (:mod:`.firewall_pairs`); IPv6 alike, with ND
  and RA guard (:mod:`.firewall_v6`);
- EGRESS_ACL (traffic it sends) and INGRESS_ACL (traffic delivered to it, also
  from a VM on the same bridge): default deny; a new connection that a rule of
  its groups allows is committed with ``ct_mark`` = that rule's mark; packets of
  established connections pass only while a rule with their mark still exists,
  so deleting a rule also cuts the connections it allowed. A vNIC in
  stateless groups has no conntrack at all (:mod:`.firewall_stateless`).
- remote groups and zones expand to their members' addresses through one
  conjunction per rule and bridge: one flow per member address plus one per
  vNIC using the rule (n + m flows, not n x m); the commit reads the vNIC's zone
  and port from registers, so a vNIC joining touches only its own flows.
Both ethertypes compile the same way, from the field names of
``firewall_v6.FAMILY``.
"""
from controller.compile import pipeline as P
from controller.compile.pipeline import ARP, CT_EST, CT_INV, CT_NEW, CT_REL, CT_TRK, IPV4, rule_mark
from controller import addresses, protocols
from controller.state import model
from controller.compile.feature import Feature, declare
from controller.features import firewall_carrier, firewall_words, security_groups  # noqa: F401 - its routes
from controller.features import firewall_changes, firewall_log, firewall_pairs, firewall_stateless
from controller.features import firewall_v6 as V6
from controller.features.firewall_v6 import FAMILY, ethertype
from controller.compile.flows import address_match, flow, goto, reuse

COOKIE = P.OWNERS['firewall'] << P.COOKIE_OWNER_SHIFT     # every firewall flow's cookie
COOKIE_MASK = 0xff << P.COOKIE_OWNER_SHIFT                 # carries this owner byte


def marks_by_cookie(flows):
    """{cookie: rule mark} of the flows that allow traffic by a rule: those
    committing its new connections and those passing its established ones (a
    stateless rule's: those setting its mark in REG_RULE)."""
    out = {}
    for f in flows:
        mark = dict(f.match).get('ct_mark')
        for a in f.actions:
            if a[0] == 'ct' and a[4] is not None:
                mark = a[4]
            elif a[:2] == ('set_field', P.REG_RULE):
                mark = a[2]
        if mark is not None:
            out[f.cookie] = mark
    return out


def port_masks(low, high):
    """The (value, mask) pairs covering [low, high], like Neutron's port masking."""
    out = []
    while low <= high:
        size = low & -low if low else 1 << 16
        while low + size - 1 > high:
            size >>= 1
        out.append((low, 0xffff ^ (size - 1)))
        low += size
    return out


def protocol_matches(rule):
    """The matches of a rule's protocol: one per (value, mask) of a port range,
    ICMP type and code, or the protocol alone; [{}] for every protocol."""
    proto, low, high = protocols.rule_number(rule), rule['port_range_min'], \
        rule['port_range_max']
    family = FAMILY[ethertype(rule)]
    if proto is None:
        return [{}]
    if low is None:
        return [{'ip_proto': proto}]
    if protocols.is_icmp(proto):
        return [dict({'ip_proto': proto, family['icmp_type']: low},
                     **({} if high is None else {family['icmp_code']: high}))]
    field = protocols.port_field(rule['protocol'])
    return [{'ip_proto': proto, field: vm} for vm in port_masks(low, high)]


def pieces(inv, host, want):
    """The firewall's flows on a hypervisor, in pieces (see :mod:`controller.compile.pieces`):
    each vNIC's own flows, and the clause-1 flows of each remote address (what
    two vNICs share, a remote-group rule's commit flow, is the very same flow:
    the union keeps it once)."""
    out = {}
    for port in _secured(inv, host):
        if want.port(port.id):
            out[('firewall', 'port', port.id)] = _port_flows(inv, port)
    ips = want.subjects('clause1')          # None: all of them
    if ips is None:
        for f, ip in _clause1(inv, _host_rules(inv, host)):
            out.setdefault(('firewall', 'clause1', ip), []).append(f)
    elif ips:
        shared = {}
        for rule in _host_rules(inv, host).values():
            for ip in ips & _remote_set(inv, rule):
                if _fits(rule, ip):
                    shared.setdefault(_clause1_where(inv, rule, ip) + (ip,), set()).add(
                        rule_mark(rule))
        for (table, field, stateless, ip), marks in sorted(shared.items()):
            out.setdefault(('firewall', 'clause1', ip), []).append(
                _clause1_flow(table, field, stateless, ip, marks))
    return out


def _secured(inv, host):
    return [p for p in inv.local_ports(host.name) + inv.arriving_ports(host.name)
            if p.port_security_enabled]


def _host_rules(inv, host):
    """{rule id: rule} of the groups of the host's vNICs with port security
    (hosts whose vNICs are in the same groups share it)."""
    groups = frozenset(g for port in _secured(inv, host) for g in port.security_groups)
    return inv.memo(('rules-of', groups), lambda: {
        rule['id']: rule for g in sorted(groups) if g in inv.groups
        for rule in inv.groups[g].rules})


def _fits(rule, ip):
    """Whether a member's address is of the rule's ethertype."""
    return V6.ETHERTYPE_OF_VERSION[addresses.version(ip)] == ethertype(rule)


def _clause1_where(inv, rule, ip):
    """(table, field, stateless) of the clause-1 flow of a member's address
    ``ip`` (or an address pair's prefix)."""
    family = V6.family_of(ip)
    stateless = rule['id'] in firewall_stateless.rule_ids(inv)
    if rule['direction'] == 'egress':
        return P.EGRESS_ACL, family['dst'], stateless
    return P.INGRESS_ACL, family['src'], stateless


def _clause1(inv, rules):
    """Conjunction clause 1: one flow per remote address and table for the whole
    bridge, completing the conjunction of every rule that names its group; alike
    on hosts with the same rules."""
    def build():
        shared = {}
        for rule in rules.values():
            mark = rule_mark(rule)
            for ip in _remote_ips(inv, rule) or ():
                if _fits(rule, ip):
                    shared.setdefault(_clause1_where(inv, rule, ip) + (ip,), set()).add(mark)
        return [(_clause1_flow(table, field, stateless, ip, marks), ip)
                for (table, field, stateless, ip), marks in sorted(shared.items())]
    return inv.memo(('clause1', frozenset(rules)), build)


def _clause1_flow(table, field, stateless, ip, marks):
    """A remote address's clause 1 (an address pair's prefix: masked); a
    stateless group's rules match untracked packets."""
    if stateless:
        return firewall_stateless.clause1_flow(table, field, ip, marks)
    new = (CT_TRK | CT_NEW, CT_TRK | CT_NEW | CT_INV)
    return reuse('firewall', ('clause1', table, field, ip, tuple(sorted(marks))), lambda: [flow(
        'firewall', table, _prio(table, 'remote_group'),
        {'eth_type': V6.family_of(ip)['eth_type'], 'ct_state': new, field: address_match(ip)},
        [('conjunction', c, 1, 2) for c in sorted(marks)])])[0]


_PORT_CACHE = {}


def _port_flows(inv, port):
    """A vNIC's own flows depend only on its record and its groups' records
    (frozen: a change makes new objects), so they are reused while those stay
    the same objects; remote members live in the bridge-wide clause-1 flows."""
    groups = tuple(inv.groups_of(port))
    key = (id(port),) + tuple(id(g) for g in groups)
    hit = _PORT_CACHE.get(key)
    if hit is not None and hit[0] is port and all(a is b for a, b in zip(hit[1], groups)):
        return hit[2]
    if len(_PORT_CACHE) > 100_000:
        _PORT_CACHE.clear()
    flows = _merge(anti_spoofing(port) + acl(inv, port, 'egress')
                   + acl(inv, port, 'ingress'))
    _PORT_CACHE[key] = (port, groups, flows)
    return flows


def anti_spoofing(port):
    flows = [flow('firewall', P.PORT_SECURITY, _prio(P.PORT_SECURITY, 'spoofed'),
                  {'in_port': port.ofport})]
    for ip in addresses.v4(port.ips):
        flows += [
            flow('firewall', P.PORT_SECURITY, _prio(P.PORT_SECURITY, 'own_address'),
                 {'in_port': port.ofport, 'eth_src': port.mac, 'eth_type': IPV4,
                  'ipv4_src': ip}, [goto(P.EGRESS_ACL)]),
            flow('firewall', P.PORT_SECURITY, _prio(P.PORT_SECURITY, 'own_address'),
                 {'in_port': port.ofport, 'eth_src': port.mac, 'eth_type': ARP,
                  'arp_spa': ip, 'arp_sha': port.mac}, [goto(P.EGRESS_ACL)]),
        ]
    return flows + firewall_pairs.anti_spoofing(port) + V6.anti_spoofing(port)


def _rules(inv, port, direction):
    return [r for g in inv.groups_of(port) for r in g.rules if r['direction'] == direction]


def _remote_groups(inv, rule):
    """The groups whose members a rule's remote side is (None: any address)."""
    if rule['remote_group_id']:
        return (rule['remote_group_id'],)
    if rule['remote_zone']:
        return tuple(inv.zone_groups(rule['remote_zone']))
    return None


def _remote_ips(inv, rule):
    groups = _remote_groups(inv, rule)
    if groups is None:
        return None
    return inv.memo(('members', groups), lambda: inv.members(groups))


def _remote_set(inv, rule):
    """The rule's remote addresses, set-like (empty without a remote group or
    zone), without sorting or walking the group."""
    groups = _remote_groups(inv, rule)
    return set() if groups is None else inv.member_set(groups)


def _prio(table, name):
    return P.priority(table, name)


def acl(inv, port, direction):
    """The stateful ACL of one direction of one vNIC. A rule naming a remote
    group or zone is a conjunction whose clause 1 (the members' addresses) the
    bridge shares; an empty group never completes it, so allows nothing."""
    if firewall_stateless.is_stateless(inv, port):
        return firewall_stateless.acl(port, direction, _rules(inv, port, direction),
                                      protocol_matches)
    zone = port.ofport
    if direction == 'egress':
        table, who = P.EGRESS_ACL, {'in_port': port.ofport}
        passed = [goto(P.ARP_RESPONDER)]
        remote = 'dst'
    else:
        table, who = P.INGRESS_ACL, {P.REG_OUT_PORT: port.ofport}
        passed = [goto(P.OUTPUT)]               # the output table delivers it (reg7)
        remote = 'src'
    flows = [
        flow('firewall', table, _prio(table, 'arp'), dict(who, eth_type=ARP), passed),
        flow('firewall', table, _prio(table, 'deny_other'), dict(who)),  # anything else
    ] + V6.nd_passes(table, who, passed)
    for family in FAMILY.values():
        here = dict(who, eth_type=family['eth_type'], ct_zone=zone)
        flows += [
            flow('firewall', table, _prio(table, 'invalid'),
                 dict(here, ct_state=(CT_TRK | CT_INV, CT_TRK | CT_INV))),
            flow('firewall', table, _prio(table, 'track'), dict(who, eth_type=family['eth_type']),
                 [('set_field', P.REG_ZONE, zone), ('ct', False, zone, table, None)]),
            flow('firewall', table, _prio(table, 'deny_ip'), dict(here)),   # default deny
        ]
    marks = sorted({(rule_mark(r), ethertype(r)) for r in _rules(inv, port, 'egress')
                    + _rules(inv, port, 'ingress')})
    for mark, kind in marks:             # established / related: while its rule exists
        here = dict(who, eth_type=FAMILY[kind]['eth_type'], ct_zone=zone)
        for state in (CT_EST, CT_REL):
            flows.append(flow('firewall', table, _prio(table, 'established'),
                              dict(here, ct_state=(CT_TRK | state, CT_TRK | state | CT_INV),
                                   ct_mark=mark), passed))
    for rule in _rules(inv, port, direction):
        family = FAMILY[ethertype(rule)]
        new = dict(who, eth_type=family['eth_type'], ct_zone=zone,
                   ct_state=(CT_TRK | CT_NEW, CT_TRK | CT_NEW | CT_INV))
        commit = [('ct', True, zone, None, rule_mark(rule))] + passed
        matches = protocol_matches(rule)
        if rule['remote_ip_prefix']:
            for m in matches:
                m[family[remote]] = address_match(rule['remote_ip_prefix'])
        if not (rule['remote_group_id'] or rule['remote_zone']):
            flows += [flow('firewall', table, _prio(table, 'rule'), dict(new, **m), commit)
                      for m in matches]
        else:
            # one conjunction per rule for the whole bridge: clause 1 is a member's
            # address (one flow per address), clause 2 this vNIC's own match; the
            # commit takes the vNIC's zone and port from registers, so vNICs
            # joining or leaving touch only their own clause-2 flows
            conj_id = rule_mark(rule)
            flows.append(flow('firewall', table, _prio(table, 'remote_group'), {
                'eth_type': family['eth_type'], 'ct_state': new['ct_state'], 'conj_id': conj_id},
                [('ct', True, P.REG_ZONE, None, rule_mark(rule))] + passed))
            flows += [flow('firewall', table, _prio(table, 'remote_group'), dict(new, **m),
                           [('conjunction', conj_id, 2, 2)]) for m in matches]
    return flows


def _merge(flows):
    """One flow per (table, priority, match): conjunction clauses that share a
    match become one flow with all their conjunction actions; of two rules
    allowing the same traffic, the first one's flow stays."""
    merged = {}
    for f in flows:
        key = (f.table, f.priority, f.match)
        first = merged.get(key)
        if first is None:
            merged[key] = f
        elif all(a[0] == 'conjunction' for a in first.actions + f.actions):
            merged[key] = flow(f.owner, f.table, f.priority, dict(f.match),
                               sorted(set(first.actions + f.actions)))
    return list(merged.values())


def rule_counters(inv, desired, replies):
    """{rule id: {packets, bytes}} from flow-stats ``replies`` [(dpid, stat)] of
    the flows with this feature's cookie: a flow counts for the rule whose mark
    it commits or passes (its new and its established traffic)."""
    rule_of = {rule_mark(r): r['id'] for g in inv.groups.values() for r in g.rules}
    marks = {dpid: marks_by_cookie(flows) for dpid, flows in desired.items()}
    totals = {}
    for dpid, stat in replies:
        rule_id = rule_of.get(marks.get(dpid, {}).get(stat.cookie))
        if rule_id:
            entry = totals.setdefault(rule_id, {'packets': 0, 'bytes': 0})
            entry['packets'] += stat.packet_count
            entry['bytes'] += stat.byte_count
    return totals


FEATURE = declare(Feature('firewall', pieces=pieces,
                          changes={'port': firewall_changes.port_changed,
                                   'security_group': firewall_changes.group_changed},
                          words=firewall_words.WORDS,
                          records={'security_group': model.SecurityGroup},
                          counters=(COOKIE, COOKIE_MASK, rule_counters),
                          attach=firewall_carrier.attach,
                          summary='per-vNIC stateful firewall: security groups, '
                                  'anti-spoofing, rules and sessions that move with the VM'))
FEATURE = declare(firewall_log.extend(FEATURE))     # security-group logging (issue 33)
