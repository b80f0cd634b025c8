"""Where a hand-run controller listens for OpenFlow, and what its TLS listener
lets in: a real ryu-manager with the project's app, real TLS clients."""
import contextlib
import socket
import time

from controller.ryu_facade import TlsStreamServer
from mininet_topos.controller_proc import ControllerProcess, write_config
from mininet_topos.datacenter import _free_port
from mininet_topos.tls import LabCA
from tests.integration.helpers import is_openflow_hello, listening_tcp, openflow_reply


@contextlib.contextmanager
def controller(tmp_path, ofp_host, tls=None):
    """A ryu-manager on free ports; yields (process, OpenFlow port, API port)."""
    ofp_port, api_port = _free_port(6653), _free_port(8080)
    conf = str(tmp_path / 'vnetsec.conf')
    write_config(conf, str(tmp_path / 'state.db'), api_port, 'token', ofp_host, ofp_port,
                 tls=tls)
    process = ControllerProcess(conf, str(tmp_path / 'ryu.log'),
                                'http://127.0.0.1:%d' % api_port, 'token')
    process.start()
    try:
        yield process, ofp_port, api_port
    finally:
        process.stop()


def test_openflow_listens_on_loopback_only_by_default(tmp_path):
    with controller(tmp_path, ofp_host=None) as (process, ofp_port, api_port):
        listening = listening_tcp(process.pid)
        assert listening == {('127.0.0.1', ofp_port), ('127.0.0.1', api_port)}
        assert is_openflow_hello(openflow_reply(('127.0.0.1', ofp_port)))


def test_tls_listener_takes_only_switches_the_lab_ca_signed(tmp_path):
    lab, foreign = LabCA(str(tmp_path / 'lab')), LabCA(str(tmp_path / 'foreign'))
    switch = lab.credentials('hv1')
    stranger_key, stranger_cert, _ = foreign.credentials('hv1')
    with controller(tmp_path, '127.0.0.1', tls=lab.credentials('controller')) as (
            process, ofp_port, api_port):
        address = ('127.0.0.1', ofp_port)
        silent = socket.create_connection(address)       # starts no handshake at all
        opened = time.time()
        # every switch, not only the first (Ryu 4.34's own listener fails the second)
        for _ in range(3):
            assert is_openflow_hello(openflow_reply(address, tls=switch))
        assert openflow_reply(address, tls=(stranger_key, stranger_cert, lab.cert)) == b''
        assert openflow_reply(address, tls=(None, None, lab.cert)) == b''
        assert openflow_reply(address) == b''                    # plain TCP hello
        assert listening_tcp(process.pid) == {address, ('127.0.0.1', api_port)}
        assert is_openflow_hello(openflow_reply(address, tls=switch))   # still serving
        silent.settimeout(TlsStreamServer.HANDSHAKE_SECONDS + 5)
        assert silent.recv(1) == b''                     # closed by the controller...
        assert time.time() - opened < TlsStreamServer.HANDSHAKE_SECONDS + 3   # ...in time
        silent.close()
    with open(process.log_path) as f:
        log = f.read()
    assert log.count('OpenFlow TLS handshake from 127.0.0.1') == 4, log
    assert 'timed out' in log
    assert 'certificate verify failed' in log
    assert 'peer did not return a certificate' in log
    assert 'wrong version number' in log
