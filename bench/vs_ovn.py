"""Benchmark: vnetsec beside OVN 23.03, both measured in the same run
(``bench.migration --vs-ovn [--bind]``), so that neither side's figures come
from another day: this machine's speed varies 1.5-2.5x from day to day.

Both labs run at once, 3 hypervisors each (userspace OVS, a VM on each of the
first three), and the measurements alternate between them move by move (or
bind by bind), so that a slow minute of the machine falls on both.

- migrations: vm1 moves between hv1 and hv2 while vm3 on hv3 probes it every
  2 ms (``bench.common.probe_command``, the same probe on both sides): vnetsec's
  unplanned, planned (plain) and live moves beside OVN's plain move and its
  live mode (``bench.ovn_migration``), ``runs`` moves of each. Printed: median
  (max) of lost and duplicated probes, the longest gap between replies, and
  "dest ms": vnetsec from the destination switch reporting the port to it
  confirming its flows, OVN from the port plugged at the destination to
  ovn-controller marking it installed there (OVN's live mode installs it before
  the switch-over). Switch crashes: an ovs-vswitchd that died during a move
  (OVS 3.1's userspace conntrack can abort on the nat commits of OVN's
  stateful ACLs); OVN's is restarted and the move counted with its crash.
- bind: ports created beforehand (vnetsec: one API call; OVN: one NB
  transaction, each port in the ACLs' port group), then their vNICs plugged on
  the third hypervisor, 100 at once and 20 one at a time; timed until every
  switch has the flows (vnetsec: every bundle confirmed; OVN: every port up and
  every hypervisor caught up).
"""
import statistics
import subprocess
import sys
import time

from bench import ovn_migration
from bench.common import probe_command, probe_figures
from bench.migration import bind, median_max, one_migration, register_ports
from bench.ovn_lab import OvnLab
from mininet_topos.datacenter import DataCenter
from mininet_topos.migration import vnic_ends
from mininet_topos.procs import start_time

VNETSEC_MODES = ('unplanned', 'plain', 'live')
OVN_MODES = {'plain move': ovn_migration.move, 'live (rarp)': ovn_migration.live_move}


def labs():
    """Both labs, 3 hypervisors and 3 VMs each (as context managers)."""
    return DataCenter(racks=1, hypervisors=3, vms=1, networks='vxlan:5000'), OvnLab(3)


def vnetsec_move(dc, mode):
    here = vnic_ends(dc.node('vm1'))[1].node.name
    figures = one_migration(dc, 'vm1', 'hv2' if here == 'hv1' else 'hv1', 'vm3', mode)
    dead = [hv.name for hv in dc.hypervisors()
            if not all(start_time(pid) for pid in hv.ovs.pids())]
    if dead:
        raise RuntimeError('vnetsec: ovs-vswitchd of %s died during a %s move (see its log '
                           'under %s)' % (', '.join(dead), mode, dc.rundir))
    figures['crashes'] = []
    return figures


def ovn_move(lab, mode):
    dest = 'hv2' if lab.vnics['vm1'].hv == 'hv1' else 'hv1'
    out = '%s/probe.txt' % lab.rundir
    with open(out, 'w') as f:
        ping = subprocess.Popen(['ip', 'netns', 'exec', lab.ns('vm3')]
                                + probe_command(lab.vnics['vm1'].ip).split(),
                                stdout=f, stderr=subprocess.STDOUT)
    try:
        time.sleep(1.0)
        marks = OVN_MODES[mode](lab, 'vm1', dest)
        ping.wait(timeout=120)
    finally:
        if ping.poll() is None:
            ping.kill()
            ping.wait()
    crashed_before = len(lab.crashes)
    lab.check_switches()
    with open(out) as f:
        figures = probe_figures(f.read())
    figures['dest'] = ((marks['installed'] - marks['appeared']) * 1000
                       if 'installed' in marks else None)
    figures['crashes'] = lab.crashes[crashed_before:]
    return figures


def migrations(runs):
    results = {('vnetsec', mode): [] for mode in VNETSEC_MODES}
    results.update({('OVN', mode): [] for mode in OVN_MODES})
    dc, lab = labs()
    with dc, lab:
        for n in range(1, runs + 1):
            for mode in VNETSEC_MODES:
                results['vnetsec', mode].append(vnetsec_move(dc, mode))
            for mode in OVN_MODES:
                results['OVN', mode].append(ovn_move(lab, mode))
            print('  (%d of %d rounds)' % (n, runs), file=sys.stderr, flush=True)
    print('Migration, vnetsec and OVN 23.03 in the same run, alternating: 3 hypervisors '
          'each; a VM on a third one probes the moving VM every 2 ms; median (max) of %d '
          'moves per mode' % runs)
    print('  %-8s %-12s %8s %8s %16s %10s %15s' % ('system', 'mode', 'lost', 'dup',
                                                  'longest gap ms', 'dest ms',
                                                  'switch crashes'))
    for (system, mode), rows in results.items():
        cols = [median_max([r[key] for r in rows]) for key in ('lost', 'dup', 'gap', 'dest')]
        crashes = sum(len(r['crashes']) for r in rows)
        print('  %-8s %-12s %8s %8s %16s %10s %15d' % (system, mode, *cols, crashes))
    for (system, mode), rows in results.items():
        for n, row in enumerate(rows, 1):
            for hv, line in row['crashes']:
                print('  %s switch crash: ovs-vswitchd of %s died during %s move %d: %s'
                      % (system, hv, mode, n, line))


def binds(runs, batch=100, single=20):
    walls = {key: [] for key in ('vnetsec batch', 'OVN batch', 'vnetsec single',
                                 'OVN single')}
    dc, lab = labs()
    with dc, lab:
        hv, ovn_hv = dc.hypervisors()[-1], lab.hvs[-1]
        for n in range(runs):
            names = ['b%dp%d' % (n, i) for i in range(batch + single)]
            register_ports(dc, names, first=n * len(names))
            ovn_migration.create_ports(lab, names, first_k=100 + n * len(names))
            walls['vnetsec batch'].append(bind(dc, hv, names[:batch])[0])
            walls['OVN batch'].append(ovn_migration.bind(lab, ovn_hv, names[:batch]))
            for name in names[batch:]:
                walls['vnetsec single'].append(bind(dc, hv, [name])[0])
                walls['OVN single'].append(ovn_migration.bind(lab, ovn_hv, [name]))
            print('  (%d of %d rounds)' % (n + 1, runs), file=sys.stderr, flush=True)
        lab.check_switches()
    ms = {key: [w * 1000 for w in values] for key, values in walls.items()}
    print('Bind, vnetsec and OVN 23.03 in the same run, alternating: ports created '
          'beforehand, then their vNICs plugged on one of 3 hypervisors, until every switch '
          'has the flows; median (max) over %d rounds of %d ports at once, and of %d ports '
          'one at a time' % (runs, batch, runs * single))
    print('  %-8s %22s %24s' % ('system', '%d at once, ms' % batch, 'one at a time, ms/port'))
    for system in ('vnetsec', 'OVN'):
        print('  %-8s %22s %24s' % (system, median_max(ms[system + ' batch']),
                                    '%.1f (%.1f)' % (statistics.median(ms[system + ' single']),
                                                     max(ms[system + ' single']))))
    for hv, line in lab.crashes:
        print('  OVN switch crash: ovs-vswitchd of %s died: %s' % (hv, line))
