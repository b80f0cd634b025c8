"""The cost of the etcd store against SQLite, through the REST API.

Controllers with no switches, one after the other, on loopback: a reference
commit's controller on SQLite (the default, synchronous=FULL) and on etcd
("before": by default main before the store's calls moved to etcd's gRPC API,
i.e. the v3 JSON gateway; checked out into a temporary git worktree, run with
the same venv), then this checkout's on both ("after"), so that each ratio
compares one code's two stores; each etcd a fresh local 3.4
member started here (it fsyncs its WAL at each commit too). For each: port
creation one at a time (one client, then 8 client processes, 100 ports stored)
and bulk creation of 1,000 ports in one request (median of 3), side by side;
``--rounds N``: each measured N times in turn, the median printed.

The floor, same run, in this process (no REST, no eventlet): a port's creation
by the service on SQLite (its whole store write included), and etcd's own
commit of the same port's Txn (the store's request, sent by a blocking gRPC
call: no hand-over to a worker thread, no controller). A REST write on etcd
cannot cost less than SQLite's REST write minus SQLite's in-process creation
plus etcd's commit: that bound is printed beside the aim (1.5x).

    .venv/bin/python -m bench.store [--seconds 3] [--rounds 1] [--reference COMMIT]
"""
import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time

import grpc

from bench.api import ROOT, Controller, port_body, rate, reference_checkout
from controller.state import etcd_grpc, etcd_pb as pb
from controller.state.etcd_store import EtcdStore
from controller.state.service import Service
from controller.state.store import SqliteStore
from mininet_topos.etcd_proc import EtcdProcess
from mininet_topos.procs import exit_on_sigterm

REFERENCE = '404ed70'       # main with the store's calls on the JSON gateway


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


def create_ms(store, ports=300):
    """Median ms of one ``Service.create_port`` on ``store`` (in this process)."""
    service = Service(store)
    network = service.create_network({'name': 'floor', 'kind': 'vxlan'})
    times = []
    for k in range(ports):
        t0 = time.perf_counter()
        service.create_port(port_body(network.id, 9, k) | {'ips': []})
        times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times)


def commit_ms(store, client_port):
    """Median ms of etcd's commit of a port's Txn: the store's own requests, sent
    by a blocking gRPC call instead of its worker threads."""
    channel = grpc.insecure_channel('127.0.0.1:%d' % client_port)
    txn = channel.unary_unary(etcd_grpc.METHODS['kv/txn'][0],
                              request_serializer=pb.TxnRequest.SerializeToString,
                              response_deserializer=pb.TxnResponse.FromString)
    post, commits = store._members.post, []

    def direct(path, body):
        if path != 'kv/txn':
            return post(path, body)
        t0 = time.perf_counter()
        answer = txn(body, timeout=5)
        commits.append(time.perf_counter() - t0)
        return answer
    store._members.post = direct
    try:
        create_ms(store)
    finally:
        channel.close()
    return 1000 * statistics.median(commits)


def floor(workdir):
    """(ms of a port's creation on SQLite, ms of etcd's commit of a port's Txn)."""
    os.makedirs(workdir)
    sqlite = SqliteStore(os.path.join(workdir, 'state.db'))
    try:
        sqlite_ms = create_ms(sqlite)
    finally:
        sqlite.close()
    etcd = EtcdProcess(os.path.join(workdir, 'etcd')).start()
    try:
        store = EtcdStore.from_url(etcd.url)
        try:
            return sqlite_ms, commit_ms(store, etcd.client_port)
        finally:
            store.close()
    finally:
        etcd.stop(signal.SIGTERM)


def measure(source, workdir, seconds, etcd_dir=None):
    """One controller of ``source``: on SQLite, or on a fresh etcd in ``etcd_dir``."""
    etcd = EtcdProcess(etcd_dir).start() if etcd_dir else None
    try:
        with Controller(source, workdir, store=etcd and etcd.url) as ctl:
            ctl.grow_to(100)
            one = rate(ctl, 'POST', 1, seconds, 0)
            eight = rate(ctl, 'POST', 8, seconds, 1)
            return {'one': one, 'eight': eight, 'bulk': bulk_seconds(ctl)}
    finally:
        if etcd:
            etcd.stop(signal.SIGTERM)


def attempt(results, measurement, *args):
    """Append ``measurement(*args)`` to ``results``; a failure is reported and
    the run goes on, so the other measurements are still made and printed."""
    try:
        results.append(measurement(*args))
    except Exception as e:
        print('%s%r failed: %r' % (measurement.__name__, args, e), flush=True)


def medians(rounds):
    """Each figure's median over the rounds that finished (nan: none did)."""
    return {key: statistics.median(r[key] for r in rounds) if rounds else float('nan')
            for key in ('one', 'eight', 'bulk')}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--seconds', type=float, default=3.0, help='per rate measurement')
    p.add_argument('--rounds', type=int, default=1, help='measurements of each, in turn')
    p.add_argument('--reference', default=REFERENCE, help='the "etcd before" commit')
    args = p.parse_args(argv)
    exit_on_sigterm()        # a kill stops what it started, as Ctrl-C does
    tmp = tempfile.mkdtemp(prefix='vnetsec-bench-store-')
    ref_dir = os.path.join(tmp, 'reference')
    runs = {'sqlite before': [], 'before': [], 'sqlite': [], 'after': []}
    floors = []
    try:
        reference_checkout(args.reference, ref_dir)
        for n in range(args.rounds):
            for name, source, etcd in (('sqlite before', ref_dir, False), ('before', ref_dir, True),
                                       ('sqlite', ROOT, False), ('after', ROOT, True)):
                workdir = '%s/%s%d' % (tmp, name.replace(' ', '-'), n)
                attempt(runs[name], measure, source, workdir, args.seconds,
                        etcd and workdir + '-etcd')
            attempt(floors, floor, '%s/floor%d' % (tmp, n))
    finally:
        subprocess.run(['git', '-C', ROOT, 'worktree', 'remove', '--force', ref_dir],
                       capture_output=True)
        subprocess.run(['rm', '-rf', tmp])
    sb, b, s, a = (medians(runs[name]) for name in ('sqlite before', 'before', 'sqlite', 'after'))
    print('Store cost through the REST API, controller with no switches, loopback, '
          'same run (%.0f s per rate, median of %d)' % (args.seconds, args.rounds))
    print('  %-44s %21s %21s %17s' % ('', 'before', 'after', 'etcd / SQLite'))
    print('  %-44s %10s %10s %10s %10s %8s %8s' % ('', 'SQLite', 'etcd', 'SQLite', 'etcd',
                                                  'before', 'after'))
    for key, what in (('one', 'POST /v1/ports one at a time, 1 client'),
                      ('eight', 'POST /v1/ports one at a time, 8 clients')):
        print('  %-44s %7.2f ms %7.2f ms %7.2f ms %7.2f ms %7.2fx %7.2fx' % (
            what + ' (per port)', 1000 / sb[key], 1000 / b[key], 1000 / s[key], 1000 / a[key],
            sb[key] / b[key], s[key] / a[key]))
    print('  %-44s %8.3f s %8.3f s %8.3f s %8.3f s %7.2fx %7.2fx' % (
        'POST /v1/ports, 1,000 ports in one request', sb['bulk'], b['bulk'], s['bulk'],
        a['bulk'], b['bulk'] / sb['bulk'], a['bulk'] / s['bulk']))
    sqlite_ms, commit_ms = (statistics.median(f[i] for f in floors) if floors else float('nan')
                            for i in (0, 1))
    rest_ms = 1000 / s['one']
    bound = rest_ms - sqlite_ms + commit_ms
    print('  (before: %s)' % args.reference)
    print('Floor, same run, in process: a port created by the service on SQLite %.2f ms; '
          "etcd's commit of a port's Txn, direct gRPC call %.2f ms" % (sqlite_ms, commit_ms))
    print('  a REST write on etcd >= %.2f - %.2f + %.2f = %.2f ms = %.2fx SQLite\'s (aim 1.50x)'
          % (rest_ms, sqlite_ms, commit_ms, bound, bound / rest_ms))
    return 0


if __name__ == '__main__':
    sys.exit(main())
