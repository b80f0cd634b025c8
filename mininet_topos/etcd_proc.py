"""Start and stop etcd on loopback for the etcd store, by PID: one member
(``EtcdProcess``) or a cluster of them (``EtcdCluster``, e.g. 3 members for the
replicas of ``vnetsec-dc --controllers 3``).

A private data directory and free ports per member; the same data directory
and ports on a restart, so a member comes back with its data and revisions. Each
member writes ``<data dir>.pid``: its command line names the data directory, so
a run's cleanup finds it (``mininet_topos.cleanup``)."""
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request

MAX_TXN_OPS = 100000        # a bulk write of 1,000 ports is about 4,000 operations


def etcd_binary():
    return shutil.which('etcd')


def _any_free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


class EtcdProcess:
    def __init__(self, data_dir, log_path=None, name='vnetsec'):
        self.data_dir, self.name = data_dir, name
        self.log_path = log_path or data_dir + '.log'
        self.client_port, self.peer_port = _any_free_port(), _any_free_port()
        self.initial_cluster = None     # 'name=peer URL,...' of a cluster; else alone
        self.proc = None

    @property
    def peer_url(self):
        return 'http://127.0.0.1:%d' % self.peer_port

    @property
    def url(self):
        """The store option naming this member."""
        return 'etcd://127.0.0.1:%d' % self.client_port

    def start(self, timeout=15, wait=True):
        client = 'http://127.0.0.1:%d' % self.client_port
        peer = self.peer_url
        with open(self.log_path, 'a') as log:
            self.proc = subprocess.Popen(
                [etcd_binary(), '--name', self.name, '--data-dir', self.data_dir,
                 '--listen-client-urls', client, '--advertise-client-urls', client,
                 '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer,
                 '--initial-cluster', self.initial_cluster or '%s=%s' % (self.name, peer),
                 '--max-txn-ops', str(MAX_TXN_OPS), '--max-request-bytes', str(32 << 20)],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        with open(self.data_dir + '.pid', 'w') as f:
            f.write('%d\n' % self.proc.pid)
        if wait:
            self.wait_healthy(timeout)
        return self

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def wait_healthy(self, timeout=15):
        client = 'http://127.0.0.1:%d' % self.client_port
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError('etcd exited (%s); see %s' % (self.proc.returncode,
                                                                 self.log_path))
            try:
                urllib.request.urlopen(client + '/health', timeout=1).read()
                return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError('etcd did not answer on %s; see %s' % (client, self.log_path))

    def stop(self, sig=signal.SIGTERM):
        """Stop our etcd by its PID (SIGKILL: as a crash would)."""
        if not self.proc or self.proc.poll() is not None:
            return
        os.kill(self.proc.pid, sig)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)


class EtcdCluster:
    """``size`` members on loopback, data directories ``<base>/m1`` ... (members
    start together: a cluster needs a quorum before any member answers)."""

    def __init__(self, base, size=3):
        os.makedirs(base, exist_ok=True)
        self.members = [EtcdProcess('%s/m%d' % (base, n), name='m%d' % n)
                        for n in range(1, size + 1)]
        initial = ','.join('%s=%s' % (m.name, m.peer_url) for m in self.members)
        for m in self.members:
            m.initial_cluster = initial

    @property
    def url(self):
        """The store option naming every member."""
        return 'etcd://' + ','.join('127.0.0.1:%d' % m.client_port for m in self.members)

    def start(self, timeout=20):
        for m in self.members:
            m.start(wait=False)
        for m in self.members:
            m.wait_healthy(timeout)
        return self

    def stop(self, sig=signal.SIGTERM):
        for m in self.members:
            m.stop(sig)
