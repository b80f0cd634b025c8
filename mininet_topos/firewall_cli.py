"""The CLI's firewall command ``sg``: thin calls of the REST API's security
groups, their rules and the groups of a VM's port. Checking is the API's: its
error (message and field) is what the user sees."""
from mininet.log import output

from controller.protocols import rule_words
from mininet_topos.client import ApiError

USAGE = '''\
sg                      list security groups: zone, rules, member VMs
sg show GROUP           its rules, numbered, with live packet and byte counters
sg create NAME [zone ZONE] [description TEXT...]
                        a new group: one rule, egress to anywhere (as in Neutron)
sg delete GROUP
sg add GROUP ingress|egress [ipv6] [PROTOCOL [PORTS]] [from|to PREFIX|group G|zone Z]
                        add a rule (ipv6: ethertype IPv6, where icmp is ICMPv6; an
                        IPv6 PREFIX implies it); PROTOCOL any (default), a name (tcp, udp, icmp,
                        sctp, gre, esp, ...) or a number 0-255; PORTS PORT or MIN-MAX
                        for tcp/udp/sctp, TYPE or TYPE/CODE for icmp;
                        without from/to: any peer
sg del GROUP RULE       remove a rule: its number in `sg show`, or its id
sg port VM [GROUP...|--none]
                        show VM's groups, or put its port in these groups (replacing
                        them); --none: in no group (port security on: sealed)
GROUP is a name or an id. Examples:
  sg create web zone web
  sg add web ingress tcp 80 from zone app
  sg add web ingress icmp 8 from 10.0.0.0/16
  sg add web ingress 47 from group web
  sg port vm2 web
'''
REMOTE_WORDS = ('from', 'to')


class UsageError(Exception):
    """Words the CLI cannot turn into a request; names the field like the API."""

    def __init__(self, message, field=None):
        super().__init__(message + (' (field %s)' % field if field else ''))


def rule_body(words):
    """'ingress tcp 80-81 from zone app' -> the body of POST .../rules."""
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


class FirewallCommands:
    """Mixed into the CLI; needs ``self.dc`` (its ``client``, ``wait_ready``)."""

    def do_sg(self, line):
        """sg [show|create|delete|add|del|port] ...: the firewall's security groups.

        `help sg` shows every form."""
        words = line.split()
        verb, args = (words[0], words[1:]) if words else ('list', [])
        run = {'list': self._sg_list, 'show': self._sg_show, 'create': self._sg_create,
               'delete': self._sg_delete, 'add': self._sg_add, 'del': self._sg_del,
               'port': self._sg_port}.get(verb)
        try:
            if run is None:
                raise UsageError('unknown sg command %r; usage:\n%s' % (verb, USAGE))
            run(args)
        except (ApiError, UsageError, RuntimeError) as e:   # report, keep the CLI alive
            output('error: %s\n' % e)
            self.failed = True

    def help_sg(self):
        output(USAGE)

    # ---- the verbs -------------------------------------------------------------
    def _rest(self, method, path, body=None):
        try:
            return self.dc.client.call(method, path, body)
        except OSError as e:
            raise RuntimeError('cannot reach the controller API at %s: %s'
                               % (self.dc.client.url, e)) from None

    @staticmethod
    def _group_path(group):
        return '/v1/security-groups/%s' % group

    def _group_names(self):
        return {g['id']: g['name'] for g in self._rest('GET', '/v1/security-groups')}

    def _members(self):
        """{group id: names of its ports}."""
        out = {}
        for port in self._rest('GET', '/v1/ports'):
            for gid in port['security_groups']:
                out.setdefault(gid, []).append(port['name'])
        return out

    def _sg_list(self, args):
        self._want(args, 0, 'sg')
        groups = self._rest('GET', '/v1/security-groups')
        members = self._members()
        output('%-16s %-10s %5s  %s\n' % ('GROUP', 'ZONE', 'RULES', 'PORTS'))
        for g in sorted(groups, key=lambda g: g['name']):
            output('%-16s %-10s %5d  %s\n' % (g['name'], g['zone'] or '-', len(g['rules']),
                                              ' '.join(sorted(members.get(g['id'], [])))
                                              or '-'))

    def _sg_show(self, args):
        self._want(args, 1, 'sg show GROUP')
        group = self._rest('GET', self._group_path(args[0]))
        names = self._group_names()
        output('%s (zone %s, id %s): ports %s\n' % (
            group['name'], group['zone'] or '-', group['id'],
            ' '.join(sorted(self._members().get(group['id'], []))) or '-'))
        output('  %2s  %-44s %9s %11s  %s\n' % ('#', 'rule', 'packets', 'bytes', 'id'))
        for n, rule in enumerate(group['rules'], 1):
            stats = rule.get('stats', {})
            output('  %2d  %-44s %9d %11d  %s\n' % (n, rule_words(rule, names),
                                                   stats.get('packets', 0),
                                                   stats.get('bytes', 0), rule['id']))

    def _sg_create(self, args):
        if not args:
            raise UsageError('usage: sg create NAME [zone ZONE] [description TEXT...]')
        body, rest = {'name': args[0]}, args[1:]
        if rest[:1] == ['zone']:
            if len(rest) < 2:
                raise UsageError('zone needs a value', 'zone')
            body['zone'], rest = rest[1], rest[2:]
        if rest[:1] == ['description']:
            body['description'], rest = ' '.join(rest[1:]), []
        if rest:
            raise UsageError('usage: sg create NAME [zone ZONE] [description TEXT...]')
        group = self._rest('POST', '/v1/security-groups', body)
        output('created %s (id %s)\n' % (group['name'], group['id']))

    def _sg_delete(self, args):
        self._want(args, 1, 'sg delete GROUP')
        self._rest('DELETE', self._group_path(args[0]))
        output('deleted %s\n' % args[0])

    def _sg_add(self, args):
        if not args:
            raise UsageError('usage: sg add GROUP ingress|egress [PROTOCOL [PORTS]] '
                             '[from|to PREFIX|group G|zone Z]')
        rule = self._rest('POST', self._group_path(args[0]) + '/rules', rule_body(args[1:]))
        self.dc.wait_ready()
        output('added to %s: %s (id %s)\n' % (args[0], rule_words(rule, self._group_names()),
                                                 rule['id']))

    def _sg_del(self, args):
        self._want(args, 2, 'sg del GROUP RULE')
        group = self._rest('GET', self._group_path(args[0]))
        rules = group['rules']
        number = int(args[1]) if args[1].isdigit() else 0
        rule_id = rules[number - 1]['id'] if 1 <= number <= len(rules) else args[1]
        self._rest('DELETE', '%s/rules/%s' % (self._group_path(group['id']), rule_id))
        self.dc.wait_ready()
        rule = next(r for r in rules if r['id'] == rule_id)
        output('removed from %s: %s (id %s)\n' % (group['name'], rule_words(
            rule, self._group_names()), rule_id))

    def _sg_port(self, args):
        if not args:
            raise UsageError('usage: sg port VM [GROUP...|--none]')
        port = next((p for p in self._rest('GET', '/v1/ports')
                     if args[0] in (p['name'], p['device'], p['id'])), None)
        if port is None:
            raise UsageError('no port named %r' % args[0], 'VM')
        if len(args) > 1:
            groups = [] if args[1:] == ['--none'] else args[1:]
            port = self._rest('PATCH', '/v1/ports/%s' % port['id'],
                             {'security_groups': groups})
            self.dc.wait_ready()
        names = self._group_names()
        output('%s: %s\n' % (port['name'], ' '.join(names.get(g, g) for g in
                                                  port['security_groups']) or '(no group)'))

    @staticmethod
    def _want(args, count, usage):
        if len(args) != count:
            raise UsageError('usage: %s' % usage)
