"""The command's words: one argparse tree for ``vnetsec`` and for the lab
shell's commands (which hand it their line), so the two read the same."""
import argparse

from controller.cli import verbs
from controller.cli.words import RULE_USAGE, TRACE_USAGE, UsageError

FORMATS = ('table', 'json')
DESCRIPTION = '''\
vnetsec's networks, ports, security groups, traces and controllers, over its REST API.

exit codes: 0 done; 1 answered, but not as --check or --expect asked; 2 usage error;
3 the API refused the request (4xx: its message names the field); 4 not found (404);
5 no or wrong token, or a reader's token for a write (401, 403); 6 cannot reach the
API; 7 the API failed (5xx, or an answer that is not its JSON)'''

SG_EXAMPLES = '''\
GROUP is a name or an id; PORT a name, device or id. Examples:
  sg create web zone web
  sg rule add web ingress tcp 80 from zone app
  sg rule add web ingress icmp 8 from 10.0.0.0/16
  sg rule add web ingress 47 from group web
  sg show web
  sg rule del web 2
  sg port vm2 web'''


LOG_EXAMPLES = '''\
LOG is a name or an id. Examples:
  log create DROP --group web --file web-drops.log --name web-drops
  log show web-drops
  log delete web-drops'''


class ShowHelp(Exception):
    """``-h``: the help text, to print where the caller prints."""


class Parser(argparse.ArgumentParser):
    """argparse that raises instead of printing and exiting (the lab shell lives
    on), and takes no abbreviations (``--token`` is not ``--token-file``)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, allow_abbrev=False, **kwargs)

    def error(self, message):
        raise UsageError('%s\n%s' % (message, self.format_usage().rstrip()))

    def print_help(self, file=None):
        raise ShowHelp(self.format_help())


def _common():
    """-f and --wait, accepted after any command word too (not overriding the
    top level's when absent)."""
    common = Parser(add_help=False)
    common.add_argument('-f', '--format', choices=FORMATS, default=argparse.SUPPRESS,
                        help='table (default) or json: the API\'s answer as it is')
    common.add_argument('--wait', action='store_true', default=argparse.SUPPRESS,
                        help='a write answers once its switches confirm it')
    return common


def _group(sub, name, help, common, default, epilog=None):
    parser = sub.add_parser(name, help=help, parents=[common], description=help,
                            epilog=epilog, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.set_defaults(func=default)
    return parser.add_subparsers(title='commands', metavar='COMMAND', parser_class=Parser)


def _verb(sub, name, func, help, common, aliases=()):
    parser = sub.add_parser(name, help=help, description=help, parents=[common],
                            aliases=list(aliases))
    parser.set_defaults(func=func)
    return parser


def _network(sub, common):
    net = _group(sub, 'network', 'networks (VLAN or VXLAN segments)', common,
                 verbs.network_list)
    _verb(net, 'list', verbs.network_list, 'every network', common)
    for name, func, text in (('show', verbs.network_show, 'one network'),
                             ('delete', verbs.network_delete, 'delete a network (409 while '
                                                              'it has ports)'),
                             ('mappings', verbs.network_mappings,
                              'per hypervisor, the MAC -> VTEP entries of a network')):
        _verb(net, name, func, text, common).add_argument('network', help='name or id')
    create = _verb(net, 'create', verbs.network_create, 'a new network', common)
    create.add_argument('name')
    create.add_argument('--kind', choices=('vlan', 'vxlan'), default='vxlan')
    create.add_argument('--segmentation-id', type=int, metavar='ID',
                        help='VLAN id or VNI (default: the next free one)')


def _port_fields(parser, create):
    parser.add_argument('--name', help='default: the device' if create else None)
    parser.add_argument('--ip', action='append', help='an IPv4 address (repeat for more)')
    parser.add_argument('--host', help='the hypervisor it is meant for')
    parser.add_argument('--group', action='append',
                        help='a security group, name or id (repeat for more)')
    parser.add_argument('--port-security', choices=('on', 'off'),
                        help='off: no firewall, no anti-spoofing')


def _port(sub, common):
    port = _group(sub, 'port', "ports: VMs' vNICs", common, verbs.port_list)
    _verb(port, 'list', verbs.port_list, 'every port', common).add_argument(
        '--network', help='only the ports of this network (name or id)')
    for name, func, text in (('show', verbs.port_show, 'one port'),
                             ('delete', verbs.port_delete, 'delete a port')):
        _verb(port, name, func, text, common).add_argument(
            'port', help='name, device or id')
    create = _verb(port, 'create', verbs.port_create, 'a new port', common)
    create.add_argument('network', help='name or id')
    create.add_argument('--mac', required=True)
    create.add_argument('--device', required=True, help="the vNIC's interface name")
    _port_fields(create, True)
    change = _verb(port, 'set', verbs.port_set, "change a port's fields", common)
    change.add_argument('port', help='name, device or id')
    _port_fields(change, False)
    change.add_argument('--no-groups', action='store_true',
                        help='in no group (with port security on: sealed)')
    move = _verb(port, 'migrate', verbs.port_migrate,
                 'planned migration: program HOST before the VM arrives', common)
    move.add_argument('port', help='name, device or id')
    move.add_argument('host')
    move.add_argument('--live', action='store_true')


def _rule_verb_missing(session, args):
    raise UsageError('usage: sg rule add GROUP %s | sg rule del GROUP RULE' % RULE_USAGE)


def _sg(sub, common):
    sg = _group(sub, 'sg', 'security groups and their rules', common, verbs.sg_list,
                SG_EXAMPLES)
    _verb(sg, 'list', verbs.sg_list, 'every group: zone, rules, member ports', common)
    _verb(sg, 'show', verbs.sg_show, 'its rules, numbered, with packet and byte counters',
          common).add_argument('group', help='name or id')
    _verb(sg, 'delete', verbs.sg_delete, 'delete a group', common).add_argument('group')
    create = _verb(sg, 'create', verbs.sg_create,
                   'a new group, with one rule: egress to anywhere (as in Neutron)', common)
    create.add_argument('name')
    create.add_argument('words', nargs='*', metavar='[zone ZONE] [description TEXT...]')
    create.add_argument('--stateless', action='store_true',
                        help='no conntrack: each direction needs rules of its own')
    rules = _group(sg, 'rule', 'add or remove a rule', common, _rule_verb_missing)
    rule_help = ('PROTOCOL any (default), a name (tcp, udp, icmp, sctp, gre, esp, ...) or a '
                 'number 0-255; PORTS PORT or MIN-MAX for tcp/udp/sctp, TYPE or TYPE/CODE '
                 'for icmp; without from/to: any peer')
    for parent, text in ((rules, 'add a rule: '), (sg, 'short for `sg rule add`: ')):
        add = _verb(parent, 'add', verbs.sg_rule_add, text + RULE_USAGE, common)
        add.add_argument('group', help='name or id')
        add.add_argument('words', nargs='*', metavar='RULE', help=rule_help)
    for parent, text in ((rules, 'remove a rule'), (sg, 'short for `sg rule del`')):
        remove = _verb(parent, 'del', verbs.sg_rule_del, text, common)
        remove.add_argument('group', help='name or id')
        remove.add_argument('rule', help='its number in `sg show`, or its id')
    port = _verb(sg, 'port', verbs.sg_port, "a port's groups, or put it in these "
                 '(replacing them)', common)
    port.add_argument('port', help='name, device or id')
    port.add_argument('groups', nargs='*', metavar='GROUP')
    port.add_argument('--none', action='store_true',
                      help='in no group (port security on: sealed)')


def _log(sub, common):
    log = _group(sub, 'log', 'firewall logs: who was refused, which rule let a connection '
                 'in', common, verbs.log_list, LOG_EXAMPLES)
    _verb(log, 'list', verbs.log_list, 'every log: event, what it covers, file', common)
    show = _verb(log, 'show', verbs.log_show, 'its recent records, one a line', common)
    show.add_argument('log', help='name or id')
    show.add_argument('--last', type=int, default=20, metavar='N',
                      help='only the last N (default 20; 0: all it keeps)')
    _verb(log, 'delete', verbs.log_delete, 'delete a log', common).add_argument('log')
    create = _verb(log, 'create', verbs.log_create, "log a group's, a port's or (neither) "
                   "every port's connections", common)
    create.add_argument('event', nargs='?', type=str.upper, choices=('ACCEPT', 'DROP', 'ALL'),
                        help='ACCEPT: a connection a rule admitted; DROP: a packet refused; '
                        'ALL (default)')
    create.add_argument('--group', help='a security group, name or id')
    create.add_argument('--port', help='a port, name or id')
    create.add_argument('--file', help="a file name in the controller's log_dir")
    create.add_argument('--name')


def build():
    """The whole tree; its options before the command word, -f and --wait anywhere."""
    top = Parser(prog='vnetsec', description=DESCRIPTION,
                 formatter_class=argparse.RawDescriptionHelpFormatter)
    top.add_argument('--api', metavar='URL', help='the REST API (default $VNETSEC_API, '
                     'else http://127.0.0.1:8080)')
    top.add_argument('--token-file', metavar='PATH',
                     help='a file holding the bearer token (default: $VNETSEC_TOKEN, '
                     '$VNETSEC_API_TOKEN, else the file $VNETSEC_TOKEN_FILE names)')
    top.add_argument('--ca-file', metavar='PATH',
                     help='the CA of an HTTPS API (default $VNETSEC_CA_FILE, else the system\'s)')
    top.add_argument('-f', '--format', choices=FORMATS, default='table')
    top.add_argument('--wait', action='store_true',
                     help='a write answers once its switches confirm it (?wait=applied)')
    common = _common()
    sub = top.add_subparsers(title='commands', metavar='COMMAND', parser_class=Parser)
    _network(sub, common)
    _port(sub, common)
    _sg(sub, common)
    _log(sub, common)
    trace = _verb(sub, 'trace', verbs.trace, 'would this packet pass, and why: '
                  + TRACE_USAGE, common)
    trace.add_argument('words', nargs='+', metavar='PACKET', help=TRACE_USAGE)
    trace.add_argument('--expect', choices=('allowed', 'dropped', 'answered'),
                       help='exit 1 unless this is the verdict')
    _verb(sub, 'status', verbs.status, 'health, and whether every switch holds its flows',
          common).add_argument('--check', action='store_true',
                               help='exit 1 unless healthy, idle and every switch in sync')
    _verb(sub, 'controllers', verbs.controllers,
          'the replicas (leases, switches) and the master of each switch', common)
    _verb(sub, 'events', verbs.events, 'the recent switch events, oldest first',
          common).add_argument('--last', type=int, default=50, metavar='N',
                               help='only the last N (default 50; 0: all)')
    return top
