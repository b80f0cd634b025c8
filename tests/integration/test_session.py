"""A user's interactive session, as ``vnetsec-dc`` runs it: the API is on the
documented port 8080 run after run (connections of the previous run waiting in
TIME_WAIT do not move it), ``sh`` commands find it through $VNETSEC_API and
$VNETSEC_API_TOKEN (``vnetsec`` as well), and a taken --api-port is refused naming
the port."""
import os
import socket
import subprocess
import sys

import pytest

VNETSEC_DC = os.path.join(os.path.dirname(sys.executable), 'vnetsec-dc')
CURL = 'sh curl -sf -H "Authorization: Bearer $VNETSEC_API_TOKEN" "$VNETSEC_API/v1/hosts/hv1"'
# the operator's command finds the API and its token the same way
VNETSEC = 'sh %s status --check' % os.path.join(os.path.dirname(sys.executable), 'vnetsec')


def session(*args):
    run = subprocess.run([VNETSEC_DC, '--racks', '1', '--hypervisors', '1', '--vms', '1',
                          *args], capture_output=True, text=True, timeout=120)
    return run.returncode, run.stdout + run.stderr


def sockets_on(port, state):
    return subprocess.run(['ss', '-Htan', 'state', state, 'sport = :%d' % port],
                          capture_output=True, text=True).stdout.strip()


@pytest.fixture(scope='module')
def two_sessions():
    if sockets_on(8080, 'listening'):
        pytest.skip('something else listens on port 8080 on this machine')
    first = session('-c', CURL)
    left_behind = sockets_on(8080, 'time-wait')
    second = session('-c', CURL, '-c', VNETSEC, '-c', 'sg show default')
    return first, left_behind, second


def test_two_sessions_in_a_row_both_serve_the_documented_port(two_sessions):
    first, left_behind, second = two_sessions
    assert left_behind, 'the first session left no connection in TIME_WAIT on 8080'
    for rc, out in (first, second):
        assert rc == 0, out
        assert 'controller API http://127.0.0.1:8080\n' in out, out


def test_sh_in_a_session_reaches_the_api_with_its_token(two_sessions):
    for rc, out in two_sessions[::2]:
        assert rc == 0, out
        assert '"name":"hv1"' in out and '"vtep_ip":"172.16.1.11"' in out, out


def test_vnetsec_in_a_session_and_its_sg_command(two_sessions):
    rc, out = two_sessions[2]               # status --check: exit 0, or the batch fails
    assert rc == 0 and 'store ok; idle (every change sent)' in out, out
    assert 'default (zone -, id ' in out and 'ingress any from group default' in out, out


def test_a_taken_api_port_is_refused_naming_it():
    with socket.socket() as taken:
        taken.bind(('127.0.0.1', 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        rc, out = session('--api-port', str(port), '-c', 'pingall')
    assert rc == 2
    assert 'the controller API port %d is in use by python' % port in out, out
