"""Benchmark: several controller replicas on etcd (``--controllers 3``).

Failover: a data center of N hypervisors with 3 replicas; the replica that
masters the most switches is killed with SIGKILL and, at once, a security-group
rule is added that changes every hypervisor's flows. For each switch the dead
replica mastered: the time from the kill to the first bundle a new master had
committed there (median, max). The switches of the surviving masters take the
same change without a failover: their figure is the reference. Then, once the
killed replica is back and the switches shared again, the same with the master
of the most switches frozen (SIGSTOP; SIGCONT after), in the same data center:
its peers see its liveness heartbeat fall silent (``LIVENESS_SILENCE_SECONDS``)
where a killed one's connection closes at once; before that detector, the lease
(``TTL``) bounded it. Last, the longest heartbeat silence each replica saw from
a live peer, and how many peers it took for silent (``--busy N``: N busy loops
on the CPUs for the whole run, a loaded machine).

Load sharing (``--load``): 30 hypervisors, 1 replica and then 3 replicas, the
CPU seconds each ryu-manager used for a cold start (every controller killed,
every bridge emptied, the controllers started again, until every switch holds
its flows) and for 100 port binds (100 vNICs registered, then plugged), and the
longest gap each replica's event loop left between two heartbeats of its stall
watchdog over both (``loop_gap_max``; it steps down past ``STALL_SECONDS``).

    .venv/bin/python -m bench.failover [--sizes 10,30] [--busy 2] [--load]
"""
import argparse
import signal
import statistics
import subprocess
import sys
import time

from bench.common import cookies, cpu_seconds, plug_dummy_vnics
from mininet_topos.datacenter import DataCenter

TTL = 2


def wait_synced(dc, timeout=300):
    """Every switch synced by its master, every replica idle."""
    dc.wait_ready(timeout)


def failover(hypervisors):
    racks = 2 if hypervisors <= 10 else 3
    with DataCenter(racks=racks, hypervisors=hypervisors // racks, vms=1,
                    networks='vxlan:5000', controllers=3) as dc:
        print('  %3d hypervisors' % hypervisors)
        for how, sig, back in (('kill -9', signal.SIGKILL, None),
                               ('SIGSTOP', signal.SIGSTOP, signal.SIGCONT)):
            victim = take_over(dc, how, sig)
            if back is None:
                dc.replicas.start_one(victim)
            else:
                dc.replicas.kill(victim, back)
            shared(dc)
            wait_synced(dc)
        detector = list(dc.replicas.statuses().values())
        print('    heartbeats: longest silence a replica saw from a live peer %s; peers '
              'taken for silent %s (2 expected: the frozen one, by each survivor)'
              % (' '.join('%s s' % st['peer_silence_max'] if 'peer_silence_max' in st
                          else 'n/a' for st in detector),
                 ' '.join('%s' % st.get('peers_silent', 'n/a') for st in detector)))


def masters(dc):
    """{switch name: master} once every switch has one (a replica may still be taking it)."""
    names = {'%016x' % sw.dpid_int: sw.name for sw in dc.switches()}
    deadline = time.time() + 30
    while True:
        status = dc.client.get('/v1/status')
        if all(s.get('master') for s in status['switches'].values()):
            return {names[d]: s['master'] for d, s in status['switches'].items()}
        if time.time() > deadline:
            raise RuntimeError('switches without a master: %s' % status['switches'])
        time.sleep(0.2)


def shared(dc, timeout=60):
    """Until each of the three replicas masters some switch again."""
    deadline = time.time() + timeout
    while len(set(masters(dc).values())) < 3:
        if time.time() > deadline:
            raise RuntimeError('the replicas do not share the switches')
        time.sleep(0.2)


def take_over(dc, how, sig):
    """``sig`` to the master of the most hypervisors and a rule change at once:
    the first bundle on each switch, its switches' and the others'. Its number."""
    owners = masters(dc)
    counts = {c: sum(1 for sw, m in owners.items() if m == c and sw.startswith('hv'))
              for c in set(owners.values())}
    victim = max(counts, key=counts.get)
    orphaned = {sw for sw, m in owners.items() if m == victim and sw.startswith('hv')}
    kept = {sw for sw, m in owners.items() if m != victim and sw.startswith('hv')}
    port = 2222 if sig == signal.SIGKILL else 2223
    killed_at = time.time()
    dc.replicas.kill(int(victim[1:]), sig)
    dc.client.post('/v1/security-groups/default/rules',
                   {'direction': 'ingress', 'protocol': 'tcp', 'port_range_min': port,
                    'port_range_max': port})
    wait_synced(dc)
    first = {}
    for n in dc.replicas.running():
        for e in dc.replicas.controllers[n - 1].client.get('/v1/events'):
            if e['event'] == 'commit' and e['time'] > killed_at and e['host']:
                first[e['host']] = min(first.get(e['host'], e['time']), e['time'])
    missing = (orphaned | kept) - set(first)
    if missing:
        raise RuntimeError('no bundle committed on %s' % sorted(missing))
    took = sorted(first[sw] - killed_at for sw in orphaned)
    ref = sorted(first[sw] - killed_at for sw in kept)
    print('    %-46s median %6.2f s  max %6.2f s  (%s master of %d hypervisors; lease %d s)'
          % ('%s -> first bundle by the new master' % how, statistics.median(took),
             took[-1], victim, len(orphaned), TTL))
    print('    %-46s median %6.2f s  max %6.2f s'
          % ('same change, switches whose master lives', statistics.median(ref), ref[-1]))
    return int(victim[1:])


def load(hypervisors, replicas, binds):
    racks = 3
    with DataCenter(racks=racks, hypervisors=hypervisors // racks, vms=1,
                    networks='vxlan:5000', controllers=replicas, etcd=True) as dc:
        wait_synced(dc)
        procs = dc.replicas.controllers
        expected = {sw.name: cookies(sw) for sw in dc.switches()}
        for c in procs:
            c.stop(signal.SIGKILL)
        for sw in dc.switches():
            sw.ovs.ofctl('del-flows %s' % sw.bridge)
        t0 = time.time()
        for c in procs:         # together, as a deployment's replicas restart
            c.spawn()
        for c in procs:
            c.wait_up(40)
        wait_synced(dc)
        cold = time.time() - t0
        cold_cpu = [cpu_seconds(c.pid) for c in procs]
        assert {sw.name: cookies(sw) for sw in dc.switches()} == expected
        hvs = dc.hypervisors()
        net = dc.client.get('/v1/networks')[0]['id']
        bodies, plugs = [], {}
        for k in range(binds):
            hv = hvs[k % len(hvs)]
            name = 'b%d' % k
            plugs.setdefault(hv, []).append(name)
            bodies.append({'network_id': net, 'device': name, 'host': hv.name,
                           'ips': ['10.9.%d.%d' % (k >> 8, k & 255)],
                           'mac': '02:bb:00:00:%02x:%02x' % (k >> 8, k & 255)})
        dc.client.post('/v1/ports', {'ports': bodies})
        wait_synced(dc)
        before = [cpu_seconds(c.pid) for c in procs]
        t0 = time.time()
        for hv, names in plugs.items():
            plug_dummy_vnics(hv, names)
        deadline = time.time() + 120
        while sum(1 for p in dc.client.get('/v1/ports') if p['bound_host']) < binds + len(hvs):
            if time.time() > deadline:
                raise RuntimeError('not every port bound')
            time.sleep(0.02)
        wait_synced(dc)
        bind = time.time() - t0
        bind_cpu = [cpu_seconds(c.pid) - b for c, b in zip(procs, before)]
        loops = [c.client.get('/v1/status') for c in procs]
        gaps = ['%.3f s%s' % (st['loop_gap_max'], ' (%d stalls)' % st['loop_stalls']
                              if st['loop_stalls'] else '') for st in loops]
        return cold, cold_cpu, bind, bind_cpu, gaps


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--sizes', default='10,30', help='hypervisor counts for the failover')
    p.add_argument('--load', action='store_true', help='also the load-sharing figures')
    p.add_argument('--load-hypervisors', type=int, default=30)
    p.add_argument('--binds', type=int, default=100)
    p.add_argument('--busy', type=int, default=0, help='busy loops on the CPUs meanwhile')
    args = p.parse_args()
    busy = [subprocess.Popen([sys.executable, '-c', 'while True: pass'])
            for _ in range(args.busy)]
    try:
        print('Failover of a controller replica (3 replicas, 3-member etcd cluster%s):'
              % (', %d busy loops' % args.busy if busy else ''))
        for size in (int(s) for s in args.sizes.split(',') if s):
            failover(size)
    finally:
        for proc in busy:
            proc.kill()
            proc.wait()
    if args.load:
        print('Load sharing, %d hypervisors (CPU seconds of each ryu-manager):'
              % args.load_hypervisors)
        for replicas in (1, 3):
            cold, cold_cpu, bind, bind_cpu, gaps = load(args.load_hypervisors, replicas,
                                                        args.binds)
            print('  %d replica%s: cold start %.1f s, CPU %s (total %.1f) | %d binds %.1f s, '
                  'CPU %s (total %.1f) | longest event-loop gap %s'
                  % (replicas, 's' if replicas > 1 else '', cold,
                     ' '.join('%.1f' % c for c in cold_cpu), sum(cold_cpu), args.binds, bind,
                     ' '.join('%.1f' % c for c in bind_cpu), sum(bind_cpu), ', '.join(gaps)))


if __name__ == '__main__':
    main()
