"""Start and stop one etcd member on loopback for the etcd store, by PID.

A private data directory and free ports; the same data directory and ports on
a restart, so the member comes back with its data and revisions."""
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
    def __init__(self, data_dir, log_path=None):
        self.data_dir = data_dir
        self.log_path = log_path or data_dir + '.log'
        self.client_port, self.peer_port = _any_free_port(), _any_free_port()
        self.proc = None

    @property
    def url(self):
        """The store option naming this member."""
        return 'etcd://127.0.0.1:%d' % self.client_port

    def start(self, timeout=15):
        client = 'http://127.0.0.1:%d' % self.client_port
        peer = 'http://127.0.0.1:%d' % self.peer_port
        with open(self.log_path, 'a') as log:
            self.proc = subprocess.Popen(
                [etcd_binary(), '--name', 'vnetsec', '--data-dir', self.data_dir,
                 '--listen-client-urls', client, '--advertise-client-urls', client,
                 '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer,
                 '--initial-cluster', 'vnetsec=' + peer,
                 '--max-txn-ops', str(MAX_TXN_OPS), '--max-request-bytes', str(32 << 20)],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
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
