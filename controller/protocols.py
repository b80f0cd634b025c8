"""IP protocols of security-group rules: Neutron's names and IANA numbers.

A rule's protocol is ``any``, a name (stored in lower case) or a number 0-255
(stored as the integer, never turned into a name). Everything that reads rules
(the API's checks, the OpenFlow compiler, the nftables lab, the CLI) asks here
what a protocol's number is and whether it has ports. IPv6-only protocols
(``icmpv6``, ``ipv6-icmp``, 58, ...) need ethertype IPv6; ``icmp`` in an IPv6
rule means ICMPv6, as Neutron reads it.
"""
import re

from controller import constants as C

ANY = 'any'
NAMES = {'ah': 51, 'dccp': 33, 'egp': 8, 'esp': 50, 'gre': 47, 'hopopt': 0,
         'icmp': 1, 'igmp': 2, 'ip': 0, 'ipip': 4, 'ospf': 89, 'pgm': 113, 'rsvp': 46,
         'sctp': 132, 'tcp': 6, 'udp': 17, 'udplite': 136, 'vrrp': 112}
# IPv6-only protocols: Neutron refuses them in an IPv4 rule
IPV6_ONLY = {'ipv6-encap': 41, 'ipv6-frag': 44, 'ipv6-icmp': 58, 'icmpv6': 58,
             'ipv6-nonxt': 59, 'ipv6-opts': 60, 'ipv6-route': 43}
ICMP, ICMPV6 = C.ICMP, C.ICMPV6
# a rule's ICMP type and code fields, per ethertype
ICMP_FIELDS = {'IPv4': ('icmpv4_type', 'icmpv4_code'), 'IPv6': ('icmpv6_type', 'icmpv6_code')}
# destination-port fields a switch matches, per protocol with ports
PORT_FIELDS = {C.TCP: 'tcp_dst', C.UDP: 'udp_dst', C.SCTP: 'sctp_dst'}
# Neutron allows ports for these too, but OpenFlow has no field for their ports
PORTS_UNMATCHABLE = {33: 'dccp', 136: 'udplite'}
NUMBER_PATTERN = r'(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])'


def normalise(value):
    """A request's protocol -> the stored one: a name (any case) in lower case,
    a number or its digits as the integer, null as ``any`` (Neutron's way to say
    every protocol). ValueError says what is accepted."""
    if value is None:
        return ANY
    if isinstance(value, str):
        if value.lower() in NAMES or value.lower() in IPV6_ONLY or value.lower() == ANY:
            return value.lower()
        if not re.fullmatch(NUMBER_PATTERN, value):
            raise ValueError('must be any, a protocol name (%s) or a number 0-255'
                             % ', '.join(sorted(set(NAMES) | set(IPV6_ONLY))))
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError('must be a string or an integer')
    if not 0 <= value <= 255:
        raise ValueError('must be a number 0-255 (IANA protocol numbers)')
    return value


def ipv6_only(protocol):
    """Whether a stored protocol exists only over IPv6 (Neutron refuses it in
    an IPv4 rule)."""
    return protocol in IPV6_ONLY or protocol in IPV6_ONLY.values()


def number(protocol):
    """The IP protocol number a stored protocol matches, or None for every
    protocol (``any``, and 0 as iptables reads ``-p 0``)."""
    if protocol == ANY:
        return None
    if isinstance(protocol, str):
        return NAMES.get(protocol, IPV6_ONLY.get(protocol))
    return protocol or None


def rule_number(rule):
    """The IP protocol (next header) a rule matches: ``icmp`` in an IPv6 rule is
    ICMPv6 (58), as Neutron's firewalls read it."""
    value = number(rule['protocol'])
    if value == ICMP and rule.get('ethertype') == 'IPv6':
        return ICMPV6
    return value


def port_field(protocol):
    """The destination-port match field ('tcp_dst', ...) of a protocol with
    ports, or None."""
    return PORT_FIELDS.get(number(protocol))


def is_icmp(protocol):
    """ICMP or ICMPv6: a port range is then a type and a code."""
    return number(protocol) in (ICMP, ICMPV6)


def _any_case(words):
    """A JSON Schema pattern matching exactly ``words``, letters in any case."""
    return '^(%s)$' % '|'.join(''.join('[%s%s]' % (c, c.upper()) if c.isalpha()
                                       else re.escape(c) for c in w) for w in sorted(words))


def schema_of(numbers):
    """JSON Schema of the protocols whose number is in ``numbers``, written as
    :func:`normalise` accepts them: integers, their digits, names in any case."""
    words = [n for n, v in list(NAMES.items()) + list(IPV6_ONLY.items()) if v in numbers] \
        + [str(v) for v in numbers]
    return {'anyOf': [{'type': 'integer', 'enum': sorted(numbers)},
                      {'type': 'string', 'pattern': _any_case(words)}]}


def accepted_schema():
    """JSON Schema of every protocol a rule accepts."""
    return {'anyOf': [{'type': 'integer', 'minimum': 0, 'maximum': 255},
                      {'type': 'string', 'pattern': _any_case(list(NAMES) + list(IPV6_ONLY)
                                                              + [ANY])},
                      {'type': 'string', 'pattern': '^%s$' % NUMBER_PATTERN},
                      {'type': 'null'}],
            'description': 'any (or null), a protocol name (%s; any case) or an IANA '
                           'protocol number 0-255 (an integer or its digits); the IPv6-only '
                           'ones (%s) need ethertype IPv6, where icmp means ICMPv6'
                           % (', '.join(sorted(NAMES)), ', '.join(sorted(IPV6_ONLY))),
            'default': ANY}


def rule_words(rule, group_names=None):
    """A rule in the words the CLI's ``sg add`` takes for it: 'ingress tcp 8080
    from 10.0.0.0/16' (a remote group by its name when ``group_names`` {id:
    name} knows it)."""
    words = [rule['direction']] + (['ipv6'] if rule.get('ethertype') == 'IPv6' else []) \
        + [str(rule['protocol'])]
    low, high = rule['port_range_min'], rule['port_range_max']
    if low is not None and is_icmp(rule['protocol']):
        words.append(str(low) if high is None else '%d/%d' % (low, high))
    elif low is not None:
        words.append(str(low) if high in (None, low) else '%d-%d' % (low, high))
    group = rule['remote_group_id']
    remote = (rule['remote_ip_prefix']
              or group and 'group %s' % (group_names or {}).get(group, group)
              or rule['remote_zone'] and 'zone %s' % rule['remote_zone'])
    if remote:
        words += ['from' if rule['direction'] == 'ingress' else 'to', remote]
    return ' '.join(words)
