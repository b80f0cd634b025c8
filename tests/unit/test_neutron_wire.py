"""The real clients against /v2.0 without a data center: the API served on a
loopback port (wsgiref, a thread of this test), the `openstack` CLI and the
openstacksdk scenario of the integration test run as processes against it,
configured as README says. What they send is what vnetsec understands."""
import json
import os
import subprocess
import sys
import threading
from wsgiref.simple_server import WSGIRequestHandler, make_server

import pytest

import controller.api.neutron  # noqa: F401 - mounts /v2.0
from controller.api.v1 import Api

BIN = os.path.dirname(sys.executable)
SCENARIO = os.path.join(os.path.dirname(__file__), '..', 'integration',
                        'neutron_sdk_scenario.py')


class Quiet(WSGIRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def endpoint(service):
    server = make_server('127.0.0.1', 0, Api(service, token='secret'), handler_class=Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield 'http://127.0.0.1:%d' % server.server_port
    server.shutdown()
    server.server_close()


def openstack(endpoint, *args, env=None):
    run = subprocess.run([os.path.join(BIN, 'openstack')] + list(args), capture_output=True,
                         text=True, timeout=60, env=dict(os.environ, OS_AUTH_TYPE='admin_token',
                                                         OS_ENDPOINT=endpoint, OS_TOKEN='secret',
                                                         **(env or {})))
    assert run.returncode == 0, ' '.join(args) + '\n' + run.stdout + run.stderr
    return json.loads(run.stdout) if '-f' in args else run.stdout


def test_the_cli(endpoint, service):
    net = openstack(endpoint, 'network', 'create', '--provider-network-type', 'vlan',
                    '--provider-segment', '42', '--provider-physical-network', 'physnet1',
                    'blue', '-f', 'json')
    assert (net['provider:network_type'], net['provider:segmentation_id']) == ('vlan', 42)
    openstack(endpoint, 'subnet', 'create', '--network', 'blue', '--subnet-range',
              '10.1.0.0/24', '--allocation-pool', 'start=10.1.0.10,end=10.1.0.20', 'b4')
    openstack(endpoint, 'security', 'group', 'create', 'ssh')
    rule = openstack(endpoint, 'security', 'group', 'rule', 'create', '--protocol', 'tcp',
                     '--dst-port', '22', '--remote-group', 'ssh', 'ssh', '-f', 'json')
    port = openstack(endpoint, 'port', 'create', '--network', 'blue', '--host', 'hv1',
                     '--no-security-group', 'p1', '-f', 'json')
    assert port['fixed_ips'][0]['ip_address'] == '10.1.0.10' and port['status'] == 'DOWN'
    openstack(endpoint, 'port', 'set', '--security-group', 'ssh', 'p1')
    stored = service.get_port(port['id'].replace('-', ''))
    assert stored.security_groups == [service.get_group('ssh').id]
    assert stored.device == 'tap' + port['id'][:11] and stored.host == 'hv1'
    listed = openstack(endpoint, 'port', 'list', '--network', 'blue', '-f', 'json')
    assert [p['ID'] for p in listed] == [port['id']]
    assert [p['ID'] for p in openstack(endpoint, 'port', 'list', '--fixed-ip',
                                       'ip-address=10.1.0.10', '-f', 'json')] == [port['id']]
    assert rule['id'] in {r['ID'] for r in openstack(
        endpoint, 'security', 'group', 'rule', 'list', 'ssh', '-f', 'json')}
    assert {g['Name'] for g in openstack(endpoint, 'security', 'group', 'list',
                                         '-f', 'json')} == {'default', 'ssh'}
    openstack(endpoint, 'security', 'group', 'rule', 'delete', rule['id'])
    openstack(endpoint, 'port', 'delete', 'p1')
    openstack(endpoint, 'security', 'group', 'delete', 'ssh')
    openstack(endpoint, 'network', 'delete', 'blue')
    assert service.store.list('network') == [] and service.store.list('subnet') == []


def test_the_sdk_scenario(endpoint, service):
    def sdk(*args):
        run = subprocess.run([sys.executable, SCENARIO, args[0], endpoint, 'secret']
                             + list(args[1:]), capture_output=True, text=True, timeout=60)
        assert run.returncode == 0, run.stdout + run.stderr
        return json.loads(run.stdout)
    made = sdk('create', 'hv1', 'hv2')
    assert made['segment'] == 31 and [p['ip'] for p in made['ports']] == ['10.31.0.100',
                                                                          '10.31.0.101']
    assert all(p['groups'] == [made['group']] for p in sdk('open')['ports'])
    assert len(sdk('close')['deleted']) == 1
    assert sdk('delete') == {'networks': [], 'groups': ['default']}
    assert service.store.list('port') == []
