"""The CLI's ``trace`` command: ``trace vm1 vm3 tcp 22 [established]`` asks the
controller (``POST /v1/trace``) and prints the verdict and each step."""
import ipaddress

from mininet.log import output

from mininet_topos.client import ApiError

USAGE = ('usage: trace VM VM|ADDRESS [ipv6] [tcp|udp|sctp PORT | icmp | arp | nd] '
         '[established]\n')


class UsageError(ValueError):
    pass


def trace_body(words):
    """The request body of ``trace`` words."""
    words = list(words)
    state = 'new'
    if words and words[-1] in ('established', 'new'):
        state = words.pop()
    if len(words) < 2:
        raise UsageError(USAGE)
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
                raise UsageError('%s needs a destination port\n%s' % (rest[0], USAGE))
            body['port'] = int(rest[1])
        elif rest[0] not in ('icmp', 'arp', 'nd') or len(rest) != 1:
            raise UsageError(USAGE)
    return body


def trace_text(answer):
    """The answer as lines: the verdict first, then host, table and words per step."""
    lines = ['%s: %s' % (answer['verdict'].upper(), answer['summary'])]
    for step in answer['steps']:
        lines.append('  %-4s %-14s %s' % (step['host'], step['table_name'], step['says']))
    return '\n'.join(lines) + '\n'


class TraceCommands:
    """Mixed into the vnetsec CLI (needs ``self.dc`` and ``self.failed``)."""

    def do_trace(self, line):
        """trace VM VM|ADDRESS [ipv6] [tcp|udp|sctp PORT|icmp|arp|nd] [established]: why.

        ``ipv6``: between the VMs' IPv6 addresses (an IPv6 ADDRESS implies it);
        ``nd``: a Neighbor Solicitation for the destination's address.

        The controller simulates its own flows (no switch is asked) and says,
        step by step, which rule allowed the packet or why it was dropped."""
        try:
            answer = self.dc.client.post('/v1/trace', trace_body(line.split()))
        except (UsageError, ApiError) as e:
            output('%s\n' % str(e).rstrip())
            self.failed = True
            return
        output(trace_text(answer))
