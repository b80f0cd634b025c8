"""Benchmark: the controller at scale, on simulated switches (:mod:`bench.ofsim`).

For each size N (hypervisors x --vnics vNICs; tenants of 3 hypervisors, each
with 3 VXLAN networks and a security group admitting its own zone; one ToR per
40 hypervisors), on one controller:

- cold start: the controller started with the desired state stored and every
  switch empty: process start -> every switch in sync (all flows committed);
- restart: the controller killed and started while every switch holds its
  flows: start -> every switch confirmed in sync, and the flow mods it sent
  (the goal is zero);
- memory: the controller's RSS after the restart;
- one port bind (a vNIC plugged on a hypervisor) and one unplanned move (its
  vNIC unplugged at one hypervisor and plugged at another): from the switch's
  port-status to the last affected switch committing its bundle, with the split
  the controller reports (compile, encode, socket) and the switches' own time,
  and the controller's share from its own event timeline (port-status handled
  -> last bundle written); ``--binds`` binds one after the other, the median
  shown as "one bind" beside the median and maximum of all.

The simulator always runs from this checkout; the controller from this checkout
or, with ``--ref COMMIT``, also from that commit (a temporary git worktree),
each size measured on both in the same run, figures side by side.

    .venv/bin/python -m bench.scale [--sizes 100,300,1000] [--vnics 20] [--ref 2e27337]
                                    [--replicas 3] [--plot bench/scale.png]

``--replicas N``: each size (and source) measured twice, on one etcd member
started here: one replica, then N replicas with every simulated switch
connected to each (:mod:`bench.ofsim` keeps their roles as OVS does); CPU and
memory per replica, the flow mods each replica had applied during the cold
start, and N against 1 on one line (cold start, the busiest replica's CPU, one
bind's controller share: port-status at its master -> last bundle written).
Each cold start also says the least time this machine's cores allow for the CPU
it took (controllers, simulator and etcd together, every core busy): with more
processes than cores, that bounds what N replicas can reach.

Switches of the simulator retry a lost connection every 50 ms (OVS retries
every ``max_backoff``, at least 1 s), so the restart figures are the
controller's own. The background rule-counter reading is off
(``stats_interval = 0``): it is measured by ``bench.migration``.
"""
import argparse
import json
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

from controller.compile import pipeline as P
from bench.common import cpu_seconds
from mininet_topos.client import ApiError, Client
from mininet_topos.controller_proc import controller_command, write_config
from mininet_topos.etcd_proc import EtcdProcess
from mininet_topos.procs import exit_on_sigterm

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HOSTS_PER_TENANT, NETWORKS_PER_TENANT, HVS_PER_RACK = 3, 3, 40
CORES = len(os.sched_getaffinity(0))


def free_port():
    """A free port below the kernel's ephemeral range: a controller restarted
    on its port must find it free, and the simulator's thousands of
    reconnections take ephemeral ports (one took a replica's API port during
    a restart, and that replica exited)."""
    with open('/proc/sys/net/ipv4/ip_local_port_range') as f:
        first_ephemeral = int(f.read().split()[0])
    while True:
        port = random.randrange(10000, first_ephemeral)
        with socket.socket() as s:
            try:
                s.bind(('127.0.0.1', port))
            except OSError:
                continue
        return port


def rss_mib(pid):
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1]) / 1024
    return 0.0


class Controller:
    """The controller (ryu-manager or vnetsec-controller) with the vnetsec apps, its code from ``src`` (PYTHONPATH first).
    ``store``: an etcd store (``etcd://...``) shared with other replicas, named ``name``."""

    def __init__(self, src, rundir, store=None, name='', token=None):
        self.src, self.rundir = src, rundir
        self.token = token or secrets.token_hex(16)
        self.api_port, self.ofp_port = free_port(), free_port()
        self.conf = os.path.join(rundir, 'vnetsec%s.conf' % name)
        self.log = os.path.join(rundir, 'controller%s.log' % name)
        options = {'stats_interval': '0', 'db_synchronous': 'NORMAL'}
        if name:
            options['replica_name'] = name
        write_config(self.conf, os.path.join(rundir, 'vnetsec%s.db' % name), self.api_port,
                     self.token, '127.0.0.1', self.ofp_port, store=store, options=options)
        self.client = Client('http://127.0.0.1:%d' % self.api_port, self.token)
        self.proc = None

    def spawn(self):
        log = open(self.log, 'a')
        self.proc = subprocess.Popen(
            [controller_command(), '--config-file', self.conf, 'apps.vnetsec'], cwd=self.src,
            env=dict(os.environ, PYTHONPATH=self.src), stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True)

    def wait_api(self, timeout=120):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError('the controller exited; see %s' % self.log)
            try:
                self.client.get('/v1/openapi.json')
                return
            except (OSError, ApiError):
                time.sleep(0.05)
        raise RuntimeError('the controller API did not come up')

    def start(self, timeout=120):
        self.spawn()
        self.wait_api(timeout)

    def kill(self):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def status(self):
        return self.client.call('GET', '/v1/status', timeout=60)

    def events(self):
        return self.client.call('GET', '/v1/events', timeout=60)

    def cpu_seconds(self):
        return cpu_seconds(self.proc.pid)

    def wait_synced(self, dpids, timeout=600, poll=0.1):
        return Cluster([self]).wait_synced(dpids, timeout, poll)


class Cluster:
    """Replicas of one controller on one etcd store (or a controller alone),
    seen as one: synced where its master says so, idle when every replica is."""

    def __init__(self, controllers):
        self.controllers = controllers
        self.client = controllers[0].client
        self.ofp_ports = [c.ofp_port for c in controllers]

    def start(self, timeout=120):
        for c in self.controllers:
            c.spawn()
        for c in self.controllers:
            c.wait_api(timeout)

    def kill(self):
        for c in self.controllers:
            c.kill()

    def status(self):
        """One status: switches synced by their master, reconciler counters summed."""
        statuses = [c.status() for c in self.controllers]
        switches = {}
        for st in statuses:
            for dpid, s in st['switches'].items():
                merged = switches.setdefault(dpid, dict(s, synced=False))
                merged['synced'] = merged['synced'] or s['synced']
        reconciler = {}
        for st in statuses:
            for k, v in st['reconciler'].items():
                reconciler[k] = reconciler.get(k, 0) + v
        return {'switches': switches, 'idle': all(st['idle'] for st in statuses),
                'reconciler': reconciler, 'each': statuses}

    def events(self):
        return sorted((e for c in self.controllers for e in c.events()),
                      key=lambda e: e['time'])

    def cpu_seconds(self):
        return [c.cpu_seconds() for c in self.controllers]

    def rss_mib(self):
        return [rss_mib(c.proc.pid) for c in self.controllers]

    def wait_synced(self, dpids, timeout=600, poll=0.1):
        deadline = time.time() + timeout
        synced = set()
        while time.time() < deadline:
            status = self.status()
            synced = {int(d, 16) for d, s in status['switches'].items() if s['synced']}
            if status['idle'] and dpids <= synced:
                return status
            time.sleep(poll)
        raise NotSynced('not in sync after %ds: %d of %d switches' % (timeout, len(synced),
                                                                       len(dpids)))


class NotSynced(RuntimeError):
    """The switches did not all get in sync in time (a run that never converges
    is reported as such, with the CPU it burnt, and the next one goes on)."""


class Sim:
    """The switch simulator, a child process driven by JSON lines."""

    def __init__(self, switches, ofp_ports, rundir):
        spec = os.path.join(rundir, 'switches.json')
        with open(spec, 'w') as f:
            json.dump(switches, f)
        targets = ','.join('127.0.0.1:%d' % port for port in ofp_ports)
        self.proc = subprocess.Popen(
            [sys.executable, '-m', 'bench.ofsim', '--controller', targets,
             '--switches', spec], cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def call(self, **cmd):
        self.proc.stdin.write(json.dumps(cmd) + '\n')
        self.proc.stdin.flush()
        answer = json.loads(self.proc.stdout.readline())
        if not answer.pop('ok'):
            raise RuntimeError('simulator: %s' % answer['error'])
        return answer

    def stop(self):
        if self.proc.poll() is None:
            try:
                self.call(cmd='quit')
            except (OSError, ValueError):
                pass
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def data_center(n_hvs, vnics):
    """(hosts, tenants, ports, switches): the REST bodies of the desired state
    and the simulator's switch list (with every vNIC plugged)."""
    hosts, switches, ports, tenants = [], [], [], []
    racks = (n_hvs + HVS_PER_RACK - 1) // HVS_PER_RACK
    for r in range(1, racks + 1):
        members = range((r - 1) * HVS_PER_RACK + 1, min(n_hvs, r * HVS_PER_RACK) + 1)
        hosts.append({'name': 'tor%d' % r, 'dpid': 0x7000 + r, 'role': 'tor', 'rack': r,
                      'uplinks': {'hv:hv%d' % n: i for i, n in enumerate(members, 1)}})
        switches.append({'dpid': 0x7000 + r, 'bridge': 'br-tor',
                         'ports': {'hv%d' % n: i for i, n in enumerate(members, 1)}})
    k = 0
    for n in range(1, n_hvs + 1):
        r, i = (n - 1) // HVS_PER_RACK + 1, (n - 1) % HVS_PER_RACK + 1
        hosts.append({'name': 'hv%d' % n, 'dpid': n, 'rack': r,
                      'vtep_ip': '172.16.%d.%d' % (r, 10 + i)})
        t = (n - 1) // HOSTS_PER_TENANT
        if t == len(tenants):
            tenants.append(['t%dn%d' % (t, j) for j in range(NETWORKS_PER_TENANT)])
        plugged = {P.TUNNEL_PORT_NAME: P.TUNNEL_OFPORT, P.UPLINK_PORT_NAME: P.UPLINK_OFPORT}
        for j in range(vnics):
            k += 1
            device = 'tapvm%d' % k
            plugged[device] = j + 1
            ports.append({'name': 'vm%d' % k, 'network_id': tenants[t][j % NETWORKS_PER_TENANT],
                          'device': device, 'host': 'hv%d' % n,
                          'mac': '02:00:%02x:%02x:%02x:%02x' % (k >> 24, k >> 16 & 255,
                                                                 k >> 8 & 255, k & 255),
                          'ips': ['10.%d.%d.%d' % (k >> 16, k >> 8 & 255, k & 255)],
                          'security_groups': ['sg-t%d' % t]})
        switches.append({'dpid': n, 'ports': plugged})
    return hosts, tenants, ports, switches


def register(client, hosts, tenants, ports):
    for host in hosts:
        client.post('/v1/hosts', host)
    vni = 10000
    for t, networks in enumerate(tenants):
        client.post('/v1/security-groups', {'name': 'sg-t%d' % t, 'zone': 't%d' % t, 'rules': [
            {'direction': 'egress'}, {'direction': 'ingress', 'remote_zone': 't%d' % t}]})
        for name in networks:
            vni += 1
            client.post('/v1/networks', {'name': name, 'kind': 'vxlan',
                                         'segmentation_id': vni})
    ids = {n['name']: n['id'] for n in client.get('/v1/networks')}
    for start in range(0, len(ports), 2000):
        chunk = [dict(p, network_id=ids[p['network_id']]) for p in ports[start:start + 2000]]
        client.call('POST', '/v1/ports', {'ports': chunk}, timeout=600)


def split(before, after):
    """The controller's timers (reconciler stats) between two status reads, ms."""
    keys = ('compile_seconds', 'encode_seconds', 'send_seconds')
    if not all(k in after for k in keys):
        return None
    return {k.split('_')[0]: 1000 * (after[k] - before.get(k, 0)) for k in keys}


def controller_share(ctl, t0):
    """ms from the controller handling the switch's port-status to it writing the
    last bundle that change caused (its own event timeline, GET /v1/events), or
    None."""
    events = [e for e in ctl.events() if e['time'] >= t0]
    port = next((e['time'] for e in events if e['event'] == 'port'), None)
    sent = [e['time'] for e in events if e['event'] == 'sent']
    return 1000 * (max(sent) - port) if port is not None and sent else None


def change(ctl, sim, do, timeout=30):
    """Run ``do()`` (a port-status from the simulator) and time it to the last
    switch that commits a bundle because of it."""
    before_status = ctl.status()['reconciler']
    before = sim.call(cmd='stats')
    t0 = time.time()
    do()
    deadline = time.time() + timeout
    after = before
    while time.time() < deadline:        # until a switch committed, then all is quiet
        time.sleep(0.02)
        if any(s['commits'] > before['switches'][d]['commits']
               for d, s in sim.call(cmd='stats')['switches'].items()):
            break
    while time.time() < deadline and not ctl.status()['idle']:
        time.sleep(0.01)
    time.sleep(0.3)                     # commits still on their way back
    after = sim.call(cmd='stats')
    touched = [(d, s) for d, s in after['switches'].items()
               if s['commits'] > before['switches'][d]['commits']]
    last = max((s['last_commit'] for _, s in touched), default=t0)
    switch_ms = 1000 * sum(s['apply_seconds'] - before['switches'][d]['apply_seconds']
                           for d, s in touched)
    return {'ms': 1000 * (last - t0), 'switches': len(touched),
            'split': split(before_status, ctl.status()['reconciler']), 'switch_ms': switch_ms,
            'controller_ms': controller_share(ctl, t0)}


def binds(ctl, sim, count):
    """``count`` binds, one after the other: a new port whose vNIC is then
    plugged on hv1 (one bind alone says little: the machine's noise is larger)."""
    net = ctl.client.get('/v1/networks')[0]['id']
    out = []
    for i in range(1, count + 1):
        ctl.client.post('/v1/ports', {'name': 'extra%d' % i, 'network_id': net,
                                      'device': 'tapx%d' % i, 'mac': '02:aa:00:00:00:%02x' % i,
                                      'ips': ['10.250.0.%d' % i], 'security_groups': ['sg-t0']})
        time.sleep(0.3)
        out.append(change(ctl, sim, lambda: sim.call(cmd='plug', dpid=1, device='tapx%d' % i,
                                                     ofport=500 + i)))
    return out


def measure(src, n_hvs, vnics, label, binds_count=5, replicas=0, timeout=600):
    """``replicas`` 0: one controller on SQLite; N: N replicas on one etcd
    member started here (every switch connected to each). ``timeout``: seconds
    each wait for every switch in sync may take (beyond: ``failed`` says where)."""
    rundir = tempfile.mkdtemp(prefix='vnetsec-scale-')
    etcd = sim = ctl = None
    out = {'label': label, 'hypervisors': n_hvs, 'vnics': n_hvs * vnics, 'replicas': replicas}
    try:
        if replicas:
            etcd = EtcdProcess(os.path.join(rundir, 'etcd')).start()
            token = secrets.token_hex(16)
            ctl = Cluster([Controller(src, rundir, etcd.url, 'c%d' % n, token)
                           for n in range(1, replicas + 1)])
        else:
            ctl = Cluster([Controller(src, rundir)])
        hosts, tenants, ports, switches = data_center(n_hvs, vnics)
        dpids = {s['dpid'] for s in switches}
        ctl.start()
        t0 = time.time()
        register(ctl.client, hosts, tenants, ports)
        out['register_s'] = time.time() - t0
        sim = Sim(switches, ctl.ofp_ports, rundir)
        t0 = time.time()
        phase = 'first sync'
        ctl.wait_synced(dpids, timeout)
        out['first_sync_s'] = time.time() - t0
        stats = sim.call(cmd='stats')
        out['flows'] = sum(s['flows'] for s in stats['switches'].values())

        ctl.kill()                                      # cold start: switches emptied
        sim.call(cmd='clear')
        before = sim.call(cmd='stats')
        etcd_cpu = cpu_seconds(etcd.proc.pid) if etcd else 0.0
        t0 = time.time()
        ctl.start()
        phase = 'cold start'
        status = ctl.wait_synced(dpids, timeout)
        out['cold_s'] = time.time() - t0
        out['cold_stalls'] = [st.get('loop_stalls', 0) for st in status['each']]
        out['cold_cpu_s'] = ctl.cpu_seconds()
        stats = sim.call(cmd='stats')
        out['cold_sim_cpu_s'] = stats['cpu_seconds'] - before['cpu_seconds']
        out['cold_etcd_cpu_s'] = cpu_seconds(etcd.proc.pid) - etcd_cpu if etcd else 0.0
        out['cold_flow_mods'] = by_replica(before, stats, replicas or 1)
        assert sum(s['flows'] for s in stats['switches'].values()) == out['flows']

        ctl.kill()                                      # restart: switches hold their flows
        mods0 = sum(s['flow_mods'] for s in stats['switches'].values())
        t0 = time.time()
        ctl.start()
        phase = 'restart'
        ctl.wait_synced(dpids, timeout)
        out['restart_s'] = time.time() - t0
        out['restart_cpu_s'] = ctl.cpu_seconds()
        stats = sim.call(cmd='stats')
        out['restart_flow_mods'] = sum(s['flow_mods'] for s in stats['switches'].values()) - mods0
        out['rss_mib'] = ctl.rss_mib()

        out['binds'] = binds(ctl, sim, binds_count)
        out['bind'] = sorted(out['binds'], key=lambda c: c['ms'])[len(out['binds']) // 2]
        # one unplanned move: hv1 -> hv2 (both hold its network)
        out['move'] = change(ctl, sim, lambda: sim.call(cmd='move', device='tapx1', **{
            'from': 1, 'to': 2, 'ofport': 501}))
    except NotSynced as e:
        out['failed'] = '%s: %s, %.0f s after the start; controller CPU %s s' % (
            phase, e, time.time() - t0, ' / '.join('%.1f' % c for c in ctl.cpu_seconds()))
        out['failed_stalls'] = [st.get('loop_stalls', 0) for st in ctl.status()['each']]
    finally:
        if ctl:
            ctl.kill()
        if sim:
            sim.stop()
        if etcd:
            etcd.stop()
        shutil.rmtree(rundir, ignore_errors=True)
    return out


def by_replica(before, after, replicas):
    """Flow mods each replica had applied between two simulator readings."""
    counts = [0] * replicas
    for d, s in after['switches'].items():
        for index, n in s['by_controller'].items():
            counts[int(index)] += n - before['switches'][d]['by_controller'].get(index, 0)
    return counts


def fmt_change(c):
    text = '%7.1f ms to the last of %d switches' % (c['ms'], c['switches'])
    if c.get('controller_ms') is not None:
        text += ', controller %.1f ms' % c['controller_ms']
    if c['split']:
        text += ' (compile %.1f, encode %.1f, socket %.1f' % (
            c['split']['compile'], c['split']['encode'], c['split']['send'])
    else:
        text += ' (no split in this version'
    return text + '; switches %.1f ms)' % c['switch_ms']


def report(r):
    if 'failed' in r:
        print('%s: %d hypervisors x %d vNICs: FAILED in the %s (event-loop stalls per '
              'replica: %s)' % (r['label'], r['hypervisors'], r['vnics'] // r['hypervisors'],
                                r['failed'], ' / '.join(map(str, r['failed_stalls']))),
              flush=True)
        return
    print('%s: %d hypervisors x %d vNICs = %d vNICs, %d flows' % (
        r['label'], r['hypervisors'], r['vnics'] // r['hypervisors'], r['vnics'], r['flows']))
    print('  cold start (all flows installed)        %8.1f s   (simulator CPU %.1f s, etcd %.1f s;'
          ' %d cores could not do it in less than %.1f s)'
          % (r['cold_s'], r['cold_sim_cpu_s'], r['cold_etcd_cpu_s'], CORES, cores_bound(r)))
    print('    controller CPU %s s; flow mods applied per replica %s; event-loop stalls %s'
          % (' / '.join('%.1f' % c for c in r['cold_cpu_s']),
             ' / '.join(str(n) for n in r['cold_flow_mods']),
             ' / '.join(str(n) for n in r['cold_stalls'])))
    print('  restart (all confirmed in sync)         %8.1f s   flow mods sent: %d; CPU %s s'
          % (r['restart_s'], r['restart_flow_mods'],
             ' / '.join('%.1f' % c for c in r['restart_cpu_s'])))
    print('  controller memory (RSS)                 %8s MiB'
          % ' / '.join('%.0f' % m for m in r['rss_mib']))
    print('  one bind   %s' % fmt_change(r['bind']))
    if len(r.get('binds', ())) > 1:
        ms = sorted(c['ms'] for c in r['binds'])
        share = bind_shares(r)
        print('    %d binds: to the last switch median %.1f ms, max %.1f ms; the controller\'s '
              'share (port-status handled -> last bundle written) median %s ms, max %s ms'
              % (len(ms), ms[len(ms) // 2], ms[-1],
                 '%.1f' % share[len(share) // 2] if share else '-',
                 '%.1f' % share[-1] if share else '-'))
    print('  one move   %s' % fmt_change(r['move']))
    print('  (setup: REST registration %.1f s, first sync %.1f s)' % (r['register_s'],
                                                                        r['first_sync_s']),
          flush=True)


def cores_bound(r):
    """Seconds the cold start's CPU (controllers, simulator, etcd) takes at
    the least on this machine's cores, all kept busy."""
    return (sum(r['cold_cpu_s']) + r['cold_sim_cpu_s'] + r['cold_etcd_cpu_s']) / CORES


def bind_shares(r):
    return sorted(c['controller_ms'] for c in r['binds'] if c['controller_ms'] is not None)


def compare(one, many):
    """N replicas against one, same run: the ratios the issue aims at."""
    def median(xs):
        return xs[len(xs) // 2] if xs else float('nan')
    if 'failed' in one or 'failed' in many:
        print('%d replicas against 1, %d hypervisors: no ratio (a run failed)'
              % (many['replicas'], many['hypervisors']), flush=True)
        return
    print('%d replicas against 1, %d hypervisors: cold start %.2fx (%.1f s / %.1f s; the '
          'CPU it took allows %.2fx on %d cores), '
          'CPU per replica (the busiest) %.2fx (%.1f s / %.1f s), one bind\'s controller '
          'share %.1f ms / %.1f ms' % (
              many['replicas'], many['hypervisors'], many['cold_s'] / one['cold_s'],
              many['cold_s'], one['cold_s'], cores_bound(many) / one['cold_s'], CORES,
              max(many['cold_cpu_s']) / one['cold_cpu_s'][0],
              max(many['cold_cpu_s']), one['cold_cpu_s'][0], median(bind_shares(many)),
              median(bind_shares(one))), flush=True)


def plot(results, path):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 3, figsize=(13, 4))
    for label in dict.fromkeys(r['label'] for r in results):
        rs = [r for r in results if r['label'] == label]
        xs = [r['hypervisors'] for r in rs]
        axes[0].plot(xs, [r['cold_s'] for r in rs], 'o-', label=label)
        axes[1].plot(xs, [r['restart_s'] for r in rs], 'o-', label=label)
        axes[2].plot(xs, [max(r['rss_mib']) if isinstance(r['rss_mib'], list)
                          else r['rss_mib'] for r in rs], 'o-', label=label)
    for ax, title, goal in ((axes[0], 'cold start, s', 60), (axes[1], 'restart, s', 30),
                            (axes[2], 'controller RSS, MiB', 2048)):
        ax.axhline(goal, color='grey', linestyle=':', label='goal at 1,000')
        ax.set_title(title)
        ax.set_xlabel('hypervisors (x %d vNICs)' % (results[0]['vnics']
                                                   // results[0]['hypervisors']))
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    print('plot: %s' % path)


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument('--sizes', default='100,300,1000', help='hypervisor counts')
    p.add_argument('--vnics', type=int, default=20, help='per hypervisor')
    p.add_argument('--ref', default='', help='also measure the controller of this commit')
    p.add_argument('--binds', type=int, default=5,
                   help='binds measured one after the other (the median is shown as "one bind")')
    p.add_argument('--replicas', type=int, default=0,
                   help='N: measure 1 replica and then N replicas on one etcd store, side '
                        'by side (default: one controller on SQLite)')
    p.add_argument('--timeout', type=int, default=600,
                   help='seconds each wait for every switch in sync may take; beyond, the '
                        'run is reported as failed there and the next one goes on')
    p.add_argument('--plot', default='', help='save the curve here (PNG)')
    p.add_argument('--results', default='',
                   help='JSON file: results are added to it, and the plot draws all of it '
                        '(so sizes measured in separate runs make one curve)')
    args = p.parse_args(argv)
    exit_on_sigterm()        # a kill stops what it started, as Ctrl-C does
    sources = [('this checkout', ROOT)]
    tmp = None
    if args.ref:
        tmp = tempfile.mkdtemp(prefix='vnetsec-scale-ref-')
        where = os.path.join(tmp, 'ref')
        subprocess.run(['git', '-C', ROOT, 'worktree', 'add', '--detach', where, args.ref],
                       check=True, capture_output=True)
        sources.insert(0, ('before: %s' % args.ref, where))
    results = []
    try:
        for n in [int(x) for x in args.sizes.split(',')]:
            for label, src in sources:
                runs = []
                for replicas in ([1, args.replicas] if args.replicas else [0]):
                    name = label + (', %d replica%s on etcd' % (replicas, 's' * (replicas > 1))
                                    if replicas else '')
                    runs.append(measure(src, n, args.vnics, name, args.binds, replicas,
                                        args.timeout))
                    report(runs[-1])
                if args.replicas:
                    compare(*runs)
                results += runs
    finally:
        if tmp:
            subprocess.run(['git', '-C', ROOT, 'worktree', 'remove', '--force', where],
                           capture_output=True)
            shutil.rmtree(tmp, ignore_errors=True)
    if args.results:
        earlier = []
        if os.path.exists(args.results):
            with open(args.results) as f:
                earlier = json.load(f)
        results = earlier + results
        with open(args.results, 'w') as f:
            json.dump(results, f, indent=1)
    if args.plot:
        plot(sorted((r for r in results if 'failed' not in r),
                    key=lambda r: r['hypervisors']), args.plot)
    return 0


if __name__ == '__main__':
    sys.exit(main())
