"""Validation and the service: bad input is rejected naming the field, and
changes nothing."""
import pytest

from controller.state.model import Network, ValidationError
from controller.state.store import SqliteStore
from controller.state.service import Service
from tests.unit.conftest import add_hv, add_port


def snapshot(store):
    return {k: store.list(k) for k in ('host', 'network', 'port')}


@pytest.mark.parametrize('body,field,status', [
    ({'name': 'a', 'kind': 'vlan', 'segmentation_id': 0}, 'segmentation_id', 400),
    ({'name': 'a', 'kind': 'vlan', 'segmentation_id': 4095}, 'segmentation_id', 400),
    ({'name': 'a', 'kind': 'vxlan', 'segmentation_id': 2 ** 24}, 'segmentation_id', 400),
    ({'name': 'a', 'kind': 'vlan', 'segmentation_id': '10'}, 'segmentation_id', 400),
    ({'name': 'a', 'kind': 'gre'}, 'kind', 400),
    ({'kind': 'vlan'}, 'name', 400),
    ({'name': 'a b'}, 'name', 400),
    ({'name': 'a', 'colour': 'red'}, 'colour', 400),
])
def test_bad_network_rejected_and_nothing_changes(service, store, body, field, status):
    service.create_network({'name': 'n1', 'kind': 'vlan', 'segmentation_id': 10})
    before = snapshot(store)
    with pytest.raises(ValidationError) as err:
        service.create_network(body)
    assert (err.value.field, err.value.status) == (field, status)
    assert snapshot(store) == before


def test_vlan_message_points_to_vxlan(service):
    with pytest.raises(ValidationError) as err:
        service.create_network({'name': 'a', 'kind': 'vlan', 'segmentation_id': 5000})
    assert '12 bits' in err.value.message and 'vxlan' in err.value.message


def test_duplicate_and_pool_exhaustion(service, store):
    service.create_network({'name': 'n1', 'kind': 'vlan', 'segmentation_id': 100})
    with pytest.raises(ValidationError) as err:
        service.create_network({'name': 'n2', 'kind': 'vlan', 'segmentation_id': 100})
    assert (err.value.field, err.value.status) == ('segmentation_id', 409)
    allocated = [service.create_network({'name': 'p%d' % i, 'kind': 'vlan'}).segmentation_id
                 for i in range(2)]
    assert allocated == [101, 102]                       # the pool is 100-102
    before = snapshot(store)
    with pytest.raises(ValidationError) as err:
        service.create_network({'name': 'p9', 'kind': 'vlan'})
    assert err.value.field == 'segmentation_id' and 'exhausted' in err.value.message
    assert snapshot(store) == before


def test_vni_above_vlan_range_accepted(service):
    net = service.create_network({'name': 'big', 'kind': 'vxlan',
                                  'segmentation_id': 16_000_000})
    assert net.segmentation_id == 16_000_000


@pytest.mark.parametrize('change,field', [
    ({'network_id': 'nope'}, 'network_id'),
    ({'mac': '01:00:00:00:00:01'}, 'mac'),
    ({'mac': 'zz'}, 'mac'),
    ({'ips': ['10.0.0.300']}, 'ips[0]'),
    ({'device': 'a-name-longer-than-15'}, 'device'),
    ({'device': 'tapvm1'}, 'device'),                    # already used
    ({'mac': '02:00:00:00:00:01'}, 'mac'),               # used in this network
    ({'ips': ['10.0.0.1']}, 'ips'),                      # used in this network
])
def test_bad_port_rejected_and_nothing_changes(service, store, change, field):
    net = service.create_network({'name': 'n1', 'kind': 'vxlan'})
    add_hv(service, 'hv1', 1)
    add_port(service, net, 1, 'hv1')
    body = dict({'network_id': net.id, 'mac': '02:00:00:00:00:09', 'ips': ['10.0.0.9'],
                 'device': 'tapvm9'}, **change)
    before = snapshot(store)
    with pytest.raises(ValidationError) as err:
        service.create_port(body)
    assert err.value.field == field
    assert snapshot(store) == before


def test_bind_moves_and_unbind(service):
    net = service.create_network({'name': 'n1', 'kind': 'vxlan'})
    add_hv(service, 'hv1', 1)
    add_hv(service, 'hv2', 2)
    port = add_port(service, net, 1, 'hv1', ofport=5)
    assert (port.bound_host, port.ofport) == ('hv1', 5)
    service.bind('hv2', {'tapvm1': 7})                   # appears elsewhere: moves
    service.unbind('hv1', devices={'tapvm1'})            # late delete on the old host
    port = service.get_port(port.id)
    assert (port.bound_host, port.ofport) == ('hv2', 7)
    service.unbind('hv2', keep={})
    assert service.get_port(port.id).bound_host == ''


def test_state_survives_reopen(tmp_path):
    path = str(tmp_path / 's.db')
    svc = Service(SqliteStore(path))
    net = svc.create_network({'name': 'n1', 'kind': 'vlan', 'segmentation_id': 42})
    again = Service(SqliteStore(path))
    assert again.get_network(net.id) == net
    assert again.get_network('n1') == net


def test_failed_transaction_writes_nothing(store):
    with pytest.raises(RuntimeError):
        with store.transaction() as tx:
            tx.put('network', 'x', Network('x', 'x', 'vlan', 5, 1))
            raise RuntimeError('boom')
    assert store.list('network') == []


def test_a_port_whose_vnic_is_plugged_is_bound_in_its_one_write(store):
    """A port created for a vNIC a switch already reports is stored bound: one
    commit (the store's sync to disk), not a create and then a bind."""
    class Plugged:
        def where(self, device):
            return {'tapvm1': ('hv1', 9)}.get(device)
    service = Service(store, sightings=Plugged())
    add_hv(service, 'hv1', 1)
    net = service.create_network({'name': 'n1', 'kind': 'vlan', 'segmentation_id': 10})
    commits = []
    store.watch(lambda changes: commits.append([(kind, key) for kind, key, _, _ in changes]))
    plugged = service.create_port({'network_id': net.id, 'device': 'tapvm1',
                                   'mac': '02:00:00:00:00:01', 'ips': ['10.0.0.1']})
    elsewhere = service.create_port({'network_id': net.id, 'device': 'tapvm2',
                                     'mac': '02:00:00:00:00:02', 'ips': ['10.0.0.2']})
    assert (plugged.bound_host, plugged.ofport) == ('hv1', 9)
    assert service.get_port(plugged.id) == plugged
    assert (elsewhere.bound_host, elsewhere.ofport) == ('', 0)
    assert commits == [[('port', plugged.id)], [('port', elsewhere.id)]]
