"""VXLAN overlay on a real data center: VNIs 5000, 6000 and 16,000,000 beside
VLAN 10, 12 VMs over 4 hypervisors in 2 racks (routed underlay)."""
import pytest

from controller.compile import pipeline as P
from mininet_topos.datacenter import DataCenter
from tests.integration.helpers import capture, expected_pairs, reachability

BIG_VNI = 16_000_000


@pytest.fixture(scope='module')
def dc():
    with DataCenter(racks=2, hypervisors=2, vms=3,
                    networks='vxlan:5000,vxlan:6000,vxlan:%d,vlan:10' % BIG_VNI) as running:
        yield running


def network_of(dc, vm):
    return dc.topo.network_of_vm[vm]


def test_reachability_matrix_follows_networks(dc):
    assert reachability(dc) == expected_pairs(
        dc, lambda a, b: network_of(dc, a.name) == network_of(dc, b.name))


def test_underlay_carries_the_vni_and_no_arp_broadcast(dc):
    vm3, vm7 = dc.node('vm3'), dc.node('vm7')         # VNI 16M: hv1 (rack 1), hv3 (rack 2)
    assert network_of(dc, 'vm3') == network_of(dc, 'vm7') == 'vxlan%d' % BIG_VNI
    underlay = capture(dc.node('tor1'), 'rtr', 'udp port 4789', seconds=4)
    vm3.cmd('ip neigh flush all')
    assert ' 0% packet loss' in vm3.cmd('ping -c3 -i0.2 -W1 %s' % vm7.IP())
    text = underlay()
    assert 'vni %d' % BIG_VNI in text and 'ICMP echo request' in text
    assert 'who-has' not in text                      # answered (or dropped) on hv1
    assert vm7.MAC() in vm3.cmd('ip neigh show %s' % vm7.IP())


def test_hosts_hold_entries_only_for_their_networks(dc):
    networks = {n['name']: n for n in dc.client.get('/v1/networks')}
    big = networks['vxlan%d' % BIG_VNI]
    mappings = dc.client.get('/v1/networks/%s/mappings' % big['id'])['hosts']
    assert set(mappings) == {'hv1', 'hv3', 'hv4'}     # hv2 has no port in it
    assert mappings['hv1'] == {dc.node('vm7').MAC(): '172.16.2.11',
                               dc.node('vm11').MAC(): '172.16.2.12'}
    flows = dc.node('hv2').ovs.ofctl('dump-flows br-int --no-stats')
    assert 'tun_id=%#x' % BIG_VNI not in flows and 'tun_id=0x1388' in flows
    installed = dc.node('hv1').ovs.ofctl('dump-flows br-int --no-stats table=%d' % P.VXLAN_L2)
    for mac, vtep in mappings['hv1'].items():
        assert 'dl_dst=%s actions=set_field:%s->tun_dst,set_field:%#x->tun_id' % (
            mac, vtep, BIG_VNI) in installed


def test_vni_range_is_24_bits(dc):
    from mininet_topos.client import ApiError
    with pytest.raises(ApiError) as err:
        dc.client.post('/v1/networks', {'name': 'too-big', 'kind': 'vxlan',
                                        'segmentation_id': 2 ** 24})
    assert err.value.field == 'segmentation_id' and err.value.status == 400
    with pytest.raises(ApiError) as err:
        dc.client.post('/v1/networks', {'name': 'dup', 'kind': 'vxlan',
                                        'segmentation_id': BIG_VNI})
    assert err.value.status == 409
