"""The files of a run that hold secrets: the controller config (API token), the
run directory, the lab CA's keys; checked on real files, with real openssl."""
import os
import stat
import subprocess

import pytest

from mininet_topos.controller_proc import write_config
from mininet_topos.runrecord import make_run_dir
from mininet_topos.tls import LabCA


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def open_umask():
    old = os.umask(0)
    yield
    os.umask(old)


def test_config_is_0600_whatever_the_umask_and_an_older_file(tmp_path, open_umask):
    path = tmp_path / 'vnetsec.conf'
    path.write_text('old')
    path.chmod(0o644)
    write_config(str(path), '/x.db', 8080, 'secret', None, 6653)
    assert mode(path) == 0o600
    text = path.read_text()
    assert 'api_token = secret' in text and 'ofp_tcp_listen_port = 6653' in text
    assert 'ofp_listen_host' not in text and 'ssl' not in text


def test_tls_config_opens_only_the_ssl_port(tmp_path):
    path = tmp_path / 'vnetsec.conf'
    write_config(str(path), '/x.db', 8080, 't', '10.0.0.1', 6653, tls=('k', 'c', 'ca'))
    text = path.read_text()
    assert 'ofp_ssl_listen_port = 6653' in text and 'ofp_tcp_listen_port' not in text
    assert 'ctl_privkey = k\nctl_cert = c\nca_certs = ca\n' in text
    assert 'ofp_listen_host = 10.0.0.1' in text


def test_run_dir_is_0700_whatever_the_umask(tmp_path, open_umask):
    make_run_dir(str(tmp_path / 'base' / 'run1'))
    assert mode(tmp_path / 'base' / 'run1') == 0o700


def test_run_dir_refuses_a_parent_others_can_write(tmp_path):
    base = tmp_path / 'base'
    base.mkdir()
    base.chmod(0o1777)
    with pytest.raises(RuntimeError, match='only we can write'):
        make_run_dir(str(base / 'run1'))


def test_lab_ca_signs_what_it_issues_and_keeps_keys_private(tmp_path, open_umask):
    lab, foreign = LabCA(str(tmp_path / 'lab')), LabCA(str(tmp_path / 'foreign'))
    key, cert, ca_cert = lab.credentials('hv1')
    assert ca_cert == lab.cert
    assert mode(tmp_path / 'lab') == 0o700
    assert mode(key) == mode(lab.key) == 0o600
    assert verifies(lab.cert, cert)
    assert not verifies(lab.cert, foreign.credentials('hv1')[1])
    subject = subprocess.run(['openssl', 'x509', '-noout', '-subject', '-in', cert],
                             capture_output=True, text=True).stdout
    assert 'CN=hv1' in subject.replace(' ', '')     # openssl 3.0: 'CN = hv1', 3.5: 'CN=hv1'


def verifies(ca_cert, cert):
    return subprocess.run(['openssl', 'verify', '-CAfile', ca_cert, cert],
                          capture_output=True).returncode == 0
