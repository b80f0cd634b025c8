"""Switches that listen for their controllers: the address a host record names
(checked, naming the field), the controller dialing every one from its start
and following changes, and the lab's switches listening where they register."""
import pytest

from controller.switch.dialer import Dialer, parse_address
from controller.state.model import ValidationError
from mininet_topos.datacenter import DataCenterTopo
from mininet_topos.nodes import OvsSwitchNode

HV = {'name': 'hv1', 'dpid': 1, 'vtep_ip': '172.16.1.11'}


@pytest.mark.parametrize('bad', ['172.30.250.1', '172.30.250.1:', ':6653', '172.30.250.1:0',
                                 '172.30.250.1:65536', '172.30.250.1:6653x', 'hv1:6653',
                                 '172.30.250.256:6653', '[::1]:6653', '172.30.250.1:06653',
                                 '172.30.250.1:6653\n', 6653])
def test_a_bad_switch_address_is_refused_by_name(service, store, bad):
    with pytest.raises(ValidationError) as err:
        service.create_host(dict(HV, switch_address=bad))
    assert (err.value.field, err.value.status) == ('switch_address', 400)
    assert store.list('host') == []
    service.create_host(HV)
    with pytest.raises(ValidationError) as err:
        service.update_host('hv1', {'switch_address': bad})
    assert err.value.field == 'switch_address'
    assert service.get_host('hv1').switch_address == ''


def test_a_switch_address_is_kept_changed_and_cleared(service):
    assert service.create_host(dict(HV, switch_address='172.30.250.1:6653')).switch_address \
        == '172.30.250.1:6653'
    assert service.update_host('hv1', {'switch_address': '127.0.0.1:1'}).switch_address \
        == '127.0.0.1:1'
    assert service.update_host('hv1', {'switch_address': ''}).switch_address == ''
    assert parse_address('172.30.250.1:6653') == ('172.30.250.1', 6653)


class Phone:
    """Records what the dialer dials and hangs up."""

    def __init__(self):
        self.dialed, self.hung_up = [], []

    def dial(self, address):
        self.dialed.append(address)
        return lambda: self.hung_up.append(address)


def test_the_dialer_dials_every_listening_switch_at_start_and_follows_changes(service, store):
    phone = Phone()
    dialer = Dialer(phone.dial)
    store.watch(lambda changes: [dialer.host_changed(old, new)
                                 for kind, _, old, new in changes if kind == 'host'])
    service.create_host(dict(HV, switch_address='172.30.250.1:6653'))
    service.create_host({'name': 'hv2', 'dpid': 2, 'vtep_ip': '172.16.1.12'})
    service.create_host({'name': 'tor1', 'dpid': 0x7001, 'role': 'tor',
                         'switch_address': '172.30.250.201:6653'})
    assert phone.dialed == []                    # not before Ryu's handler exists
    dialer.start(store.list('host'))
    assert sorted(phone.dialed) == [('172.30.250.1', 6653), ('172.30.250.201', 6653)]
    service.update_host('hv1', {'rack': 2})      # same address: the same loop goes on
    service.update_host('hv2', {'switch_address': '172.30.250.2:6653'})
    service.update_host('hv1', {'switch_address': '172.30.250.1:6700'})
    service.delete_host('tor1')
    assert phone.dialed[2:] == [('172.30.250.2', 6653), ('172.30.250.1', 6700)]
    assert phone.hung_up == [('172.30.250.1', 6653), ('172.30.250.201', 6653)]
    assert {name: a for name, (a, _) in dialer.dialing.items()} == {
        'hv1': ('172.30.250.1', 6700), 'hv2': ('172.30.250.2', 6653)}


class Target:
    def __init__(self, target):
        self.controller_target = target


@pytest.mark.parametrize('target,address', [
    ('ptcp:6653:172.30.250.1', '172.30.250.1:6653'),
    ('pssl:6700:172.30.250.9', '172.30.250.9:6700'),
    ('tcp:172.30.250.254:6653', ''),
    ('tcp:172.30.250.254:6653 tcp:172.30.250.254:6654', ''),
])
def test_a_lab_switch_registers_where_it_listens(target, address):
    assert OvsSwitchNode.switch_address.fget(Target(target)) == address


@pytest.mark.parametrize('tls,scheme', [(None, 'ptcp'), ('ca', 'pssl')])
def test_the_lab_switches_listen_on_their_management_address(tls, scheme):
    class CA:
        def credentials(self, name):
            return ('%s.key' % name, '%s.crt' % name, 'ca.crt')
    topo = DataCenterTopo(racks=1, hypervisors=2, vms=0, controller='tcp:172.30.9.254:6653',
                          mgmt_prefix='172.30.9', switch_port=6653,
                          tls_ca=CA() if tls else None)
    assert [topo.nodeInfo(n)['controller_target'] for n in ('tor1', 'hv1', 'hv2')] == [
        '%s:6653:172.30.9.201' % scheme, '%s:6653:172.30.9.1' % scheme,
        '%s:6653:172.30.9.2' % scheme]
    active = DataCenterTopo(racks=1, hypervisors=1, vms=0,
                            controller='tcp:172.30.9.254:6653', mgmt_prefix='172.30.9')
    assert active.nodeInfo('hv1')['controller_target'] == 'tcp:172.30.9.254:6653'
