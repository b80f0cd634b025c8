"""Allowed address pairs on a VLAN network across two racks (hv1: vm1, vm2 in
rack 1; hv2: vm3, vm4 in rack 2), where ARP is not answered locally and a
frame to a MAC crosses the ToRs by their MAC entries: the same VIP move and the
same prefix pair with a MAC of its own as on VXLAN (test_port_security.py)."""
import pytest

from mininet_topos.datacenter import DataCenter
from tests.integration import test_port_security as same


@pytest.fixture(scope='module')
def dc():
    with DataCenter(racks=2, hypervisors=1, vms=2, networks='vlan:10') as running:
        yield running


def test_a_vip_moves_by_gratuitous_arp_and_a_third_vm_cannot_claim_it(dc):
    assert [h.name for h in dc.hypervisors() if h.rack == 2] == ['hv2']
    same.test_a_vip_moves_by_gratuitous_arp_and_a_third_vm_cannot_claim_it(dc)


def test_a_prefix_pair_with_a_mac_of_its_own(dc):
    same.test_a_prefix_pair_with_a_mac_of_its_own(dc)
