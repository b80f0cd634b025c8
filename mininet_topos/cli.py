"""The Mininet CLI with the data center's own commands, and a batch mode that
tracks failures (``vnetsec-dc -c ... / --batch``)."""
import json
import subprocess

from mininet.cli import CLI
from mininet.log import output

from mininet_topos.client import ApiError


class VnetsecCLI(CLI):
    prompt = 'vnetsec> '

    def __init__(self, mininet, dc=None, **kwargs):
        self.dc = dc
        self.failed = False
        super().__init__(mininet, **kwargs)

    # ---- failure tracking (batch mode) -------------------------------------
    def do_sh(self, line):
        """Run a shell command on the machine (fails the batch on non-zero exit)."""
        if subprocess.call(line, shell=True) != 0:
            self.failed = True

    def do_pingall(self, line):
        """Ping between all VMs (fails the batch when any packet is dropped)."""
        if self.mn.pingAll(line) > 0:
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
        """hosts [NAME]: a hypervisor's VLAN ports and its ToR port's allowed VLANs
        (or a ToR's allowed VLANs per port)."""
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
                output('    %-10s ofport %-3d network %-10s vlan %s\n'
                       % (p['device'], p['ofport'], p['network'], p['vlan']))

    def do_mappings(self, line):
        """mappings NETWORK: per hypervisor, MAC -> VTEP entries of a network."""
        if not line.strip():
            output('usage: mappings NETWORK\n')
            return
        data = self._api('/v1/networks/%s/mappings' % line.strip())
        if data is None:
            return
        output('%s %d\n' % (data['kind'], data['segmentation_id']))
        for host, table in sorted(data['hosts'].items()):
            output('  %s\n' % host)
            for mac, vtep in sorted(table.items()):
                output('      %s -> %s\n' % (mac, vtep))

    def do_migrate(self, line):
        """migrate VM HYPERVISOR [live|unplanned]: move a VM's vNIC to another
        hypervisor (planned: the controller is told first); its rules and
        mappings follow it."""
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

    def do_flows(self, line):
        """flows SWITCH: dump the flows the controller installed on a switch."""
        name = line.strip()
        node = self.mn[name] if name in self.mn else None
        if node is None or not hasattr(node, 'ovs'):
            output('usage: flows hvN|torN\n')
            self.failed = True
            return
        output(node.ovs.ofctl('dump-flows %s --no-stats' % node.bridge))
