"""Benchmark (VLAN): create N VLAN ports across the hypervisors through the REST
API; time until every switch holds every flow, and flows per hypervisor; beside
it, the same flows loaded straight into the bridges with ``ovs-ofctl --bundle``.

    .venv/bin/python bench/vlan_ports.py [--ports 1000] [--racks 2] [--hypervisors 5] [--vlans 10]
"""
import argparse
import collections
import os
import statistics
import time

from bench import switch_floor
from bench.common import (compiled_flows, cookies, cpu_seconds, plug_dummy_vnics, plug_vnics,
                          reference_load, vlan_networks, wait_synced)
from mininet_topos.datacenter import DataCenter


OneByOne = collections.namedtuple('OneByOne', 'total sent committed touched rest cpu')
Cpu = collections.namedtuple('Cpu', 'controller switches idle')


def time_one_by_one(dc, nets, count, wait=False):
    """Per port, from its REST call: ms until every switch holds its flows
    (the status polled every 5 ms, or the call itself with ``wait``: answered
    once the switches confirm, ?wait=applied), and from the controller's own
    timeline (GET /v1/events) ms until it wrote its last bundle and until the
    last switch confirmed one. Also, of the last port, {switch: flow mods sent}
    in the order written, the median seconds the switches rested between
    one port's last commit reply and the next port's first bundle, and the CPU
    per port (ms): the controller's during the calls, the switches' beyond
    their idle, and that idle (measured as long again, after)."""
    hv = dc.hypervisors()[0]
    tag = 'w' if wait else 's'
    names = ['%s%d' % (tag, i) for i in range(count)]
    plug_dummy_vnics(hv, names)
    wait_synced(dc)
    total, sent, committed, touched, spans = [], [], [], {}, []
    switches = [sw.ovs.pids()[0] for sw in dc.switches()]
    controller, switches_cpu, started = 0.0, cpu_ms(*switches), time.time()
    for i, name in enumerate(names):
        c0, t0 = cpu_ms(dc.controller.pid), time.time()
        dc.client.call('POST', '/v1/ports?wait=applied' if wait else '/v1/ports', {
            'network_id': nets[i % len(nets)], 'device': name,
            'mac': '02:bb:00:00:%02x:%02x' % (wait, i), 'ips': ['10.2.%d.%d' % (wait, i + 1)]})
        if not wait:
            wait_synced(dc)
        total.append((time.time() - t0) * 1000)
        controller += cpu_ms(dc.controller.pid) - c0
        events = [e for e in dc.client.get('/v1/events') if e['time'] >= t0]
        times = {kind: [e['time'] for e in events if e['event'] == kind]
                 for kind in ('sent', 'commit')}
        sent.append((max(times['sent']) - t0) * 1000)
        committed.append((max(times['commit']) - t0) * 1000)
        spans.append((min(times['sent']), max(times['commit'])))
        touched = {e['host']: e.get('flows', 1) for e in events if e['event'] == 'sent'}
    elapsed, switches_cpu = time.time() - started, cpu_ms(*switches) - switches_cpu
    idle = cpu_ms(*switches)
    time.sleep(elapsed)
    idle = cpu_ms(*switches) - idle
    rest = statistics.median(b[0] - a[1] for a, b in zip(spans, spans[1:]))
    return OneByOne(total, sent, committed, touched, rest,
                    Cpu(controller / count, (switches_cpu - idle) / count, idle / count))


def cpu_ms(*pids):
    """The CPU the processes have used so far, together, in ms."""
    return sum(map(cpu_seconds, pids)) * 1000


def supports_wait(dc):
    """Whether the controller answers ?wait=applied (a reference may not)."""
    op = dc.client.get('/v1/openapi.json')['paths']['/v1/ports']['post']
    return any(p['name'] == 'wait' for p in op.get('parameters', ()))


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--ports', type=int, default=1000)
    p.add_argument('--racks', type=int, default=2)
    p.add_argument('--hypervisors', type=int, default=5, help='per rack')
    p.add_argument('--vlans', type=int, default=10)
    p.add_argument('--single', type=int, default=20, help='ports then added one at a time')
    args = p.parse_args()
    with DataCenter(racks=args.racks, hypervisors=args.hypervisors, vms=1,
                    networks='vlan:10') as dc:
        hvs = dc.hypervisors()
        nets = vlan_networks(dc, args.vlans)
        t_plug = time.time()
        bodies = plug_vnics(dc, args.ports, nets)
        t_plug = time.time() - t_plug
        t0 = time.time()
        dc.client.post('/v1/ports', {'ports': bodies})
        t_api = time.time() - t0
        wait_synced(dc)
        ours = time.time() - t0
        one_by_one = [time_one_by_one(dc, nets, args.single)]
        if supports_wait(dc):
            one_by_one.append(time_one_by_one(dc, nets, args.single, wait=True))
        paced = one_by_one[-1]
        floor = switch_floor.time_switches(dc, paced.touched, runs=args.single, pause=paced.rest)
        lone = switch_floor.time_switches(dc, paced.touched, runs=args.single, pause=0.1)
        flows = compiled_flows(dc)
        installed = {sw.name: cookies(sw) for sw in dc.switches()}
        assert all(installed[n] == {f['cookie'] for f in flows[n]} for n in installed)
        reference = reference_load(dc, flows)
        assert {sw.name: cookies(sw) for sw in dc.switches()} == installed
        per_hv = [len(flows[hv.name]) for hv in hvs]
        total = sum(len(f) for f in flows.values())
        print('VLAN ports benchmark: %d ports in %d VLANs over %d hypervisors (%d racks)'
              % (args.ports, args.vlans, len(hvs), args.racks))
        print('  (plugging %d veth vNICs, not timed: %.2f s)' % (args.ports, t_plug))
        print('  %-44s %10s' % ('', 'seconds'))
        print('  %-44s %10.3f' % ('vnetsec: one bulk REST call', t_api))
        print('  %-44s %10.3f' % ('vnetsec: call -> all flows installed', ours))
        print('  %-44s %10.3f' % ('ovs-ofctl --bundle add-flows (same flows)', reference))
        print('  ratio vnetsec / ovs-ofctl: %.1fx' % (ours / reference))
        print('  one at a time, %d more ports on hv1, ms per port (median / max):'
              % args.single)
        for run, how in zip(one_by_one, (
                'call -> status shows every switch synced (polled every 5 ms)',
                'call with ?wait=applied -> its answer')):
            print('    %-62s %5.1f / %5.1f' % (how, statistics.median(run.total), max(run.total)))
        for how, times in (('of which: call -> the last bundle written', paced.sent),
                           ('          call -> the last switch confirmed', paced.committed)):
            print('    %-62s %5.1f / %5.1f' % (how, statistics.median(times), max(times)))
        cpu = paced.cpu
        print('    CPU per port: vnetsec %.1f ms during the call, the %d switches %.1f ms beyond '
              'their idle (%.1f ms):' % (cpu.controller, len(dc.switches()), cpu.switches,
                                         cpu.idle))
        print('      %.1f ms of work on %d CPUs: at least %.1f ms even if none ever waited'
              % (cpu.controller + cpu.switches, os.cpu_count(),
                 (cpu.controller + cpu.switches) / os.cpu_count()))
        print('    the switches alone, the same flows with no controller (*):')
        for how, times in (('resting as long as between those ports (%.0f ms)' % (paced.rest * 1000),
                            floor), ('resting 100 ms', lone)):
            print('      %-60s %5.1f / %5.1f' % (how, *switch_floor.median_max(times)))
        print('      * %s: one bundle each, %d flow mods in all, pre-encoded and'
              % (', '.join(paced.touched), sum(paced.touched.values())))
        print('        written at once; first write -> last commit reply (bench/switch_floor.py)')
        print('  flows: %d in all; per hypervisor min %d, median %d, max %d; ToRs %s'
              % (total, min(per_hv), statistics.median(per_hv), max(per_hv),
                 [len(flows[t.name]) for t in dc.switches() if t.name.startswith('tor')]))


if __name__ == '__main__':
    main()
