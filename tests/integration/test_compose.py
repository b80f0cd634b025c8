"""The docker-compose deployment: docker-compose.yml's 3 etcd members and 3
controller replicas built from the repository's Dockerfiles and started by
Debian's docker-compose 1.29 on a private dockerd (scripts/docker-engine.sh:
its own data root, no iptables, bridge or forwarding change; the images stay
cached there between runs). A small data center attached to the three replicas
forwards exactly as its networks say, every replica answers the same state, and
``docker-compose down`` leaves no container, volume, process or listening port."""
import json
import os
import re
import secrets
import shutil
import subprocess
import time
import urllib.request

import pytest

from mininet_topos.client import Client
from mininet_topos.datacenter import DataCenter, _can_listen, _listener
from tests.integration.helpers import expected_pairs, reachability, running

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ENGINE = os.path.join(ROOT, 'scripts', 'docker-engine.sh')
PROJECT = 'vnetsectest'
ETCD_PORTS = (2379, 2380, 22379, 22380, 32379, 32380)
OFP_PORTS = (6653, 6654, 6655)
API_PORTS = (8081, 8082, 8083)
LOCAL_CA = '/usr/local/share/ca-certificates'


def engine(*args):
    done = subprocess.run([ENGINE] + list(args), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, 'docker-engine.sh %s: %s%s' % (' '.join(args), done.stdout,
                                                                done.stderr)
    return done.stdout


def extra_ca_certs():
    """The CAs this machine added (a TLS-inspecting proxy's): pip in the build needs them."""
    if not os.path.isdir(LOCAL_CA):
        return ''
    return ''.join(open(os.path.join(LOCAL_CA, name)).read()
                   for name in sorted(os.listdir(LOCAL_CA)) if name.endswith('.crt'))


def listeners(ports):
    """{port: 'name pid N'} of the given TCP ports something listens on."""
    return {port: _listener(port) or 'something' for port in ports if not _can_listen(port)}


def pids_of(listening):
    return [int(m) for text in listening.values() for m in re.findall(r'pid (\d+)', text)]


def wait_api(url, timeout=60):
    deadline = time.time() + timeout
    while True:
        try:
            urllib.request.urlopen(url + '/v1/openapi.json', timeout=2).read()
            return
        except OSError:
            if time.time() > deadline:
                raise
            time.sleep(0.2)


@pytest.fixture
def compose(tmp_path):
    """The compose project up (built if needed), then down; the daemon stopped if
    this test started it."""
    missing = [tool for tool in ('dockerd', 'docker', 'docker-compose', 'debootstrap')
               if not shutil.which(tool)]
    if missing:
        pytest.skip('no container engine here (%s missing): scripts/setup.sh installs '
                    "Debian 12's docker.io, docker-compose and debootstrap" % ', '.join(missing))
    busy = listeners(ETCD_PORTS + OFP_PORTS + API_PORTS)
    assert not busy, 'docker-compose.yml needs these ports free: %s' % busy
    ours = 'running' not in engine('status')
    env = dict(os.environ, VNETSEC_API_TOKEN=secrets.token_hex(16),
               VNETSEC_EXTRA_CA_CERTS=extra_ca_certs(),
               DOCKER_HOST=engine('start').strip().split('=', 1)[1])

    def compose_cmd(*args, timeout=120):
        return subprocess.run(['docker-compose', '-p', PROJECT] + list(args), cwd=ROOT,
                              env=env, capture_output=True, text=True, timeout=timeout)

    def docker(*args):
        return subprocess.run(['docker'] + list(args), env=env, capture_output=True,
                              text=True, timeout=60).stdout
    took = {}
    try:
        t0 = time.time()
        engine('base-image')
        up = compose_cmd('up', '-d', '--build', timeout=900)    # the first build: minutes
        assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-3000:]
        for port in API_PORTS:
            wait_api('http://127.0.0.1:%d' % port)
        took['up (base image, build, start)'] = time.time() - t0
        t0 = time.time()
        yield env, docker
        took['the data center'] = time.time() - t0
    finally:
        t0 = time.time()
        before = listeners(ETCD_PORTS + OFP_PORTS + API_PORTS)
        down = compose_cmd('down', '-v', '--remove-orphans')
        took['down'] = time.time() - t0
        left = {
            'containers': docker('ps', '-a', '-q', '--filter', 'label=com.docker.compose.project=' + PROJECT).split(),
            'volumes': docker('volume', 'ls', '-q', '--filter', 'label=com.docker.compose.project=' + PROJECT).split(),
            'listening': listeners(ETCD_PORTS + OFP_PORTS + API_PORTS),
            'processes': running(pids_of(before), wait=10),
        }
        if ours:
            engine('stop')
        print('compose test: %s' % ', '.join('%s %.1f s' % item for item in took.items()))
        assert down.returncode == 0, down.stdout + down.stderr
        assert not any(left.values()), 'docker-compose down left %s' % left


def test_compose_cluster_runs_a_data_center(compose):
    env, docker = compose
    token = env['VNETSEC_API_TOKEN']
    names = docker('ps', '--format', '{{.Names}} {{.Status}}', '--filter',
                   'label=com.docker.compose.project=' + PROJECT)
    assert len(names.splitlines()) == 6, names          # 3 etcd members, 3 replicas
    replicas = [Client('http://127.0.0.1:%d' % port, token) for port in API_PORTS]
    with DataCenter(racks=2, hypervisors=1, vms=2, networks='vlan:10,vxlan:5000',
                    controller=','.join('127.0.0.1:%d' % p for p in OFP_PORTS),
                    api_url=replicas[0].url, token=token) as dc:
        network_of = dc.topo.network_of_vm
        assert reachability(dc) == expected_pairs(
            dc, lambda a, b: network_of[a.name] == network_of[b.name])
        dpids = {sw.dpid_int for sw in dc.switches()}
        for replica in replicas:      # every switch is connected to every replica
            switches = replica.get('/v1/status')['switches']
            assert {int(dpid, 16) for dpid in switches} == dpids, replica.url
        states = [json.dumps([replica.get(path) for path in
                              ('/v1/networks', '/v1/ports', '/v1/security-groups')],
                             sort_keys=True) for replica in replicas]
        assert states[0] == states[1] == states[2]
        assert len(json.loads(states[0])[1]) == len(dc.net.hosts)
