"""The words the command reads where a flag would be clumsy: a security group
rule (``ingress tcp 80 from zone app``, the words :func:`controller.protocols.rule_words`
prints a rule in), a group's zone and description, a packet to trace. Each
becomes a request body; checking is the API's (its error names the field)."""
import ipaddress

REMOTE_WORDS = ('from', 'to')
RULE_USAGE = ('ingress|egress [ipv6] [PROTOCOL [PORTS]] [from|to PREFIX|group G|zone Z]')
TRACE_USAGE = 'VM VM|ADDRESS [ipv6] [tcp|udp|sctp PORT | icmp | arp | nd] [established]'


class UsageError(Exception):
    """Words the command cannot turn into a request; names the field like the API."""
    exit_code = 2

    def __init__(self, message, field=None):
        super().__init__(message + (' (field %s)' % field if field else ''))


class NotFound(UsageError):
    """A name that matches nothing the API holds (its 404, found out here)."""
    exit_code = 4


def rule_body(words):
    """'ingress tcp 80-81 from zone app' -> the body of POST .../rules
    ('ingress ipv6 icmp': ethertype IPv6, where icmp is ICMPv6; an IPv6 PREFIX
    implies it)."""
    if not words:
        raise UsageError('direction is required: ingress or egress', 'direction')
    body = {'direction': words[0]}
    rest = list(words[1:])
    if rest and rest[0] in ('ipv4', 'ipv6'):
        body['ethertype'] = 'IPv%s' % rest.pop(0)[-1]
    if rest and rest[0] not in REMOTE_WORDS:
        body['protocol'] = rest.pop(0)
    if rest and rest[0] not in REMOTE_WORDS:
        word = rest.pop(0)
        low, sep, high = word.partition('/' if '/' in word else '-')
        try:
            body['port_range_min'] = int(low)
            if sep:
                body['port_range_max'] = int(high)
        except ValueError:
            raise UsageError('ports must be PORT, MIN-MAX or (icmp) TYPE/CODE, not %r'
                             % word, 'port_range_min') from None
    if not rest:
        return body
    remote = rest[1:]
    if rest[0] not in REMOTE_WORDS or len(remote) not in (1, 2):
        raise UsageError('after the ports: from|to PREFIX, from|to group GROUP or '
                         'from|to zone ZONE, not %r' % ' '.join(rest))
    if len(remote) == 1:
        body['remote_ip_prefix'] = remote[0]
        if ':' in remote[0]:
            body['ethertype'] = 'IPv6'
    elif remote[0] in ('group', 'zone'):
        body['remote_%s' % ('group_id' if remote[0] == 'group' else 'zone')] = remote[1]
    else:
        raise UsageError('a remote is PREFIX, group GROUP or zone ZONE, not %r'
                         % ' '.join(remote))
    return body


def group_body(name, words):
    """NAME and '[zone ZONE] [description TEXT...]' -> the body of POST /v1/security-groups."""
    body, rest = {'name': name}, list(words)
    if rest[:1] == ['zone']:
        if len(rest) < 2:
            raise UsageError('zone needs a value', 'zone')
        body['zone'], rest = rest[1], rest[2:]
    if rest[:1] == ['description']:
        body['description'], rest = ' '.join(rest[1:]), []
    if rest:
        raise UsageError('after the name: [zone ZONE] [description TEXT...], not %r'
                         % ' '.join(rest))
    return body


def trace_body(words):
    """The request body of ``trace`` words (``ipv6``: between the VMs' IPv6
    addresses, which an IPv6 ADDRESS implies; ``nd``: a Neighbor Solicitation
    for the destination's address)."""
    words = list(words)
    state = 'new'
    if words and words[-1] in ('established', 'new'):
        state = words.pop()
    if len(words) < 2:
        raise UsageError('usage: trace ' + TRACE_USAGE)
    body = {'source': words[0], 'protocol': 'icmp', 'state': state}
    try:
        ipaddress.ip_address(words[1])
        body['address'] = words[1]
    except ValueError:
        body['destination'] = words[1]
    rest = words[2:]
    if rest and rest[0] == 'ipv6':
        body['ip_version'] = 6
        rest = rest[1:]
    if rest:
        body['protocol'] = rest[0]
        if rest[0] in ('tcp', 'udp', 'sctp'):
            if len(rest) != 2 or not rest[1].isdigit():
                raise UsageError('%s needs a destination port; usage: trace %s'
                                 % (rest[0], TRACE_USAGE), 'port')
            body['port'] = int(rest[1])
        elif rest[0] not in ('icmp', 'arp', 'nd') or len(rest) != 1:
            raise UsageError('usage: trace ' + TRACE_USAGE)
    return body
