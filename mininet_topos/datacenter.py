"""The emulated data center: racks of hypervisors with VMs, a routed underlay,
ToR switches with 802.1Q trunks between racks, and a management network.

``DataCenterTopo`` is a Mininet topology (Python and ``mn --custom``);
``DataCenter`` runs one: its controller (unless given one), the registration of
networks and vNICs through the REST API, readiness, and a teardown that stops
only what this run started.

Addressing: VMs 10.0.0.0/16 on every network (so only segmentation keeps networks
apart) and, with ``ipv6`` (``vnetsec-dc --ipv6``), fd00::/64 beside it; rack r's underlay 172.16.r.0/24 with the router at .1 and hypervisors
from .11; the management network 172.30.M.0/24 with the controller at .254.
"""
import os
import re
import secrets
import signal
import socket
import subprocess
import time

from mininet.log import warn
from mininet.net import Mininet
from mininet.topo import Topo

from controller.state.private_files import copy_private
from mininet_topos.cleanup import remove_run
from mininet_topos.client import ApiError, Client
from mininet_topos.controller_proc import APPS, ControllerProcess, write_config
from mininet_topos.replicas import Replicas
from mininet_topos.nodes import (RUN_BASE, Hypervisor, MgmtBridge, Router, Run, TorSwitch, VM,
                                  stop_network)
from mininet_topos.runrecord import RunRecord, make_run_dir
from mininet_topos.tls import LabCA

TOR_DPID_BASE = 0x7000
SWITCH_PORT = 6653     # where switches that listen for their controllers listen


def parse_networks(spec):
    """'vlan:10,vlan:20,vxlan:5000' -> [('vlan', 10), ...]; 'vlan' alone: allocated."""
    out = []
    for item in (spec or 'vxlan:5000').split(','):
        kind, _, seg = item.strip().partition(':')
        if kind not in ('vlan', 'vxlan'):
            raise ValueError('network kind must be vlan or vxlan, not %r' % kind)
        out.append((kind, int(seg) if seg else None))
    return out


def vm_address(k):
    return '02:00:00:00:%02x:%02x' % (k >> 8, k & 0xff), '10.0.%d.%d' % (k >> 8, k & 0xff)


def vm_address6(k):
    """VM k's IPv6 address (dual stack): fd00::k, in fd00::/64 on every network."""
    return 'fd00::%x' % k


def router_mac(rack):
    return '02:fd:00:00:00:%02x' % rack


class DataCenterTopo(Topo):
    """racks x hypervisors (per rack) x vms (per hypervisor); networks round-robin.

    With a ``client`` the topology registers its networks and vNICs with the
    controller while it is built, and its switches register themselves when they
    start (as compute nodes do). With a ``tls_ca`` (a ``LabCA``) every switch
    gets a certificate it signed, for an ``ssl:`` controller target."""

    def build(self, racks=2, hypervisors=2, vms=2, networks=None, rundir=RUN_BASE,
              mgmt_prefix='172.30.250', mgmt_name='vnmgmt', controller='',
              client=None, tls_ca=None, api='', switch_port=0, ipv6=False):
        if client is None and controller == '' or api:      # mn --custom
            client = Client(api or 'http://127.0.0.1:8080',
                            os.environ.get('VNETSEC_API_TOKEN', ''))
            controller = controller or 'tcp:%s.254:6653' % mgmt_prefix
            rundir = os.environ.get('VNETSEC_MN_RUNDIR', rundir)   # python -m mininet_topos.mn
            if rundir != RUN_BASE and not os.path.isdir(rundir):
                make_run_dir(rundir)
        self.client = client
        specs = parse_networks(networks) if isinstance(networks, (str, type(None))) \
            else networks
        net_names = []
        for kind, seg in specs:
            name = '%s%s' % (kind, seg if seg is not None else len(net_names) + 1)
            if client:
                name = client.ensure_network(name, kind, seg)['name']
            net_names.append(name)
        self.network_of_vm = {}
        common = dict(rundir=rundir, client=client)

        def own(switch, mgmt_ip):
            """A switch's credentials, management address and controller target:
            with a ``switch_port`` it listens there for the controllers to dial."""
            target = ('%s:%d:%s' % ('pssl' if tls_ca else 'ptcp', switch_port,
                                    mgmt_ip.split('/')[0]) if switch_port else controller)
            return dict(tls=tls_ca.credentials(switch) if tls_ca else None, mgmt_ip=mgmt_ip,
                        controller_target=target)
        mgmt = self.addSwitch(mgmt_name, cls=MgmtBridge, address='%s.254/24' % mgmt_prefix)
        router = self.addSwitch('router', cls=Router, addresses={
            'r%d' % r: ('172.16.%d.1/24' % r, router_mac(r)) for r in range(1, racks + 1)}) \
            if racks > 1 else None
        tors = {}
        for r in range(1, racks + 1):
            ports = {}
            tors[r] = self.addSwitch('tor%d' % r, cls=TorSwitch, rack=r, ports=ports,
                                     dpid='%x' % (TOR_DPID_BASE + r),
                                     **own('tor%d' % r, '%s.%d/24' % (mgmt_prefix, 200 + r)),
                                     **common)
            self.addLink(tors[r], mgmt, intfName1='mgmt0')
            if router:
                self.addLink(tors[r], router, intfName1='rtr', intfName2='r%d' % r)
            for other in range(1, r):
                self.addLink(tors[r], tors[other], intfName1='tr%d' % other,
                             intfName2='tr%d' % r)
                ports['tr%d' % other] = 'rack:%d' % other
                self.nodeInfo(tors[other])['ports']['tr%d' % r] = 'rack:%d' % r
        n = k = 0
        for r in range(1, racks + 1):
            for i in range(1, hypervisors + 1):
                n += 1
                hv = self.addSwitch(
                    'hv%d' % n, cls=Hypervisor, dpid='%x' % n, rack=r,
                    vtep='172.16.%d.%d/24' % (r, 10 + i),
                    gateway='172.16.%d.1' % r if router else '',
                    **own('hv%d' % n, '%s.%d/24' % (mgmt_prefix, n)), **common)
                self.addLink(hv, mgmt, intfName1='mgmt0')
                self.addLink(hv, tors[r], intfName1='up0', intfName2='hv%d' % n)
                self.nodeInfo(tors[r])['ports']['hv%d' % n] = 'hv:hv%d' % n
                for _ in range(vms):
                    k += 1
                    mac, ip = vm_address(k)
                    ip6 = vm_address6(k) if ipv6 else ''
                    vm = self.addHost('vm%d' % k, ip=ip + '/16', mac=mac, ip6=ip6)
                    self.addLink(vm, hv, intfName1='vm%d-eth0' % k, intfName2='tapvm%d' % k)
                    network = net_names[(k - 1) % len(net_names)]
                    self.network_of_vm[vm] = network
                    if client:
                        client.ensure_port(name=vm, network_id=network, mac=mac,
                                           ips=[ip] + ([ip6] if ip6 else []),
                                           device='tapvm%d' % k, host='hv%d' % n)


def controller_targets(controllers, address, scheme='tcp'):
    """OVS controller targets for 'HOST:PORT[,HOST:PORT...]' (one per replica, so
    every switch connects to every one): the switches reach this machine's
    controllers at ``address``, its end of the management network, whatever HOST
    names (127.0.0.1 for the user: the controller must listen on every address
    or on ``address``). E.g. 'tcp:172.30.250.254:6653 tcp:172.30.250.254:6654'."""
    targets = []
    for part in controllers.split(','):
        _host, _, port = part.strip().rpartition(':')
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError('--controller: %r is not HOST:PORT' % part.strip())
        targets.append('%s:%s:%d' % (scheme, address, int(port)))
    return ' '.join(targets)


def _can_listen(port):
    """Whether a server could listen on 127.0.0.1:port now. Bound with
    SO_REUSEADDR, as servers (ryu's eventlet) bind, so connections of an earlier
    run waiting in TIME_WAIT do not count as the port being in use."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(('127.0.0.1', port))
            s.listen(1)
            return True
        except OSError:
            return False


def _listener(port):
    """Who listens on a TCP port, as ss tells it (e.g. 'ryu-manager pid 4522'), or ''."""
    out = subprocess.run(['ss', '-Hltnp', 'sport = :%d' % port],
                         capture_output=True, text=True).stdout
    m = re.search(r'\("([^"]+)",pid=(\d+)', out)
    return '%s pid %s' % m.groups() if m else ''


def _any_free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _free_port(preferred, what='', required=False):
    """``preferred`` unless something listens there; then an error if it is
    ``required``, else any free port, saying so when ``what`` names it."""
    if preferred == 0:
        return _any_free_port()
    if _can_listen(preferred):
        return preferred
    user = _listener(preferred)
    in_use = 'port %d is in use%s' % (preferred, ' by ' + user if user else '')
    if required:
        raise RuntimeError('%s %s: choose another (0: any free port)' % (what, in_use))
    port = _any_free_port()
    if what:
        warn('*** %s %s: using port %d instead (choose one with --api-port)\n'
             % (what, in_use, port))
    return port


def _free_mgmt_prefix():
    used = subprocess.run(['ip', '-4', '-o', 'addr'], capture_output=True, text=True).stdout
    for third in range(250, 100, -1):
        prefix = '172.30.%d' % third
        if prefix + '.' not in used:
            return prefix
    raise RuntimeError('no free 172.30.x.0/24 for the management network')


class DataCenter(Run):
    """One run of the emulated data center. Use as a context manager (or call
    ``start``/``stop``); ``stop`` removes everything the run created. ``tls``:
    OpenFlow over mutual TLS only, with a lab CA made in the run directory (which
    is 0700; the controller config holding the API token is 0600).
    ``switches_listen``: every switch listens for its controllers on its
    management address (port 6653) and the controllers dial it, instead of the
    switches connecting to them: a restarted controller has them back at once."""

    def __init__(self, racks=2, hypervisors=2, vms=2, networks=None, controller=None,
                 api_url=None, token=None, tls=False, api_port=None, apps=APPS,
                 options=None, controllers=1, etcd=False, switches_listen=False, ipv6=False):
        self.run_id = secrets.token_hex(2)
        self.rundir = '%s/%s' % (RUN_BASE, self.run_id)
        self.mgmt_name = 'vn%smg' % self.run_id
        self.mgmt_prefix = _free_mgmt_prefix()
        self.size = dict(racks=racks, hypervisors=hypervisors, vms=vms, networks=networks,
                         switch_port=SWITCH_PORT if switches_listen else 0, ipv6=ipv6)
        self.external = controller
        if tls and controller:
            raise ValueError('tls: only for the controller a run starts itself (it makes '
                             'its certificates); configure TLS on an external one')
        self.tls = tls
        self.apps = apps
        self.options = options or {}     # more [vnetsec] options for the controller
        self.ca = None
        self.token = token or os.environ.get('VNETSEC_API_TOKEN') or secrets.token_hex(16)
        self.controller = None
        self.replicas = None
        self.controllers = controllers   # > 1 (or etcd): replicas on a local etcd cluster
        self.etcd = etcd or controllers > 1
        if self.etcd and (controller or tls):
            raise ValueError('controllers: several replicas only for the controllers a run '
                             'starts itself, without tls')
        self.net = None
        self.api_url = api_url
        if not controller:                # ours: 8080 when free, else any (said so)
            port = _free_port(8080 if api_port is None else api_port,
                              'the controller API', required=api_port is not None)
            self.api_url = 'http://127.0.0.1:%d' % port
        self.startup_seconds = None

    # ---- lifecycle -------------------------------------------------------------
    def start(self):
        t0 = time.time()
        self.record = RunRecord.create(self.rundir)
        self.record.add(('link', self.mgmt_name))
        subprocess.run(['ip', 'link', 'add', self.mgmt_name, 'type', 'bridge'], check=True)
        subprocess.run(['ip', 'addr', 'add', '%s.254/24' % self.mgmt_prefix, 'dev',
                        self.mgmt_name], check=True)
        subprocess.run(['ip', 'link', 'set', self.mgmt_name, 'up'], check=True)
        self.ca = ca = LabCA(self.rundir + '/pki') if self.tls else None
        if self.external:
            host, _, port = self.external.split(',')[0].rpartition(':')
            ofp_port = int(port)
            self.api_url = self.api_url or 'http://%s:8080' % (
                '127.0.0.1' if host in ('', '0.0.0.0', 'localhost') else host)
            client = Client(self.api_url, self.token)
        elif self.etcd:
            self.replicas = Replicas(self.rundir, self.controllers, self.token,
                                     '%s.254' % self.mgmt_prefix, _free_port, self.apps,
                                     self.options).start()
            client = self.replicas.client
            ofp_port = self.replicas.ofp_ports[0]
            self.api_url = self.replicas.controllers[0].client.url
        else:
            ofp_port = _free_port(6653)
            conf = self.rundir + '/vnetsec.conf'
            write_config(conf, self.rundir + '/vnetsec.db', int(self.api_url.rsplit(':', 1)[1]),
                         self.token, '%s.254' % self.mgmt_prefix, ofp_port,
                         tls=ca.credentials('controller') if ca else None,
                         options=self.options)
            self.controller = ControllerProcess(conf, self.rundir + '/controller.log',
                                                self.api_url, self.token, apps=self.apps)
            self.controller.start()
            client = self.controller.client
        self.client = client
        self.ofp_address = ('%s.254' % self.mgmt_prefix, ofp_port)
        target = controller_targets(self.external or str(ofp_port), self.ofp_address[0],
                                    'ssl' if ca else 'tcp')
        if self.replicas:
            target = self.replicas.targets
        topo = DataCenterTopo(rundir=self.rundir, mgmt_prefix=self.mgmt_prefix,
                              mgmt_name=self.mgmt_name, controller=target, client=client,
                              tls_ca=ca, **self.size)
        self.topo = topo
        self.net = Mininet(topo=topo, host=VM, controller=None, autoSetMacs=False,
                           build=False)
        self.net.build()
        self.record.track_network(self.net)
        self.net.start()
        self.wait_ready()
        self.seed_tunnel_neighbours()
        self.startup_seconds = time.time() - t0
        return self

    def wait_ready(self, timeout=30):
        """Until every switch is connected and holds exactly its desired flows."""
        dpids = {sw.dpid_int for sw in self.switches()}
        deadline = time.time() + timeout
        while time.time() < deadline:
            status = self.client.get('/v1/status')
            synced = {int(d, 16) for d, s in status['switches'].items() if s['synced']}
            statuses = []
            if 'replicas' in status:    # each switch synced by its master, every replica idle
                statuses = (list(self.replicas.statuses().values()) if self.replicas
                            else self._replica_statuses(status))
                synced = {int(d, 16) for st in statuses for d, s in st['switches'].items()
                          if s['synced']}
                status['idle'] = all(st['idle'] for st in statuses)
            if dpids <= synced and status['idle']:
                return
            time.sleep(0.05)
        hint = ''
        if self.external and not status['switches']:
            hint = (' (none reached the controller at %s:%d: it listens on 127.0.0.1 unless '
                    'its config sets ofp_listen_host)' % self.ofp_address)
        for other in statuses:           # each replica's own view
            hint += '\nreplica %s: %s' % (other.get('replica'), other)
        raise RuntimeError('switches not ready after %ds: %s%s' % (timeout, status, hint))

    def _replica_statuses(self, status):
        """The /v1/status of every replica ``status`` names (replicas started
        elsewhere: docker-compose.yml), of those that answer."""
        out = []
        for info in status['replicas'].values():
            try:
                out.append(Client(info['api'], self.client.token).call('GET', '/v1/status',
                                                                        timeout=3))
            except (OSError, ApiError):
                pass        # gone or frozen: another replica takes its switches
        return out

    def switches(self):
        return [s for s in self.net.switches if isinstance(s, (Hypervisor, TorSwitch))]

    def hypervisors(self):
        return [s for s in self.net.switches if isinstance(s, Hypervisor)]

    def seed_tunnel_neighbours(self):
        hvs = self.hypervisors()
        for hv in hvs:
            for other in hvs:
                if other is not hv and other.rack == hv.rack:
                    hv.seed_neighbour(other.vtep_ip, other.phy_mac)
            if hv.gateway:
                hv.seed_neighbour(hv.gateway, router_mac(hv.rack))

    def stop(self):
        """Tear down what this run created, also after a failure: every step is
        tried even when an earlier one fails."""
        try:
            if self.net is not None:
                stop_network(self.net)
        finally:
            if self.controller:
                self.controller.stop()
                copy_private(self.controller.log_path, RUN_BASE + '/last-controller.log')
            if self.replicas:
                self.replicas.stop()
            if self.record:
                remove_run(self.record)      # what is left, by its record; the directory

    # ---- helpers for tests and the CLI ----------------------------------------
    def restart_controller(self, down_seconds=0.0):
        self.controller.stop(signal.SIGKILL)
        time.sleep(down_seconds)
        self.controller.start()


topos = {'vnetsec': DataCenterTopo}
