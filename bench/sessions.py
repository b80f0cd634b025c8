"""Benchmark (sessions that move with the VM, issue 17): what carrying
sessions costs, with ``carry_sessions`` off and on, in the same run: data
centers of each setting one after the other, alternating (off, on, off, on),
so that the machine's drift falls on both (since sessions are read from conntrack at the move, the firewall
is the same either way; run it through ``bench.versus`` against a commit that
recorded each connection with ``learn`` to see what that cost):

- new TCP connections per second through the firewall (client and server VMs
  on two hypervisors; each connection is committed on both; see
  ``client_server_groups``);
- flows per hypervisor with 1,000 open TCP sessions between them, and whether
  the client's hypervisor holds the same flows per table either way;
- the streams a VM only reads that survive a planned move (see
  mininet_topos/streams.py).

The migration gap with and without: ``bench.migration --carry-sessions false,true``.

    .venv/bin/python -m bench.sessions [--seconds 5] [--sessions 1000] [--runs 3]
"""
import argparse
import collections
import re
import statistics
import time

from mininet_topos import streams
from mininet_topos.datacenter import DataCenter

PROBE = streams.PROBE
SERVER_PORT = 9100


def flows_on(hv):
    out = hv.ovs.ofctl('dump-flows br-int --no-stats')
    return sum(1 for line in out.splitlines() if 'priority=' in line)


def client_server_groups(dc):
    """vm1 (hv1), the client: all egress, only ICMP in (its connections need
    carrying: nothing else would let their replies in after a move); vm2 (hv2),
    the server: all egress and tcp/9100 in."""
    client = dc.client.post('/v1/security-groups', {'name': 'client', 'rules': [
        {'direction': 'egress'}, {'direction': 'ingress', 'protocol': 'icmp'}]})
    server = dc.client.post('/v1/security-groups', {'name': 'tcpserver', 'rules': [
        {'direction': 'egress'},
        {'direction': 'ingress', 'protocol': 'tcp', 'port_range_min': SERVER_PORT}]})
    ports = {p['name']: p['id'] for p in dc.client.get('/v1/ports')}
    for vm, group in (('vm1', client), ('vm2', server)):
        dc.client.call('PATCH', '/v1/ports/%s' % ports[vm], {'security_groups': [group['id']]})
    dc.wait_ready()


def start_server(dc):
    """The TCP echo server in vm2; returns its PID. A new one for each rate run:
    each connection gets a thread, and one whose reset never arrived keeps its
    thread; this machine has 32,768 PIDs for every thread."""
    server = dc.node('vm2')
    pid = int(server.cmd('ulimit -n 8192; python3 %s serve tcp %d > /dev/null 2>&1 & '
                         'echo $!' % (PROBE, SERVER_PORT)).split()[-1])
    server.cmd('python3 %s wait-listening %d' % (PROBE, SERVER_PORT))
    return pid


def restart_server(dc, pid):
    dc.node('vm2').cmd('kill %d; wait %d' % (pid, pid))
    return start_server(dc)


def connection_rate(dc, seconds, runs):
    client, server = dc.node('vm1'), dc.node('vm2')
    rates = [float(client.cmd('python3 %s connect-rate %s %d %d'
                              % (PROBE, server.IP(), SERVER_PORT, seconds)))
             for _ in range(runs)]
    return statistics.median(rates), rates


def flows_at(dc, n):
    """Flows on the client's and the server's hypervisor before and with ``n``
    open sessions."""
    client, server = dc.node('vm1'), dc.node('vm2')
    hvs = [dc.node('hv1'), dc.node('hv2')]
    time.sleep(1)
    before = [flows_on(hv) for hv in hvs]
    client.sendCmd('ulimit -n 8192; python3 %s hold %s %d %d 30'
                   % (PROBE, server.IP(), SERVER_PORT, n))
    deadline = time.time() + 60
    while time.time() < deadline and 'open' not in client.monitor(timeoutms=500):
        pass
    time.sleep(1)
    during = [flows_on(hv) for hv in hvs]
    client.sendInt()
    client.waitOutput()
    return before, during


def survival(dc):
    dc.client.post('/v1/security-groups', {'name': 'reader', 'rules': streams.READER_RULES})
    dc.client.post('/v1/security-groups', {'name': 'server', 'rules': streams.SERVER_RULES})
    ports = {p['name']: p['id'] for p in dc.client.get('/v1/ports')}
    for vm, group in (('vm1', 'reader'), ('vm2', 'server')):
        dc.client.call('PATCH', '/v1/ports/%s' % ports[vm], {'security_groups': [group]})
    dc.wait_ready()
    streams.serve(dc.node('vm2'))
    result, _ = streams.across_move(dc, 'vm1', 'vm2', 'hv3')
    return result


def survival_run(carry):
    """Only the streams across a move, on a data center of its own (bench.analysis)."""
    with DataCenter(racks=3, hypervisors=1, vms=1, networks='vxlan:5000',
                    options={'carry_sessions': str(carry).lower()}) as dc:
        return survival(dc)


def tables_of(hv):
    """{table: flows} on a hypervisor's bridge: the firewall's shape, whatever
    its rules' marks and cookies."""
    out = collections.Counter()
    for table in re.findall(r'table=(\d+)', hv.ovs.ofctl('dump-flows br-int --no-stats')):
        out[int(table)] += 1
    return dict(out)


def measure(carry, seconds, n, runs):
    """All figures for one setting of carry_sessions, on a data center of its own
    (3 racks x 1 hypervisor: vm1 on hv1, vm2 on hv2, hv3 empty)."""
    with DataCenter(racks=3, hypervisors=1, vms=1, networks='vxlan:5000',
                    options={'carry_sessions': str(carry).lower()}) as dc:
        client_server_groups(dc)
        server = start_server(dc)
        tables = tables_of(dc.node('hv1'))
        before, during = flows_at(dc, n)        # first: no sessions of closed connections yet
        rates = []
        for _ in range(runs):
            server = restart_server(dc, server)
            rates += connection_rate(dc, seconds, 1)[1]
        moved = survival(dc)
    return {'rates': rates, 'tables': tables, 'before': before, 'during': during,
            'moved': moved}


def measure_alternating(seconds, n, runs, rounds):
    """Off, on, off, on ...: ``rounds`` data centers per setting, one at a time,
    so that the machine's drift over the run falls on both settings alike."""
    results = {}
    for _ in range(rounds):
        for carry in (False, True):
            got = measure(carry, seconds, n, runs)
            if carry in results:
                results[carry]['rates'] += got['rates']
            else:
                results[carry] = got
    for r in results.values():
        r['rate'] = statistics.median(r['rates'])
    return results


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--seconds', type=int, default=5, help='per connection-rate run')
    p.add_argument('--sessions', type=int, default=1000)
    p.add_argument('--runs', type=int, default=3, help='rate runs per data center')
    p.add_argument('--rounds', type=int, default=2, help='data centers per setting')
    args = p.parse_args()
    results = measure_alternating(args.seconds, args.sessions, args.runs, args.rounds)
    print('Sessions that move with the VM: carry_sessions off vs on, same run '
          '(%d data centers each, alternating)' % args.rounds)
    print('  %-44s %16s %16s' % ('', 'off', 'on'))
    off, on = results[False], results[True]
    print('  %-44s %16.0f %16.0f   (%+.1f%%; runs off %s, on %s)' % (
        'new TCP connections/s (median of %d x %d s)' % (args.runs * args.rounds,
                                                         args.seconds),
        off['rate'], on['rate'], (on['rate'] / off['rate'] - 1) * 100,
        '/'.join('%.0f' % r for r in off['rates']), '/'.join('%.0f' % r for r in on['rates'])))
    print('  %-44s %16s %16s' % ('client hv: flows per table the same', '',
                                 'yes' if off['tables'] == on['tables'] else
                                 'no: %s vs %s' % (off['tables'], on['tables'])))
    for k, hv in enumerate(('client hv', 'server hv')):
        print('  %-44s %16s %16s' % (
            'flows on the %s: idle -> %d open sessions' % (hv, args.sessions),
            '%d -> %d' % (off['before'][k], off['during'][k]),
            '%d -> %d' % (on['before'][k], on['during'][k])))
    for proto in ('tcp', 'udp'):
        print('  %-44s %16s %16s' % (
            'read-only %s stream across a planned move' % proto,
            *('alive %.1f of 8 s' % r['moved'][proto][0] for r in (off, on))))


if __name__ == '__main__':
    main()
