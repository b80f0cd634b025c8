"""The firewall's words in a trace (:mod:`controller.compile.explain`): what its tables'
flows mean, in security group rules (a commit names the rule whose mark it
sets; a drop names the rules the vNIC's groups have)."""
import ipaddress

from controller.compile import pipeline as P
from controller import protocols
from controller.protocols import rule_words


def rule(words, mark):
    """{'group', 'rule', 'text'} of the rule with that mark, or None."""
    inv = words.inv
    by_mark = words.memo('firewall-rules', lambda: {
        P.rule_mark(r): (g, r) for g in inv.groups.values() for r in g.rules})
    found = by_mark.get(mark)
    if found is None:
        return None
    group, found_rule = found
    return {'group': group.name, 'rule': found_rule['id'],
            'text': rule_words(found_rule, _group_names(words))}


def _group_names(words):
    return words.memo('group-names', lambda: {g.id: g.name for g in words.inv.groups.values()})


def _port_security(words, host, name, flow, packet):
    who = words.sender(host, packet)
    if name == 'own_address' and _by_pair(words, host, packet):
        return "anti-spoofing: %s sends from its allowed address pair %s" % (
            who, _by_pair(words, host, packet))
    if name == 'own_address':
        return "anti-spoofing: the source addresses are %s's own" % who
    if name == 'spoofed':
        return "dropped by anti-spoofing: %s may send only from its own MAC and IPs" % who
    if name == 'nd_target':
        return "anti-spoofing: %s advertises its own address %s" % (
            who, packet.get('ipv6_nd_target'))
    if name == 'guard':
        return ("dropped by anti-spoofing: %s may not send router advertisements, "
                "redirects, DHCPv6 server messages, nor advertise an address it does not "
                "have (RA guard)" % who)
    if name == 'unspecified':
        return "anti-spoofing: %s's duplicate address detection, router solicitation or " \
               "MLD report from :: passes" % who
    return None


def _by_pair(words, host, packet):
    """The sender's address pair its packet's source is, if not its own IP."""
    port = words.port_at(host, packet.get('in_port'))
    source = packet.get('ipv4_src', packet.get('arp_spa'))
    if port is None or source is None or source in port.ips:
        return None
    return next(('%s (%s)' % (p['ip_address'], p['mac_address'])
                 for p in port.allowed_address_pairs
                 if ipaddress.ip_address(source) in ipaddress.ip_network(p['ip_address'])),
                None)


def _stateless(words, who, name, flow, port, direction, packet):
    """A stateless group's flows (controller.features.firewall_stateless)."""
    groups = ', '.join(g.name for g in words.inv.groups_of(port))
    if name in ('stateless_remote', 'stateless_rule'):
        mark = next((a[2] for a in flow.actions if a[:2] == ('set_field', P.REG_RULE)), None)
        found = rule(words, mark) or {'rule': '?', 'group': groups, 'text': '?'}
        return '%s: allowed, no conntrack, by rule %s of stateless group %s (%s)' % (
            who, found['rule'], found['group'], found['text'])
    if name == 'deny_other' and packet.get('eth_type') == P.IPV4:
        return '%s: dropped (stateless: each direction needs its own rule): %s' % (
            who, why_denied(words, port, direction, packet))
    return None


def _acl(words, host, name, flow, packet, direction):
    port = (words.port_at(host, packet.get('in_port')) if direction == 'egress'
            else words.port_at(host, packet.get(P.REG_OUT_PORT)))
    who = "%s's %s" % (words.vm(port), direction)
    if port is not None and any(not g.stateful for g in words.inv.groups_of(port)):
        said = _stateless(words, who, name, flow, port, direction, packet)
        if said:
            return said
    mark = next((a[4] for a in flow.actions if a[0] == 'ct' and a[1]), None)
    if mark is not None:
        found = rule(words, mark) or {'group': '?', 'rule': '?', 'text': '?'}
        return '%s: new connection allowed by rule %s of group %s (%s)' % (
            who, found['rule'], found['group'], found['text'])
    if name == 'established':
        found = rule(words, dict(flow.match).get('ct_mark')) or {'rule': '?', 'group': '?'}
        return '%s: established connection of rule %s (group %s) passes' % (
            who, found['rule'], found['group'])
    if name == 'track':
        return '%s: connection tracking (zone %d)' % (who, dict(flow.match).get(
            'in_port', packet.get(P.REG_OUT_PORT)))
    if name == 'arp':
        return '%s: ARP passes' % who
    if name == 'nd':
        return '%s: IPv6 neighbor discovery / MLD passes' % who
    if name == 'invalid':
        return '%s: dropped: invalid connection state' % who
    if name == 'deny_other':
        return '%s: dropped: neither IPv4, IPv6 nor ARP' % who
    if name == 'deny_ip':
        return '%s: dropped: %s' % (who, why_denied(words, port, direction, packet))
    if name == 'miss':
        return '%s: no firewall on this vNIC (port security off)' % who
    return None


def why_denied(words, port, direction, packet):
    groups = words.inv.groups_of(port) if port is not None else []
    proto = packet.get('ip_proto')
    what = {6: 'tcp', 17: 'udp', 132: 'sctp', 1: 'icmp', 58: 'icmpv6'}.get(
        proto, 'protocol %s' % proto)
    dst = packet.get(protocols.PORT_FIELDS.get(proto, ''), None)
    what += '/%d' % dst if dst is not None else ''
    family = 'ipv6' if 'ipv6_src' in packet else 'ipv4'
    peer = packet['%s_%s' % (family, 'dst' if direction == 'egress' else 'src')]
    text = 'no rule of groups [%s] allows %s %s %s' % (
        ', '.join(g.name for g in groups), what,
        'to' if direction == 'egress' else 'from', peer)
    others = ['rule %s allows %s' % (r['id'], rule_words(r, _group_names(words)))
              for g in groups for r in g.rules if r['direction'] == direction]
    return text + ('; ' + '; '.join(others) if others else '')


WORDS = {'port_security': _port_security,
         'egress_acl': lambda *step: _acl(*step, 'egress'),
         'ingress_acl': lambda *step: _acl(*step, 'ingress')}
