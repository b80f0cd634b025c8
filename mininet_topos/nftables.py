"""Security-group rules -> an nftables ruleset for a firewall VM.

The analysis compares the distributed per-vNIC firewall with firewall VMs. To
compare like with like, a firewall VM enforces the very rules vnetsec's security
groups hold (same dicts, checked by ``controller.state.schemas.RuleCreate``) with the
same meaning: a packet passes when the sender's egress rules AND the receiver's
ingress rules allow it (an address in no group restricts nothing on its side);
stateful, so replies of accepted connections pass. Pure text, no I/O.
"""
from controller import protocols
from controller.state.schemas import RuleCreate, parse

TABLE = 'vnetsec_fw'
# names nft knows without /etc/protocols; other protocols are written as numbers
NFT_NAMES = {1: 'icmp', 6: 'tcp', 17: 'udp', 132: 'sctp'}


def _set(ips):
    return '{ %s }' % ', '.join(sorted(ips))


def _match(rule, remote_ips):
    """nft match of one rule, without the member side."""
    remote_key = 'saddr' if rule['direction'] == 'ingress' else 'daddr'
    parts = []
    if rule['remote_ip_prefix']:
        parts.append('ip %s %s' % (remote_key, rule['remote_ip_prefix']))
    elif rule['remote_group_id']:
        parts.append('ip %s %s' % (remote_key, remote_ips))
    number, low, high = protocols.number(rule['protocol']), rule['port_range_min'], \
        rule['port_range_max']
    if number is None:
        return parts                                    # every protocol
    if low is None:
        parts.append('ip protocol %s' % NFT_NAMES.get(number, number))
    elif number == protocols.ICMP:
        parts.append('icmp type %d' % low + ('' if high is None else ' icmp code %d' % high))
    else:
        header = NFT_NAMES[number]
        parts.append('%s dport %s' % (header, low if low == high else '%d-%d' % (low, high)))
    return parts


def direction_rules(groups, direction):
    """(match, group name) of one direction's rules; the match is
    'ip saddr|daddr {members} <rule's match>'."""
    member_key = 'daddr' if direction == 'ingress' else 'saddr'
    lines = []
    for name in sorted(groups):
        group = groups[name]
        for body in group['rules']:
            rule = parse(RuleCreate, body).record()
            if rule['direction'] != direction or not group['members'] \
                    or rule['ethertype'] != 'IPv4':     # the analysis' labs are IPv4 only
                continue
            remote = rule['remote_group_id']
            if remote and remote not in groups:
                raise ValueError('a rule of group %r names unknown group %r' % (name, remote))
            if remote and not groups[remote]['members']:
                continue
            parts = ['ip %s %s' % (member_key, _set(group['members']))]
            parts += _match(rule, _set(groups[remote]['members']) if remote else '')
            lines.append((' '.join(parts), name))
    return lines


def ruleset(groups):
    """``groups``: {name: {'members': [ip, ...], 'rules': [rule dict, ...]}}; a
    rule's ``remote_group_id`` names another group of the dict. -> the text of
    ``nft -f``: a default-deny stateful ``forward`` chain that checks the sender's
    egress rules, then the receiver's ingress rules; the firewall VM itself
    answers only ICMP."""
    members = _set({ip for g in groups.values() for ip in g['members']} or {'0.0.0.0/32'})
    lines = ['table inet %s {' % TABLE,
             '  chain forward {',
             '    type filter hook forward priority 0; policy drop;',
             '    ct state established,related counter accept',
             '    ct state invalid drop',
             '    jump egress',
             '    jump ingress',
             '  }']
    # egress passes on (return) to the ingress check; ingress has the last word
    for direction, member_key, verdict in (('egress', 'saddr', 'return'),
                                           ('ingress', 'daddr', 'accept')):
        lines += ['  chain %s {' % direction,
                  '    ip %s != %s %s' % (member_key, members, verdict)]
        lines += ['    %s counter %s comment "%s"' % (match, verdict, name)
                  for match, name in direction_rules(groups, direction)]
        lines += ['    counter drop comment "denied"', '  }']
    lines += ['  chain input {',
              '    type filter hook input priority 0; policy drop;',
              '    ct state established,related accept',
              '    ip protocol icmp accept',
              '  }',
              '}']
    return '\n'.join(lines) + '\n'
