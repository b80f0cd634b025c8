import pytest

from controller.state.service import Service
from controller.state.store import SqliteStore


@pytest.fixture
def store(tmp_path):
    return SqliteStore(str(tmp_path / 'state.db'))


@pytest.fixture
def service(store):
    return Service(store, vlan_pool='100-102', vni_pool='5000-5001')


def add_hv(service, name, dpid, rack=1, vtep=None):
    return service.create_host({'name': name, 'dpid': dpid, 'rack': rack,
                                  'vtep_ip': vtep or '172.16.%d.%d' % (rack, 10 + dpid)})


def add_port(service, network, k, host, ofport=None):
    port = service.create_port({'network_id': network.id, 'mac': '02:00:00:00:00:%02x' % k,
                                'ips': ['10.0.0.%d' % k], 'device': 'tapvm%d' % k,
                                'host': host})
    if ofport:
        service.bind(host, {port.device: ofport})
    return service.get_port(port.id)
