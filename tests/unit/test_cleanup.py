"""Cleanup of a dead run, on real processes: a run's owner (a real process that
records the run, then is SIGKILLed) and the processes it left, some its own,
some only looking so."""
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from mininet_topos import cleanup
from mininet_topos.procs import start_time
from mininet_topos.runrecord import RunRecord

OWNER = textwrap.dedent('''
    import subprocess, sys, time
    from mininet_topos.runrecord import RunRecord
    rundir, decoy = sys.argv[1], int(sys.argv[2])
    record = RunRecord.create(rundir)
    daemon = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)',
                               rundir + '/daemon.conf'], start_new_session=True)
    with open(rundir + '/daemon.pid', 'w') as f:
        f.write(str(daemon.pid))
    with open(rundir + '/decoy.pid', 'w') as f:       # a PID file naming someone else
        f.write(str(decoy))
    record.add(('process', decoy, 1))                # a recorded PID since reused
    print(daemon.pid, flush=True)
    time.sleep(600)
''')


@pytest.fixture
def run(tmp_path):
    """(base, rundir, owner, daemon pid, decoy): a live run; the decoy is a
    process of the test's own that the run's files happen to name."""
    decoy = subprocess.Popen(['sleep', '600'])
    rundir = str(tmp_path / 'ab12')
    owner = subprocess.Popen([sys.executable, '-c', OWNER, rundir, str(decoy.pid)],
                             stdout=subprocess.PIPE, text=True)
    daemon = int(owner.stdout.readline())
    yield str(tmp_path), rundir, owner, daemon, decoy
    for proc in (owner, decoy):
        proc.kill()
        proc.wait()
    if start_time(daemon):
        os.kill(daemon, signal.SIGKILL)


def test_a_live_run_is_not_touched(run):
    base, rundir, owner, daemon, decoy = run
    said = []
    assert cleanup.clean('ab12', base=base, out=said.append) == 1
    assert 'still running (process %d)' % owner.pid in said[0]
    assert cleanup.clean(base=base, out=said.append) == 0
    assert said[-1] == 'no dead runs under %s' % base
    assert start_time(daemon) and os.path.isdir(rundir)


def test_a_dead_run_is_removed_and_only_it(run):
    base, rundir, owner, daemon, decoy = run
    os.makedirs(base + '/cd34')         # a run directory without a record: never touched
    owner.kill()
    owner.wait()
    said = []
    cleanup.warn_dead_runs('vnetsec-dc --cleanup', base=base, out=said.append)
    assert '(ab12)' in said[0] and '`vnetsec-dc --cleanup`' in said[0]
    assert cleanup.clean(base=base, out=said.append) == 0
    assert '%s/cd34: no run record' % base in '\n'.join(said)
    assert 'removed process %d' % daemon in '\n'.join(said)
    assert 'removed directory %s' % rundir in said
    assert start_time(daemon) is None
    assert start_time(decoy.pid) is not None            # neither its PID file nor its record
    assert not os.path.exists(rundir) and os.path.isdir(base + '/cd34')
    assert cleanup.dead_runs(base) == []


def test_a_run_directory_outside_the_base_is_refused(tmp_path):
    said = []
    assert cleanup.clean('/etc', base=str(tmp_path), out=said.append) == 1
    assert 'not a run directory under' in said[0]


def test_an_existing_run_directory_is_never_adopted(tmp_path):
    RunRecord.create(str(tmp_path / 'ab12'))
    with pytest.raises(FileExistsError):
        RunRecord.create(str(tmp_path / 'ab12'))


def test_cleanup_argument():
    assert cleanup.requested(['--remote']) is None
    assert cleanup.requested(['--cleanup']) == ''
    assert cleanup.requested(['--cleanup', '--remote']) == ''
    assert cleanup.requested(['--cleanup', 'lab-ab12']) == 'lab-ab12'


def test_a_record_from_an_earlier_boot_names_no_process(tmp_path):
    record = RunRecord.create(str(tmp_path / 'ab12'))
    assert record.owner_alive()
    with open(record.path) as f:
        text = f.read()
    with open(record.path, 'w') as f:
        f.write(text.replace(text.split()[1], 'another-boot'))
    record.add(('process', os.getpid(), start_time(os.getpid())))
    assert not record.owner_alive() and record.recorded_processes() == {}
