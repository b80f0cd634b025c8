"""Benchmark (firewall, dual stack): IPv6 against IPv4 through the stateful
firewall, same VMs, same rules (each written for both ethertypes), same run:
iperf3 throughput and ping RTT, rounds alternating v4, v6, v6, v4 ... so drift
falls on both alike; then the same with port security off on those VMs, so the
IPv4/IPv6 gap of the stack and the datapath shows apart from the firewall's.

    flock /tmp/vnetsec-integration.lock .venv/bin/python -m bench.firewall_v6 [--seconds 3] [--rounds 3]
"""
import argparse
import json
import re
import time

from bench.common import wait_synced
from mininet_topos.datacenter import DataCenter

RULES = [dict(rule, ethertype=ethertype) for ethertype in ('IPv4', 'IPv6') for rule in (
    {'direction': 'egress'},
    {'direction': 'ingress', 'protocol': 'tcp', 'port_range_min': 5201},
    {'direction': 'ingress', 'protocol': 'icmp'})]          # icmp in IPv6: ICMPv6
ADDRESS = {4: lambda vm: vm.IP(), 6: lambda vm: vm.params['ip6']}


def iperf(client, server, address, seconds):
    server.cmd('iperf3 -s -1 -D -p 5201 --logfile /dev/null')
    time.sleep(0.3)
    out = client.cmd('iperf3 -c %s -p 5201 -t %d -J' % (address(server), seconds))
    return json.loads(out)['end']['sum_received']['bits_per_second'] / 1e9


def rtt_ms(client, server, address):
    out = client.cmd('ping -c 200 -i 0.005 -q %s' % address(server))
    return float(re.search(r'= [\d.]+/([\d.]+)/', out).group(1))


def measure(dc, seconds, rounds):
    group = dc.client.post('/v1/security-groups', {'name': 'dual', 'rules': RULES})
    rows = []
    for firewall in (True, False):
        for port in dc.client.get('/v1/ports'):
            dc.client.call('PATCH', '/v1/ports/%s' % port['id'], {
                'security_groups': [group['id']], 'port_security_enabled': firewall})
        wait_synced(dc)
        rows += [('%s, firewall %s' % (label, 'on' if firewall else 'off'), v4, v6)
                 for label, v4, v6 in _pairs(dc, seconds, rounds)]
    return rows


def _pairs(dc, seconds, rounds):
    vm1, vm2, vm3 = dc.node('vm1'), dc.node('vm2'), dc.node('vm3')   # vm1, vm2 on hv1
    rows = []
    for label, (a, b) in {'same hypervisor': (vm1, vm2), 'across VXLAN': (vm1, vm3)}.items():
        figures = {4: [], 6: []}
        for n in range(rounds):
            for version in (4, 6) if n % 2 == 0 else (6, 4):      # order alternates too
                address = ADDRESS[version]
                figures[version].append((iperf(a, b, address, seconds),
                                         rtt_ms(a, b, address)))
        rows.append((label, *(tuple(sum(x) / rounds for x in zip(*figures[v])) for v in (4, 6))))
    return rows


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--seconds', type=int, default=3)
    p.add_argument('--rounds', type=int, default=3)
    args = p.parse_args()
    with DataCenter(racks=1, hypervisors=2, vms=2, networks='vxlan:5000', ipv6=True) as dc:
        rows = measure(dc, args.seconds, args.rounds)
    print('IPv6 against IPv4 through the firewall (same VMs, same rules; iperf3 %d s and '
          'ping x200 at 5 ms, mean of %d alternating rounds; userspace datapath)'
          % (args.seconds, args.rounds))
    print('  %-29s %10s %10s %7s %10s %10s %7s' % ('', 'Gbit/s v4', 'Gbit/s v6', 'diff',
                                                 'RTT ms v4', 'RTT ms v6', 'diff'))
    for label, v4, v6 in rows:
        print('  %-29s %10.2f %10.2f %6.1f%% %10.3f %10.3f %6.1f%%' % (
            label, v4[0], v6[0], 100 * (v6[0] - v4[0]) / v4[0],
            v4[1], v6[1], 100 * (v6[1] - v4[1]) / v4[1]))


if __name__ == '__main__':
    main()
