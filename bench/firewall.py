"""Benchmark (firewall): the data-plane cost of the per-vNIC stateful firewall
(iperf3 throughput and ping RTT, firewall on and off, in the same run), and the
time to apply one rule change that affects N ports.

    .venv/bin/python -m bench.firewall [--ports 1000] [--seconds 3]
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


def set_port_security(dc, names, enabled):
    for port in dc.client.get('/v1/ports'):
        if port['name'] in names:
            dc.client.call('PATCH', '/v1/ports/%s' % port['id'],
                           {'port_security_enabled': enabled})
    wait_synced(dc)


def data_plane(dc, seconds):
    vm1, vm2, vm3 = dc.node('vm1'), dc.node('vm2'), dc.node('vm3')   # vm1, vm2 on hv1
    pairs = {'same hypervisor': (vm1, vm2), 'across VXLAN': (vm1, vm3)}
    rows = []
    for label, (a, b) in pairs.items():
        figures = {}
        for enabled in (True, False, True):          # on, off, on again: drift shows
            set_port_security(dc, {a.name, b.name}, enabled)
            figures.setdefault(enabled, []).append((iperf(a, b, seconds), rtt_ms(a, b)))
        on = [sum(x) / len(x) for x in zip(*figures[True])]
        off = figures[False][0]
        rows.append((label, off, on))
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
        print('Firewall data-plane cost (iperf3 %d s, ping x200 at 5 ms; userspace datapath)'
              % args.seconds)
        print('  %-16s %14s %14s %12s %12s' % ('', 'Gbit/s off', 'Gbit/s on', 'RTT ms off',
                                               'RTT ms on'))
        for label, off, on in rows:
            print('  %-16s %14.2f %14.2f %12.3f %12.3f' % (label, off[0], on[0], off[1], on[1]))
    with DataCenter(racks=2, hypervisors=5, vms=1, networks='vxlan:5000') as dc:
        elapsed, mods = rule_change(dc, args.ports)
        print('One rule added to a group of %d ports on %d hypervisors: %.3f s until every '
              'switch holds it (%d flow mods)' % (args.ports, len(dc.hypervisors()), elapsed,
                                                  mods))


if __name__ == '__main__':
    main()
