"""Several controllers for one data center: a local etcd cluster and N
``ryu-manager`` replicas sharing it (``vnetsec-dc --controllers N``).

Everything lives in the run directory: ``etcd/m1..m3`` (data, logs, PID files),
``c1..cN`` (each replica's config, log, token and audit files, PID file), so
the run's teardown and ``--cleanup`` find every process. Each replica has its
own OpenFlow and API port; every switch is pointed at all of them
(:attr:`targets`), and they agree through etcd on one master per switch.
"""
import os
import signal

from controller.state.private_files import copy_private
from mininet_topos.client import ApiError, Client
from mininet_topos.controller_proc import ControllerProcess, write_config
from mininet_topos.etcd_proc import EtcdCluster


class FailoverClient(Client):
    """A REST client that asks the first replica that answers (any replica
    answers the same; writes go to etcd)."""

    def __init__(self, replicas, token):
        super().__init__(replicas.controllers[0].client.url, token)
        self.replicas = replicas

    def call(self, method, path, body=None, timeout=10, wait=False):
        error = None
        for n in self.replicas.running():
            self.url = self.replicas.controllers[n - 1].client.url
            try:
                return super().call(method, path, body, timeout, wait)
            except ApiError:
                raise
            except OSError as e:        # that replica is gone or frozen: the next one
                error = e
        raise error or OSError('no controller replica is running')


class Replicas:
    def __init__(self, rundir, count, token, ofp_host, free_port, apps, options=None,
                 etcd_members=3):
        self.rundir, self.count, self.token = rundir, count, token
        self.ofp_host = ofp_host
        self.etcd = EtcdCluster(rundir + '/etcd', etcd_members)
        self.controllers, self.ofp_ports = [], []
        self.frozen = set()     # numbers of the replicas stopped with SIGSTOP
        for n in range(1, count + 1):
            home = '%s/c%d' % (rundir, n)
            os.makedirs(home, mode=0o700, exist_ok=True)
            ofp_port, api_port = free_port(6653 + n - 1), free_port(8080 + n - 1)
            write_config(home + '/vnetsec.conf', home + '/vnetsec.db', api_port, token,
                         ofp_host, ofp_port, store=self.etcd.url,
                         options=dict({'replica_name': 'c%d' % n}, **(options or {})))
            self.controllers.append(ControllerProcess(
                home + '/vnetsec.conf', home + '/controller.log',
                'http://127.0.0.1:%d' % api_port, token, apps=apps))
            self.ofp_ports.append(ofp_port)
        self.client = FailoverClient(self, token)

    @property
    def targets(self):
        """The switches' controller targets: every replica."""
        return ' '.join('tcp:%s:%d' % (self.ofp_host, port) for port in self.ofp_ports)

    def start(self):
        self.etcd.start()
        for c in self.controllers:      # together: they share the switches from the start
            c.spawn()
        for c in self.controllers:
            c.wait_up(40)
        return self

    def running(self):
        """Numbers (from 1) of the replicas whose process runs (and is not frozen)."""
        return [n for n, c in enumerate(self.controllers, 1)
                if c.proc is not None and c.proc.poll() is None and n not in self.frozen]

    def controller(self, n):
        if not 1 <= n <= self.count:
            raise ValueError('controller number must be 1 to %d, not %r' % (self.count, n))
        return self.controllers[n - 1]

    def kill(self, n, sig=signal.SIGKILL):
        """Stop replica ``n`` as a crash would (SIGKILL), or freeze it (SIGSTOP)."""
        c = self.controller(n)
        if sig in (signal.SIGSTOP, signal.SIGCONT):
            os.killpg(c.pid, sig)
            (self.frozen.add if sig == signal.SIGSTOP else self.frozen.discard)(n)
        else:
            c.stop(sig)
            self.frozen.discard(n)

    def start_one(self, n):
        c = self.controller(n)
        if c.proc is None or c.proc.poll() is not None:
            c.start()

    def statuses(self):
        """{replica number: its /v1/status} of the running replicas that answer."""
        out = {}
        for n in self.running():
            try:
                out[n] = self.controllers[n - 1].client.call('GET', '/v1/status', timeout=3)
            except (OSError, ApiError):
                pass
        return out

    def stop(self):
        try:
            for n in sorted(self.frozen):      # a frozen process would not hear SIGTERM
                self.kill(n, signal.SIGCONT)
            for n, c in enumerate(self.controllers, 1):
                c.stop()
                if os.path.exists(c.log_path):     # kept after the run directory goes
                    copy_private(c.log_path, '%s/last-replica-c%d.log'
                                 % (os.path.dirname(self.rundir), n))
        finally:
            self.etcd.stop()
