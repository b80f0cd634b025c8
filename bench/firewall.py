"""Benchmark (firewall): the data-plane cost of the per-vNIC firewall (iperf3
throughput and ping RTT with port security off, with a stateful group and with
a stateless one (no conntrack) allowing the same traffic, side by side in the
same run), and the time to apply one rule change that affects N ports.

    .venv/bin/python -m bench.firewall [--ports 1000] [--seconds 3]   (--ports 0: no rule change)
"""
import argparse
import json
import re
import time

from bench.common import plug_dummy_vnics, wait_synced
from mininet_topos.datacenter import DataCenter


def iperf(client, server, seconds):
    server.cmd('iperf3 -s -1 -D -p 5201 --logfile /dev/null')
    time.sleep(0.3)
    out = client.cmd('iperf3 -c %s -p 5201 -t %d -J' % (server.IP(), seconds))
    return json.loads(out)['end']['sum_received']['bits_per_second'] / 1e9


def rtt_ms(client, server):
    out = client.cmd('ping -c 200 -i 0.005 -q %s' % server.IP())
    return float(re.search(r'= [\d.]+/([\d.]+)/', out).group(1))


# the same traffic allowed both ways: TCP (iperf3) and ICMP (ping), in and out
RULES = [{'direction': 'egress'}, {'direction': 'ingress', 'protocol': 'tcp'},
         {'direction': 'ingress', 'protocol': 'icmp'}]
MODES = ('off', 'stateful', 'stateless')


def set_mode(dc, names, mode):
    """Port security off (no groups), or in the stateful or stateless group."""
    body = ({'port_security_enabled': False, 'security_groups': []} if mode == 'off' else
            {'port_security_enabled': True, 'security_groups': ['bench-' + mode]})
    for port in dc.client.get('/v1/ports'):
        if port['name'] in names:
            dc.client.call('PATCH', '/v1/ports/%s' % port['id'], body)
    wait_synced(dc)


def data_plane(dc, seconds):
    """{label: {mode: (Gbit/s, RTT ms)}}; each mode measured twice, in the
    order off, stateful, stateless, stateless, stateful, off, and averaged, so
    that drift during the run falls on every mode alike."""
    for stateful in (True, False):
        dc.client.post('/v1/security-groups', {
            'name': 'bench-' + ('stateful' if stateful else 'stateless'),
            'stateful': stateful, 'rules': RULES})
    vm1, vm2, vm3 = dc.node('vm1'), dc.node('vm2'), dc.node('vm3')   # vm1, vm2 on hv1
    pairs = {'same hypervisor': (vm1, vm2), 'across VXLAN': (vm1, vm3)}
    rows = {}
    for label, (a, b) in pairs.items():
        figures = {}
        for mode in MODES + MODES[::-1]:
            set_mode(dc, {a.name, b.name}, mode)
            figures.setdefault(mode, []).append((iperf(a, b, seconds), rtt_ms(a, b)))
        rows[label] = {mode: [sum(x) / len(x) for x in zip(*runs)]
                       for mode, runs in figures.items()}
    return rows


def rule_change(dc, n_ports):
    hvs = dc.hypervisors()
    group = dc.client.post('/v1/security-groups', {'name': 'many', 'rules': [
        {'direction': 'egress'}, {'direction': 'ingress', 'protocol': 'tcp',
                                  'port_range_min': 80}]})
    net = dc.client.get('/v1/networks')[0]['id']
    names = ['f%d' % i for i in range(n_ports)]
    for h, hv in enumerate(hvs):
        plug_dummy_vnics(hv, names[h::len(hvs)])
    dc.client.post('/v1/ports', {'ports': [
        {'network_id': net, 'device': n, 'security_groups': [group['id']],
         'mac': '02:dd:00:00:%02x:%02x' % (i >> 8, i & 255),
         'ips': ['10.4.%d.%d' % (i >> 8, i & 255)]} for i, n in enumerate(names)]})
    wait_synced(dc)
    mods = dc.client.get('/v1/status')['reconciler']['flow_mods']
    t0 = time.time()
    dc.client.post('/v1/security-groups/%s/rules' % group['id'],
                   {'direction': 'ingress', 'protocol': 'tcp', 'port_range_min': 443})
    wait_synced(dc)
    elapsed = time.time() - t0
    return elapsed, dc.client.get('/v1/status')['reconciler']['flow_mods'] - mods


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--ports', type=int, default=1000)
    p.add_argument('--seconds', type=int, default=3)
    args = p.parse_args()
    with DataCenter(racks=1, hypervisors=2, vms=2, networks='vxlan:5000') as dc:
        rows = data_plane(dc, args.seconds)
        print('Firewall data-plane cost (iperf3 %d s, ping x200 at 5 ms; userspace datapath; '
              'each figure the mean of two runs)' % args.seconds)
        print('  %-16s %-32s %s' % ('', 'Gbit/s', 'RTT ms'))
        print('  %-16s' % '' + ''.join('%11s' % m for m in MODES * 2))
        for label, by_mode in rows.items():
            print('  %-16s' % label + ''.join('%11.2f' % by_mode[m][0] for m in MODES)
                  + ''.join('%11.3f' % by_mode[m][1] for m in MODES))
    if not args.ports:                           # --ports 0: the data plane only
        return
    with DataCenter(racks=2, hypervisors=5, vms=1, networks='vxlan:5000') as dc:
        elapsed, mods = rule_change(dc, args.ports)
        print('One rule added to a group of %d ports on %d hypervisors: %.3f s until every '
              'switch holds it (%d flow mods)' % (args.ports, len(dc.hypervisors()), elapsed,
                                                  mods))


if __name__ == '__main__':
    main()
