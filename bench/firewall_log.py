"""Benchmark (security-group logging, issue 33): what a log costs, in the same
run: new TCP connections per second through the firewall (client vm1 on hv1,
server vm2 on hv2, both in groups, every connection committed on both sides)
with no log and with a log of ``ALL`` on the server's group, alternating (off,
on, off, on, ...) on one data center so the machine's drift falls on both; and
the controller's CPU (user + system, from /proc) per 1,000 logged connections.

The meter is set high (``--log-rate``) so that every connection is logged and
the CPU is that of logging, not of the meter dropping; a flood's bound is
``tests/integration/test_firewall_log.py``'s.

    flock /tmp/vnetsec-integration.lock .venv/bin/python -m bench.firewall_log \
        [--seconds 5] [--runs 3] [--log-rate 20000]
"""
import argparse
import os
import statistics
import time

from bench.sessions import PROBE, SERVER_PORT, client_server_groups, restart_server, \
    start_server
from mininet_topos.datacenter import DataCenter

TICKS = os.sysconf('SC_CLK_TCK')


def cpu_seconds(pid):
    """User + system CPU seconds of a process (its threads included)."""
    with open('/proc/%d/stat' % pid) as f:
        fields = f.read().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def counted(dc):
    """(log records written, packet-ins received) from /metrics."""
    text = dc.client.text('/metrics').splitlines()
    return tuple(sum(float(line.rsplit(' ', 1)[1]) for line in text if line.startswith(name))
                 for name in ('vnetsec_log_records_total{', 'vnetsec_log_packet_ins_total '))


def one_run(dc, pid, seconds):
    """(connections/s, controller CPU seconds, log records, packet-ins) of one run."""
    before_cpu, before = cpu_seconds(pid), counted(dc)
    rate = float(dc.node('vm1').cmd('python3 %s connect-rate %s %d %d' % (
        PROBE, dc.node('vm2').IP(), SERVER_PORT, seconds)))
    time.sleep(1)                         # the last packet-ins handled
    after = counted(dc)
    return rate, cpu_seconds(pid) - before_cpu, after[0] - before[0], after[1] - before[1]


def measure(seconds, runs, log_rate):
    with DataCenter(racks=2, hypervisors=1, vms=1, networks='vxlan:5000',
                    options={'log_rate': log_rate, 'log_burst': log_rate}) as dc:
        client_server_groups(dc)
        with open(os.path.join(dc.rundir, 'controller.pid')) as f:
            pid = int(f.read())
        server = start_server(dc)
        out = {False: [], True: []}
        for _ in range(runs):
            for logged in (False, True):
                log = dc.client.call('POST', '/v1/logs?wait=applied', {
                    'event': 'ALL', 'security_group': 'tcpserver',
                    'file': 'bench.log'}) if logged else None
                out[logged].append(one_run(dc, pid, seconds))
                if log:
                    dc.client.call('DELETE', '/v1/logs/%s?wait=applied' % log['id'])
                server = restart_server(dc, server)
        return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--seconds', type=int, default=5, help='per connection-rate run')
    p.add_argument('--runs', type=int, default=3, help='runs per setting, alternating')
    p.add_argument('--log-rate', type=int, default=20000,
                   help="each switch's controller meter, packets/s")
    args = p.parse_args()
    out = measure(args.seconds, args.runs, args.log_rate)
    print('Security-group logging: no log vs a log of ALL on the server\'s group, same '
          'run (%d x %d s each, alternating; log_rate %d/s)' % (args.runs, args.seconds,
                                                               args.log_rate))
    print('  %-46s %16s %16s' % ('', 'no log', 'log ALL'))
    off, on = out[False], out[True]
    rate = [statistics.median(r[0] for r in runs) for runs in (off, on)]
    print('  %-46s %16.0f %16.0f   (%+.1f%%; runs %s | %s)' % (
        'new TCP connections/s (median)', rate[0], rate[1], (rate[1] / rate[0] - 1) * 100,
        '/'.join('%.0f' % r[0] for r in off), '/'.join('%.0f' % r[0] for r in on)))
    conns = [sum(r[0] * args.seconds for r in runs) for runs in (off, on)]
    cpu = [sum(r[1] for r in runs) for runs in (off, on)]
    logged, received = sum(r[2] for r in on), sum(r[3] for r in on)
    print('  %-46s %16.3f %16.3f' % ('controller CPU s per 1,000 connections',
                                      1000 * cpu[0] / conns[0], 1000 * cpu[1] / conns[1]))
    print('  %-46s %16s %16.3f   (%d records; %d packets received for %d connections)'
          % ('controller CPU s per 1,000 logged connections', '-',
             1000 * cpu[1] / logged if logged else float('nan'), logged, received, conns[1]))


if __name__ == '__main__':
    main()
