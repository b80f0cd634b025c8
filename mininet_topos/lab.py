"""Controller-less labs for the analysis (docs/analysis.md): the approaches vnetsec
is measured against.

- ``PlainHypervisor``: a hypervisor whose virtual switches are standalone OVS
  learning bridges (no controller, no firewall): what a hypervisor offers before
  any SDN or per-vNIC filtering.
- ``FirewallVM``: a VM whose job is filtering with nftables, either routing
  between its NICs or bridging them (a transparent, "bridge-mode" firewall).
- ``Lab``: starts such a topology and tears down only what it created.
- traffic checks shared by the analysis tests and bench.
"""
import re
import secrets
import sys

from mininet.net import Mininet

from mininet_topos import cleanup, probe
from mininet_topos.nftables import TABLE
from mininet_topos.nodes import RUN_BASE, VM, OvsSwitchNode, Run, configure_vm, stop_network
from mininet_topos.procs import exit_on_sigterm
from mininet_topos.runrecord import RunRecord


class PlainHypervisor(OvsSwitchNode):
    """``bridges`` maps each virtual switch (bridge name) to its interfaces;
    topologies fill it while they add links."""

    def __init__(self, name, bridges=None, **params):
        super().__init__(name, **params)
        self.bridges = bridges if bridges is not None else {}

    def start(self, controllers):
        self.start_ovs()
        args = []
        for bridge, intfs in sorted(self.bridges.items()):
            args.append('-- add-br {0} -- set bridge {0} datapath_type=netdev '
                        'fail_mode=standalone other_config:disable-in-band=true'
                        .format(bridge))
            for intf in intfs:
                self.cmd('ip link set %s up' % intf)
                args.append('-- add-port %s %s' % (bridge, intf))
        self.ovs.vsctl(' '.join(args))

    def ports_of(self, bridge):
        return self.ovs.vsctl('list-ports %s' % bridge).split()


class FirewallVM(VM):
    """A VM with two NICs that filters what passes between them (nftables)."""

    def load_firewall(self, ruleset, mode, path):
        """``mode``: 'router' (IP forwarding between the NICs' subnets) or
        'bridge' (one Linux bridge over both NICs; bridged IPv4 goes through the
        same inet forward hook via br_netfilter). Raises if nft refuses."""
        nics = [i for i in self.intfNames() if i != 'lo']
        if mode == 'bridge':
            self.cmd('ip link add br0 type bridge')
            for nic in nics:
                self.cmd('ip addr flush dev %s; ip link set %s master br0' % (nic, nic))
            self.cmd('ip link set br0 up; sysctl -qw net.bridge.bridge-nf-call-iptables=1')
        else:
            self.cmd('sysctl -qw net.ipv4.ip_forward=1')
        with open(path, 'w') as f:
            f.write(ruleset)
        out = self.cmd('nft -f %s && echo NFT-OK' % path)
        if 'NFT-OK' not in out:
            raise RuntimeError('nft refused the ruleset of %s: %s' % (self.name, out))

    def counters(self):
        """{group name: packets its rules let through, 'denied': packets dropped by
        the rules} (nft counters)."""
        out = self.cmd('nft list table inet %s' % TABLE)
        totals = {}
        for packets, name in re.findall(r'counter packets (\d+) .*comment "([^"]+)"', out):
            totals[name] = totals.get(name, 0) + int(packets)
        return totals


class Lab(Run):
    """One run of a controller-less topology. ``topo_cls(rundir=..., **params)``
    builds it; its ``configure(lab)`` sets addresses, routes and firewalls once
    the nodes run. Use as a context manager."""

    def __init__(self, topo_cls, **params):
        self.run_id = secrets.token_hex(2)
        self.rundir = '%s/lab-%s' % (RUN_BASE, self.run_id)
        self.topo = topo_cls(rundir=self.rundir, **params)
        self.net = None

    def start(self):
        self.record = RunRecord.create(self.rundir)
        self.net = Mininet(topo=self.topo, host=VM, controller=None, autoSetMacs=False,
                           build=False)
        self.net.build()
        self.record.track_network(self.net)
        self.net.start()
        for host in self.net.hosts:
            configure_vm(host)
        self.topo.configure(self)
        return self

    def stop(self):
        try:
            if self.net is not None:
                stop_network(self.net)
        finally:
            if self.record:
                cleanup.remove_run(self.record)      # what is left, by its record; the directory


def set_address(node, intf, address):
    """Only ``address`` ('ip/prefix') on ``intf``, and the interface up."""
    node.cmd('ip addr flush dev %s; ip addr add %s dev %s; ip link set %s up'
             % (intf, address, intf, intf))


def start_services(lab, services):
    """TCP echo servers (``probe.py serve``) on the given ports; returns once
    they listen."""
    for name, ports in services.items():
        node = lab.node(name)
        for port in ports:
            node.cmd('python3 %s serve tcp %d &' % (probe.__file__, port))
        node.cmd('python3 %s wait-listening %s' % (probe.__file__, ' '.join(map(str, ports))))


def tcp_ok(src, ip, port):
    """True when ``src`` opens a TCP connection to ip:port and gets its echo."""
    return src.cmd('python3 %s check tcp %s %d' % (probe.__file__, ip, port)).strip() == 'OK'


def ping_ok(src, ip):
    return ' 0% packet loss' in src.cmd('ping -c2 -i0.2 -W1 -q %s' % ip)


def interactive(topo_cls, banner, **params):
    """Run a lab with Mininet's CLI; torn down on exit, Ctrl-C and SIGTERM.
    ``--cleanup [RUN]`` instead removes what dead runs left (``cleanup.clean``)."""
    from mininet.cli import CLI
    from mininet.log import setLogLevel
    run = cleanup.requested(sys.argv[1:])
    if run is not None:
        sys.exit(cleanup.clean(run))
    setLogLevel('output')
    cleanup.warn_dead_runs('%s -m %s --cleanup' % (sys.executable, topo_cls.__module__))
    exit_on_sigterm()
    with Lab(topo_cls, **params) as lab:
        print(banner, flush=True)
        CLI(lab.net)
