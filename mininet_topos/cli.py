"""The Mininet CLI with the data center's own commands, and a batch mode that
tracks failures (``vnetsec-dc -c ... / --batch``)."""
import json
import os
import subprocess

from mininet.cli import CLI
from mininet.log import output

from mininet_topos.client import ApiError
from mininet_topos.operator_cli import OperatorCommands
from mininet_topos.pings import ping_matrix
from mininet_topos.replicas_cli import ReplicaCommands

OWN_COMMANDS = ('hosts', 'mappings', 'flows', 'migrate', 'sg', 'log', 'trace', 'web',
                'controllers', 'kill-controller', 'start-controller', 'pingall6')


class VnetsecCLI(ReplicaCommands, OperatorCommands, CLI):
    prompt = 'vnetsec> '
    BANNER = ('*** vnetsec commands: %s; `help` lists all, `help COMMAND` explains one\n'
              '*** sh commands get the API as $VNETSEC_API and $VNETSEC_API_TOKEN, e.g.\n'
              '***   sh curl -s -H "Authorization: Bearer $VNETSEC_API_TOKEN" '
              '$VNETSEC_API/v1/status' % ', '.join(OWN_COMMANDS))

    def __init__(self, mininet, dc=None, **kwargs):
        self.dc = dc
        self.failed = False
        super().__init__(mininet, **kwargs)

    # ---- failure tracking (batch mode) -------------------------------------
    def do_sh(self, line):
        """Run a shell command on the machine, with $VNETSEC_API (the controller's
        REST API, e.g. http://127.0.0.1:8080) and $VNETSEC_API_TOKEN (its bearer
        token) set; fails the batch on a non-zero exit."""
        env = dict(os.environ, VNETSEC_API=self.dc.api_url, VNETSEC_API_TOKEN=self.dc.token) \
            if self.dc else None
        if subprocess.call(line, shell=True, env=env) != 0:
            self.failed = True

    def do_help(self, line):
        """help [COMMAND]: vnetsec's commands first, then Mininet's."""
        if line:
            return super().do_help(line.replace('-', '_'))
        self.stdout.write('vnetsec commands (help COMMAND for more):\n')
        for name in OWN_COMMANDS:
            self.stdout.write('  %s\n' % getattr(self, 'do_' + name.replace('-', '_'))
                              .__doc__.split('\n')[0])
        others = sorted(n[3:] for n in self.get_names()
                        if n.startswith('do_') and n[3:].replace('_', '-') not in OWN_COMMANDS)
        self.print_topics('Mininet commands:', others, 15, 80)
        self.stdout.flush()
        output(self.helpStr)

    def do_pingall(self, line):
        """Ping between all VMs (fails the batch when any packet is dropped)."""
        if self.mn.pingAll(line) > 0:
            self.failed = True

    def do_pingall6(self, line):
        """pingall6 (with --ipv6): ping between all VMs over IPv6, printed as pingall prints."""
        hosts = [h for h in self.mn.hosts if h.params.get('ip6')]
        if not hosts:
            output('*** no VM has an IPv6 address: start the data center with --ipv6\n')
            self.failed = True
            return
        output('*** Ping: testing ping6 reachability\n')
        ok = ping_matrix(hosts, lambda h: h.params['ip6'])
        for src in hosts:
            output('%s -> %s\n' % (src.name, ' '.join(
                dst.name if (src.name, dst.name) in ok else 'X'
                for dst in hosts if dst is not src)))
        tried = len(hosts) * (len(hosts) - 1)
        lost = tried - len(ok)
        output('*** Results: %d%% dropped (%d/%d received)\n'
               % (100 * lost // max(tried, 1), len(ok), tried))
        if lost:
            self.failed = True

    def do_py(self, line):
        """Evaluate a Python expression (fails the batch on an exception)."""
        try:
            result = eval(line, globals(), dict(self.locals, dc=self.dc))
            if result is not None:
                output(str(result) + '\n')
        except Exception as e:                          # report, like Mininet does
            output(str(e) + '\n')
            self.failed = True

    def default(self, line):
        first, args, _ = self.parseline(line)
        if first in self.mn and args:
            node = self.mn[first]
            super().default(line)
            if node.cmd('echo $?').strip() != '0':
                self.failed = True
        else:
            super().default(line)
            self.failed = True

    # ---- the data center's own commands --------------------------------------
    def _api(self, path):
        try:
            return self.dc.client.get(path)
        except ApiError as e:
            output('error: %s\n' % e)
            self.failed = True
            return None

    def do_hosts(self, line):
        """hosts [NAME]: hypervisors' vNICs and VLANs, ToRs' allowed VLANs per port.

        For a hypervisor: its VLANs, its vNICs (device, OpenFlow port, network,
        VLAN) and the VLANs its ToR port allows; for a ToR: the allowed VLANs of
        each of its ports."""
        names = line.split() or [h['name'] for h in self._api('/v1/hosts') or []]
        for name in names:
            host = self._api('/v1/hosts/%s' % name)
            if host is None:
                continue
            if host['role'] == 'tor':
                output('%s (ToR, rack %d) allowed VLANs per port: %s\n'
                       % (name, host['rack'], json.dumps(host['allowed_vlans'])))
                continue
            tor = host.get('tor') or {}
            output('%s (rack %d, VTEP %s): VLANs %s; ToR %s port %s allows %s\n'
                   % (name, host['rack'], host['vtep_ip'], host['vlans'], tor.get('name'),
                      tor.get('port'), tor.get('allowed_vlans')))
            for p in host['ports']:
                output('    %-10s ofport %-3d network %-10s %s %s\n'
                       % (p['device'], p['ofport'], p['network'],
                          'vlan' if p['kind'] == 'vlan' else 'vni', p['segmentation_id']))

    def do_migrate(self, line):
        """migrate VM HYPERVISOR [live|unplanned]: move a VM's vNIC to another hypervisor.

        Planned (the default) and live tell the controller first; unplanned does
        not. The VM's rules and mappings follow it."""
        from mininet_topos.migration import migrate
        args = line.split()
        if (len(args) not in (2, 3) or args[0] not in self.mn or args[1] not in self.mn
                or args[2:] not in ([], ['live'], ['unplanned'])):
            output('usage: migrate VM HYPERVISOR [live|unplanned]\n')
            self.failed = True
            return
        try:
            marks = migrate(self.dc, args[0], args[1], live=args[2:] == ['live'],
                            planned=args[2:] != ['unplanned'])
            self.dc.wait_ready()
        except Exception as e:                     # report, keep the CLI alive
            output('migration failed: %s\n' % e)
            self.failed = True
            return
        output('%s now on %s (%.0f ms to plug it there)\n'
               % (args[0], args[1], 1000 * (marks['appeared'] - marks['moving'])))

    def do_web(self, line):
        """web prints the URL of the controller's live web view (the token in its fragment)."""
        output('%s/ui#token=%s\n' % (self.dc.api_url.rstrip('/'), self.dc.token))

    def do_flows(self, line):
        """flows hvN|torN: the flows the controller installed on a switch."""
        name = line.strip()
        node = self.mn[name] if name in self.mn else None
        if node is None or not hasattr(node, 'ovs'):
            output('usage: flows hvN|torN\n')
            self.failed = True
            return
        output(node.ovs.ofctl('dump-flows %s --no-stats' % node.bridge))
