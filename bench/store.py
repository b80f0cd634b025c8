"""The cost of the etcd store against SQLite, through the REST API.

Two controllers of this checkout with no switches, one after the other, on
loopback: one on SQLite (the default, synchronous=FULL), one on a local etcd
3.4 member started here (it fsyncs its WAL at each commit too). For each: port
creation one at a time (one client, then 8 client processes, 100 ports stored)
and bulk creation of 1,000 ports in one request (median of 3), side by side.

    .venv/bin/python -m bench.store [--seconds 3]
"""
import argparse
import os
import signal
import statistics
import sys
import tempfile
import time

from bench.api import ROOT, Controller, port_body, rate
from mininet_topos.etcd_proc import EtcdProcess
from mininet_topos.procs import exit_on_sigterm


def bulk_seconds(ctl, repeats=3):
    """Seconds for one POST of 1,000 new ports (median of ``repeats``)."""
    times = []
    for _ in range(repeats):
        body = {'ports': [port_body(ctl.network['id'], 0, ctl.count + i) for i in range(1000)]}
        t0 = time.perf_counter()
        ctl.client.call('POST', '/v1/ports', body, timeout=120)
        times.append(time.perf_counter() - t0)
        ctl.count += 1000
    return statistics.median(times)


def measure(workdir, seconds, store=None):
    with Controller(ROOT, workdir, store=store) as ctl:
        ctl.grow_to(100)
        one = rate(ctl, 'POST', 1, seconds, 0)
        eight = rate(ctl, 'POST', 8, seconds, 1)
        return {'one': one, 'eight': eight, 'bulk': bulk_seconds(ctl)}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--seconds', type=float, default=3.0, help='per rate measurement')
    args = p.parse_args(argv)
    exit_on_sigterm()        # a kill stops what it started, as Ctrl-C does
    tmp = tempfile.mkdtemp(prefix='vnetsec-bench-store-')
    etcd = EtcdProcess(os.path.join(tmp, 'etcd')).start()
    try:
        results = {'sqlite': measure(tmp + '/s', args.seconds),
                   'etcd': measure(tmp + '/e', args.seconds, store=etcd.url)}
    finally:
        etcd.stop(signal.SIGTERM)
        os.system('rm -rf %s' % tmp)
    s, e = results['sqlite'], results['etcd']
    print('Store cost through the REST API, controller with no switches, loopback, '
          'same run (%.0f s per rate)' % args.seconds)
    print('  %-44s %10s %10s %8s' % ('', 'SQLite', 'etcd', 'etcd/SQL'))
    for key, what in (('one', 'POST /v1/ports one at a time, 1 client'),
                      ('eight', 'POST /v1/ports one at a time, 8 clients')):
        print('  %-44s %7.2f ms %7.2f ms %7.2fx' % (what + ' (per port)', 1000 / s[key],
                                                   1000 / e[key], s[key] / e[key]))
    print('  %-44s %8.3f s %8.3f s %7.2fx' % ('POST /v1/ports, 1,000 ports in one request',
                                             s['bulk'], e['bulk'], e['bulk'] / s['bulk']))
    return 0


if __name__ == '__main__':
    sys.exit(main())
