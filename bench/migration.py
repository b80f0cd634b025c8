"""Benchmark (migration): downtime and control-plane convergence of a VM
migration, for 3, 10 and 30 hypervisors, in three modes: unplanned (the vNIC
just appears elsewhere), plain (planned: the API is told first, then the vNIC
moves) and live (planned, the vNIC plugged on the destination before the
switch-over); and bind throughput (100 ports plugged at once, and one at a time).

Downtime: another VM pings the migrating VM every 2 ms (``ping -i 0.002 -D``):
lost probes, duplicated replies (both vNICs up for an instant in live mode),
and the longest gap between replies. Convergence, from the
controller's event log (``GET /v1/events``): from the destination switch
reporting the port (PORT_STATUS) to the destination confirming its flow bundle
(bundle COMMIT_REPLY), and to the last remote hypervisor confirming its bundle
(the entry pointing the MAC to the new VTEP; hypervisors holding such an entry
afterwards, so not a source left without a port in the network). A planned move on VXLAN has every
remote hypervisor send to the destination too before the switch-over; when the
switches show that (checked on each of them, untimed), "last remote" is 0.

    .venv/bin/python -m bench.migration [--sizes 3,10,30] [--runs 3] [--modes ...]
    .venv/bin/python -m bench.migration --vs-ovn [--bind] [--runs N]

``--vs-ovn`` measures OVN beside vnetsec in the same run (``bench.vs_ovn``).
"""
import argparse
import statistics
import time

from bench.common import plug_dummy_vnics, probe_command, probe_figures, wait_synced
from controller.compile import pipeline as P
from mininet_topos.datacenter import DataCenter
from mininet_topos.migration import migrate, vnic_ends

MODES = 'unplanned,plain,live'   # plain and live are planned (API call first)


def convergence(dc, device, dest, since, mac):
    """(ms to the destination's commit, ms to the last remote commit) after the
    destination reported the device; remote: the hypervisors holding an entry
    for ``mac`` (a source left without a port in the network holds none)."""
    events = [e for e in dc.client.get('/v1/events') if e['time'] >= since]
    appeared = next(e['time'] for e in events if e['event'] == 'port'
                    and e['host'] == dest and e['device'] == device and e['reason'] != 1)
    first_commit = {}
    for e in events:
        if e['event'] == 'commit' and e['time'] >= appeared:
            first_commit.setdefault(e['host'], e['time'])
    net = dc.client.get('/v1/networks')[0]['id']
    holders = {host for host, table in
               dc.client.get('/v1/networks/%s/mappings' % net)['hosts'].items() if mac in table}
    remote = [t for host, t in first_commit.items() if host in holders and host != dest]
    return ((first_commit.get(dest, appeared) - appeared) * 1000,
            (max(remote) - appeared) * 1000 if remote else 0.0)


def sending_to(dc, vm, dest):
    """Whether every hypervisor but the VM's source and ``dest`` already sends
    the VM's MAC to ``dest``'s VTEP (their L2 entries, read from the switches)."""
    source = vnic_ends(dc.node(vm))[1].node
    vtep = 'set_field:%s->tun_dst' % dc.node(dest).vtep_ip
    return all(vtep in hv.ovs.ofctl('dump-flows br-int table=%d,dl_dst=%s --no-stats'
                                    % (P.VXLAN_L2, dc.node(vm).MAC()))
               for hv in dc.hypervisors() if hv is not source and hv.name != dest)


def one_migration(dc, vm, dest, prober, mode):
    target = dc.node(vm)
    out = '%s/probe.txt' % dc.rundir
    dc.node(prober).cmd('%s > %s 2>&1 &' % (probe_command(target.IP()), out))
    time.sleep(1.0)
    ahead = []
    marks = migrate(dc, vm, dest, live=mode == 'live', planned=mode != 'unplanned',
                    announce=False, ready=lambda: ahead.append(sending_to(dc, vm, dest)))
    dc.wait_ready()
    dc.node(prober).cmd('wait')
    time.sleep(0.3)
    with open(out) as f:
        figures = probe_figures(f.read())
    figures['dest'], figures['remote'] = convergence(dc, 'tap' + vm, dest, marks['moving'],
                                                     target.MAC())
    if ahead == [True]:
        figures['remote'] = 0.0
    return figures


def register_ports(dc, names, first=0):
    """Ports for vNICs ``names`` (numbered from ``first`` for their addresses)
    in one API call; returns once every switch has its flows."""
    net = dc.client.get('/v1/networks')[0]['id']
    dc.client.post('/v1/ports', {'ports': [
        {'network_id': net, 'device': n, 'mac': '02:ee:00:00:%02x:%02x' % (i >> 8, i & 255),
         'ips': ['10.5.%d.%d' % (i >> 8, i & 255)]} for i, n in enumerate(names, first)]})
    wait_synced(dc)


def bind(dc, hv, devices):
    """Plug registered vNICs ``devices`` into ``hv``; returns (seconds until every
    switch confirmed its flows, the controller's share: from the switch
    reporting the first port to the last bundle confirmed)."""
    def bound():
        return {p['device'] for p in dc.client.get('/v1/ports')
                if p['bound_host'] == hv.name} >= set(devices)

    t0 = time.time()
    plug_dummy_vnics(hv, devices)
    while not bound():      # status reads "synced" until the switch reports them
        time.sleep(0.005)
    wait_synced(dc)
    wall = time.time() - t0
    events = [e for e in dc.client.get('/v1/events') if e['time'] >= t0]
    seen = [e['time'] for e in events if e['event'] == 'port' and e['device'] in devices]
    commits = [e['time'] for e in events if e['event'] == 'commit']
    return wall, max(commits) - min(seen)


def bind_throughput(dc, batch=100, single=20):
    """Ports registered beforehand, then their vNICs plugged: (a) 100 at once,
    (b) one at a time. For each: wall time from plugging until every switch
    confirmed its flows, and the controller's share."""
    hv = dc.hypervisors()[-1]
    names = ['m%d' % i for i in range(batch + single)]
    register_ports(dc, names)
    batch_wall, batch_ctl = bind(dc, hv, names[:batch])
    singles = [bind(dc, hv, [name]) for name in names[batch:]]
    return (batch_wall, batch_ctl, statistics.mean(w for w, _ in singles),
            statistics.mean(c for _, c in singles))


def median_max(values):
    """'median (max)', or '-' when there is nothing to show."""
    values = [v for v in values if v is not None]
    return '%.0f (%.0f)' % (statistics.median(values), max(values)) if values else '-'


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--sizes', default='3,10,30')
    p.add_argument('--runs', type=int, default=3)
    p.add_argument('--modes', default=MODES)
    p.add_argument('--vs-ovn', action='store_true',
                   help='OVN beside vnetsec in the same run, alternating (3 hypervisors each; '
                        '--runs moves per mode); needs scripts/setup.sh --ovn')
    p.add_argument('--bind', action='store_true',
                   help='with --vs-ovn: bind throughput instead of migrations')
    p.add_argument('--stats-intervals', metavar='S[,S]',
                   help='the same moves with the controller reading rule counters in the '
                        'background every S seconds (0: off), one data center each, in this '
                        'run: what the statistics cost')
    p.add_argument('--carry-sessions', metavar='B[,B]',
                   help='the same moves with [vnetsec] carry_sessions false and/or true, '
                        'one data center each, in this run: what carrying sessions costs '
                        'the gap')
    args = p.parse_args()
    if args.bind and not args.vs_ovn:
        p.error('--bind goes with --vs-ovn (without it, bind throughput is part of the run)')
    if args.vs_ovn:
        from bench import vs_ovn       # it builds on this module's measurements
        (vs_ovn.binds if args.bind else vs_ovn.migrations)(args.runs)
        return
    print('Migration benchmark: probe every 2 ms from a VM on a third hypervisor; '
          'median (max) of %d migrations' % args.runs)
    print('  %-4s %-9s %7s %7s %16s %14s %18s' % (
        'HVs', 'mode', 'lost', 'dup', 'longest gap ms', 'dest ms', 'last remote ms'))
    settings = [None]           # (what is printed, the [vnetsec] options)
    if args.stats_intervals:
        settings = [('stats_interval = %g s%s' % (float(i), ' (off)' if not float(i) else ''),
                     {'stats_interval': float(i)}) for i in args.stats_intervals.split(',')]
    if args.carry_sessions:
        settings = [('carry_sessions = %s' % b, {'carry_sessions': b})
                    for b in args.carry_sessions.split(',')]
    for size, setting in [(int(s), i) for s in args.sizes.split(',') for i in settings]:
        if setting is not None:
            print('  ' + setting[0])
        options = {} if setting is None else setting[1]
        with DataCenter(racks=1, hypervisors=size, vms=1, networks='vxlan:5000',
                        options=options) as dc:
            moves = 0
            for mode in args.modes.split(','):
                results = []
                for _ in range(args.runs):
                    dest = 'hv2' if moves % 2 == 0 else 'hv1'
                    moves += 1
                    results.append(one_migration(dc, 'vm1', dest, 'vm3', mode))
                cols = [median_max([r[key] for r in results])
                        for key in ('lost', 'dup', 'gap', 'dest', 'remote')]
                print('  %-4d %-9s %7s %7s %16s %14s %18s' % (size, mode, *cols), flush=True)
            if size == min(int(s) for s in args.sizes.split(',')) and setting is None:
                b_wall, b_ctl, s_wall, s_ctl = bind_throughput(dc)
                print('  bind (%d HVs): 100 ports plugged at once -> all flows confirmed in '
                      '%.0f ms, of which controller %.0f ms; one at a time '
                      '%.1f ms per port, controller %.1f ms'
                      % (size, b_wall * 1000, b_ctl * 1000, s_wall * 1000, s_ctl * 1000),
                      flush=True)


if __name__ == '__main__':
    main()
