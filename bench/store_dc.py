"""The etcd store against SQLite on a real data center, same run, side by side:
the figures issue 13 names, each measured with the controller on SQLite (the
default) and on a local etcd 3.4 member started here, one after the other.

- 1,000 VLAN ports in one REST call, until every switch holds their flows
  (2 racks x 5 hypervisors, 10 VLANs; as ``bench.vlan_ports``)
- then 20 ports one at a time, call -> flows installed (as ``bench.vlan_ports``)
- one rule added to a group of 1,000 ports (as ``bench.firewall``)
- migration convergence, plain (planned) moves on 3 hypervisors: destination
  and last remote bundle confirmed after the port appeared (as ``bench.migration``)

    sudo flock /tmp/vnetsec-integration.lock .venv/bin/python -m bench.store_dc [--ports 1000] [--runs 3] [--parts vlan,rule,migration]
"""
import argparse
import contextlib
import os
import signal
import statistics
import sys
import tempfile
import time

from bench.common import plug_dummy_vnics, wait_synced
from bench.firewall import rule_change
from bench.migration import one_migration
from bench.vlan_ports import time_one_by_one
from mininet_topos.datacenter import DataCenter
from mininet_topos.etcd_proc import EtcdProcess
from mininet_topos.procs import exit_on_sigterm


@contextlib.contextmanager
def store_options(store, tmp):
    """The controller options of a fresh, empty store: SQLite (each run has its own
    file) or a new etcd member, stopped afterwards."""
    if store == 'sqlite':
        yield {}
        return
    etcd = EtcdProcess(tempfile.mkdtemp(dir=tmp) + '/etcd').start()
    try:
        yield {'store': etcd.url}
    finally:
        etcd.stop(signal.SIGTERM)


def vlan_ports(options, n_ports):
    """(seconds: bulk call -> flows installed, ms per port one at a time)."""
    with DataCenter(racks=2, hypervisors=5, vms=1, networks='vlan:10', options=options) as dc:
        hvs = dc.hypervisors()
        nets = [dc.client.ensure_network('bench%d' % v, 'vlan', 100 + v)['id']
                for v in range(10)]
        names = ['b%d' % i for i in range(n_ports)]
        for h, hv in enumerate(hvs):
            plug_dummy_vnics(hv, names[h::len(hvs)])
        wait_synced(dc)
        bodies = [{'network_id': nets[(i // len(hvs)) % len(nets)], 'device': name,
                   'mac': '02:aa:00:00:%02x:%02x' % (i >> 8, i & 0xff),
                   'ips': ['10.1.%d.%d' % (i >> 8, i & 0xff)]} for i, name in enumerate(names)]
        t0 = time.time()
        dc.client.call('POST', '/v1/ports', {'ports': bodies}, timeout=120)
        wait_synced(dc)
        bulk = time.time() - t0
        return bulk, statistics.mean(time_one_by_one(dc, nets, 20)[0])   # ms


def one_rule(options, n_ports):
    with DataCenter(racks=2, hypervisors=5, vms=1, networks='vxlan:5000',
                    options=options) as dc:
        return rule_change(dc, n_ports)[0]


def migrations(options, runs):
    """Median ms to the destination's and to the last remote's confirmed bundle."""
    with DataCenter(racks=1, hypervisors=3, vms=1, networks='vxlan:5000',
                    options=options) as dc:
        results = [one_migration(dc, 'vm1', 'hv2' if i % 2 == 0 else 'hv1', 'vm3', 'plain')
                   for i in range(runs)]
        return (statistics.median(r['dest'] for r in results),
                statistics.median(r['remote'] for r in results),
                max(r['lost'] for r in results))


def measure(store, args, tmp):
    nan = float('nan')
    out = dict.fromkeys(('bulk', 'single', 'rule', 'dest', 'remote', 'lost'), nan)
    if 'vlan' in args.parts:
        with store_options(store, tmp) as options:
            out['bulk'], out['single'] = vlan_ports(options, args.ports)
    if 'rule' in args.parts:
        with store_options(store, tmp) as options:
            out['rule'] = one_rule(options, args.ports)
    if 'migration' in args.parts:
        with store_options(store, tmp) as options:
            out['dest'], out['remote'], out['lost'] = migrations(options, args.runs)
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--ports', type=int, default=1000)
    p.add_argument('--runs', type=int, default=3, help='plain migrations per store')
    p.add_argument('--parts', default='vlan,rule,migration',
                   help='which measurements (default all): vlan,rule,migration')
    args = p.parse_args(argv)
    exit_on_sigterm()        # a kill stops what it started, as Ctrl-C does
    tmp = tempfile.mkdtemp(prefix='vnetsec-bench-store-dc-')
    try:
        results = {store: measure(store, args, tmp) for store in ('sqlite', 'etcd')}
    finally:
        os.system('rm -rf %s' % tmp)
    s, e = results['sqlite'], results['etcd']
    print('The etcd store against SQLite on a data center, same run (etcd 3.4, one member '
          'on loopback)')
    print('  %-52s %10s %10s %8s' % ('', 'SQLite', 'etcd', 'etcd/SQL'))
    rows = [('bulk', '%d VLAN ports, one call -> flows installed (s)' % args.ports, '%10.3f'),
            ('single', '20 ports one at a time (ms per port)', '%10.1f'),
            ('rule', 'one rule on %d ports -> installed (s)' % args.ports, '%10.3f'),
            ('dest', 'migration (plain, 3 HVs): destination (ms, median)', '%10.1f'),
            ('remote', 'migration (plain, 3 HVs): last remote (ms, median)', '%10.1f')]
    for key, what, fmt in rows:
        if s[key] != s[key]:        # nan: a part not measured
            continue
        ratio = e[key] / s[key] if s[key] else float('nan')
        print('  %-52s %s %s %7.2fx' % (what, fmt % s[key], fmt % e[key], ratio))
    if 'migration' in args.parts:
        print('  probes lost in the migrations (max): SQLite %d, etcd %d'
              % (s['lost'], e['lost']))
    return 0


if __name__ == '__main__':
    sys.exit(main())
