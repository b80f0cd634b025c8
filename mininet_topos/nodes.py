"""Mininet node types of the emulated data center.

- ``Hypervisor``: a namespace running its own OVS: br-int (controller-managed,
  fail_mode=secure; the VMs' vNICs, one flow-based VXLAN port, a patch port to
  br-phy) and br-phy (standalone; the uplink NIC to the ToR and the VTEP address).
- ``TorSwitch``: a rack's top-of-rack switch, also its own OVS, managed by the
  controller (allowed VLANs per port).
- ``Router``: joins the racks' underlay subnets, so tunnels cross IP subnets.
- ``MgmtBridge``: the management network in the root namespace (the controller's
  side); each switch reaches the controller over its own link to it.
- ``configure_vm``: what a VM's NICs need on the userspace datapath.

All of them are Mininet ``Switch`` subclasses living in namespaces, so that
``net.hosts`` (and ``pingall``) holds only the VMs.
"""
import ipaddress
import os
import re
import signal
import sys
import time

from mininet.net import Mininet
from mininet.node import Host, Switch

from agent.server import DEFAULT_PORT as AGENT_PORT
from controller.compile import pipeline as P
from mininet_topos.ovs import PrivateOvs
from mininet_topos.procs import (cmdline, exit_on_sigterm, signals_deferred, start_time,
                                 terminate)

Mininet.inited = True          # never let Mininet change machine-wide sysctls
# Every node's shell runs on a pty, and iproute2 6.x as Debian 13 builds it
# colours its output on a tty: the lab (and Mininet) parse that output as text
os.environ['NO_COLOR'] = '1'
RUN_BASE = '/tmp/vnetsec'      # each run's files: RUN_BASE/<run>/
VM_MTU = 1450       # room for the 50-byte VXLAN header on a 1500-byte underlay


class VM(Host):
    """A VM: Mininet's host, whose ``popen`` enters only its network namespace.

    Mininet's ``mnexec -a`` enters the host's mount namespace too, and entering
    a mount namespace resets the root directory to that namespace's: from a
    chroot (a brand-new Debian root) the command leaves it and fails. A VM's
    only private mount is its /sys, which nothing run this way reads."""

    def popen(self, *args, **kwargs):
        kwargs.setdefault('mncmd', ['nsenter', '--target', str(self.pid), '--net'])
        return super().popen(*args, **kwargs)


def configure_vm(vm):
    # arp_evict_nocarrier=0: moving the hypervisor end of a VM's veth drops the
    # VM's carrier for an instant, which a migrated VM's NIC never sees; its ARP
    # cache must survive it as a real guest's does
    vm.cmd('sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 '
           'net.ipv4.conf.all.arp_evict_nocarrier=0')
    for intf in vm.intfNames():
        if intf != 'lo':
            # the userspace datapath does not complete partial checksums: TCP needs tx off
            vm.cmd('ethtool -K %s tx off >/dev/null 2>&1; ip link set %s mtu %d'
                   % (intf, intf, VM_MTU))
    if vm.params.get('ip6'):
        enable_ipv6(vm, vm.params['ip6'])


def enable_ipv6(vm, address, intf=None):
    """Dual stack on the VM's NIC ``intf`` (its default one): its address (/64)
    and its link-local one,
    without Duplicate Address Detection (no 1-2 s wait before the address is
    usable; the controller already keeps addresses unique) and without
    accepting or soliciting router advertisements (there is no router; an RA
    from a VM must change nothing)."""
    intf = intf or vm.defaultIntf().name
    knobs = ' '.join('net.ipv6.conf.%s.%s' % (where, knob) for where in ('default', intf)
                     for knob in ('accept_dad=0', 'dad_transmits=0', 'accept_ra=0',
                                  'router_solicitations=0', 'keep_addr_on_down=1'))
    # as arp_evict_nocarrier above: a move's carrier blip must not empty the cache
    vm.cmd('sysctl -qw net.ipv6.conf.%s.ndisc_evict_nocarrier=0 2>/dev/null' % intf)
    vm.cmd('sysctl -qw %s' % knobs)
    vm.cmd('sysctl -qw net.ipv6.conf.%s.disable_ipv6=0' % intf)
    vm.cmd('ip -6 addr add %s/64 dev %s nodad' % (address, intf))


class _NotOpenFlow(Switch):
    """A Mininet switch that is no OpenFlow switch (no datapath id)."""

    def defaultDpid(self, dpid=None):
        return '0' * 16


class OvsSwitchNode(Switch):
    """A Mininet switch in its own namespace running a private OVS."""
    bridge = 'br-int'       # the controller-managed bridge

    def __init__(self, name, rundir='/tmp/vnetsec', controller_target='', client=None,
                 mgmt_ip='', tls=None, **params):
        params['inNamespace'] = True     # Mininet passes its own default (False)
        super().__init__(name, **params)
        self.ovs = PrivateOvs(self, '%s/%s' % (rundir, name))
        self.controller_target = controller_target
        self.client = client
        self.mgmt_ip = mgmt_ip
        self.tls = tls          # (key, certificate, CA certificate) for ssl: targets

    def udp_no_ports(self):
        """UDP datagrams the namespace's kernel found no socket for, since it
        began (``nstat``'s UdpNoPorts): VXLAN that OVS handed to the kernel
        instead of decapsulating it. None if nstat did not say."""
        found = re.findall(r'UdpNoPorts\s+(\d+)', self.cmd('nstat -asz UdpNoPorts'))
        return int(found[0]) if found else None

    def defaultDpid(self, dpid=None):
        return '%016x' % int(dpid or '1', 16)

    @property
    def switch_address(self):
        """'IP:PORT' where this switch listens for its controllers (a ptcp: or
        pssl: target; they dial it), or '' (it connects to them)."""
        for target in self.controller_target.split():
            kind, _, rest = target.partition(':')
            if kind in ('ptcp', 'pssl'):
                port, _, ip = rest.partition(':')
                return '%s:%s' % (ip, port)
        return ''

    @property
    def dpid_int(self):
        return int(self.dpid, 16)

    def start_ovs(self):
        # arp_ignore=1: the kernel still sees frames on NICs owned by the userspace
        # datapath; it must not answer ARP for the VTEP address on the uplink.
        self.cmd('sysctl -qw net.ipv6.conf.all.disable_ipv6=1 '
                 'net.ipv6.conf.default.disable_ipv6=1 net.ipv4.conf.all.arp_ignore=1')
        self.cmd('ip link set lo up')
        mgmt = [i.name for i in self.intfList() if i.name.startswith('mgmt')]
        if mgmt and self.mgmt_ip:
            self.cmd('ip addr add %s dev %s; ip link set %s up' % (self.mgmt_ip, mgmt[0],
                                                                   mgmt[0]))
        self.ovs.start()
        if self.tls:
            # before the bridge and its ssl: controller exist: the first attempt has it
            self.ovs.vsctl('set-ssl %s %s %s' % self.tls)

    def managed_bridge(self, bridge):
        """vsctl arguments for a controller-managed netdev bridge of ours."""
        # the controller is set in the same transaction that creates the bridge:
        # OVS flushes a bridge's flows when its controller setting changes.
        # one Controller row per target (the controller replicas), each out-of-band;
        # a passive target (ptcp:, which the controllers dial) needs type=primary:
        # OVS makes it a "service" connection otherwise, which hears no port-status
        targets = self.controller_target.split()
        controllers = ''.join(
            '-- --id=@ctl{i} create controller \'target="{t}"\' connection_mode=out-of-band '
            '{primary}max_backoff=1000 inactivity_probe=30000 '.format(
                i=i, t=t, primary='type=primary ' if t.startswith('p') else '')
            for i, t in enumerate(targets))
        return ('-- add-br {b} -- set bridge {b} datapath_type=netdev fail_mode=secure '
                'protocols=OpenFlow10,OpenFlow13,OpenFlow14 other_config:datapath-id={dpid} '
                'other_config:disable-in-band=true '
                '{controllers}-- set bridge {b} controller={ids}'
                .format(b=bridge, dpid=self.dpid, controllers=controllers,
                        ids=','.join('@ctl%d' % i for i in range(len(targets)))))

    def stop(self, deleteIntfs=True):
        self.ovs.stop()
        super().stop(deleteIntfs)

    def terminate(self):
        self.ovs.stop()
        super().terminate()

    def connected(self):
        return self.ovs.vsctl('--columns=is_connected list controller').count('true') > 0


class Hypervisor(OvsSwitchNode):
    """params: rack, vtep ('172.16.1.11/24'), gateway (the rack's router address),
    underlay (the prefix routed through it), mgmt_ip. Its links are found by
    name: ``mgmt0`` (management), ``up0`` (uplink to the ToR), ``tap*`` (vNICs)."""

    # OVS learns no route from the namespace's table: only the pinned ones (see
    # pin_underlay_routes); True is the lab before 2026-12-08 (bench.move_loss's reference)
    system_routes = False

    def __init__(self, name, rack=1, vtep='', gateway='', underlay='172.16.0.0/16',
                 **params):
        super().__init__(name, **params)
        self.rack, self.vtep, self.gateway, self.underlay = rack, vtep, gateway, underlay
        if not self.system_routes:
            self.ovs.vswitchd_options = '--disable-system-route'

    @property
    def vtep_ip(self):
        return self.vtep.split('/')[0]

    @property
    def phy_mac(self):
        return '02:fe:00:00:%02x:%02x' % (self.dpid_int >> 8 & 0xff, self.dpid_int & 0xff)

    def intf_to(self, prefix):
        return [i.name for i in self.intfList() if i.name.startswith(prefix)]

    def start(self, controllers):
        self.start_ovs()
        uplink = self.intf_to('up')[0]
        self.cmd('ip addr flush dev %s; ip link set %s up' % (uplink, uplink))
        self.ovs.vsctl(
            '-- add-br br-phy -- set bridge br-phy datapath_type=netdev fail_mode=standalone '
            'other_config:hwaddr=%s other_config:disable-in-band=true '
            '-- add-port br-phy %s '
            '-- add-port br-phy patch-int -- set interface patch-int type=patch '
            'options:peer=%s %s '
            '-- add-port br-int %s -- set interface %s type=vxlan options:remote_ip=flow '
            'options:key=flow ofport_request=%d '
            '-- add-port br-int %s -- set interface %s type=patch options:peer=patch-int '
            'ofport_request=%d'
            % (self.phy_mac, uplink, P.UPLINK_PORT_NAME, self.managed_bridge('br-int'),
               P.TUNNEL_PORT_NAME, P.TUNNEL_PORT_NAME, P.TUNNEL_OFPORT,
               P.UPLINK_PORT_NAME, P.UPLINK_PORT_NAME, P.UPLINK_OFPORT))
        # the VTEP's MAC must be br-phy's hwaddr from the first ARP on (vswitchd sets
        # it on the tap a moment later, after the kernel may have used a random one)
        self.cmd('ip link set br-phy address %s; ip addr add %s dev br-phy; '
                 'ip link set br-phy up' % (self.phy_mac, self.vtep))
        if self.gateway:
            self.cmd('ip route add %s via %s dev br-phy' % (self.underlay, self.gateway))
        self.pin_underlay_routes()
        agent = self.agent_address()
        if self.client:
            self.client.register_host(self.name, self.dpid_int, rack=self.rack,
                                      vtep_ip=self.vtep_ip,
                                      switch_address=self.switch_address, **agent)
        if agent:
            self.start_agent(agent['agent'])
        for intf in self.intfList():
            if intf.name.startswith('tap'):
                link = intf.link
                configure_vm((link.intf1 if link.intf2 is intf else link.intf2).node)
                self.plug(intf.name)

    def agent_address(self):
        """{'agent': 'IP:port'}: where this host's agent will answer ({} without one)."""
        if not (self.client and self.client.token and self.mgmt_ip):
            return {}
        return {'agent': '%s:%d' % (self.mgmt_ip.split('/')[0], AGENT_PORT)}

    def start_agent(self, address):
        """The hypervisor agent (``agent.server``) at ``address``, with this host's
        own agent token (as an orchestrator installs it: from the API, never the
        API's token) and, with TLS, this switch's lab certificate, accepting only
        clients the lab CA signed. The host is registered already."""
        token = self.client.get('/v1/hosts/%s/agent-credential' % self.name)['token']
        token_file = '%s/agent.token' % self.ovs.dir
        fd = os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, 'w') as f:
            f.write(token)
        tls = ('--key %s --cert %s --ca %s' % self.tls) if self.tls else ''
        self.cmd('%s -m agent.server --listen %s --ovs-ctl %s/ovs-vswitchd.ctl '
                 '--token-file %s --pidfile %s/agent.pid %s > %s/agent.log 2>&1 &'
                 % (sys.executable, address, self.ovs.dir, token_file, self.ovs.dir, tls,
                    self.ovs.dir))

    def stop_agent(self):
        try:
            with open('%s/agent.pid' % self.ovs.dir) as f:
                pid = int(f.read())
        except (OSError, ValueError):
            return
        if self.ovs.dir + '/' in cmdline(pid):
            terminate({pid: start_time(pid)})

    def stop(self, deleteIntfs=True):
        self.stop_agent()
        super().stop(deleteIntfs)

    def terminate(self):
        self.stop_agent()
        super().terminate()

    def plug(self, device):
        self.cmd('ip link set %s up' % device)
        self.ovs.vsctl('--may-exist add-port br-int %s' % device)

    def unplug(self, device):
        self.ovs.vsctl('--if-exists del-port br-int %s' % device)

    def underlay_routes(self):
        """[(prefix, next hop or '')]: how this host reaches the other VTEPs."""
        rack = str(ipaddress.ip_interface(self.vtep).network)
        return [(rack, '')] + ([(self.underlay, self.gateway)] if self.gateway else [])

    def pin_underlay_routes(self):
        """The underlay routes as OVS's own (user) routes: the only routes its
        tunnels use, since its vswitchd learns none from the namespace
        (``--disable-system-route``). A learned copy of the kernel's routes is
        flushed and read again on ANY link change in the namespace (a vNIC
        plugged, unplugged or moved in), and each learned route on br-phy that
        goes also takes br-phy's address out of OVS's table of tunnel endpoints
        until the read puts it back (``ovs_router_flush`` ->
        ``tnl_port_map_delete_ipdev``): a flow translated in that gap sent the
        tunnel out with no route (a drop) or, arriving, handed a VXLAN packet
        to the kernel instead of decapsulating it (``UdpNoPorts``): another
        VM's ping through this host was lost (issue 32, ``bench.move_loss``).
        User routes are never flushed."""
        for prefix, via in self.underlay_routes():
            for _ in range(50):     # vswitchd may not have seen br-phy's address yet
                said = self.ovs.appctl('ovs/route/add %s br-phy %s' % (prefix, via))
                if 'OK' in said:
                    break
                time.sleep(0.1)
            else:
                raise RuntimeError('%s: ovs/route/add %s: %s' % (self.name, prefix, said))

    def seed_neighbour(self, ip, mac):
        """Tell OVS's tunnel code a next hop's MAC: no first packet lost to ARP."""
        self.ovs.appctl('tnl/neigh/set br-phy %s %s' % (ip, mac))


class TorSwitch(OvsSwitchNode):
    """A rack's ToR: one controller-managed bridge over all its links. ``ports``
    maps interface name -> the uplink name the controller knows ('hv:hv1',
    'rack:2', 'router')."""

    bridge = 'br-tor'

    def __init__(self, name, rack=1, ports=None, **params):
        super().__init__(name, **params)
        self.rack = rack
        self.port_roles = ports or {}

    def start(self, controllers):
        self.start_ovs()
        args = [self.managed_bridge(self.bridge)]
        uplinks = {}
        for number, intf in enumerate(self.intfList(), start=1):
            if intf.name == 'lo' or intf.name.startswith('mgmt'):
                continue
            self.cmd('ip link set %s up' % intf)
            args.append('-- add-port %s %s -- set interface %s ofport_request=%d'
                        % (self.bridge, intf, intf, number))
            role = self.port_roles.get(intf.name)
            if role:
                uplinks[role] = number
        self.ovs.vsctl(' '.join(args))
        if self.client:
            self.client.register_host(self.name, self.dpid_int, role='tor', rack=self.rack,
                                      uplinks=uplinks, switch_address=self.switch_address)


class Router(_NotOpenFlow):
    """A namespace forwarding IPv4 between the racks' underlay subnets."""

    def __init__(self, name, addresses=None, **params):
        params['inNamespace'] = True
        super().__init__(name, **params)
        self.addresses = addresses or {}      # intf name -> (ip/prefix, mac)

    def start(self, controllers):
        self.cmd('sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.disable_ipv6=1')
        for intf, (address, mac) in self.addresses.items():
            self.cmd('ip link set %s address %s; ip addr add %s dev %s; ip link set %s up'
                     % (intf, mac, address, intf, intf))


class MgmtBridge(_NotOpenFlow):
    """The management network: a Linux bridge in the root namespace holding the
    controller-side address. Stands alone: no route leaves it."""

    def __init__(self, name, address='', **params):
        params['inNamespace'] = False
        super().__init__(name, **params)
        self.address = address

    def start(self, controllers):
        self.cmd('ip link add %s type bridge 2>/dev/null' % self)   # may be made early
        for intf in self.intfList():
            if intf.name != 'lo':
                self.cmd('ip link set %s master %s; ip link set %s up' % (intf, self, intf))
        self.cmd('ip addr replace %s dev %s; ip link set %s up' % (self.address, self, self))

    def stop(self, deleteIntfs=True):
        self.cmd('ip link del %s' % self)
        super().stop(deleteIntfs)


def _stop_jobs(node):
    """Interrupt a command still running in a node's shell and kill the background
    jobs started there (all of them this run's, by PID)."""
    if not node.shell:
        return
    deadline = time.time() + 2
    while node.waiting and time.time() < deadline:
        node.sendInt()
        node.monitor(timeoutms=200)
    node.waiting = False
    node.cmd('kill $(jobs -p) 2>/dev/null')


def stop_network(net):
    """Stop a Mininet network of ours: the jobs its nodes started, the private OVS
    daemons (by PID, first), then Mininet's own teardown of its nodes and links."""
    for node in net.hosts + net.switches:
        _stop_jobs(node)
    for switch in net.switches:
        if isinstance(switch, OvsSwitchNode):
            switch.ovs.stop()
    net.stop()


class Run:
    """A run of an emulated network (``start``/``stop``) usable as a context
    manager: ``stop`` runs on exit, also when ``start`` fails half-way, on
    Ctrl-C and on SIGTERM (which raises SystemExit while a run is up, unless the
    process handles SIGTERM itself; a SIGTERM or SIGALRM during ``stop`` waits
    for its end).
    ``record``: what it made (``runrecord``), once ``start`` has made its directory."""
    record = None
    _sigterm = None          # the SIGTERM handler to put back once stopped

    def __enter__(self):
        self._sigterm = exit_on_sigterm()
        try:
            return self.start()
        except BaseException:
            self._teardown()
            raise

    def __exit__(self, *exc):
        self._teardown()

    def _teardown(self):
        try:
            with signals_deferred():
                self.stop()
        finally:
            if self._sigterm is not None:
                signal.signal(signal.SIGTERM, self._sigterm)
                self._sigterm = None

    def node(self, name):
        return self.net[name]
