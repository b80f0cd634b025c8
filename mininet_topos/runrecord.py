"""What a run made, written down in its run directory as it makes it, so that
a run whose process died without tearing down (SIGKILL, OOM killer, power
cut) can be removed later from the record alone (``mininet_topos.cleanup``).

``<rundir>/run.record``, one entry a line, appended *before* the thing is made:

    owner BOOT_ID PID START     the process running the run
    process PID START           a process without a PID file (Mininet's node shells)
    netns NAME                  a named network namespace (/run/netns/NAME)
    link NAME                   a link in the root namespace

Processes with a PID file keep it under the run directory; its daemons'
command lines name the run directory.
"""
import os
import stat
import subprocess

from mininet_topos.procs import boot_id, start_time


def make_run_dir(path):
    """A new run directory (RUN_BASE/<run>), 0700: it holds the API token and
    private keys. In /tmp anyone may have made its parent first, and could then
    swap our directory for another: the parent must be ours, a real directory,
    writable by us only."""
    parent = os.path.dirname(path)
    os.makedirs(parent, mode=0o755, exist_ok=True)
    info = os.lstat(parent)
    if (not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid()
            or info.st_mode & 0o022):
        raise RuntimeError('%s must be a directory of ours that only we can write to'
                           % parent)
    os.mkdir(path, 0o700)
    os.chmod(path, 0o700)          # whatever the umask

FILE = 'run.record'


class RunRecord:
    def __init__(self, rundir):
        self.rundir = rundir
        self.name = os.path.basename(rundir)
        self.path = os.path.join(rundir, FILE)

    @classmethod
    def create(cls, rundir):
        """A new run directory owned by this process (an existing one is never
        adopted: it may be another run's)."""
        make_run_dir(rundir)
        record = cls(rundir)
        record.add(('owner', boot_id(), os.getpid(), start_time(os.getpid())))
        return record

    def add(self, *entries):
        with open(self.path, 'a') as f:
            f.write(''.join(' '.join(map(str, entry)) + '\n' for entry in entries))

    def entries(self, kind):
        """The values of every ``kind`` entry, as lists of strings."""
        try:
            with open(self.path) as f:
                lines = [line.split() for line in f]
        except FileNotFoundError:
            return []
        return [line[1:] for line in lines if line and line[0] == kind]

    def exists(self):
        return self.owner() is not None

    def this_boot(self):
        """True when the record was made since the machine last booted (before
        that, none of its PIDs can be its processes)."""
        owner = self.entries('owner')
        return bool(owner) and owner[0][0] == boot_id()

    def owner(self):
        """(pid, start time) of the run's process, None if unrecorded."""
        owner = self.entries('owner')
        return (int(owner[0][1]), int(owner[0][2])) if owner else None

    def owner_alive(self):
        owner = self.owner()
        return bool(owner) and self.this_boot() and start_time(owner[0]) == owner[1]

    def recorded_processes(self):
        """{pid: start time} of the recorded processes (none from an earlier boot)."""
        if not self.this_boot():
            return {}
        return {int(pid): int(start) for pid, start in self.entries('process')}

    def netns_name(self, node):
        return 'vnetsec-%s-%s' % (self.name, node)

    def track_network(self, net):
        """Record a built Mininet network: its node shells; a name for each node
        namespace (attached now, so the namespace can be found and removed by
        name); the node interfaces in the root namespace."""
        nodes = list(net.values())
        entries = [('process', n.pid, start_time(n.pid)) for n in nodes]
        named = [(self.netns_name(n.name), n.pid) for n in nodes if n.inNamespace]
        entries += [('netns', name) for name, _ in named]
        entries += [('link', intf) for n in nodes if not n.inNamespace
                    for intf in n.intfNames() if intf != 'lo']
        self.add(*entries)
        subprocess.run(['ip', '-batch', '-'], check=True, text=True,
                       input=''.join('netns attach %s %d\n' % nn for nn in named))
