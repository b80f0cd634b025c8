"""Remove what a run made, from its record alone (``runrecord``): its
processes, its links in the root namespace, its named namespaces, its files.

A run's own teardown ends with ``remove_run``; ``clean`` (``--cleanup [RUN]``
of ``vnetsec-dc`` and of the labs) does the same for runs whose process died
without tearing down, and refuses runs whose process is still alive. Nothing
unrecorded is touched: no process by name, no link or namespace by pattern.
"""
import functools
import glob
import os
import shutil
import subprocess

from mininet_topos.nodes import RUN_BASE
from mininet_topos.procs import cmdline, start_time, terminate
from mininet_topos.runrecord import RunRecord

NETNS_DIR = '/run/netns'


def run_processes(record):
    """{pid: start time} of the run's running processes: those of the PID files
    under its directory whose command line names that directory, its recorded
    processes still having their start time, and every process inside its
    named namespaces."""
    procs = {}
    for path in glob.glob(record.rundir + '/**/*.pid', recursive=True):
        pid = _read_pid(path)
        if pid and record.rundir + '/' in cmdline(pid):
            procs[pid] = start_time(pid)
    for pid, start in record.recorded_processes().items():
        if start_time(pid) == start:
            procs[pid] = start
    namespaces = {_ns_id(_netns_path(name)) for name in _names(record, 'netns')} - {None}
    if namespaces:
        for entry in os.listdir('/proc'):
            if entry.isdigit() and _ns_id('/proc/%s/ns/net' % entry) in namespaces:
                procs[int(entry)] = start_time(int(entry))
    procs.pop(os.getpid(), None)
    return {pid: start for pid, start in procs.items() if start is not None}


def remove_run(record, say=lambda thing: None):
    """Remove what ``record`` names, then the run directory; ``say`` hears each
    thing removed. The caller makes sure the run's owner is this process or
    gone. Raises RuntimeError naming what is left (the record is then kept)."""
    procs = run_processes(record)
    described = {pid: cmdline(pid) for pid in procs}
    for pid in terminate(procs):
        say('process %d: %s' % (pid, described[pid][:120]))
    # root-namespace ends first: deleting one end of a veth removes both at once
    links = [n for n in _names(record, 'link') if os.path.exists('/sys/class/net/' + n)]
    _ip_batch('link del %s' % name for name in links)
    for name in links:
        if not os.path.exists('/sys/class/net/' + name):
            say('link %s' % name)
    namespaces = [n for n in _names(record, 'netns') if os.path.exists(_netns_path(n))]
    _ip_batch('netns delete %s' % name for name in namespaces)
    for name in namespaces:
        if not os.path.exists(_netns_path(name)):
            say('namespace %s' % name)
    left = leftovers(record)
    if left:
        raise RuntimeError('run %s: could not remove %s' % (record.name, ', '.join(left)))
    shutil.rmtree(record.rundir)
    say('directory %s' % record.rundir)


def leftovers(record):
    """What of the run still exists (its directory aside)."""
    return (['process %d' % pid for pid in run_processes(record)]
            + ['link %s' % n for n in _names(record, 'link')
               if os.path.exists('/sys/class/net/' + n)]
            + ['namespace %s' % n for n in _names(record, 'netns')
               if os.path.exists(_netns_path(n))])


def dead_runs(base=RUN_BASE):
    """The recorded runs under ``base`` whose owning process is gone."""
    records = [RunRecord(d) for d in _run_dirs(base)]
    return [r for r in records if r.exists() and not r.owner_alive()]


def clean(run=None, base=RUN_BASE, out=print):
    """``--cleanup [RUN]``: remove the dead run RUN (a name under ``base`` or
    its path), or without RUN every dead run. Returns the exit status."""
    if run:
        run = run.rstrip('/')
        if '/' in run and os.path.dirname(os.path.abspath(run)) != base:
            out('%s is not a run directory under %s' % (run, base))
            return 1
        record = RunRecord(os.path.join(base, os.path.basename(run)))
        if not record.exists():
            out('%s: no run record %s; nothing touched' % (run, record.path))
            return 1
        if record.owner_alive():
            out('run %s is still running (process %d): nothing touched; stop that '
                'process to tear it down' % (record.name, record.owner()[0]))
            return 1
        records = [record]
    else:
        for rundir in _run_dirs(base):
            if not RunRecord(rundir).exists():
                out('%s: no run record (another version of vnetsec, or just starting): '
                    'left alone' % rundir)
        records = dead_runs(base)
        if not records:
            out('no dead runs under %s' % base)
    status = 0
    for record in records:
        out('*** run %s: its process %d is gone; removing what it made'
            % (record.name, record.owner()[0]))
        try:
            remove_run(record, say=lambda thing: out('removed %s' % thing))
        except (RuntimeError, OSError) as e:
            out(str(e))
            status = 1
    return status


def warn_dead_runs(cleanup_command, base=RUN_BASE, out=functools.partial(print, flush=True)):
    """Say (without removing anything) which runs died without tearing down."""
    dead = dead_runs(base)
    if dead:
        out('*** %d run(s) under %s died without tearing down (%s): remove what they left '
            'with `%s`' % (len(dead), base, ' '.join(r.name for r in dead), cleanup_command))


def requested(argv):
    """For entry points without argparse: the RUN of ``--cleanup [RUN]`` in
    ``argv`` ('' for all dead runs), None when not asked."""
    if '--cleanup' not in argv:
        return None
    rest = argv[argv.index('--cleanup') + 1:]
    return rest[0] if rest and not rest[0].startswith('-') else ''


def _run_dirs(base):
    return [d for d in sorted(glob.glob(base + '/*')) if os.path.isdir(d)]


def _names(record, kind):
    return [values[0] for values in record.entries(kind)]


def _netns_path(name):
    return os.path.join(NETNS_DIR, name)


def _ns_id(path):
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _read_pid(path):
    try:
        with open(path) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def _ip_batch(commands):
    text = ''.join(command + '\n' for command in commands)
    if text:
        subprocess.run(['ip', '-force', '-batch', '-'], input=text, text=True,
                       capture_output=True)
