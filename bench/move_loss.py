"""Which pings of OTHER VMs a VM's move loses, and when (issue 32: the kill
test lost vm1->vm7 and vm4->vm6 pings ~20 ms after vm3's veth moved). One
controller, no kill: pairs of VMs ping each other every 10 ms (``ping -D``)
while, ``--runs`` times, vm3 moves hv2 -> hv3 and back (``--mode move``), or an
unrelated veth is plugged into and unplugged from hv2's and hv3's br-int
(``--mode ports``: OVS port add/delete, nothing for the controller to do), or
a dummy link is added to and deleted from hv1's and hv2's namespaces (``--mode
links``: no OVS port at all).
Prints each lost ping with its time after the nearest step and what the
controller sent then (``GET /v1/events``), and the counters that grew on each
switch: OVS's drops, and the kernel's ``UdpNoPorts`` (a VXLAN packet OVS handed
to the namespace's stack instead of decapsulating it). Before: a data center
whose OVS also learns the kernel's routes (the lab up to 14f88cb); after: one
whose OVS has only the pinned underlay routes (the lab now).

    flock /tmp/vnetsec-integration.lock .venv/bin/python -m bench.move_loss [--runs 10]
"""
import argparse
import re
import time

from mininet_topos.datacenter import DataCenter
from mininet_topos.migration import migrate
from mininet_topos.nodes import Hypervisor

# hv1: vm1 vm2 | hv2: vm3 vm4 | rack 2: hv3: vm5 vm6 | hv4: vm7 vm8
PAIRS = [('vm1', 'vm7'), ('vm4', 'vm6'), ('vm5', 'vm8'), ('vm2', 'vm1')]


def lost_times(path):
    """Epoch times of the answers just before each unanswered sequence number."""
    with open(path) as f:
        text = f.read()
    answered = {int(s): float(t) for t, s in
                re.findall(r'^\[([\d.]+)\] .*icmp_seq=(\d+)', text, re.M)}
    last = max(answered, default=0)
    return [answered.get(max((s for s in answered if s < seq), default=0), 0.0)
            for seq in range(1, last) if seq not in answered]


def drops(dc):
    """{switch: {counter: total}}: OVS's drop and upcall-failure counters, and
    the namespace's UDP datagrams to no socket (VXLAN that OVS did not decap)."""
    out = {}
    for sw in dc.switches():
        text = sw.ovs.appctl('coverage/show')
        out[sw.name] = {name: int(total) for name, total in re.findall(
            r'^(\S*(?:drop|fail|error|lost)\S*)\s.*total: (\d+)', text, re.M)}
        no_ports = sw.udp_no_ports()
        if no_ports is not None:
            out[sw.name]['kernel UdpNoPorts'] = no_ports
    return out


def steps_ports(dc, runs, pause):
    """Plug and unplug an unrelated veth on hv2's and hv3's br-int."""
    marks = []
    for hv in (dc.node('hv2'), dc.node('hv3')):
        hv.cmd('ip link add xtra0 type veth peer name xtra1; ip link set xtra0 up; '
               'ip link set xtra1 up')
    for _ in range(runs):
        for hv in (dc.node('hv2'), dc.node('hv3')):
            marks.append(('add %s' % hv.name, time.time()))
            hv.ovs.vsctl('add-port br-int xtra0')
            time.sleep(pause)
            marks.append(('del %s' % hv.name, time.time()))
            hv.ovs.vsctl('del-port br-int xtra0')
            time.sleep(pause)
    for hv in (dc.node('hv2'), dc.node('hv3')):
        hv.cmd('ip link del xtra0')
    return marks


def steps_links(dc, runs, pause):
    """Add and delete a dummy link (no OVS port) in hv1's and hv2's namespaces."""
    marks = []
    for _ in range(runs):
        for hv in (dc.node('hv1'), dc.node('hv2')):
            marks.append(('link add %s' % hv.name, time.time()))
            hv.cmd('ip link add xdum0 type dummy')
            time.sleep(pause)
            marks.append(('link del %s' % hv.name, time.time()))
            hv.cmd('ip link del xdum0')
            time.sleep(pause)
    return marks


def steps_move(dc, runs, pause):
    marks = []
    for _ in range(runs):
        for dest in ('hv3', 'hv2'):
            m = migrate(dc, 'vm3', dest)
            marks.append(('vm3 -> %s' % dest, m['moving']))
            dc.wait_ready()
            time.sleep(pause)
    return marks


STEPS = {'move': steps_move, 'ports': steps_ports, 'links': steps_links}


def measure(dc, steps, runs, pause):
    """Ping every pair while ``steps`` runs; print the lost pings."""
    count = int((runs * 4 * (pause + 1.5) + 3) * 100)
    for src, dst in PAIRS:
        dc.node(src).cmd('ping -D -i 0.01 -c %d -W 1 %s > %s/ping-%s-%s.txt 2>&1 &'
                         % (count, dc.node(dst).IP(), dc.rundir, src, dst))
    time.sleep(1)
    before = drops(dc)
    started = time.time()
    marks = steps(dc, runs, pause)
    time.sleep(1)
    for src, _ in PAIRS:
        dc.node(src).cmd('kill %ping 2>/dev/null; wait')
    events = dc.client.get('/v1/events')
    print('  %d steps in %.1f s' % (len(marks), time.time() - started))
    for sw, counters in sorted(drops(dc).items()):
        grown = {k: v - before[sw].get(k, 0) for k, v in counters.items()
                 if v > before[sw].get(k, 0)}
        if grown:
            print('  %s: OVS counters grown: %s' % (sw, grown))
    for src, dst in PAIRS:
        lost = lost_times('%s/ping-%s-%s.txt' % (dc.rundir, src, dst))
        print('  %s -> %s: %d lost' % (src, dst, len(lost)))
        for t in lost:
            what, at = min(marks, key=lambda m: abs(t - m[1]))
            near = ['%+.3f %s %s' % (e['time'] - at, e['event'], e.get('host'))
                    for e in events if -0.05 < e['time'] - at < 0.3]
            print('    %+.3f s after %s; controller: %s' % (t - at, what, ', '.join(near)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--runs', type=int, default=10)
    ap.add_argument('--modes', default='ports,move', help='of: %s' % ','.join(sorted(STEPS)))
    ap.add_argument('--pause', type=float, default=1.0)
    args = ap.parse_args()
    for learned in (True, False):
        Hypervisor.system_routes = learned
        with DataCenter(racks=2, hypervisors=2, vms=2, networks='vxlan:5000') as dc:
            for mode in args.modes.split(','):
                print('%s, %s:' % (mode, 'before: OVS also learns the kernel\'s routes'
                                   if learned else 'after: only the pinned routes (the lab now)'))
                measure(dc, STEPS[mode], args.runs, args.pause)
    Hypervisor.system_routes = False


if __name__ == '__main__':
    main()
