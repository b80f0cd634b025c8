"""The docker-compose deployment: docker-compose.yml's 3 etcd members and 3
controller replicas built from the repository's Dockerfiles and started by
Debian's docker-compose 1.29 on a private dockerd (scripts/docker-engine.sh:
its own data root, no iptables, bridge or forwarding change; the images stay
cached there between runs), with secrets deploy/make-certs.sh makes for the run.
A small data center attached to the three replicas forwards exactly as its
networks say, every replica answers the same state; the deployment runs as
operators expect (controllers not root, every container healthy and restarting
unless stopped, etcd refusing plain-HTTP, certificate-less and unauthenticated
clients, a crashed controller back with nothing lost, its volume kept across a
recreate); Prometheus scrapes every replica with the token and a killed replica's
alert fires; and ``docker-compose down`` leaves no container, volume, process or
listening port."""
import json
import os
import re
import secrets
import shutil
import ssl
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from mininet_topos.client import Client
from mininet_topos.datacenter import DataCenter, _can_listen, _listener
from tests.integration.helpers import expected_pairs, reachability, running, vnetsec

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ENGINE = os.path.join(ROOT, 'scripts', 'docker-engine.sh')
MAKE_CERTS = os.path.join(ROOT, 'deploy', 'make-certs.sh')
PROJECT = 'vnetsectest'
SERVICES = ('etcd1', 'etcd2', 'etcd3', 'controller1', 'controller2', 'controller3',
            'prometheus')
ETCD_PORTS = (2379, 2380, 22379, 22380, 32379, 32380)
OFP_PORTS = (6653, 6654, 6655)
API_PORTS = (8081, 8082, 8083)
PROMETHEUS = 'http://127.0.0.1:9090'
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


def inspect(docker, container):
    return json.loads(docker('inspect', container))[0]


def wait_healthy(docker, containers, timeout=90):
    """Until docker says every one of ``containers`` is healthy: {container: status}."""
    deadline = time.time() + timeout
    while True:
        states = {c: inspect(docker, c)['State'].get('Health', {}).get('Status')
                  for c in containers}
        if all(state == 'healthy' for state in states.values()) or time.time() > deadline:
            return states
        time.sleep(0.5)


@pytest.fixture(scope='module')
def compose(tmp_path_factory, request):
    """The compose project up (built if needed) with this run's secrets, then down;
    the daemon stopped if this test started it. Yields (env, docker, compose_cmd,
    {service: container id})."""
    missing = [tool for tool in ('dockerd', 'docker', 'docker-compose', 'debootstrap')
               if not shutil.which(tool)]
    if missing:
        pytest.skip('no container engine here (%s missing): scripts/setup.sh installs '
                    "Debian 12's docker.io, docker-compose and debootstrap" % ', '.join(missing))
    busy = listeners(ETCD_PORTS + OFP_PORTS + API_PORTS + (9090,))
    assert not busy, 'docker-compose.yml needs these ports free: %s' % busy
    secrets_dir = str(tmp_path_factory.mktemp('compose') / 'secrets')
    made = subprocess.run([MAKE_CERTS, secrets_dir], capture_output=True, text=True)
    assert made.returncode == 0, made.stdout + made.stderr
    ours = 'running' not in engine('status')
    env = dict(os.environ, VNETSEC_API_TOKEN=secrets.token_hex(16),
               VNETSEC_EXTRA_CA_CERTS=extra_ca_certs(), VNETSEC_SECRETS=secrets_dir,
               DOCKER_HOST=engine('start').strip().split('=', 1)[1])
    for name in ('VNETSEC_OFP_CERT', 'VNETSEC_OFP_KEY', 'VNETSEC_OFP_CA', 'VNETSEC_API_CERT',
                 'VNETSEC_API_KEY'):
        env.pop(name, None)         # plain OpenFlow and HTTP: the lab attaches by TCP

    def compose_cmd(*args, timeout=120):
        return subprocess.run(['docker-compose', '-p', PROJECT] + list(args), cwd=ROOT,
                              env=env, capture_output=True, text=True, timeout=timeout)

    def docker(*args):
        return subprocess.run(['docker'] + list(args), env=env, capture_output=True,
                              text=True, timeout=60).stdout
    took = {}
    failed_before, started = request.session.testsfailed, False
    try:
        t0 = time.time()
        engine('base-image')
        up = compose_cmd('up', '-d', '--build', timeout=900)    # the first build: minutes
        assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-3000:]
        for port in API_PORTS:
            wait_api('http://127.0.0.1:%d' % port)
        took['up (base image, build, start)'] = time.time() - t0
        started = True
        t0 = time.time()
        containers = dict(line.split() for line in docker(
            'ps', '--format', '{{.Label "com.docker.compose.service"}} {{.ID}}',
            '--filter', 'label=com.docker.compose.project=' + PROJECT).splitlines())
        yield env, docker, compose_cmd, containers
        took['the tests'] = time.time() - t0
    finally:
        if not started or request.session.testsfailed > failed_before:  # what they said
            print(compose_cmd('logs', '--no-color', '--tail', '30').stdout[-20000:])
        t0 = time.time()
        before = listeners(ETCD_PORTS + OFP_PORTS + API_PORTS + (9090,))
        down = compose_cmd('down', '-v', '--remove-orphans')
        took['down'] = time.time() - t0
        left = {
            'containers': docker('ps', '-a', '-q', '--filter', 'label=com.docker.compose.project=' + PROJECT).split(),
            'volumes': docker('volume', 'ls', '-q', '--filter', 'label=com.docker.compose.project=' + PROJECT).split(),
            'listening': listeners(ETCD_PORTS + OFP_PORTS + API_PORTS + (9090,)),
            'processes': running(pids_of(before), wait=10),
        }
        if ours:
            engine('stop')
        shutil.rmtree(secrets_dir, ignore_errors=True)
        print('compose test: %s' % ', '.join('%s %.1f s' % item for item in took.items()))
        assert down.returncode == 0, down.stdout + down.stderr
        assert not any(left.values()), 'docker-compose down left %s' % left


def operator(env):
    """``vnetsec --api URL ...`` of one replica, with the deployment's token from the
    environment as an operator has it (export VNETSEC_API_TOKEN=...); asserts it
    exits 0, returns its output (decoded when -f json)."""
    def run(port, line):
        code, out, err = vnetsec('--api http://127.0.0.1:%d %s' % (port, line), env)
        assert code == 0, (line, code, out, err)
        return out
    return run


def test_compose_cluster_runs_a_data_center(compose):
    env, docker, _, _ = compose
    token = env['VNETSEC_API_TOKEN']
    vnetsec_at = operator(env)
    names = docker('ps', '--format', '{{.Names}} {{.Status}}', '--filter',
                   'label=com.docker.compose.project=' + PROJECT)
    assert len(names.splitlines()) == 7, names  # 3 etcd members, 3 replicas, prometheus
    with DataCenter(racks=2, hypervisors=1, vms=2, networks='vlan:10,vxlan:5000',
                    controller=','.join('127.0.0.1:%d' % p for p in OFP_PORTS),
                    api_url='http://127.0.0.1:%d' % API_PORTS[0], token=token) as dc:
        network_of = dc.topo.network_of_vm
        assert reachability(dc) == expected_pairs(
            dc, lambda a, b: network_of[a.name] == network_of[b.name])
        dpids = {sw.dpid_int for sw in dc.switches()}
        masters = {}
        for port in API_PORTS:      # every switch is connected to every replica
            status = vnetsec_at(port, 'status -f json')
            assert {int(dpid, 16) for dpid in status['switches']} == dpids, port
            assert len(status['replicas']) == 3, status['replicas']
            masters[port] = {d: s['master'] for d, s in status['switches'].items()}
        assert masters[API_PORTS[0]] == masters[API_PORTS[1]] == masters[API_PORTS[2]]
        assert None not in masters[API_PORTS[0]].values()
        shown = vnetsec_at(API_PORTS[1], 'controllers')
        assert len(re.findall(r'^\S+ +lease +http', shown, re.M)) == 3, shown
        for switch in dc.switches():
            assert re.search(r'^%s +\S+ +\d+$' % switch.name, shown, re.M), shown
        assert vnetsec('--api http://127.0.0.1:%d status --check' % API_PORTS[2], env)[0] == 0

        # made through one replica with the operator's command, read from the others
        vnetsec_at(API_PORTS[1], 'network create ops --kind vxlan')
        vnetsec_at(API_PORTS[1], 'sg create ops-web zone web')
        vnetsec_at(API_PORTS[1], 'sg rule add ops-web ingress tcp 443 from zone app')
        vnetsec_at(API_PORTS[1], 'port create ops --mac 02:00:00:00:99:01 --device tapops1 '
                                 '--ip 10.99.0.1 --group ops-web')
        states = [json.dumps([vnetsec_at(port, '%s list -f json' % kind)
                              for kind in ('network', 'port', 'sg')], sort_keys=True)
                  for port in API_PORTS]
        assert states[0] == states[1] == states[2]
        networks, ports, groups = json.loads(states[0])
        assert len(ports) == len(dc.net.hosts) + 1
        assert any(r['port_range_min'] == 443 for g in groups if g['name'] == 'ops-web'
                   for r in g['rules'])
        for line in ('port delete tapops1', 'sg delete ops-web', 'network delete ops'):
            vnetsec_at(API_PORTS[2], line)
        assert len(vnetsec_at(API_PORTS[0], 'port list -f json')) == len(dc.net.hosts)


def etcd_post(path, body, context=None, token=None, port=2379, scheme='https'):
    """(status, decoded answer or error text) of a call to etcd's JSON gateway."""
    req = urllib.request.Request('%s://127.0.0.1:%d/v3/%s' % (scheme, port, path),
                                 json.dumps(body).encode(), method='POST')
    if token:
        req.add_header('Authorization', token)
    try:
        with urllib.request.urlopen(req, timeout=5, context=context) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors='replace')


def test_compose_runs_as_operators_expect(compose):
    env, docker, compose_cmd, containers = compose
    assert sorted(containers) == sorted(SERVICES)
    states = wait_healthy(docker, containers.values())
    assert set(states.values()) == {'healthy'}, states
    for service, container in containers.items():
        info = inspect(docker, container)
        assert info['HostConfig']['RestartPolicy']['Name'] == 'unless-stopped', service
        uid = docker('exec', container, 'id', '-u').strip()
        assert uid and uid != '0', (service, uid)
        if service.startswith('controller'):
            assert uid == '10001' and info['Config']['User'] == 'vnetsec'
            volumes = {m['Destination']: m for m in info['Mounts'] if m['Type'] == 'volume'}
            assert volumes['/var/lib/vnetsec']['Name'] == '%s_vnetsec%s' % (PROJECT, service[-1])

    # /healthz: no token, nothing but liveness
    with urllib.request.urlopen('http://127.0.0.1:8082/healthz', timeout=5) as resp:
        assert (resp.status, json.loads(resp.read())) == (200, {'status': 'ok'})

    # etcd: TLS with a client certificate of the deployment's CA, and a login
    pki = os.path.join(env['VNETSEC_SECRETS'], 'controller')
    password = open(os.path.join(pki, 'etcd.password')).read().strip()
    anonymous = ssl.create_default_context(cafile=os.path.join(pki, 'ca.pem'))
    client = ssl.create_default_context(cafile=os.path.join(pki, 'ca.pem'))
    client.load_cert_chain(os.path.join(pki, 'etcd-client.pem'),
                           os.path.join(pki, 'etcd-client.key'))
    key = {'key': 'L3ZuZXRzZWMv', 'range_end': 'L3ZuZXRzZWMw'}        # /vnetsec/...
    for port in (2379, 22379, 32379):
        with pytest.raises(OSError):            # plain HTTP: no answer
            etcd_post('kv/range', key, port=port, scheme='http')
        with pytest.raises(OSError):            # no client certificate: no handshake
            etcd_post('kv/range', key, context=anonymous, port=port)
        status, why = etcd_post('kv/range', key, context=client, port=port)  # no login
        # etcd 3.4 says 'permission denied' to a certificate without a user in it
        assert status in (400, 401, 403) and ('user name is empty' in why
                                              or 'permission denied' in why), (status, why)
        assert etcd_post('auth/authenticate', {'name': 'vnetsec', 'password': 'wrong'},
                         context=client, port=port)[0] == 400
        status, login = etcd_post('auth/authenticate', {'name': 'vnetsec', 'password': password},
                                  context=client, port=port)
        assert status == 200
        assert etcd_post('kv/range', key, context=client, token=login['token'],
                         port=port)[0] == 200
        status, why = etcd_post('kv/range', {'key': 'L290aGVy'}, context=client,  # /other
                                token=login['token'], port=port)
        assert status == 403 and 'permission denied' in why

    # state made before a crash and a recreate: a network, and its line in the audit log
    token = env['VNETSEC_API_TOKEN']
    replica = Client('http://127.0.0.1:8081', token)
    network = operator(env)(8081, 'network create kept -f json')
    audit = '/var/lib/vnetsec/vnetsec.db.audit.log'
    logged = docker('exec', containers['controller1'], 'cat', audit)
    assert '"path": "/v1/networks"' in logged

    # the controller crashes (its process killed, not `docker kill`: that is a stop by
    # hand, which unless-stopped respects): its restart policy brings it back
    init_pid = inspect(docker, containers['controller1'])['State']['Pid']
    with open('/proc/%d/task/%d/children' % (init_pid, init_pid)) as f:
        controller_pid = int(f.read().split()[0])       # ryu-manager, under init: true
    with open('/proc/%d/cmdline' % controller_pid) as f:
        assert 'ryu-manager' in f.read()
    t0 = time.time()
    os.kill(controller_pid, 9)
    deadline = time.time() + 60
    while True:
        state = inspect(docker, containers['controller1'])
        if state['RestartCount'] >= 1 and state['State']['Running']:
            break
        assert time.time() < deadline, state['State']
        time.sleep(0.2)
    wait_api(replica.url)
    back = time.time() - t0
    assert replica.get('/v1/networks/%s' % network['id']) == network
    assert docker('exec', containers['controller1'], 'cat', audit).startswith(logged)
    assert wait_healthy(docker, [containers['controller1']])[containers['controller1']] == 'healthy'

    # recreated (a new container, as after an image update): the volume keeps its files
    recreated = compose_cmd('up', '-d', '--no-deps', '--force-recreate', 'controller1')
    assert recreated.returncode == 0, recreated.stdout + recreated.stderr
    new = docker('ps', '-q', '--no-trunc', '--filter', 'label=com.docker.compose.project=' + PROJECT,
                 '--filter', 'label=com.docker.compose.service=controller1').split()
    assert len(new) == 1 and not new[0].startswith(containers['controller1'])
    wait_api(replica.url)
    assert replica.get('/v1/networks/%s' % network['id']) == network
    assert docker('exec', new[0], 'cat', audit).startswith(logged)
    print('compose test: a killed controller answered again after %.1f s' % back)


def prometheus(path):
    with urllib.request.urlopen(PROMETHEUS + path, timeout=5) as resp:
        return json.loads(resp.read())['data']


def replica_down_alerts():
    return {a['labels']['instance']: a['state'] for a in prometheus('/api/v1/alerts')['alerts']
            if a['labels']['alertname'] == 'VnetsecReplicaDown'}


def wait_until(what, test, seconds=90):
    deadline = time.time() + seconds
    while True:
        try:
            got = what()
        except OSError as e:            # Prometheus starting
            got = e
        if not isinstance(got, OSError) and test(got):
            return got
        assert time.time() < deadline, got
        time.sleep(1)


def test_prometheus_scrapes_every_replica_and_a_killed_one_fires_its_alert(compose):
    env, docker, compose_cmd, containers = compose
    targets = wait_until(lambda: prometheus('/api/v1/targets')['activeTargets'],
                         lambda ts: len(ts) == 3 and all(t['health'] == 'up' for t in ts))
    assert {t['labels']['instance'] for t in targets} == {'127.0.0.1:%d' % p
                                                          for p in API_PORTS}
    series = prometheus('/api/v1/query?query=vnetsec_switches')['result']
    assert {s['metric']['instance'] for s in series} == {t['labels']['instance']
                                                         for t in targets}
    assert prometheus('/api/v1/rules')['groups'][0]['name'] == 'vnetsec'
    assert 'firing' not in replica_down_alerts().values()
    t0 = time.time()
    killed = compose_cmd('kill', 'controller3')     # a stop by hand: it stays down
    assert killed.returncode == 0, killed.stdout + killed.stderr
    alerts = wait_until(replica_down_alerts, lambda a: a.get('127.0.0.1:8083') == 'firing')
    fired = time.time() - t0
    assert set(alerts) == {'127.0.0.1:8083'}
    started = compose_cmd('start', 'controller3')
    assert started.returncode == 0, started.stdout + started.stderr
    wait_api('http://127.0.0.1:8083')
    wait_until(replica_down_alerts, lambda a: not a)
    print('compose test: the killed replica\'s alert fired after %.1f s' % fired)
