"""The analysis report as a user runs it (``python -m bench.analysis``, a
subprocess): the whole report at its smallest sizes finishes with every row
measured; a step over its time limit is stopped, torn down and reported, and
the report goes on; SIGTERM while a data center is up tears down everything
the run made (issue 28: the report hung in its VLAN sprawl row, and SIGTERM
left its data center running)."""
import glob
import os
import re
import signal
import subprocess
import sys
import time

from mininet_topos.cleanup import NETNS_DIR, run_processes
from mininet_topos.controller_proc import controller_command
from mininet_topos.nodes import RUN_BASE
from mininet_topos.procs import cmdline, start_time
from mininet_topos.runrecord import RunRecord

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))


def analysis(*args, **popen):
    return subprocess.Popen([sys.executable, '-m', 'bench.analysis'] + list(args), cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            **popen)


def runs_of(pid):
    """The run records under RUN_BASE whose owner is process ``pid``."""
    out = []
    for path in glob.glob(RUN_BASE + '/*/run.record'):
        record = RunRecord(os.path.dirname(path))
        owner = record.owner()
        if owner and owner[0] == pid:
            out.append(record)
    return out


def names(record, kind):
    return [values[0] for values in record.entries(kind)]


def left_of(record, procs):
    """What of a run still exists: its processes (by PID and start time), its
    namespaces and links (by their recorded names), its directory."""
    return ([('process', pid, cmdline(pid)[:80]) for pid, start in procs.items()
             if start_time(pid) == start]
            + [('netns', n) for n in names(record, 'netns')
               if os.path.exists(os.path.join(NETNS_DIR, n))]
            + [('link', n) for n in names(record, 'link')
               if os.path.exists('/sys/class/net/' + n)]
            + ([('directory', record.rundir)] if os.path.exists(record.rundir) else []))


def test_the_whole_report_finishes_at_its_smallest_sizes(tmp_path):
    proc = analysis('--quick', '--plot', str(tmp_path / 'analysis.png'))
    try:
        out, _ = proc.communicate(timeout=900)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)       # tears down what it built
            proc.communicate(timeout=120)
    assert proc.returncode == 0, out
    verdicts = re.findall(r'^(\d+)\s+(yes|NO|-)\s', out, re.M)
    assert [int(n) for n, _ in verdicts] == list(range(1, 10)), out
    assert 'not measured' not in out and 'over its time limit' not in out, out
    # the rows whose figures do not depend on the machine's speed hold
    holds = dict(verdicts)
    assert all(holds[n] == 'yes' for n in ('3', '4', '5', '6', '7')), out
    assert (tmp_path / 'analysis.png').stat().st_size > 0
    assert runs_of(proc.pid) == []


def test_a_step_over_its_limit_is_torn_down_and_the_report_goes_on():
    proc = analysis('--only', 'sprawl,pool', '--step-limit', '3')
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 1, out
    assert re.search(r'^sprawl .* over its time limit of 3 s$', out, re.M), out
    assert re.search(r'^6\s+-\s', out, re.M) and 'not measured: sprawl over its time limit' in out
    assert re.search(r'^pool\s', out, re.M), out          # the step after it still ran
    assert runs_of(proc.pid) == []


def test_sigterm_tears_down_the_data_center_of_a_running_report():
    # the sessions row: the DMZ lab, then data centers whose streams run 8 s
    # once they are up (time enough to catch one up)
    proc = analysis('--only', 'sessions', stdin=subprocess.DEVNULL)
    try:
        deadline = time.time() + 120
        record = None
        while time.time() < deadline and proc.poll() is None:
            records = runs_of(proc.pid)
            if records and agents_up(records[0]):
                record = records[0]
                break
            time.sleep(0.1)
        assert record is not None, proc.communicate(timeout=60)[0] if proc.poll() else ''
        procs = run_processes(record)
        commands = ' '.join(cmdline(pid) for pid in procs)
        # the controller is ryu-manager on Ryu, vnetsec-controller on os-ken
        for daemon in (os.path.basename(controller_command()), 'ovsdb-server',
                       'ovs-vswitchd', 'agent.server'):
            assert daemon in commands, (daemon, commands)
        assert names(record, 'netns') and names(record, 'link')
        assert proc.poll() is None, 'the step ended before the test could stop it'
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=120)
        assert proc.returncode == 143, out
        assert left_of(record, procs) == [], out
    finally:
        if proc.poll() is None:               # a failed assertion: still tear it down
            proc.send_signal(signal.SIGTERM)
            try:
                proc.communicate(timeout=120)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()


def agents_up(record):
    """Every hypervisor of the run has its agent running (so the controller,
    the switches' OVS and the namespaces are up too)."""
    hvs = [n.rsplit('-', 1)[1] for n in names(record, 'netns')
           if re.search(r'-hv\d+$', n)]
    if not hvs or not os.path.exists(record.rundir + '/controller.pid'):
        return False
    for hv in hvs:
        try:
            with open('%s/%s/agent.pid' % (record.rundir, hv)) as f:
                if start_time(int(f.read())) is None:
                    return False
        except (OSError, ValueError):
            return False
    return True
