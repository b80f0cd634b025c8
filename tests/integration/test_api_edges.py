"""The API's edges, on a real ryu-manager with no switches: its contract checked
by a schema-driven fuzzer (Schemathesis, every check, writes included so 201
and 204 paths run), a thousand clients that never finish their headers, and a
token it generates itself."""
import os
import resource
import socket
import stat
import subprocess
import sys
import time

import pytest

from mininet_topos.client import ApiError, Client

from mininet_topos.controller_proc import ControllerProcess, controller_command, write_config
from mininet_topos.datacenter import _free_port

TOKEN = 'contract-token'
# a conflict (409) is state, not data: a valid body can meet an existing name
CONFIG = '[checks.positive_data_acceptance]\nexpected-statuses = ["2xx", "401", "403", ' \
         '"404", "409"]\n' \
    '[[operations]]\ninclude-name = "POST /v1/security-groups/{id}/rules"\n' \
    '[operations.checks.positive_data_acceptance]\n' \
    'expected-statuses = ["2xx", "400", "401", "403", "404", "409"]\n'
# ... except that a rule's port_range_max below its port_range_min is a 400 no JSON
# Schema can say (it cannot compare two fields)


def start_controller(tmp_path, token=TOKEN):
    api_port = _free_port(18080)
    conf = str(tmp_path / 'vnetsec.conf')
    write_config(conf, str(tmp_path / 'state.db'), api_port, token, '127.0.0.1',
                 _free_port(16653))
    proc = ControllerProcess(conf, str(tmp_path / 'ryu.log'),
                             'http://127.0.0.1:%d' % api_port, token)
    proc.start()
    return proc, 'http://127.0.0.1:%d' % api_port


@pytest.fixture
def controller(tmp_path):
    proc, url = start_controller(tmp_path)
    yield url
    proc.stop()


# /v2.0 (Neutron's API): a valid body can also meet Neutron's own state-dependent
# 400s (an address in no subnet of the network, a CIDR overlapping another
# subnet), which no schema can say; every other check is the same as /v1's
CONFIG_V2 = CONFIG.replace('"2xx", ', '"2xx", "400", ')


def schemathesis(url, tmp_path, *args, document='/v1/openapi.json', config_text=CONFIG,
                 auth='Authorization: Bearer ' + TOKEN):
    config = tmp_path / 'schemathesis.toml'
    config.write_text(config_text)
    st = os.path.join(os.path.dirname(sys.executable), 'st')
    run = subprocess.run(
        [st, '--config-file', str(config), 'run', url + document, '--url', url,
         '-H', auth, '--checks', 'all', '--max-examples', '15',
         '--workers', '1', '--no-color', '--seed', '1'] + list(args),
        capture_output=True, text=True, timeout=600, cwd=str(tmp_path))
    return run.returncode, run.stdout[-6000:] + run.stderr[-2000:]


def test_schemathesis_finds_nothing(controller, tmp_path):
    # every operation, every phase, except the bulk port create below
    code, out = schemathesis(controller, tmp_path, '--exclude-operation-id', 'create_port')
    assert code == 0, out
    # POST /v1/ports: its coverage phase builds 5,000-port bodies (the declared
    # maximum) for minutes; examples and fuzzing cover it, single and bulk
    code, out = schemathesis(controller, tmp_path, '--include-operation-id', 'create_port',
                             '--phases', 'examples,fuzzing')
    assert code == 0, out


def test_schemathesis_finds_nothing_on_the_neutron_api(controller, tmp_path):
    """/v2.0 as /v1 above, its token in X-Auth-Token as keystoneauth sends it."""
    code, out = schemathesis(controller, tmp_path, document='/v2.0/openapi.json',
                             config_text=CONFIG_V2, auth='X-Auth-Token: ' + TOKEN)
    assert code == 0, out


def open_fds(pid):
    return len(os.listdir('/proc/%d/fd' % pid))


def test_a_thousand_idle_connections_do_not_stall_it(tmp_path):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4096)), hard))
    proc, url = start_controller(tmp_path)
    try:
        client = Client(url, TOKEN)
        client.get('/v1/status')
        before = open_fds(proc.pid)
        idle = []
        for _ in range(1100):                 # connected, headers never finished
            sock = socket.create_connection(('127.0.0.1', int(url.rsplit(':', 1)[1])))
            sock.sendall(b'GET /v1/status HTTP/1.1\r\nHost: x\r\n')
            idle.append(sock)
        time.sleep(0.5)
        t0 = time.time()
        assert client.get('/v1/networks') == []
        assert time.time() - t0 < 2.0
        for sock in idle:
            sock.close()
        deadline = time.time() + 10
        while open_fds(proc.pid) > before and time.time() < deadline:
            time.sleep(0.1)
        assert open_fds(proc.pid) <= before          # nothing leaked
    finally:
        proc.stop()


def test_a_generated_token_is_private_kept_and_reads_need_it(tmp_path):
    proc, url = start_controller(tmp_path, token='')
    token_file = tmp_path / 'state.db.token'
    try:
        token = token_file.read_text().strip()
        assert stat.S_IMODE(os.stat(token_file).st_mode) == 0o600
        for path in ('state.db', 'state.db.audit.log'):
            assert stat.S_IMODE(os.stat(tmp_path / path).st_mode) == 0o600
        with pytest.raises(ApiError) as err:
            Client(url).get('/v1/ports')
        assert err.value.status == 401
        Client(url, token).post('/v1/networks', {'name': 'n1'})
    finally:
        proc.stop()
    proc, url = start_controller(tmp_path, token='')
    try:
        assert token_file.read_text().strip() == token            # kept across restarts
        assert [n['name'] for n in Client(url, token).get('/v1/networks')] == ['n1']
        audit = (tmp_path / 'state.db.audit.log').read_text()
        assert '"method": "POST", "path": "/v1/networks", "role": "admin", "status": 201' \
            in audit
    finally:
        proc.stop()


def test_the_api_over_https(tmp_path):
    import ssl
    import urllib.request
    from mininet_topos.tls import LabCA
    key, cert, ca = LabCA(str(tmp_path / 'pki')).credentials('api')
    api_port = _free_port(18443)
    conf = str(tmp_path / 'vnetsec.conf')
    write_config(conf, str(tmp_path / 'state.db'), api_port, TOKEN, '127.0.0.1',
                 _free_port(16653))
    with open(conf, 'a') as f:
        f.write('api_cert = %s\napi_key = %s\n' % (cert, key))
    log = tmp_path / 'ryu.log'
    proc = subprocess.Popen([controller_command(),
                             '--config-file', conf, 'apps.vnetsec'],
                            stdout=open(log, 'w'), stderr=subprocess.STDOUT,
                            start_new_session=True)
    context = ssl.create_default_context(cafile=ca)
    context.check_hostname = False                  # the lab certificate names 'api'
    try:
        deadline, body = time.time() + 20, None
        while body is None and time.time() < deadline:
            req = urllib.request.Request('https://127.0.0.1:%d/v1/status' % api_port,
                                         headers={'Authorization': 'Bearer ' + TOKEN})
            try:
                body = urllib.request.urlopen(req, context=context, timeout=5).read()
            except OSError:
                time.sleep(0.2)
        assert body is not None and b'"apps"' in body, log.read_text()
        with pytest.raises(OSError):               # no plain HTTP on that port
            urllib.request.urlopen('http://127.0.0.1:%d/v1/openapi.json' % api_port,
                                   timeout=5).read()
    finally:
        os.killpg(proc.pid, 9)
        proc.wait()
