"""An OVN lab built like vnetsec's emulated data center, so that the benchmarks
measure OVN (Debian's ovn-central + ovn-host, 23.03) beside vnetsec in the
same run (``bench.migration --vs-ovn``) instead of quoting figures of another day.

Every node is a network namespace named ``vnetsec-ovn-<run>-<node>``; every file
is under ``/tmp/vnetsec/ovn-<run>/`` with its run record, so the lab tears down
what it made and ``vnetsec-dc --cleanup`` removes a lab whose process died.

- ``central``: the NB and SB ovsdb-servers and ovn-northd.
- ``router``: the routed underlay; hypervisor i sits on its own subnet
  172.17.i.0/24 (router .1, hypervisor .2), so every tunnel crosses it.
- ``hvN``: its own ovsdb-server, ovs-vswitchd (userspace datapath) and
  ovn-controller; br-phy holds the uplink and the tunnel address, br-int is OVN's.
- VMs: a namespace each on a veth whose other end is plugged into its
  hypervisor's br-int (``iface-id``), all on one logical switch and in one port
  group whose stateful ACLs are vnetsec's "default" security group: all egress,
  ingress only from members.

OVN's daemons need no system service: each is started here with private files.
Nothing machine-wide is started, stopped or changed.
"""
import dataclasses
import os
import secrets
import shutil
import subprocess
import time

from pyroute2 import NetNS

from mininet_topos import cleanup
from mininet_topos.nodes import RUN_BASE, VM_MTU, Run
from mininet_topos.procs import start_time
from mininet_topos.runrecord import RunRecord

OVS_SCHEMA = '/usr/share/openvswitch/vswitch.ovsschema'
NB_SCHEMA = '/usr/share/ovn/ovn-nb.ovsschema'
SB_SCHEMA = '/usr/share/ovn/ovn-sb.ovsschema'
UNDERLAY_MTU = 1600          # room for Geneve with OVN's options under a 1450-byte VM MTU
SWITCH, GROUP = 'ls0', 'pg_default'


def require_ovn():
    missing = [tool for tool in ('ovn-northd', 'ovn-controller', 'ovn-nbctl')
               if not shutil.which(tool)]
    if missing or not os.path.exists(NB_SCHEMA):
        raise RuntimeError('OVN is not installed (%s missing): run scripts/setup.sh --ovn'
                           % ', '.join(missing or [NB_SCHEMA]))


def vm_mac(k):
    return '02:0a:00:00:%02x:%02x' % (k >> 8, k & 255)


def vm_ip(k):
    return '10.0.%d.%d' % (k >> 8, k & 255)


def lsp_args(name, mac, ip):
    """ovn-nbctl arguments creating a logical port with its address and port
    security, on the switch and in the port group (as a CMS does)."""
    address = '"%s %s"' % (mac, ip)
    return ['--', '--id=@%s' % name, 'create', 'Logical_Switch_Port', 'name=%s' % name,
            'addresses=%s' % address, 'port_security=%s' % address,
            '--', 'add', 'Logical_Switch', SWITCH, 'ports', '@%s' % name,
            '--', 'add', 'Port_Group', GROUP, 'ports', '@%s' % name]


@dataclasses.dataclass
class Vnic:
    """Where a VM's vNIC is: its hypervisor, the hypervisor end (plugged into
    br-int) and the VM end of its veth."""
    hv: str
    hv_end: str
    vm_end: str
    k: int

    @property
    def ip(self):
        return vm_ip(self.k)

    @property
    def mac(self):
        return vm_mac(self.k)


class OvnLab(Run):
    """``hypervisors`` hypervisors; ``vms`` maps VM name -> hypervisor name
    (default: vm1 on hv1, ... one per hypervisor). Use as a context manager."""

    def __init__(self, hypervisors=3, vms=None, encap='geneve'):
        self.run_id = secrets.token_hex(2)
        self.rundir = '%s/ovn-%s' % (RUN_BASE, self.run_id)
        self.hvs = ['hv%d' % i for i in range(1, hypervisors + 1)]
        self.initial_vms = vms or {'vm%d' % i: hv for i, hv in enumerate(self.hvs, 1)}
        self.encap = encap
        self.vnics = {}            # VM name -> Vnic
        self.crashes = []          # (hypervisor, ovs-vswitchd's last EMER log line)

    # ---- names, files and commands ------------------------------------------
    def ns(self, node):
        return self.record.netns_name(node) if self.record else None

    def dir(self, node):
        return '%s/%s' % (self.rundir, node)

    def _env(self, node):
        d = self.dir(node)
        return ['env'] + ['%s_%s=%s' % (tool, kind, d) for tool in ('OVS', 'OVN')
                          for kind in ('RUNDIR', 'DBDIR', 'LOGDIR', 'SYSCONFDIR')]

    def sh(self, node, *argv, check=True):
        """Run ``argv`` inside ``node``'s namespace; returns its output."""
        return _run(['ip', 'netns', 'exec', self.ns(node)] + self._env(node) + list(argv),
                    check)

    def vsctl(self, hv, *args):
        return _run(['ovs-vsctl', '--timeout=20', '--db=unix:%s/db.sock' % self.dir(hv)]
                    + list(args))

    def appctl(self, hv, *args):
        return _run(['ovs-appctl', '-t', '%s/ovs-vswitchd.ctl' % self.dir(hv)] + list(args))

    def nbctl(self, *args):
        return _run(['ovn-nbctl', '--timeout=30', '--db=unix:%s/nb.sock'
                     % self.dir('central')] + list(args))

    def _daemon(self, node, program, *args, name=None):
        """Start a daemon in ``node`` with its PID file, control socket and log
        in ``node``'s directory, under ``name`` (default: the program's)."""
        d = self.dir(node)
        name = name or program
        # ovn-controller takes no --unixctl: its socket is OVN_RUNDIR/ovn-controller.PID.ctl
        ctl = [] if program == 'ovn-controller' else ['--unixctl=%s/%s.ctl' % (d, name)]
        self.sh(node, program, *args, *ctl, '--pidfile=%s/%s.pid' % (d, name),
                '--log-file=%s/%s.log' % (d, name),
                '-vconsole:off', '--detach', '--no-chdir')

    def _add_ns(self, node):
        self.record.add(('netns', self.ns(node)))       # before it exists
        os.makedirs(self.dir(node), exist_ok=True)
        _run(['ip', 'netns', 'add', self.ns(node)])
        self.sh(node, 'sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1',
                'net.ipv6.conf.default.disable_ipv6=1')
        self.sh(node, 'ip', 'link', 'set', 'lo', 'up')

    # ---- up and down ---------------------------------------------------------
    def start(self):
        require_ovn()
        self.record = RunRecord.create(self.rundir)
        self._central()
        self._add_ns('router')
        self.sh('router', 'sysctl', '-qw', 'net.ipv4.ip_forward=1')
        for i, hv in enumerate(self.hvs, 1):
            self._hypervisor(i, hv)
        for k, (vm, hv) in enumerate(sorted(self.initial_vms.items()), 1):
            self.add_vm(vm, hv, k)
        self.nbctl('--wait=hv', 'sync')
        for vm in self.vnics:
            self.nbctl('wait-until', 'Logical_Switch_Port', vm, 'up=true')
        return self

    def stop(self):
        if self.record:
            cleanup.remove_run(self.record)     # its processes, namespaces, directory

    def _central(self):
        self._add_ns('central')
        d = self.dir('central')
        for db, schema, root in (('nb', NB_SCHEMA, 'OVN_Northbound,NB_Global'),
                                 ('sb', SB_SCHEMA, 'OVN_Southbound,SB_Global')):
            _run(['ovsdb-tool', 'create', '%s/%s.db' % (d, db), schema])
            self._daemon('central', 'ovsdb-server', '%s/%s.db' % (d, db),
                         '--remote=punix:%s/%s.sock' % (d, db),
                         '--remote=db:%s,connections' % root, name='ovsdb-server-' + db)
        self.nbctl('--no-wait', 'init')
        self._daemon('central', 'ovn-northd', '--ovnnb-db=unix:%s/nb.sock' % d,
                     '--ovnsb-db=unix:%s/sb.sock' % d)
        self.nbctl('ls-add', SWITCH, '--', 'pg-add', GROUP)
        for direction, priority, match, verdict in (
                ('from-lport', 1002, 'inport == @%s && ip4' % GROUP, 'allow-related'),
                ('to-lport', 1002, 'outport == @%s && ip4 && ip4.src == $%s_ip4'
                 % (GROUP, GROUP), 'allow-related'),
                ('to-lport', 1001, 'outport == @%s && ip4' % GROUP, 'drop')):
            self.nbctl('acl-add', GROUP, direction, str(priority), match, verdict)

    def _hypervisor(self, i, hv):
        self._add_ns(hv)
        d = self.dir(hv)
        self.sh(hv, 'sysctl', '-qw', 'net.ipv4.conf.all.arp_ignore=1')
        _run(['ovsdb-tool', 'create', '%s/conf.db' % d, OVS_SCHEMA])
        self._daemon(hv, 'ovsdb-server', '%s/conf.db' % d, '--remote=punix:%s/db.sock' % d)
        self.vsctl(hv, '--no-wait', 'init')
        self._start_vswitchd(hv)
        # the uplink: 'up0' here, 'u<i>' in the router
        _run(['ip', '-n', self.ns('router'), 'link', 'add', 'u%d' % i, 'mtu', str(UNDERLAY_MTU),
              'type', 'veth', 'peer', 'name', 'up0', 'mtu', str(UNDERLAY_MTU),
              'netns', self.ns(hv)])
        self.sh('router', 'ip', 'link', 'set', 'u%d' % i, 'address', router_mac(i), 'up')
        self.sh('router', 'ip', 'addr', 'add', '172.17.%d.1/24' % i, 'dev', 'u%d' % i)
        self.sh(hv, 'ip', 'link', 'set', 'up0', 'up')
        self.vsctl(hv, 'add-br', 'br-phy', '--', 'set', 'bridge', 'br-phy',
                   'datapath_type=netdev', 'fail_mode=standalone',
                   'other_config:hwaddr=%s' % phy_mac(i), 'other_config:disable-in-band=true',
                   '--', 'set', 'interface', 'br-phy', 'mtu_request=%d' % UNDERLAY_MTU,
                   '--', 'add-port', 'br-phy', 'up0',
                   '--', 'add-br', 'br-int', '--', 'set', 'bridge', 'br-int',
                   'datapath_type=netdev', 'fail_mode=secure',
                   'other_config:disable-in-band=true')
        self._underlay_address(i, hv)
        self.vsctl(hv, 'set', 'Open_vSwitch', '.', 'external_ids:system-id=%s' % hv,
                   'external_ids:hostname=%s' % hv,
                   'external_ids:ovn-remote=unix:%s/sb.sock' % self.dir('central'),
                   'external_ids:ovn-encap-type=%s' % self.encap,
                   'external_ids:ovn-encap-ip=172.17.%d.2' % i,
                   'external_ids:ovn-bridge=br-int',
                   'external_ids:ovn-bridge-datapath-type=netdev',
                   'external_ids:ovn-remote-probe-interval=0',
                   'external_ids:ovn-openflow-probe-interval=0')
        self._daemon(hv, 'ovn-controller', 'unix:%s/db.sock' % d)

    def _start_vswitchd(self, hv):
        self._daemon(hv, 'ovs-vswitchd', 'unix:%s/db.sock' % self.dir(hv))

    def _underlay_address(self, i, hv):
        """The tunnel address on br-phy, the route through the router, and the
        router's MAC told to OVS's tunnel code (no first packet lost to ARP)."""
        self.sh(hv, 'ip', 'link', 'set', 'br-phy', 'address', phy_mac(i), 'up')
        self.sh(hv, 'ip', 'addr', 'replace', '172.17.%d.2/24' % i, 'dev', 'br-phy')
        self.sh(hv, 'ip', 'route', 'replace', '172.17.0.0/16', 'via', '172.17.%d.1' % i)
        self.appctl(hv, 'tnl/neigh/set', 'br-phy', '172.17.%d.1' % i, router_mac(i))
        self.sh('router', 'ping', '-c1', '-W1', '172.17.%d.2' % i, check=False)

    # ---- VMs ---------------------------------------------------------------
    def add_vm(self, vm, hv, k=None):
        """A VM namespace on a new veth, its logical port, plugged into ``hv``."""
        k = k or len(self.vnics) + 1
        self._add_ns(vm)
        self.sh(vm, 'sysctl', '-qw', 'net.ipv4.conf.all.arp_evict_nocarrier=0')
        self.nbctl(*lsp_args(vm, vm_mac(k), vm_ip(k)))
        vnic = Vnic(hv, '%sp0' % vm, 'eth0', k)
        self.veth(vm, vnic, up=True)
        self.plug(hv, vnic.hv_end, vm)
        self.vnics[vm] = vnic

    def veth(self, vm, vnic, up):
        """The veth of ``vnic`` (VM end configured and up; the hypervisor end up
        only if ``up``: a paused VM's vNIC has no carrier)."""
        _run(['ip', '-n', self.ns(vm), 'link', 'add', vnic.vm_end, 'address', vnic.mac,
              'mtu', str(VM_MTU), 'type', 'veth', 'peer', 'name', vnic.hv_end,
              'netns', self.ns(vnic.hv)])
        self.sh(vm, 'ip', 'addr', 'add', vnic.ip + '/16', 'dev', vnic.vm_end)
        self.sh(vm, 'ip', 'link', 'set', vnic.vm_end, 'up')
        # the userspace datapath does not complete partial checksums: TCP needs tx off
        self.sh(vm, 'ethtool', '-K', vnic.vm_end, 'tx', 'off', check=False)
        if up:
            self.sh(vnic.hv, 'ip', 'link', 'set', vnic.hv_end, 'up')

    def plug(self, hv, device, lsp):
        self.vsctl(hv, '--may-exist', 'add-port', 'br-int', device, '--', 'set', 'interface',
                   device, 'external_ids:iface-id=%s' % lsp)

    def netns(self, node):
        """A pyroute2 handle on ``node``'s namespace (close it after use)."""
        return NetNS(self.ns(node), flags=0)

    # ---- switch crashes ----------------------------------------------------
    def vswitchd_alive(self, hv):
        try:
            with open('%s/ovs-vswitchd.pid' % self.dir(hv)) as f:
                return start_time(int(f.read().strip())) is not None
        except (OSError, ValueError):
            return False

    def check_switches(self):
        """Restart any ovs-vswitchd that died (OVS 3.1's userspace conntrack can
        abort on OVN's nat commits), recording it in ``crashes``; returns the
        hypervisors restarted now."""
        dead = [hv for hv in self.hvs if not self.vswitchd_alive(hv)]
        for hv in dead:
            with open('%s/ovs-vswitchd.log' % self.dir(hv), errors='replace') as f:
                emer = [line.strip() for line in f if '|EMER|' in line]
            self.crashes.append((hv, emer[-1] if emer else 'no EMER line in its log'))
            self._start_vswitchd(hv)
            i = self.hvs.index(hv) + 1
            self._underlay_address(i, hv)       # br-phy's tap was made again
            for name in self.vsctl(hv, 'list-ports', 'br-int').split():
                self.sh(hv, 'ip', 'link', 'set', name, 'up', check=False)
        for hv in dead:
            self._wait_flows_back(hv)
        if dead:
            self.nbctl('--wait=hv', 'sync')
        return dead

    def _wait_flows_back(self, hv, timeout=15):
        """ovn-controller reconnects to a new ovs-vswitchd after a back-off and
        then loads its flows: wait until br-int has flows, the same count twice."""
        last, deadline = None, time.time() + timeout
        while time.time() < deadline:
            out = _run(['ovs-ofctl', 'dump-aggregate', 'unix:%s/br-int.mgmt' % self.dir(hv)],
                       check=False)
            count = int(out.split('flow_count=')[1].split()[0]) if 'flow_count=' in out else 0
            if count and count == last:
                return
            last = count
            time.sleep(0.2)
        raise RuntimeError('OVN: no flows came back on %s after ovs-vswitchd restarted' % hv)


def router_mac(i):
    return '02:fd:00:00:00:%02x' % i


def phy_mac(i):
    return '02:fe:00:01:00:%02x' % i


def _run(argv, check=True):
    proc = subprocess.run(argv, capture_output=True, text=True)
    if check and proc.returncode:
        raise RuntimeError('%s failed (%d): %s' % (' '.join(argv), proc.returncode,
                                                   (proc.stderr or proc.stdout).strip()))
    return proc.stdout
