"""REST API throughput as the data grows, and the cost of synchronous=FULL.

Two controllers with no switches, one after the other, on loopback: this
checkout and a reference commit (default: the last commit before the hardening
work, checked out into a temporary git worktree and run with the same venv).
For each: requests/s of ``GET /v1/networks`` and ``POST /v1/ports`` (a new port
each time) with 100 and 5,000 ports stored, one client and 8 clients (separate
processes, keep-alive). Then this checkout's port creation with the database
synced FULL (the default: survives power loss) against NORMAL.

    .venv/bin/python -m bench.api [--reference COMMIT] [--seconds 3]
"""
import argparse
import http.client
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time

from mininet_topos.controller_proc import ControllerProcess
from mininet_topos.datacenter import _free_port
from mininet_topos.procs import exit_on_sigterm

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REFERENCE = 'def779e'          # main before issue 11 (hardening)
TOKEN = 'bench-token'


def config(path, db, api_port, synchronous=None, store=None):
    lines = ['[DEFAULT]', 'ofp_listen_host = 127.0.0.1',
             'ofp_tcp_listen_port = %d' % _free_port(16653), '', '[vnetsec]',
             'db_path = %s' % db, 'api_host = 127.0.0.1', 'api_port = %d' % api_port,
             'api_token = %s' % TOKEN]
    if synchronous:
        lines.append('db_synchronous = %s' % synchronous)
    if store:
        lines.append('store = %s' % store)
    with open(path, 'w') as f:
        f.write('\n'.join(lines) + '\n')


class Controller:
    """A ryu-manager of ``source`` (a checkout) with a fresh database."""

    def __init__(self, source, workdir, synchronous=None, store=None):
        self.source, self.workdir = source, workdir
        self.port = _free_port(18080)
        os.makedirs(workdir, exist_ok=True)
        conf = os.path.join(workdir, 'c.conf')
        config(conf, os.path.join(workdir, 'state.db'), self.port, synchronous, store)
        self.proc = ControllerProcess(conf, os.path.join(workdir, 'ryu.log'),
                                      'http://127.0.0.1:%d' % self.port, TOKEN,
                                      apps=('vnetsec',))    # every version has it

    def __enter__(self):
        old = os.environ.get('PYTHONPATH')
        os.environ['PYTHONPATH'] = self.source     # its code first, then the venv's
        try:
            self.proc.start()
        finally:
            if old is None:
                del os.environ['PYTHONPATH']
            else:
                os.environ['PYTHONPATH'] = old
        self.client = self.proc.client
        self.network = self.client.post('/v1/networks', {'name': 'bench', 'kind': 'vxlan'})
        self.count = 0
        return self

    def __exit__(self, *exc):
        self.proc.stop()

    def grow_to(self, ports):
        while self.count < ports:
            n = min(1000, ports - self.count)
            self.client.call('POST', '/v1/ports', {'ports': [
                port_body(self.network['id'], 0, self.count + i) for i in range(n)]},
                timeout=120)
            self.count += n


def port_body(network_id, slot, k):
    """The k-th port of a client ``slot`` (0: the ports stored beforehand)."""
    return {'network_id': network_id, 'device': 'p%d_%d' % (slot, k),
            'mac': '02:%02x:%02x:%02x:%02x:%02x' % ((slot,) + tuple(
                (k >> s) & 0xff for s in (24, 16, 8, 0))),
            'ips': ['10.%d.%d.%d' % (((k + 1) >> 16) & 0xff, ((k + 1) >> 8) & 0xff,
                                     (k + 1) & 0xff)]}


def _client(args):
    """One client process: requests for ``seconds``; returns how many answered."""
    port, method, network_id, slot, seconds = args
    conn = http.client.HTTPConnection('127.0.0.1', port, timeout=30)
    headers = {'Authorization': 'Bearer ' + TOKEN, 'Content-Type': 'application/json'}
    done, deadline = 0, time.time() + seconds
    while time.time() < deadline:
        if method == 'GET':
            conn.request('GET', '/v1/networks', headers=headers)
        else:
            body = port_body(network_id, slot, done)
            body['ips'] = []                          # addresses would need a plan per client
            conn.request('POST', '/v1/ports', json.dumps(body), headers)
        resp = conn.getresponse()
        resp.read()
        if resp.status >= 300:
            raise RuntimeError('%s answered %d' % (method, resp.status))
        done += 1
    return done


def rate(ctl, method, clients, seconds, round_no):
    jobs = [(ctl.port, method, ctl.network['id'], 1 + round_no * 8 + i, seconds)
            for i in range(clients)]
    with multiprocessing.Pool(clients) as pool:
        total = sum(pool.map(_client, jobs))
    if method == 'POST':
        ctl.count += total
    return total / seconds


def measure(source, workdir, seconds):
    out = {}
    with Controller(source, workdir) as ctl:
        for round_no, ports in enumerate((100, 5000)):
            ctl.grow_to(ports)
            for clients in (1, 8):
                for method in ('GET', 'POST'):
                    out[(method, clients, ports)] = rate(ctl, method, clients, seconds,
                                                         round_no * 2 + (clients == 8))
    return out


def reference_checkout(commit, where):
    subprocess.run(['git', '-C', ROOT, 'worktree', 'add', '--detach', where, commit],
                   check=True, capture_output=True)
    return where


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--reference', default=REFERENCE, help='commit to compare with')
    p.add_argument('--seconds', type=float, default=3.0, help='per measurement')
    args = p.parse_args(argv)
    exit_on_sigterm()        # a kill stops what it started, as Ctrl-C does
    tmp = tempfile.mkdtemp(prefix='vnetsec-bench-api-')
    ref_dir = os.path.join(tmp, 'reference')
    try:
        reference_checkout(args.reference, ref_dir)
        results = {'before (%s)' % args.reference: measure(ref_dir, tmp + '/r', args.seconds),
                   'after (this checkout)': measure(ROOT, tmp + '/a', args.seconds)}
        print('REST API requests/s, controller with no switches, loopback, same run '
              '(%.0f s each)' % args.seconds)
        print('  %-34s %12s %12s %8s' % ('', '100 ports', '5000 ports', 'change'))
        for method, what in (('GET', 'GET /v1/networks'), ('POST', 'POST /v1/ports')):
            for clients in (1, 8):
                for label, r in results.items():
                    small, big = r[(method, clients, 100)], r[(method, clients, 5000)]
                    print('  %-34s %12.0f %12.0f %+7.0f%%' % (
                        '%s, %d client%s, %s' % (what, clients, 's' * (clients > 1),
                                                 label.split(' ')[0]),
                        small, big, 100.0 * (big - small) / small))
        print('Port creation, one client, this checkout, 100 ports stored:')
        for mode in ('NORMAL', 'FULL'):
            with Controller(ROOT, '%s/s%s' % (tmp, mode), synchronous=mode) as ctl:
                ctl.grow_to(100)
                per_s = rate(ctl, 'POST', 1, args.seconds, 9)
            print('  synchronous=%-6s %7.0f ports/s  %6.2f ms per port%s'
                  % (mode, per_s, 1000.0 / per_s, '  (default)' if mode == 'FULL' else ''))
    finally:
        subprocess.run(['git', '-C', ROOT, 'worktree', 'remove', '--force', ref_dir],
                       capture_output=True)
        subprocess.run(['rm', '-rf', tmp])
    return 0


if __name__ == '__main__':
    sys.exit(main())
