"""Benchmark (VXLAN): cold start of the control plane of a data center of N
hypervisors x M vNICs in VNIs that each span a few hosts. The data center is up
with every vNIC plugged and registered; the controller is killed, every bridge
emptied, and the controller started again: time until every switch holds every
flow (every MAC-to-VTEP entry); the switches listen and the controller dials
them (``--switches-connect``: they connect, on their back-off). Beside it: the
same flows loaded straight with ``ovs-ofctl --bundle``, the timeline (switches
connected, bundles sent and committed), and mapping entries per host against a
full mesh.

    .venv/bin/python -m bench.vxlan_coldstart [--racks 3] [--hypervisors 10] [--vnics 10]
                                              [--switches-connect]
"""
import argparse
import signal
import statistics
import time

from bench.common import (compiled_flows, cookies, plug_dummy_vnics,
                          reference_load, wait_synced)
from controller.compile import pipeline as P
from mininet_topos.datacenter import DataCenter


def mapping_entries(flows):
    """Remote unicast entries: the VXLAN L2 table's MAC -> VTEP flows."""
    return sum(1 for f in flows if f['table'] == P.VXLAN_L2
               and f['priority'] == P.priority(P.VXLAN_L2, 'remote_mac'))


def timeline_since(dc, t0):
    """Where the cold start's time went: [(what, seconds after the controller
    started)] from the controller's switch events (/v1/events)."""
    events = [e for e in dc.client.get('/v1/events') if e['time'] >= t0]
    out = []
    for kind, what in (('connect', 'switch connected'), ('sent', 'flows sent'),
                       ('commit', 'bundle committed')):
        times = sorted(e['time'] - t0 for e in events if e['event'] == kind)
        if times:
            out += [('%s: first' % what, times[0]), ('%s: median' % what,
                    statistics.median(times)), ('%s: last' % what, times[-1])]
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--racks', type=int, default=3)
    p.add_argument('--hypervisors', type=int, default=10, help='per rack')
    p.add_argument('--vnics', type=int, default=10, help='per hypervisor')
    p.add_argument('--hosts-per-vni', type=int, default=3)
    p.add_argument('--switches-connect', action='store_true',
                   help='the switches connect to the controller (on their reconnect '
                        'back-off) instead of listening for it to dial them')
    args = p.parse_args()
    t_dc = time.time()
    with DataCenter(racks=args.racks, hypervisors=args.hypervisors, vms=1,
                    networks='vxlan:5000', switches_listen=not args.switches_connect) as dc:
        t_dc = time.time() - t_dc
        hvs = dc.hypervisors()
        group = args.hosts_per_vni
        vnis = [dc.client.ensure_network('vni%d' % (6000 + v), 'vxlan', 6000 + v)['id']
                for v in range((len(hvs) + group - 1) // group * 3)]
        bodies = []
        for h, hv in enumerate(hvs):
            names = ['v%dx%d' % (h, j) for j in range(args.vnics - 1)]   # + its one VM
            plug_dummy_vnics(hv, names)
            for j, name in enumerate(names):
                k = h * args.vnics + j
                bodies.append({'network_id': vnis[h // group * 3 + j % 3], 'device': name,
                               'host': hv.name, 'ips': ['10.3.%d.%d' % (k >> 8, k & 255)],
                               'mac': '02:cc:00:00:%02x:%02x' % (k >> 8, k & 255)})
        dc.client.post('/v1/ports', {'ports': bodies})
        wait_synced(dc)
        expected = {sw.name: cookies(sw) for sw in dc.switches()}

        dc.controller.stop(signal.SIGKILL)                     # cold: no controller,
        for sw in dc.switches():                               # empty bridges
            sw.ovs.ofctl('del-flows %s' % sw.bridge)
        t0 = time.time()
        dc.controller.start()
        t_api = time.time() - t0
        wait_synced(dc)
        cold = time.time() - t0
        timeline = timeline_since(dc, t0)
        assert {sw.name: cookies(sw) for sw in dc.switches()} == expected

        flows = compiled_flows(dc)
        reference = reference_load(dc, flows)
        assert {sw.name: cookies(sw) for sw in dc.switches()} == expected
        entries = [mapping_entries(flows[hv.name]) for hv in hvs]
        total_vnics = len(hvs) * args.vnics
        per_hv = [len(flows[hv.name]) for hv in hvs]
        print('VXLAN cold start: %d hypervisors x %d vNICs = %d vNICs in %d VNIs '
              '(%d racks, routed underlay)' % (len(hvs), args.vnics, total_vnics,
                                               len(vnis) + 1, args.racks))
        print('  (data center up in %.1f s, not timed here)' % t_dc)
        print('  %-52s %9s' % ('', 'seconds'))
        print('  %-52s %9.3f' % ('vnetsec: controller start -> REST API up', t_api))
        print('  %-52s %9.3f' % ('vnetsec: controller start -> every flow installed', cold))
        print('  %-52s %9.3f' % ('ovs-ofctl --bundle add-flows, same flows, all bridges',
                                 reference))
        for label, seconds in timeline:
            print('  %-52s %9.3f' % ('  ' + label, seconds))
        # the controller is up when its API answers or when it reaches its first
        # switch, whichever comes first (dialing switches starts with the API,
        # and the API answers late while the controller is busy with them)
        up = min([t_api] + [s for label, s in timeline if label == 'switch connected: first'])
        print('  ratio vnetsec (after the controller is up: %.3f s) / ovs-ofctl: %.2fx'
              % (up, (cold - up) / reference))
        print('  flows: %d in all, per hypervisor median %d (max %d)'
              % (sum(len(f) for f in flows.values()), statistics.median(per_hv), max(per_hv)))
        print('  MAC-to-VTEP entries per host: median %d, max %d; a full mesh would hold '
              '%d per host (%.0f%% saved)' % (statistics.median(entries), max(entries),
                                              total_vnics - args.vnics,
                                              100 - 100 * statistics.median(entries)
                                              / (total_vnics - args.vnics)))


if __name__ == '__main__':
    main()
