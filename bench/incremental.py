"""Benchmark (no switches, no root): the controller's share of one change in a
large data center, in-process, with datapaths that take the bytes and drop
them: one port bound, one port moved (unplanned), one rule added, each timed
from the store write to the last bundle written.

    .venv/bin/python -m bench.incremental [--hosts 1000] [--vnics 20] [--one-group] [--ref 2e27337]

The state: ``--hosts`` hypervisors x ``--vnics`` vNICs in VXLAN networks of 100
ports (5 per host on 20 hosts), each network with its own security group that
admits its own members (a remote-group rule), kept in a temporary SQLite store.
``--one-group``: every vNIC in one such group instead (as Neutron's ``default``
would hold them all): every hypervisor lists every address, and each change
of a member is news to every hypervisor.
With ``--ref`` the same script is run first on that commit's controller (a
temporary git worktree first on the path), then on this checkout: both printed.
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class DropDatapath:
    """What the reconciler needs of a datapath; the bytes are counted, not parsed."""

    def __init__(self, dpid):
        from controller.ryu_facade import ofproto, parser
        self.id, self.ofproto, self.ofproto_parser = dpid, ofproto, parser
        self.xid, self.bytes = 0, 0

    def set_xid(self, msg):
        self.xid += 1
        msg.set_xid(self.xid)
        return self.xid

    def send_msg(self, msg):
        if msg.xid is None:
            self.set_xid(msg)
        msg.serialize()
        self.send(bytes(msg.buf))

    def send(self, buf):
        self.bytes += len(buf)


def build(args, tmp):
    from controller.state import model
    from controller.compile.host import ALL
    from controller.core import Core
    from controller.features.security_groups import SecurityGroups
    from controller.ryu_facade import CONF
    CONF([], project='vnetsec-bench', default_config_files=[])
    CONF.set_override('db_path', os.path.join(tmp, 'db'), group='vnetsec')
    CONF.set_override('db_synchronous', 'NORMAL', group='vnetsec')
    CONF.set_override('api_token', 'bench', group='vnetsec')
    CONF.set_override('vni_pool', '5000-9999', group='vnetsec')
    core = Core()
    for feature in ALL:
        core.register(feature)
    service, groups = core.service, SecurityGroups(core.service)
    per_net = 5
    nets_per_host = args.vnics // per_net
    n_nets = args.hosts // 20 * nets_per_host
    for h in range(args.hosts):
        service.create_host({'name': 'hv%d' % h, 'dpid': h + 1, 'rack': h // 40 + 1,
                             'vtep_ip': '172.16.%d.%d' % (h // 250, h % 250 + 1)})
    nets, gids = [], []
    for n in range(n_nets):
        nets.append(service.create_network({'name': 'n%d' % n, 'kind': 'vxlan'}).id)
        if n == 0 or not args.one_group:
            g = groups.create_group({'name': 'g%d' % n, 'rules': [{'direction': 'egress'}]})
            groups.add_rule(g.id, {'direction': 'ingress', 'remote_group_id': g.id})
        gids.append(g.id)
    bodies = []
    for i in range(args.hosts * args.vnics):
        h = i // args.vnics
        n = (h // 20) * nets_per_host + (i % args.vnics) // per_net
        bodies.append({'network_id': nets[n], 'mac': '02:%02x:%02x:%02x:00:01' % (
            i >> 16, (i >> 8) & 255, i & 255), 'ips': ['10.%d.%d.%d' % (
                i >> 14, (i >> 6) & 255, (i & 63) + 1)], 'device': 't%d' % i,
            'security_groups': [gids[n]]})
    created = service.create_ports(bodies)
    with core.store.transaction() as tx:
        for i, port in enumerate(created):
            tx.put('port', port.id, model.changed(port, bound_host='hv%d' % (
                i // args.vnics), ofport=i % args.vnics + 1))
    for h in range(args.hosts):
        dp = DropDatapath(h + 1)
        core.ofctrl.datapaths[dp.id] = dp
        core.ofctrl.reconciler.start_sync(dp)
        core.ofctrl.reconciler.on_flow_stats(dp, [], more=False)
    t0 = time.perf_counter()
    core.engine.reconcile()
    return core, nets, gids, time.perf_counter() - t0


def timed(core, change):
    before = core.ofctrl.reconciler.stats['flow_mods']
    t0 = time.perf_counter()
    change()
    core.engine.reconcile()
    return (time.perf_counter() - t0) * 1000, core.ofctrl.reconciler.stats['flow_mods'] - before


def measure(args):
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        core, nets, gids, full = build(args, tmp)
        print('  state: %d hypervisors x %d vNICs%s, %d flows; built in %.0f s, first full '
              'reconcile %.1f s' % (args.hosts, args.vnics, ' in one group' * args.one_group, sum(
                  map(len, core.ofctrl.reconciler.installed.values())), time.perf_counter() - t0, full))
        from controller.features.security_groups import SecurityGroups
        service, rows = core.service, {'bind': [], 'move': [], 'rule': []}
        for r in range(args.runs):
            port = service.create_port({'network_id': nets[0], 'mac': '02:ff:00:00:%02x:01' % r,
                                        'ips': ['10.255.%d.1' % r], 'device': 'new%d' % r,
                                        'security_groups': [gids[0]]})
            core.engine.reconcile()
            rows['bind'].append(timed(core, lambda: service.bind('hv0', {port.device: 100 + r})))
            rows['move'].append(timed(core, lambda: service.bind('hv5', {port.device: 100 + r})))
            rows['rule'].append(timed(core, lambda: SecurityGroups(service).add_rule(
                gids[0], {'direction': 'ingress', 'protocol': 'tcp', 'port_range_min': 1000 + r,
                          'port_range_max': 1000 + r})))
        for name, what in (('bind', 'one port bound'), ('move', 'one port moved, unplanned'),
                           ('rule', 'one rule added (%d ports)' % (
                               args.hosts * args.vnics if args.one_group else 100))):
            ms = [m for m, _ in rows[name]]
            print('  %-32s median %7.1f ms  max %7.1f ms  flow mods %d' % (
                what, statistics.median(ms), max(ms), rows[name][-1][1]))


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--hosts', type=int, default=1000)
    p.add_argument('--vnics', type=int, default=20)
    p.add_argument('--runs', type=int, default=5)
    p.add_argument('--one-group', action='store_true',
                   help='every vNIC in one group admitting its members')
    p.add_argument('--ref', default='', help='also run on this commit, first')
    args = p.parse_args()
    if args.ref:
        where = tempfile.mkdtemp(prefix='vnetsec-ref-')
        subprocess.run(['git', '-C', ROOT, 'worktree', 'add', '--detach', where + '/w',
                        args.ref], check=True, capture_output=True)
        try:
            argv = [a for a in sys.argv[1:] if a not in ('--ref', args.ref)]
            print('=== before: %s' % args.ref, flush=True)
            subprocess.run([sys.executable, os.path.abspath(__file__)] + argv,
                           env=dict(os.environ, PYTHONPATH=where + '/w'), cwd=where + '/w',
                           check=True)
        finally:
            subprocess.run(['git', '-C', ROOT, 'worktree', 'remove', '--force', where + '/w'],
                           capture_output=True)
            shutil.rmtree(where, ignore_errors=True)
        print('=== after: this checkout', flush=True)
    measure(args)


if __name__ == '__main__':
    sys.path.insert(0, os.environ.get('PYTHONPATH') or ROOT)
    main()
