"""Start and stop a controller running the vnetsec apps, by PID: ``ryu-manager``
where the runtime is Ryu, ``vnetsec-controller`` where it is os-ken (which has
no launcher of its own; docs/runtime.md)."""
import os
import signal
import subprocess
import sys
import time

from controller.state.private_files import ensure_private
from mininet_topos.client import ApiError, Client

APPS = ('vlan', 'vxlan', 'firewall')     # the vnetsec apps (apps.<name>), all by default


def controller_command():
    """The launcher of this environment: ``ryu-manager`` if Ryu installed it,
    else the project's ``vnetsec-controller`` (the same options and apps)."""
    bin_dir = os.path.dirname(sys.executable)
    ryu_manager = os.path.join(bin_dir, 'ryu-manager')
    if os.path.exists(ryu_manager):
        return ryu_manager
    return os.path.join(bin_dir, 'vnetsec-controller')


def write_config(path, db_path, api_port, token, ofp_host, ofp_port, tls=None, store=None,
                 options=None):
    """A controller config file, 0600 (it holds the API token). ``ofp_host``
    None: the app's default listener (127.0.0.1). ``tls`` = (key, certificate,
    CA certificate): OpenFlow over TLS only, on ``ofp_port``, switches must
    present a certificate that CA signed. ``store``: the store option (default
    the SQLite file ``db_path``), e.g. etcd://127.0.0.1:2379."""
    lines = ['[DEFAULT]']
    if ofp_host is not None:
        lines.append('ofp_listen_host = %s' % ofp_host)
    if tls:
        lines += ['ofp_ssl_listen_port = %d' % ofp_port, 'ctl_privkey = %s' % tls[0],
                  'ctl_cert = %s' % tls[1], 'ca_certs = %s' % tls[2]]
    else:
        lines.append('ofp_tcp_listen_port = %d' % ofp_port)
    lines += ['', '[vnetsec]', 'db_path = %s' % db_path, 'api_host = 127.0.0.1',
              'api_port = %d' % api_port, 'api_token = %s' % token]
    if tls:                 # the agents too: mutual TLS with the same lab CA
        lines.append('agent_tls = true')
    if store:
        lines.append('store = %s' % store)
    lines += ['%s = %s' % item for item in sorted((options or {}).items())]  # [vnetsec] ones
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)          # also when the file was there before
    with os.fdopen(fd, 'w') as f:
        f.write('\n'.join(lines) + '\n')


class ControllerProcess:
    def __init__(self, config_path, log_path, api_url, token, apps=APPS):
        self.config_path, self.log_path = config_path, log_path
        self.apps = ['apps.%s' % name for name in apps]
        self.client = Client(api_url, token)
        self.proc = None

    def start(self, timeout=20):
        self.spawn()
        self.wait_up(timeout)

    def spawn(self):
        """Start the process (:meth:`wait_up` waits for its API): replicas
        started together see each other before claiming switches."""
        ensure_private(self.log_path)        # 0600: the log names the token's file
        log = open(self.log_path, 'a')
        self.proc = subprocess.Popen([controller_command(), '--config-file', self.config_path]
                                     + self.apps,
                                     stdout=log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        # for --cleanup after a crash of the process that started it
        with open(os.path.join(os.path.dirname(self.config_path), 'controller.pid'), 'w') as f:
            f.write('%d\n' % self.proc.pid)

    def wait_up(self, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError('%s exited (%s); see %s'
                                   % (os.path.basename(controller_command()),
                                      self.proc.returncode, self.log_path))
            try:
                self.client.get('/v1/openapi.json')     # needs no token
                return
            except (OSError, ApiError):
                time.sleep(0.1)
        raise RuntimeError('the controller API did not come up; see %s' % self.log_path)

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def stop(self, sig=signal.SIGTERM):
        """Stop our controller (its process group: the controller has no children
        of its own, but the group is ours alone)."""
        if not self.proc or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, sig)
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)
