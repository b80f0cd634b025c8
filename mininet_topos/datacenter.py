"""The emulated data center: racks of hypervisors with VMs, a routed underlay,
ToR switches with 802.1Q trunks between racks, and a management network.

``DataCenterTopo`` is a Mininet topology (Python and ``mn --custom``);
``DataCenter`` runs one: its controller (unless given one), the registration of
networks and vNICs through the REST API, readiness, and a teardown that stops
only what this run started.

Addressing: VMs 10.0.0.0/16 on every network (so only segmentation keeps networks
apart); rack r's underlay 172.16.r.0/24 with the router at .1 and hypervisors
from .11; the management network 172.30.M.0/24 with the controller at .254.
"""
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time

from mininet.net import Mininet
from mininet.topo import Topo

from mininet_topos.cleanup import remove_run
from mininet_topos.client import Client
from mininet_topos.controller_proc import ControllerProcess, write_config
from mininet_topos.nodes import (RUN_BASE, Hypervisor, MgmtBridge, Router, Run, TorSwitch,
                                  stop_network)
from mininet_topos.runrecord import RunRecord

TOR_DPID_BASE = 0x7000


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


def router_mac(rack):
    return '02:fd:00:00:00:%02x' % rack


class DataCenterTopo(Topo):
    """racks x hypervisors (per rack) x vms (per hypervisor); networks round-robin.

    With a ``client`` the topology registers its networks and vNICs with the
    controller while it is built, and its switches register themselves when they
    start (as compute nodes do)."""

    def build(self, racks=2, hypervisors=2, vms=2, networks=None, rundir=RUN_BASE,
              mgmt_prefix='172.30.250', mgmt_name='vnmgmt', controller='',
              client=None):
        if client is None and controller == '':        # mn --custom defaults
            client = Client('http://127.0.0.1:8080', os.environ.get('VNETSEC_API_TOKEN', ''))
            controller = 'tcp:%s.254:6653' % mgmt_prefix
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
        common = dict(rundir=rundir, controller_target=controller, client=client)
        mgmt = self.addSwitch(mgmt_name, cls=MgmtBridge, address='%s.254/24' % mgmt_prefix)
        router = self.addSwitch('router', cls=Router, addresses={
            'r%d' % r: ('172.16.%d.1/24' % r, router_mac(r)) for r in range(1, racks + 1)}) \
            if racks > 1 else None
        tors = {}
        for r in range(1, racks + 1):
            ports = {}
            tors[r] = self.addSwitch('tor%d' % r, cls=TorSwitch, rack=r, ports=ports,
                                     dpid='%x' % (TOR_DPID_BASE + r),
                                     mgmt_ip='%s.%d/24' % (mgmt_prefix, 200 + r), **common)
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
                    mgmt_ip='%s.%d/24' % (mgmt_prefix, n), **common)
                self.addLink(hv, mgmt, intfName1='mgmt0')
                self.addLink(hv, tors[r], intfName1='up0', intfName2='hv%d' % n)
                self.nodeInfo(tors[r])['ports']['hv%d' % n] = 'hv:hv%d' % n
                for _ in range(vms):
                    k += 1
                    mac, ip = vm_address(k)
                    vm = self.addHost('vm%d' % k, ip=ip + '/16', mac=mac)
                    self.addLink(vm, hv, intfName1='vm%d-eth0' % k, intfName2='tapvm%d' % k)
                    network = net_names[(k - 1) % len(net_names)]
                    self.network_of_vm[vm] = network
                    if client:
                        client.ensure_port(name=vm, network_id=network, mac=mac, ips=[ip],
                                           device='tapvm%d' % k, host='hv%d' % n)


def _free_port(preferred):
    for port in (preferred, 0):
        with socket.socket() as s:
            try:
                s.bind(('127.0.0.1', port))
                return s.getsockname()[1]
            except OSError:
                continue


def _free_mgmt_prefix():
    used = subprocess.run(['ip', '-4', '-o', 'addr'], capture_output=True, text=True).stdout
    for third in range(250, 100, -1):
        prefix = '172.30.%d' % third
        if prefix + '.' not in used:
            return prefix
    raise RuntimeError('no free 172.30.x.0/24 for the management network')


class DataCenter(Run):
    """One run of the emulated data center. Use as a context manager (or call
    ``start``/``stop``); ``stop`` removes everything the run created."""

    def __init__(self, racks=2, hypervisors=2, vms=2, networks=None, controller=None,
                 api_url=None, token=None):
        self.run_id = secrets.token_hex(2)
        self.rundir = '%s/%s' % (RUN_BASE, self.run_id)
        self.mgmt_name = 'vn%smg' % self.run_id
        self.mgmt_prefix = _free_mgmt_prefix()
        self.size = dict(racks=racks, hypervisors=hypervisors, vms=vms, networks=networks)
        self.external = controller
        self.token = token or os.environ.get('VNETSEC_API_TOKEN') or secrets.token_hex(16)
        self.controller = None
        self.net = None
        self.api_url = api_url
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
        if self.external:
            host, _, port = self.external.rpartition(':')
            ofp_port = int(port)
            self.api_url = self.api_url or 'http://%s:8080' % (
                '127.0.0.1' if host in ('', '0.0.0.0', 'localhost') else host)
            client = Client(self.api_url, self.token)
        else:
            ofp_port = _free_port(6653)
            self.api_url = 'http://127.0.0.1:%d' % _free_port(8080)
            conf = self.rundir + '/vnetsec.conf'
            write_config(conf, self.rundir + '/vnetsec.db', int(self.api_url.rsplit(':', 1)[1]),
                         self.token, '%s.254' % self.mgmt_prefix, ofp_port)
            self.controller = ControllerProcess(conf, self.rundir + '/controller.log',
                                                self.api_url, self.token)
            self.controller.start()
            client = self.controller.client
        self.client = client
        target = 'tcp:%s.254:%d' % (self.mgmt_prefix, ofp_port)
        topo = DataCenterTopo(rundir=self.rundir, mgmt_prefix=self.mgmt_prefix,
                              mgmt_name=self.mgmt_name, controller=target, client=client,
                              **self.size)
        self.topo = topo
        self.net = Mininet(topo=topo, controller=None, autoSetMacs=False, build=False)
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
            if dpids <= synced and status['idle']:
                return
            time.sleep(0.05)
        raise RuntimeError('switches not ready after %ds: %s' % (timeout, status))

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
                shutil.copy(self.controller.log_path, RUN_BASE + '/last-controller.log')
            if self.record:
                remove_run(self.record)      # what is left, by its record; the directory

    # ---- helpers for tests and the CLI ----------------------------------------
    def restart_controller(self, down_seconds=0.0):
        self.controller.stop(signal.SIGKILL)
        time.sleep(down_seconds)
        self.controller.start()


topos = {'vnetsec': DataCenterTopo}
