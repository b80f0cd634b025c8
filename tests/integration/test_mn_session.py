"""``mn --custom mininet_topos/datacenter.py --topo vnetsec,...`` through
``python -m mininet_topos.mn`` against a running controller: it pings, and when
it fails half-way it stops only what it built (Mininet's machine-wide cleanup,
which would delete any ``*-ethN`` link of the machine, never runs)."""
import os
import subprocess
import sys

import pytest

from mininet_topos.controller_proc import ControllerProcess, write_config
from mininet_topos import datacenter
from mininet_topos.datacenter import _free_mgmt_prefix, _free_port
from tests.integration.helpers import processes_mentioning, root_links

ADMIN, READER = 'mn-admin', 'mn-reader'
DATACENTER_FILE = datacenter.__file__          # what mn --custom loads


@pytest.fixture
def controller(tmp_path):
    ofp, api = _free_port(16653), _free_port(18080)
    conf = str(tmp_path / 'vnetsec.conf')
    write_config(conf, str(tmp_path / 'state.db'), api, ADMIN, '0.0.0.0', ofp)
    with open(conf, 'a') as f:
        f.write('api_reader_token = %s\n' % READER)
    proc = ControllerProcess(conf, str(tmp_path / 'ryu.log'), 'http://127.0.0.1:%d' % api, ADMIN)
    proc.start()
    yield proc, api, ofp
    proc.stop()


@pytest.fixture
def canary():
    """A link named as Mininet's cleanup would delete it."""
    name = 'vnc%d-eth9' % (os.getpid() % 10000)
    subprocess.run(['ip', 'link', 'add', name, 'type', 'veth', 'peer', 'name',
                    name.replace('-eth9', 'p')], check=True)
    yield name
    subprocess.run(['ip', 'link', 'del', name])


def mn_session(api, ofp, token, commands):
    prefix = _free_mgmt_prefix()
    mgmt = 'vnmn%d' % (os.getpid() % 10000)
    topo = ('vnetsec,racks=1,hypervisors=2,vms=1,api=http://127.0.0.1:%d,'
            'controller=tcp:%s.254:%d,mgmt_prefix=%s,mgmt_name=%s' % (api, prefix, ofp,
                                                                      prefix, mgmt))
    run = subprocess.run([sys.executable, '-m', 'mininet_topos.mn', '--custom', DATACENTER_FILE,
                          '--topo', topo, '--controller', 'none'],
                         input=commands, capture_output=True, text=True, timeout=180,
                         env=dict(os.environ, VNETSEC_API_TOKEN=token))
    return run, mgmt


def test_mn_custom_pings_against_a_running_controller(controller, canary):
    _, api, ofp = controller
    # the first round teaches the tunnels their next hops (Mininet's pingall sends one)
    run, mgmt = mn_session(api, ofp, ADMIN, "py __import__('time').sleep(3)\npingall\n"
                                            "pingall\nexit\n")
    out = run.stdout + run.stderr
    assert run.returncode == 0, out
    assert out.rsplit('*** Results:', 1)[1].startswith(' 0% dropped (2/2 received)'), out
    assert root_links(mgmt) == [] and root_links(canary) == [canary]


def test_a_session_failing_half_way_stops_only_what_it_built(controller, canary):
    proc, api, ofp = controller
    net = proc.client.post('/v1/networks', {'name': 'vxlan5000', 'kind': 'vxlan',
                                            'segmentation_id': 5000})
    for k in (1, 2):                      # the topology finds them; its switches then fail
        proc.client.post('/v1/ports', {'name': 'vm%d' % k, 'network_id': net['id'],
                                       'mac': '02:00:00:00:00:%02x' % k,
                                       'ips': ['10.0.0.%d' % k], 'device': 'tapvm%d' % k})
    run, mgmt = mn_session(api, ofp, READER, 'pingall\nexit\n')
    out = run.stdout + run.stderr
    assert run.returncode != 0 and 'stopping only what this session built' in out, out
    assert 'the reader token cannot write' in out, out
    assert root_links(mgmt) == [], out                   # its own links are gone
    assert root_links(canary) == [canary]                 # no machine-wide cleanup ran
    assert processes_mentioning('/tmp/vnetsec/mn-') == []
    assert not [d for d in os.listdir('/tmp/vnetsec') if d.startswith('mn-')]
