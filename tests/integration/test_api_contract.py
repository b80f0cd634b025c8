"""The API's contract, checked by a schema-driven fuzzer: Schemathesis runs every
check it has against a real ryu-manager with no switches, writes included (so
201 and 204 paths are exercised), and must find nothing."""
import os
import subprocess
import sys

import pytest

from mininet_topos.controller_proc import ControllerProcess, write_config
from mininet_topos.datacenter import _free_port

TOKEN = 'contract-token'
# a conflict (409) is state, not data: a valid body can meet an existing name
CONFIG = '[checks.positive_data_acceptance]\nexpected-statuses = ["2xx", "401", "403", ' \
         '"404", "409"]\n'


@pytest.fixture
def controller(tmp_path):
    api_port = _free_port(18080)
    conf = str(tmp_path / 'vnetsec.conf')
    write_config(conf, str(tmp_path / 'state.db'), api_port, TOKEN, '127.0.0.1',
                 _free_port(16653))
    proc = ControllerProcess(conf, str(tmp_path / 'ryu.log'),
                             'http://127.0.0.1:%d' % api_port, TOKEN)
    proc.start()
    yield 'http://127.0.0.1:%d' % api_port
    proc.stop()


def schemathesis(url, tmp_path, *args):
    config = tmp_path / 'schemathesis.toml'
    config.write_text(CONFIG)
    st = os.path.join(os.path.dirname(sys.executable), 'st')
    run = subprocess.run(
        [st, '--config-file', str(config), 'run', url + '/v1/openapi.json', '--url', url,
         '-H', 'Authorization: Bearer ' + TOKEN, '--checks', 'all', '--max-examples', '15',
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
