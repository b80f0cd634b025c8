"""Report (analysis): the claims of the analysis this project follows, measured
side by side in one run on real emulated labs. Prints one row per claim (what we
measured, and whether the claim holds here) and writes a plot.

Compared: a VM-based, bridge-mode firewall (mininet_topos.bridge_firewall, on the
clients' hypervisor and on another one), vnetsec's per-vNIC firewall (same rules,
same hypervisor), the firewall-VM DMZ (mininet_topos.dmz), and vnetsec's VLAN and
VXLAN control planes.

    .venv/bin/python -m bench.analysis [--seconds 3] [--plot bench/analysis.png]
        [--quick] [--only STEP[,STEP]] [--step-limit SECONDS]

Each measurement (step) has a time limit: a step over it is stopped, what it
built torn down, its rows reported as not measured, and the report goes on
(exit status 1). ``--quick``: the smallest sizes (the integration test's).
SIGTERM or Ctrl-C tears down what the running step built (``nodes.Run``).
"""
import argparse
import json
import re
import signal
import sys
import time
import traceback

from bench.common import plug_dummy_vnics, wait_synced
from controller.compile import pipeline as P
from controller.state.model import ValidationError
from controller.state.service import Service
from controller.state.store import SqliteStore
from mininet_topos import bridge_firewall as bf
from mininet_topos import dmz, probe
from mininet_topos.client import ApiError
from mininet_topos.datacenter import DataCenter
from mininet_topos.lab import Lab, ping_ok, start_services, tcp_ok
from mininet_topos.migration import migrate
from mininet_topos.procs import start_time, terminate

PINGS = 200
MAPPING_STEPS = (8, 32, 128, 256)
QUICK = {'seconds': 1, 'pings': 50, 'mapping': (8, 16)}


# ---- measuring tools ---------------------------------------------------------
def iperf_gbits(client, server_ip, server, seconds):
    server.cmd('iperf3 -s -1 -D -p %d --logfile /dev/null' % bf.IPERF_PORT)
    time.sleep(0.3)
    out = client.cmd('iperf3 -c %s -p %d -t %d -J' % (server_ip, bf.IPERF_PORT, seconds))
    end = json.loads(out)['end']
    return end['sum_received']['bits_per_second'] / 1e9, end['sum_received']['bytes']


def bridge_rx_packets(switches):
    """Frames that entered any OVS bridge of these switches, so far."""
    total = 0
    for sw in switches:
        for bridge in sw.ovs.vsctl('list-br').split():
            out = sw.ovs.ofctl('dump-ports %s' % bridge)
            total += sum(int(n) for port, n in re.findall(r'port\s+(\S+): rx pkts=(\d+)', out)
                         if port != 'LOCAL')
    return total


def link_bytes(node, intfs):
    return sum(int(node.cmd('cat /sys/class/net/%s/statistics/%s_bytes' % (i, d)))
               for i in intfs for d in ('rx', 'tx'))


def path_figures(client, server_ip, server, switches, underlay_node, underlay_intfs,
                 seconds):
    """Throughput, RTT, OVS bridge traversals per packet, and underlay bytes per
    byte of payload, for client -> server."""
    rx0 = bridge_rx_packets(switches)
    out = client.cmd('ping -c %d -i 0.005 -q %s' % (PINGS, server_ip))
    traversals = (bridge_rx_packets(switches) - rx0) / (2.0 * PINGS)
    rtt = float(re.search(r'= [\d.]+/([\d.]+)/', out).group(1))
    under0 = link_bytes(underlay_node, underlay_intfs)
    gbits, payload = iperf_gbits(client, server_ip, server, seconds)
    underlay = (link_bytes(underlay_node, underlay_intfs) - under0) / payload
    return {'gbits': gbits, 'rtt': rtt, 'traversals': traversals, 'underlay': underlay}


# ---- the labs ------------------------------------------------------------------
def bridge_mode(remote, seconds):
    with Lab(bf.BridgeFirewallTopo, remote=remote) as lab:
        a1, b1, b2 = lab.node('a1'), lab.node('b1'), lab.node('b2')
        figures = path_figures(a1, bf.ADDRESSES['b1'], b1, lab.net.switches, lab.node('hv1'),
                               bf.UNDERLAY if remote else [], seconds)
        figures['same_switch_forbidden_delivered'] = tcp_ok(b2, bf.ADDRESSES['b1'],
                                                            bf.FORBIDDEN_PORT)
        return figures


def segmentation_cost(seconds):
    """VLAN vs VXLAN between VMs on two hypervisors: throughput, RTT, and bytes
    on the sender's uplink per byte of payload (the 802.1Q tag vs the VXLAN
    encapsulation)."""
    with DataCenter(racks=1, hypervisors=2, vms=2, networks='vlan:10,vxlan:5000') as dc:
        hv1 = dc.node('hv1')
        return {kind: path_figures(dc.node(a), dc.node(b).IP(), dc.node(b), dc.switches(),
                                   hv1, ['up0'], seconds)
                for kind, (a, b) in (('vlan', ('vm1', 'vm3')), ('vxlan', ('vm2', 'vm4')))}


def per_vnic(seconds):
    """vm1 (clients), vm2 and vm3 (servers) on hv1, the rules of bf.RULES as
    security groups; then vm2 migrates to hv2."""
    with DataCenter(racks=1, hypervisors=2, vms=3, networks='vxlan:5000') as dc:
        groups = {name: dc.client.post('/v1/security-groups', {'name': name, 'rules': rules})
                  for name, rules in bf.RULES.items()}
        role = {'vm1': 'clients', 'vm2': 'servers', 'vm3': 'servers'}
        for port in dc.client.get('/v1/ports'):
            if port['name'] in role:
                dc.client.call('PATCH', '/v1/ports/%s' % port['id'],
                               {'security_groups': [groups[role[port['name']]]['id']]})
        wait_synced(dc)
        vm1, vm2, vm3 = dc.node('vm1'), dc.node('vm2'), dc.node('vm3')
        start_services(dc, {'vm2': (bf.SERVICE_PORT, bf.FORBIDDEN_PORT),
                            'vm3': (bf.SERVICE_PORT, bf.FORBIDDEN_PORT)})
        hv1 = dc.node('hv1')
        figures = path_figures(vm1, vm2.IP(), vm2, dc.switches(), hv1, ['up0'], seconds)
        figures['same_switch_forbidden_delivered'] = tcp_ok(vm3, vm2.IP(), bf.FORBIDDEN_PORT)
        migrate(dc, 'vm2', 'hv2')
        dc.wait_ready()
        figures['after_move_allowed'] = [tcp_ok(vm1, vm2.IP(), bf.SERVICE_PORT),
                                         ping_ok(vm1, vm2.IP())]
        figures['after_move_forbidden'] = [tcp_ok(vm3, vm2.IP(), bf.FORBIDDEN_PORT),
                                           tcp_ok(vm1, vm2.IP(), bf.FORBIDDEN_PORT)]
        figures['segment_limits'] = segment_limits_rest(dc.client)
        return figures


def segment_limits_rest(client):
    """What the REST API accepts at and beyond each kind's last id."""
    out = {}
    for kind, last in (('vlan', 4094), ('vxlan', 16777215)):
        for seg in (last, last + 1):
            try:
                client.post('/v1/networks', {'name': '%s-limit-%d' % (kind, seg),
                                             'kind': kind, 'segmentation_id': seg})
                out[seg] = 'accepted'
            except ApiError as e:
                out[seg] = '%d %s' % (e.status, e.field)
    return out


def segment_pool():
    """Networks created without an id until the VLAN pool (1-4094) runs out; the
    VXLAN pool hands out as many more."""
    service = Service(SqliteStore(), vlan_pool='1-4094', vni_pool='1-16777215')
    created = {'vlan': 0, 'vxlan': 0}
    refused = ''
    for kind in ('vlan', 'vxlan'):
        for k in range(4095):
            try:
                service.create_network({'name': '%s%d' % (kind, k), 'kind': kind})
                created[kind] += 1
            except ValidationError as e:
                refused = refused or '%d %s' % (e.status, e.message)
                break
    return created, refused


def mapping_table(steps=MAPPING_STEPS, hosts=4, networks=4):
    """Total MAC-to-VTEP entries installed (unicast flows with tun_dst in the
    VXLAN_L2 table, counted on the switches) as VMs are added; each network
    spans 2 of the hosts."""
    rows = []
    spec = ','.join('vxlan:%d' % (7000 + n) for n in range(networks))
    with DataCenter(racks=1, hypervisors=hosts, vms=1, networks=spec) as dc:
        nets = {n['name']: n['id'] for n in dc.client.get('/v1/networks')}
        names = sorted(nets)
        hvs = dc.hypervisors()
        have = len(hvs)                    # the testbed's own VMs: one per host
        for target in steps:
            ports, by_host = [], {}
            for i in range(have, target):
                n = i % networks
                h = (n + (i // networks) % 2) % hosts
                device = 'mt%d' % i
                by_host.setdefault(h, []).append(device)
                ports.append({'network_id': nets[names[n]], 'device': device,
                              'host': hvs[h].name, 'mac': '02:ab:00:00:%02x:%02x'
                              % (i >> 8, i & 255), 'ips': ['10.7.%d.%d' % (i >> 8, i & 255)]})
            if ports:
                dc.client.post('/v1/ports', {'ports': ports})
                for h, devices in by_host.items():
                    plug_dummy_vnics(hvs[h], devices)
                wait_synced(dc)
            have = target
            entries = 0
            for hv in hvs:
                out = hv.ovs.ofctl('dump-flows br-int table=%d --no-stats' % P.VXLAN_L2)
                entries += sum(1 for line in out.splitlines()
                               if 'dl_dst=' in line and 'tun_dst' in line)
            rows.append((target, entries, target * (hosts - 1)))
    return rows


def vlan_sprawl():
    """2 racks x 3 hypervisors, 6 VLANs (each on one hypervisor per rack). Allowed
    (port, VLAN) pairs on the ToRs, pruned vs 'allowed vlan all'; and tagged
    broadcast frames of VLANs a hypervisor does not host, seen on its uplink."""
    vlans = [10 * (k + 1) for k in range(6)]
    with DataCenter(racks=2, hypervisors=3, vms=2,
                    networks=','.join('vlan:%d' % v for v in vlans)) as dc:
        pruned = unpruned = 0
        for host in dc.client.get('/v1/hosts'):
            if host['role'] == 'tor':
                pruned += sum(len(v) for v in host['allowed_vlans'].values())
                unpruned += len(vlans) * len(host['allowed_vlans'])
        hosted = {h['name']: set(h['vlans']) for h in dc.client.get('/v1/hosts')
                  if h['role'] == 'hypervisor'}
        captures = {}
        for hv in dc.hypervisors():
            path = '%s/%s-up0.txt' % (dc.rundir, hv.name)
            out = hv.cmd('tcpdump -lnnei up0 vlan > %s 2>/dev/null & echo $!' % path)
            pid = int(re.findall(r'\d+', out)[-1])
            captures[hv.name] = (path, pid, start_time(pid))
        time.sleep(1)
        for vm in dc.net.hosts:
            vm.cmd('ping -b -c 3 -i 0.2 -W 1 10.0.255.255 >/dev/null 2>&1 &')
        time.sleep(3)
        # each capture stopped and waited for by its own PID: a bare `wait` in a
        # hypervisor's shell would also wait for its agent, which never ends
        terminate({pid: start for _, pid, start in captures.values()})
        foreign = seen = 0
        for name, (path, _, _) in captures.items():
            with open(path) as f:
                tags = [int(t) for t in re.findall(r'vlan (\d+),', f.read())]
            seen += len(tags)
            foreign += sum(1 for t in tags if t not in hosted[name])
        return {'pruned': pruned, 'unpruned': unpruned, 'tagged_seen': seen,
                'foreign': foreign, 'vlans': len(vlans)}


def dmz_migration():
    """DMZ services reachable before and after the mail VM moves to hv2."""
    checks = [('lan', dmz.MAIL, 22), ('vm2', dmz.MAIL, 25)]
    with Lab(dmz.DmzTopo, hypervisors=2) as lab:
        before = [tcp_ok(lab.node(src), ip, port) for src, ip, port in checks]
        dmz.migrate(lab, 'vm3', 'hv2')
        after = [tcp_ok(lab.node(src), ip, port) for src, ip, port in checks]
    return before, after


def sessions_move(seconds=8, move_at=2.0):
    """Established sessions of a migrating VM alive at the end: in the DMZ, a
    session from the LAN to the mail VM (it cannot open any itself) across its
    move to hv2; in vnetsec, the read-only TCP and UDP streams a VM opened,
    across a planned move, with carry_sessions off (today's) and on."""
    from bench.sessions import survival_run
    with Lab(dmz.DmzTopo, hypervisors=2) as lab:
        lan = lab.node('lan')
        lan.sendCmd('python3 %s session %s 22 %d' % (probe.__file__, dmz.MAIL, seconds))
        time.sleep(move_at)
        dmz.migrate(lab, 'vm3', 'hv2')
        alive = float(lan.waitOutput().strip().splitlines()[-1])
    dmz_kept = [alive >= seconds - 0.5]
    return {'dmz': dmz_kept, 'off': survival_run(False), 'on': survival_run(True)}


# ---- the report ----------------------------------------------------------------
def _cost(r):
    local, pv = r['bridge_local'], r['per_vnic']
    return ('bridge-mode VM %.2f Gbit/s, RTT %.3f ms; per-vNIC %.2f Gbit/s, RTT %.3f ms'
            % (local['gbits'], local['rtt'], pv['gbits'], pv['rtt']),
            pv['gbits'] > local['gbits'] and pv['rtt'] < local['rtt'])


def _trombone(r):
    local, remote, pv = r['bridge_local'], r['bridge_remote'], r['per_vnic']
    return ('underlay bytes per payload byte: remote firewall VM %.2f, per-vNIC %.2f; '
            'OVS bridges crossed per packet: %.1f remote VM, %.1f local VM, %.1f per-vNIC'
            % (remote['underlay'], pv['underlay'], remote['traversals'],
               local['traversals'], pv['traversals']),
            remote['underlay'] >= 1.8 and pv['underlay'] < 0.05
            and remote['traversals'] > local['traversals'] > pv['traversals'])


def _same_switch(r):
    local, pv = r['bridge_local'], r['per_vnic']
    return ('forbidden tcp/%d between two servers on one switch: bridge-mode %s, '
            'per-vNIC %s' % (bf.FORBIDDEN_PORT,
                             'delivered' if local['same_switch_forbidden_delivered']
                             else 'blocked',
                             'delivered' if pv['same_switch_forbidden_delivered']
                             else 'blocked'),
            local['same_switch_forbidden_delivered']
            and not pv['same_switch_forbidden_delivered'])


def _segment_ids(r):
    limits, (pool, refused) = r['per_vnic']['segment_limits'], r['pool']
    return ('REST: VLAN 4094 %s, 4095 %s; VNI 16777215 %s, 16777216 %s; pool: %d VLAN '
            'networks, then "%s"; VXLAN went on: %d more networks (as many as asked)'
            % (limits[4094], limits[4095], limits[16777215], limits[16777216],
               pool['vlan'], refused, pool['vxlan']),
            limits[4094] == 'accepted' and limits[16777215] == 'accepted'
            and limits[4095].startswith('400') and limits[16777216].startswith('400')
            and pool['vlan'] == 4094 and pool['vxlan'] > 4094)


def _mapping(r):
    maps = r['mapping']
    first, last = maps[0], maps[-1]
    return ('%s VMs -> %s entries on 4 hosts (full mesh: %s)'
            % ('/'.join(str(m[0]) for m in maps), '/'.join(str(m[1]) for m in maps),
               '/'.join(str(m[2]) for m in maps)),
            first[1] > 0 and all(b[1] > a[1] for a, b in zip(maps, maps[1:]))
            and last[1] / first[1] >= 0.5 * last[0] / first[0])


def _sprawl(r):
    sprawl = r['sprawl']
    return ('%d VLANs on 6 hypervisors: ToR (port, VLAN) pairs %d pruned vs %d with '
            '"allowed vlan all"; foreign-VLAN frames on hypervisor uplinks: %d of %d tagged'
            % (sprawl['vlans'], sprawl['pruned'], sprawl['unpruned'], sprawl['foreign'],
               sprawl['tagged_seen']),
            sprawl['unpruned'] > sprawl['pruned'] and sprawl['foreign'] == 0
            and sprawl['tagged_seen'] > 0)


def _dmz(r):
    (dmz_before, dmz_after), pv = r['dmz'], r['per_vnic']
    return ('DMZ services reachable after the mail VM moves to hv2: %d/%d (before %d/%d); '
            'vnetsec after the move: allowed %d/%d, forbidden delivered %d/%d'
            % (sum(dmz_after), len(dmz_after), sum(dmz_before), len(dmz_before),
               sum(pv['after_move_allowed']), len(pv['after_move_allowed']),
               sum(pv['after_move_forbidden']), len(pv['after_move_forbidden'])),
            all(dmz_before) and not any(dmz_after) and all(pv['after_move_allowed'])
            and not any(pv['after_move_forbidden']))


def _segmentation(r):
    seg = r['segmentation']
    return ('between two hypervisors: VLAN %.2f Gbit/s, RTT %.3f ms, %.3f wire bytes per '
            'payload byte; VXLAN %.2f Gbit/s, RTT %.3f ms, %.3f'
            % (seg['vlan']['gbits'], seg['vlan']['rtt'], seg['vlan']['underlay'],
               seg['vxlan']['gbits'], seg['vxlan']['rtt'], seg['vxlan']['underlay']),
            seg['vxlan']['underlay'] > seg['vlan']['underlay'] > 1.0)


def _sessions(r):
    return sessions_row(r['sessions'])[1:]


# (claim, the steps whose figures it rests on, (measured, holds) from the figures)
ROWS = [
    ('Filtering in a firewall VM costs throughput and latency; per-vNIC '
     'filtering in the hypervisor costs less', ('bridge_local', 'per_vnic'), _cost),
    ('A firewall VM on another host sends same-host traffic over the underlay '
     'and back (traffic trombone)', ('bridge_local', 'bridge_remote', 'per_vnic'), _trombone),
    ('A bridge-mode firewall cannot filter traffic between VMs on the same '
     'virtual switch', ('bridge_local', 'per_vnic'), _same_switch),
    ('VLAN ids allow 4094 segments, VXLAN VNIs 16 million', ('per_vnic', 'pool'),
     _segment_ids),
    ('The overlay\'s MAC-to-VTEP table grows with the number of VMs', ('mapping',),
     _mapping),
    ('Without pruning every VLAN reaches every trunk and hypervisor (VLAN sprawl)',
     ('sprawl',), _sprawl),
    ('A firewall-VM DMZ cannot span hypervisors or survive a migration; '
     'per-vNIC rules move with the VM', ('dmz', 'per_vnic'), _dmz),
    ('VXLAN carries each frame in a 50-byte encapsulation, VLAN adds a 4-byte tag',
     ('segmentation',), _segmentation),
    ('Rules and state move with the VM: its established sessions survive a migration',
     ('sessions',), _sessions),
]


def rows_of(r, missing=None):
    """[(claim, measured, holds)] from the figures of one run; a row whose steps
    have no figures (``missing``: step -> why, e.g. over its time limit) says so,
    and holds None."""
    missing = missing or {}
    out = []
    for claim, needs, figures in ROWS:
        lacking = [step for step in needs if step not in r]
        if lacking:
            out.append((claim, 'not measured: %s' % '; '.join(
                '%s %s' % (step, missing.get(step, 'not run')) for step in lacking), None))
        else:
            out.append((claim,) + tuple(figures(r)))
    return out


def sessions_row(moved):
    kept = {k: sum(alive >= 7.5 for alive, _ in moved[k].values()) for k in ('off', 'on')}
    return (
        'Rules and state move with the VM: its established sessions survive a migration',
        'sessions of the migrating VM alive to the end: firewall-VM DMZ %d/%d (the LAN\'s '
        'session to the mail VM); vnetsec, read-only TCP and UDP streams the VM opened '
        '(its group lets in only ICMP): carry_sessions off (before) %d/%d, on %d/%d'
        % (sum(moved['dmz']), len(moved['dmz']), kept['off'], len(moved['off']),
           kept['on'], len(moved['on'])),
        not any(moved['dmz']) and kept['on'] == len(moved['on']) and kept['off'] < kept['on'])


def print_table(rows):
    print('\n%-3s %-6s %s' % ('#', 'holds', 'claim / measured'))
    for k, (claim, measured, holds) in enumerate(rows, 1):
        verdict = '-' if holds is None else 'yes' if holds else 'NO'
        print('%-3d %-6s %s\n           %s' % (k, verdict, claim, measured))


def plot(r, path):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    local, remote, pv = r['bridge_local'], r['bridge_remote'], r['per_vnic']
    labels = ['bridge-mode\nVM, same host', 'bridge-mode\nVM, other host', 'per-vNIC\n(vnetsec)']
    colors = ['#c0504d', '#e59b4c', '#4f81bd']
    fig, ax = plt.subplots(3, 3, figsize=(14, 12))
    for a, key, title in ((ax[0][0], 'gbits', 'Throughput (Gbit/s, iperf3)'),
                          (ax[0][1], 'rtt', 'Round-trip time (ms, ping)'),
                          (ax[0][2], 'underlay', 'Underlay bytes per payload byte')):
        a.bar(labels, [local[key], remote[key], pv[key]], color=colors)
        a.set_title(title)
    maps = r['mapping']
    ax[1][0].plot([m[0] for m in maps], [m[2] for m in maps], 'o--', color='#999999',
                  label='full mesh (every host, every VM)')
    ax[1][0].plot([m[0] for m in maps], [m[1] for m in maps], 'o-', color='#4f81bd',
                  label='vnetsec (hosts of the network only)')
    ax[1][0].set_title('MAC-to-VTEP entries vs VMs')
    ax[1][0].set_xlabel('VMs')
    ax[1][0].legend()
    sprawl = r['sprawl']
    ax[1][1].bar(['pruned\n(vnetsec)', 'allowed vlan all'],
                 [sprawl['pruned'], sprawl['unpruned']], color=['#4f81bd', '#c0504d'])
    ax[1][1].set_title('ToR (port, VLAN) pairs, %d VLANs' % sprawl['vlans'])
    ax[1][2].bar(['VLAN (12-bit)', 'VXLAN (24-bit)'], [4094, 16777215],
                 color=['#c0504d', '#4f81bd'])
    ax[1][2].set_yscale('log')
    ax[1][2].set_title('Segment ids (limits the REST API enforces)')
    seg = r['segmentation']
    for a, key, title in ((ax[2][0], 'gbits', 'VLAN vs VXLAN between hosts: Gbit/s'),
                          (ax[2][1], 'rtt', 'VLAN vs VXLAN between hosts: RTT (ms)'),
                          (ax[2][2], 'underlay', 'Uplink bytes (both ways) per payload byte')):
        a.bar(['VLAN', 'VXLAN'], [seg['vlan'][key], seg['vxlan'][key]],
              color=['#9bbb59', '#8064a2'])
        a.set_title(title)
    ax[2][2].set_ylim(1.0, max(seg['vxlan']['underlay'], seg['vlan']['underlay']) * 1.02)
    fig.suptitle('vnetsec analysis: claims measured (userspace OVS, one machine)')
    fig.tight_layout()
    fig.savefig(path, dpi=80)


class OverLimit(BaseException):
    """A step ran past its time limit. Raised in the main thread by SIGALRM, a
    BaseException like KeyboardInterrupt: the step's ``with`` blocks tear down
    what it built, and no ``except Exception`` on the way swallows it."""


def timed_step(step, limit):
    """``step()``, stopped with OverLimit after ``limit`` seconds."""
    def expire(signum, frame):
        raise OverLimit('over its time limit of %g s' % limit)
    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, limit)
    try:
        return step()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def main(argv=None):
    global PINGS
    p = argparse.ArgumentParser()
    p.add_argument('--seconds', type=int, default=3, help='per iperf3 run')
    p.add_argument('--plot', default='bench/analysis.png')
    p.add_argument('--only-sessions', action='store_true',
                   help='only the row "rules and state move with the VM" (its three '
                        'columns still in one run), no plot')
    p.add_argument('--quick', action='store_true',
                   help='the smallest sizes: iperf3 %d s, %d pings, the mapping table at %s '
                        'VMs (the integration test runs this)'
                        % (QUICK['seconds'], QUICK['pings'], '/'.join(map(str, QUICK['mapping']))))
    p.add_argument('--only', metavar='STEP[,STEP]',
                   help='only these measurements (rows resting on others: not measured)')
    p.add_argument('--step-limit', type=float, default=300, metavar='SECONDS',
                   help='time limit of each measurement (default %(default)s)')
    args = p.parse_args(argv)
    if args.only_sessions:
        moved = sessions_move()
        print('sessions %s' % moved)
        print_table([sessions_row(moved)])
        return 0
    seconds, mapping = args.seconds, MAPPING_STEPS
    if args.quick:
        seconds, PINGS, mapping = QUICK['seconds'], QUICK['pings'], QUICK['mapping']
    t0 = time.time()
    steps = [('bridge_local', lambda: bridge_mode(False, seconds)),
             ('bridge_remote', lambda: bridge_mode(True, seconds)),
             ('per_vnic', lambda: per_vnic(seconds)),
             ('segmentation', lambda: segmentation_cost(seconds)),
             ('pool', segment_pool),
             ('mapping', lambda: mapping_table(mapping)),
             ('sprawl', vlan_sprawl),
             ('dmz', dmz_migration),
             ('sessions', sessions_move)]
    if args.only:
        chosen = args.only.split(',')
        unknown = set(chosen) - {name for name, _ in steps}
        if unknown:
            p.error('--only: no step %s' % ', '.join(sorted(unknown)))
        steps = [(name, step) for name, step in steps if name in chosen]
    r, missing = {}, {}
    for name, step in steps:
        t = time.time()
        try:
            r[name] = timed_step(step, args.step_limit)
        except OverLimit as e:
            missing[name] = str(e)
        except Exception as e:         # the report goes on; the traceback on stderr
            traceback.print_exc()
            missing[name] = 'failed: %s: %s' % (type(e).__name__, e)
        print('%-14s %5.1f s  %s' % (name, time.time() - t,
                                     r[name] if name in r else missing[name]), flush=True)
    print_table(rows_of(r, missing))
    if len(r) == len(ROWS_STEPS):
        plot(r, args.plot)
        print('\nplot: %s; whole run %.0f s' % (args.plot, time.time() - t0))
    else:
        print('\nno plot (not every step measured); whole run %.0f s' % (time.time() - t0))
    return 1 if missing else 0


ROWS_STEPS = {step for _, needs, _ in ROWS for step in needs}

if __name__ == '__main__':
    sys.exit(main())
