"""A crashed session can be cleaned up, and only it: ``vnetsec-dc`` processes
are SIGKILLed (one as it is, one after its controller was SIGKILLed), which
leaves their daemons, links, namespaces and files behind; ``vnetsec-dc
--cleanup`` removes exactly those, while a data center started before (and
another live session) keeps working throughout."""
import contextlib
import glob
import os
import re
import signal
import subprocess
import sys

import pytest

from mininet_topos.controller_proc import controller_command
from mininet_topos.datacenter import DataCenter
from mininet_topos.nodes import RUN_BASE
from mininet_topos.procs import cmdline
from mininet_topos.runrecord import RunRecord
from tests.integration.helpers import processes_mentioning, reachability, root_links, running

VNETSEC_DC = os.path.join(os.path.dirname(sys.executable), 'vnetsec-dc')


@pytest.fixture(scope='module')
def live():
    with DataCenter(racks=1, hypervisors=2, vms=1) as dc:
        yield dc


@contextlib.contextmanager
def pinging_throughout(live):
    """vm1 pings vm2 (across hypervisors) every 50 ms during the block; not one
    reply may be missing."""
    ping = live.node('vm1').popen(['ping', '-q', '-i', '0.05', '-W', '1', live.node('vm2').IP()],
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        yield
    finally:
        ping.send_signal(signal.SIGINT)
        summary = ping.communicate(timeout=10)[0]
    sent, received = map(int, re.search(r'(\d+) packets transmitted, (\d+) received',
                                        summary).groups())
    assert sent > 20 and received == sent, summary


def start_session():
    """A ``vnetsec-dc`` in its own process; returns (process, its run's record,
    the lines it printed up to 'data center up')."""
    proc = subprocess.Popen([VNETSEC_DC, '--racks', '1', '--hypervisors', '2', '--vms', '1',
                             '-c', "py __import__('time').sleep(600)"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if 'data center up' in line:
            break
    assert 'data center up' in lines[-1], ''.join(lines)
    records = [RunRecord(os.path.dirname(p)) for p in glob.glob(RUN_BASE + '/*/run.record')]
    record, = [r for r in records if r.owner()[0] == proc.pid]
    return proc, record, lines


def daemons(found):
    """How many of each daemon a run left, its agents left out: they end with
    their hypervisor's shell (SIGHUP), unless SIGHUP is ignored where the run
    started (nohup), and --cleanup removes them either way."""
    kinds = {}
    for line in found:
        kind = ('controller' if 'vnetsec.conf' in line else 'agent' if 'agent.server' in line
                else line.split()[1].rsplit('/', 1)[-1])
        if kind != 'agent':
            kinds[kind] = kinds.get(kind, 0) + 1
    return kinds


def kill(proc):
    proc.kill()
    proc.wait()
    proc.stdout.close()


def left_behind(record):
    """What of a run exists, found without its record: processes naming its
    directory or inside its namespaces, its root links, namespaces, files."""
    namespaces = [line.split()[0] for line in subprocess.run(
        ['ip', 'netns', 'list'], capture_output=True, text=True).stdout.splitlines()
        if line.startswith('vnetsec-%s-' % record.name)]
    pids = {int(line.split()[0]) for line in processes_mentioning(record.rundir + '/')}
    for ns in namespaces:
        pids |= set(map(int, subprocess.run(['ip', 'netns', 'pids', ns], capture_output=True,
                                            text=True).stdout.split()))
    return {'processes': sorted(pids), 'links': root_links('vn%smg' % record.name),
            'namespaces': namespaces, 'files': os.path.exists(record.rundir)}


def cleanup(*run):
    done = subprocess.run([VNETSEC_DC, '--cleanup', *run], capture_output=True, text=True)
    return done.returncode, done.stdout + done.stderr


def live_intact(live, before):
    now, before = left_behind(live.record), dict(before)
    assert set(before.pop('processes')) <= set(now.pop('processes')) and now == before
    status = live.client.get('/v1/status')
    assert all(s['synced'] for s in status['switches'].values())
    assert reachability(live) == {('vm1', 'vm2'), ('vm2', 'vm1')}


def test_a_killed_session_is_removed_and_only_it(live):
    live_before = left_behind(live.record)
    with pinging_throughout(live):
        crashed, record, _ = start_session()
        kill(crashed)                                       # no teardown ran
        left = left_behind(record)                          # ryu-manager, 3 x OVS's 2 daemons
        found = processes_mentioning(record.rundir + '/')
        assert daemons(found) == {'controller': 1, 'ovsdb-server': 3, 'ovs-vswitchd': 3}, \
            '\n'.join(found)
        assert left['links'] and left['namespaces'] and left['files']

        other, other_record, printed = start_session()    # notices the dead run
        assert any('died without tearing down (%s)' % record.name in line
                   and 'vnetsec-dc --cleanup' in line for line in printed), printed

        code, out = cleanup(live.run_id)
        assert code == 1 and 'still running' in out, out
        code, out = cleanup(record.name)
        assert code == 0, out
        assert 'removed directory %s' % record.rundir in out
        assert running(left['processes']) == []
        assert left_behind(record) == {'processes': [], 'links': [], 'namespaces': [],
                                       'files': False}
        live_intact(live, live_before)

        other.send_signal(signal.SIGTERM)                  # a session's own teardown
        assert other.wait(30) == 143
        other.stdout.close()
        assert left_behind(other_record) == {'processes': [], 'links': [], 'namespaces': [],
                                             'files': False}
    live_intact(live, live_before)


def test_a_session_whose_controller_died_first(live):
    live_before = left_behind(live.record)
    with pinging_throughout(live):
        session, record, _ = start_session()
        with open(record.rundir + '/controller.pid') as f:
            controller = int(f.read())
        assert '%s --config-file %s/' % (os.path.basename(controller_command()),
                                          record.rundir) in cmdline(controller)
        os.kill(controller, signal.SIGKILL)
        assert running([controller]) == []

        code, out = cleanup(record.name)               # its process still runs
        assert code == 1 and 'still running (process %d)' % session.pid in out, out
        assert left_behind(record)['files']

        kill(session)
        left = left_behind(record)                          # 3 x OVS's 2 daemons
        assert daemons(processes_mentioning(record.rundir + '/')) == {
            'ovsdb-server': 3, 'ovs-vswitchd': 3}
        assert left['links'] and left['namespaces'] and left['files']
        code, out = cleanup()                          # every dead run
        assert code == 0 and '*** run %s:' % record.name in out, out
        assert 'run %s' % live.run_id not in out
        assert running(left['processes']) == []
        assert left_behind(record) == {'processes': [], 'links': [], 'namespaces': [],
                                       'files': False}
        live_intact(live, live_before)
    live_intact(live, live_before)
