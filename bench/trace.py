"""How long one trace query takes on a 30-hypervisor data center.

A trace needs no switch: it simulates the controller's own compiled flows. So
this builds the state of a data center in the controller's store (3 racks x 10
hypervisors x 4 VMs, a VLAN and a VXLAN network, groups with a remote group, a
zone and a prefix), bound as the switches would report it, and times what
``POST /v1/trace`` does for each query: the inventory snapshot and the
simulation, for random pairs of VMs and packet kinds. No root needed.

    .venv/bin/python -m bench.trace [--queries 200]
"""
import argparse
import random
import statistics
import time

from controller.compile.host import ALL
from controller.features.security_groups import SecurityGroups
from controller.state.inventory import Inventory
from controller.state.schemas import TraceRequest
from controller.state.service import Service
from controller.state.store import SqliteStore
from controller.api.trace import trace

PACKETS = [{'protocol': 'tcp', 'port': 80}, {'protocol': 'tcp', 'port': 22},
           {'protocol': 'udp', 'port': 53}, {'protocol': 'icmp'}, {'protocol': 'arp'}]


def data_center(racks=3, per_rack=10, vms=4):
    service = Service(SqliteStore(), vlan_pool='100-4094', vni_pool='5000-16777215')
    groups = SecurityGroups(service)
    groups.create_group({'name': 'app', 'zone': 'app', 'rules': [{'direction': 'egress'}]})
    groups.create_group({'name': 'web', 'rules': [
        {'direction': 'egress'},
        {'direction': 'ingress', 'protocol': 'tcp', 'port_range_min': 80, 'remote_zone': 'app'},
        {'direction': 'ingress', 'protocol': 'udp', 'port_range_min': 53,
         'remote_ip_prefix': '10.0.0.0/16'},
        {'direction': 'ingress', 'protocol': 'icmp', 'remote_group_id': 'app'}]})
    nets = [service.create_network({'name': 'v', 'kind': 'vlan'}),
            service.create_network({'name': 'x', 'kind': 'vxlan'})]
    k = 0
    for r in range(1, racks + 1):
        for h in range(1, per_rack + 1):
            name = 'hv%d' % ((r - 1) * per_rack + h)
            service.create_host({'name': name, 'dpid': (r - 1) * per_rack + h, 'rack': r,
                                 'vtep_ip': '172.16.%d.%d' % (r, 10 + h)})
            for _ in range(vms):
                k += 1
                port = service.create_port({
                    'name': 'vm%d' % k, 'network_id': nets[k % 2].id, 'device': 'tapvm%d' % k,
                    'mac': '02:00:00:00:%02x:%02x' % (k >> 8, k & 255),
                    'ips': ['10.0.%d.%d' % (k >> 8, k & 255)],
                    'security_groups': ['web' if k % 3 else 'app']})
                service.bind(name, {port.device: k})
    return service, k


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--queries', type=int, default=200)
    args = p.parse_args(argv)
    service, vms = data_center()
    rng = random.Random(1)
    times, verdicts = [], {}
    for _ in range(args.queries):
        a, b = rng.sample(range(1, vms + 1), 2)
        request = TraceRequest(source='vm%d' % a, destination='vm%d' % b,
                               **rng.choice(PACKETS))
        t0 = time.perf_counter()
        answer = trace(Inventory.from_store(service.store), ALL, request)
        times.append((time.perf_counter() - t0) * 1000)
        verdicts[answer['verdict']] = verdicts.get(answer['verdict'], 0) + 1
    print('Trace on a data center of 30 hypervisors (3 racks), %d VMs, VLAN and VXLAN, '
          'security groups; %d queries, random pairs and packets' % (vms, args.queries))
    print('  per query (snapshot + simulation): median %.1f ms, p95 %.1f ms, max %.1f ms'
          % (statistics.median(times), sorted(times)[int(len(times) * 0.95)], max(times)))
    print('  first query (compiles the hosts it crosses, cold caches): %.1f ms' % times[0])
    print('  verdicts: %s' % ', '.join('%s %d' % v for v in sorted(verdicts.items())))
    return 0


if __name__ == '__main__':
    main()
