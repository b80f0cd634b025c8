"""vnetsec-dc --controller with several replicas: one OVS target per replica."""
import pytest

from mininet_topos.dc_main import parse_args
from mininet_topos.datacenter import controller_targets


def test_every_replica_is_a_target_at_the_management_address():
    assert controller_targets('127.0.0.1:6653,127.0.0.1:6654, localhost:6655',
                              '172.30.250.254') == (
        'tcp:172.30.250.254:6653 tcp:172.30.250.254:6654 tcp:172.30.250.254:6655')
    assert controller_targets('6653', '172.30.9.254', 'ssl') == 'ssl:172.30.9.254:6653'


@pytest.mark.parametrize('bad', ['127.0.0.1', '127.0.0.1:66x', '127.0.0.1:6653,:0',
                                 '127.0.0.1:70000'])
def test_a_bad_replica_is_refused_by_name(bad, capsys):
    with pytest.raises(SystemExit):
        parse_args(['--controller', bad])
    assert '--controller' in capsys.readouterr().err


def test_a_list_of_replicas_is_accepted():
    args = parse_args(['--controller', '127.0.0.1:6653,127.0.0.1:6654',
                       '--api', 'http://127.0.0.1:8081'])
    assert args.controller == '127.0.0.1:6653,127.0.0.1:6654'
