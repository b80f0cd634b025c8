"""The controller on its own: plain ryu-manager with the project's app and a
config file; vnetsec-dc connects to it with --controller, twice (the second run
finds the state the first one left)."""
import os
import subprocess
import sys

from mininet_topos.controller_proc import ControllerProcess, write_config
from mininet_topos.datacenter import _free_port


def test_ryu_manager_standalone_and_vnetsec_dc_connects(tmp_path):
    ofp_port, api_port = _free_port(6653), _free_port(8080)
    conf = str(tmp_path / 'vnetsec.conf')
    write_config(conf, str(tmp_path / 'state.db'), api_port, 'standalone-token', '0.0.0.0',
                 ofp_port)
    controller = ControllerProcess(conf, str(tmp_path / 'ryu.log'),
                                   'http://127.0.0.1:%d' % api_port, 'standalone-token')
    controller.start()
    try:
        dc = os.path.join(os.path.dirname(sys.executable), 'vnetsec-dc')
        env = dict(os.environ, VNETSEC_API_TOKEN='standalone-token')
        for _ in range(2):
            run = subprocess.run(
                [dc, '--racks', '1', '--hypervisors', '2', '--vms', '1',
                 '--controller', '127.0.0.1:%d' % ofp_port,
                 '--api', 'http://127.0.0.1:%d' % api_port, '-c', 'pingall'],
                env=env, capture_output=True, text=True, timeout=120)
            assert run.returncode == 0, run.stdout + run.stderr
            assert '0% dropped (2/2 received)' in run.stdout + run.stderr  # Mininet logs to stderr
        assert controller.proc.poll() is None                  # still serving
        assert len(controller.client.get('/v1/ports')) == 2   # reused, not duplicated
    finally:
        controller.stop()
