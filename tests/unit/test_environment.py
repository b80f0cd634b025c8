"""Configuration by environment variables (containers): VNETSEC_<OPTION>."""
import pytest
from oslo_config import cfg

from controller import config
from controller.state import environment


def fresh_conf():
    conf = cfg.ConfigOpts()
    conf.register_opts([cfg.StrOpt('ofp_listen_host', default=''),
                        cfg.IntOpt('ofp_tcp_listen_port', default=6653),
                        cfg.IntOpt('ofp_ssl_listen_port', default=6653),
                        cfg.StrOpt('ctl_privkey'), cfg.StrOpt('ctl_cert'),
                        cfg.StrOpt('ca_certs')])
    conf.register_opts(config.OPTIONS, group='vnetsec')
    conf(args=[])
    return conf


def test_variables_set_the_options_typed():
    conf = fresh_conf()
    taken = environment.apply(conf, config.OPTIONS, {
        'VNETSEC_STORE': 'etcd://127.0.0.1:2379,127.0.0.1:22379', 'VNETSEC_API_PORT': '8082',
        'VNETSEC_API_OPEN_READS': 'true', 'VNETSEC_OFP_PORT': '6654',
        'VNETSEC_OFP_HOST': '0.0.0.0', 'VNETSEC_STATS_INTERVAL': '0', 'VNETSEC_API': 'x'})
    assert conf.vnetsec.store == 'etcd://127.0.0.1:2379,127.0.0.1:22379'
    assert conf.vnetsec.api_port == 8082 and conf.vnetsec.api_open_reads is True
    assert conf.vnetsec.stats_interval == 0.0
    assert (conf.ofp_listen_host, conf.ofp_tcp_listen_port) == ('0.0.0.0', 6654)
    assert 'VNETSEC_API' not in taken and taken['VNETSEC_API_PORT'] == 'api_port'
    assert conf.vnetsec.db_path == '/var/lib/vnetsec/vnetsec.db'   # untouched


def test_openflow_tls_and_https_by_variables():
    conf = fresh_conf()
    environment.apply(conf, config.OPTIONS, {
        'VNETSEC_OFP_PORT': '6655', 'VNETSEC_OFP_CERT': '/pki/c.pem',
        'VNETSEC_OFP_KEY': '/pki/c.key', 'VNETSEC_OFP_CA': '/pki/ca.pem',
        'VNETSEC_API_CERT': '/pki/api.pem', 'VNETSEC_API_KEY': '/pki/api.key'})
    assert (conf.ctl_cert, conf.ctl_privkey, conf.ca_certs) == (
        '/pki/c.pem', '/pki/c.key', '/pki/ca.pem')
    assert conf.ofp_ssl_listen_port == conf.ofp_tcp_listen_port == 6655  # TLS: the one port
    assert (conf.vnetsec.api_cert, conf.vnetsec.api_key) == ('/pki/api.pem', '/pki/api.key')


def test_an_empty_variable_is_unset():
    conf = fresh_conf()
    taken = environment.apply(conf, config.OPTIONS, {'VNETSEC_OFP_CERT': '', 'VNETSEC_API_PORT': ''})
    assert taken == {} and conf.ctl_cert is None and conf.vnetsec.api_port == 8080


def test_a_config_file_wins(tmp_path):
    path = tmp_path / 'vnetsec.conf'
    path.write_text('[vnetsec]\napi_port = 9000\n')
    conf = fresh_conf()
    environment.apply(conf, config.OPTIONS, {'VNETSEC_API_PORT': '8082'})
    conf(args=['--config-file', str(path)])
    assert conf.vnetsec.api_port == 9000


@pytest.mark.parametrize('var, value', [('VNETSEC_API_PORT', 'eighty'),
                                        ('VNETSEC_OFP_PORT', '66x'),
                                        ('VNETSEC_DB_SYNCHRONOUS', 'SOMETIMES')])
def test_a_bad_value_names_its_variable(var, value):
    with pytest.raises(ValueError, match=var):
        environment.apply(fresh_conf(), config.OPTIONS, {var: value})
