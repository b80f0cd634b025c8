"""``vnetsec-dc``: start the emulated data center (and, unless given one, the
controller), then run CLI commands or open the interactive CLI."""
import argparse
import sys

from mininet.log import setLogLevel

from mininet_topos.cleanup import clean, warn_dead_runs
from mininet_topos.cli import VnetsecCLI
from mininet_topos.controller_proc import APPS
from mininet_topos.datacenter import DataCenter, controller_targets, parse_networks
from mininet_topos.nodes import RUN_BASE
from mininet_topos.procs import exit_on_sigterm


def parse_args(argv):
    p = argparse.ArgumentParser(prog='vnetsec-dc', description=__doc__)
    p.add_argument('--racks', type=int, default=2)
    p.add_argument('--hypervisors', type=int, default=2, help='per rack')
    p.add_argument('--vms', type=int, default=2, help='per hypervisor')
    p.add_argument('--networks', default='vxlan:5000',
                   help='e.g. vlan:10,vlan:20,vxlan:5000 (VMs spread round-robin)')
    p.add_argument('--controller', metavar='HOST:PORT[,HOST:PORT...]',
                   help='use this running controller, or these replicas of one (every '
                        'switch connects to each; their REST API: --api)')
    p.add_argument('--api', metavar='URL', help='REST API of --controller '
                   '(default http://HOST:8080); token from $VNETSEC_API_TOKEN')
    p.add_argument('--controllers', type=int, default=1, metavar='N',
                   help='N controller replicas sharing the switches, on a local 3-member '
                        'etcd cluster (CLI: controllers, kill-controller N, '
                        'start-controller N)')
    p.add_argument('--tls', action='store_true',
                   help='OpenFlow over mutual TLS only: a lab CA and certificates for the '
                        'controller and every switch, made in the run directory')
    p.add_argument('--switches-listen', action='store_true',
                   help='every switch listens on its management address and the '
                        'controllers dial it (back at once after a controller restart); '
                        'default: the switches connect to the controllers')
    p.add_argument('--apps', default=','.join(APPS), metavar='APP[,APP]',
                   help='the vnetsec apps the controller started here runs (default: %s)'
                        % ','.join(APPS))
    p.add_argument('--api-port', type=int, metavar='PORT',
                   help='REST API port of the controller started here (default 8080 '
                   'when free, else any free port, said so; 0: any free port)')
    p.add_argument('-c', dest='commands', action='append', default=[],
                   metavar='CLI COMMAND', help='run a CLI command (repeatable), then exit')
    p.add_argument('--batch', metavar='FILE', help='run the CLI commands in FILE, then exit')
    p.add_argument('--ipv6', action='store_true',
                   help='dual stack: every VM also gets fd00::N/64 (pingall6 pings over it)')
    p.add_argument('--verbose', action='store_true')
    p.add_argument('--cleanup', nargs='?', const='', metavar='RUN',
                   help='instead: remove what the dead run RUN (default: every run whose '
                   'process is gone) left under %s, its processes, links and namespaces'
                   % RUN_BASE)
    args = p.parse_args(argv)
    try:
        parse_networks(args.networks)
    except ValueError as e:
        p.error('--networks: %s' % e)
    if args.controller:
        try:
            controller_targets(args.controller, '127.0.0.1')
        except ValueError as e:
            p.error(str(e))
    if args.tls and args.controller:
        p.error('--tls makes the certificates of the controller it starts; '
                'it cannot be used with --controller')
    if args.controllers < 1:
        p.error('--controllers must be at least 1')
    if args.controllers > 1 and (args.controller or args.tls):
        p.error('--controllers starts its own replicas, without --tls; it cannot be used '
                'with --controller or --tls')
    if min(args.racks, args.hypervisors, args.vms) < 1:
        p.error('--racks, --hypervisors and --vms must be at least 1')
    args.apps = tuple(a.strip() for a in args.apps.split(',') if a.strip())
    unknown = [a for a in args.apps if a not in APPS]
    if unknown or not args.apps:
        p.error('--apps: choose among %s, not %s' % (', '.join(APPS), ', '.join(unknown)))
    if args.controller and args.api_port is not None:
        p.error('--api-port is for the controller started here; with --controller use --api')
    return args


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.cleanup is not None:
        return clean(args.cleanup)
    warn_dead_runs('vnetsec-dc --cleanup')
    setLogLevel('info' if args.verbose else 'output')
    exit_on_sigterm()                                        # tear down on kill too
    commands = list(args.commands)
    if args.batch:
        with open(args.batch) as f:
            commands += [line.strip() for line in f
                         if line.strip() and not line.startswith('#')]
    try:
        dc = DataCenter(args.racks, args.hypervisors, args.vms, args.networks,
                        controller=args.controller, api_url=args.api,
                        api_port=args.api_port, tls=args.tls, apps=args.apps,
                        controllers=args.controllers, switches_listen=args.switches_listen,
                        ipv6=args.ipv6)
    except RuntimeError as e:                  # the --api-port asked for is taken
        print('vnetsec-dc: --api-port: %s' % e, file=sys.stderr)
        return 2
    with dc:
        print('*** data center up in %.1f s: %d racks, %d hypervisors, %d VMs; '
              'controller API %s%s' % (dc.startup_seconds, args.racks, len(dc.hypervisors()),
                                       len(dc.net.hosts), dc.api_url,
                                       '; OpenFlow over TLS' if args.tls else
                                       '; %d replicas on etcd' % args.controllers
                                       if args.controllers > 1 else ''),
              flush=True)
        if not commands:
            print(VnetsecCLI.BANNER, flush=True)
            VnetsecCLI(dc.net, dc=dc)
            return 0
        cli = VnetsecCLI(dc.net, dc=dc, script='/dev/null')
        for line in commands:
            print('vnetsec> %s' % line, flush=True)
            cli.onecmd(line)
        return 1 if cli.failed else 0


if __name__ == '__main__':
    sys.exit(main())
