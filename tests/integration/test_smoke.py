"""The smoke test each runtime passes in CI (.ci/run runs it on Ryu and on os-ken):
one data center, 2 racks x 2 hypervisors x 2 VMs on a VLAN and a VXLAN network,
that pings exactly (every pair of a network, no pair across), the firewall
matrix of one group, and one migration under an open session."""
import time

import pytest

from controller.ryu_facade import RUNTIME
from mininet_topos import probe
from mininet_topos.datacenter import DataCenter
from mininet_topos.migration import migrate
from tests.integration.helpers import check, expected_pairs, pings, reachability

PROBE = probe.__file__
# hv1: vm1 VLAN, vm2 VXLAN | hv2: vm3, vm4 | rack 2: hv3: vm5, vm6 | hv4: vm7, vm8
CLIENTS = {'vm1': 'vm3', 'vm2': 'vm4'}       # client -> server (another hypervisor)


@pytest.fixture(scope='module')
def dc():
    with DataCenter(racks=2, hypervisors=2, vms=2, networks='vlan:10,vxlan:5000') as running:
        yield running


def matrix(dc):
    """What one group lets through, per (client, server): tcp 8080, tcp 9090,
    udp 8080, ICMP from the client group, ICMP back to the client."""
    return {(c, s): (check(dc, c, s, 'tcp', 8080), check(dc, c, s, 'tcp', 9090),
                     check(dc, c, s, 'udp', 8080), pings(dc, c, s), pings(dc, s, c))
            for c, s in CLIENTS.items()}


ALLOWED = (True, False, False, True, False)


def test_the_runtime_is_the_pythons():
    import sys
    assert RUNTIME == ('ryu' if sys.version_info < (3, 12) else 'os-ken')


def test_pings_exactly_within_each_network(dc):
    network = {p['name']: p['network_id'] for p in dc.client.get('/v1/ports')}
    assert reachability(dc) == expected_pairs(dc, lambda a, b: network[a.name]
                                              == network[b.name])


def test_the_firewall_matrix_of_one_group(dc):
    c = dc.client
    c.post('/v1/security-groups', {'name': 'client', 'rules': [{'direction': 'egress'}]})
    c.post('/v1/security-groups', {'name': 'web', 'rules': [
        {'direction': 'egress'},
        {'direction': 'ingress', 'protocol': 'tcp', 'port_range_min': 8080,
         'port_range_max': 8080, 'remote_ip_prefix': '10.0.0.0/16'},
        {'direction': 'ingress', 'protocol': 'icmp', 'remote_group_id': 'client'}]})
    ports = {p['name']: p for p in c.get('/v1/ports')}
    for client, server in CLIENTS.items():
        c.call('PATCH', '/v1/ports/%s' % ports[client]['id'], {'security_groups': ['client']})
        c.call('PATCH', '/v1/ports/%s' % ports[server]['id'], {'security_groups': ['web']})
        node = dc.node(server)
        for proto, port in (('tcp', 8080), ('tcp', 9090), ('udp', 8080)):
            node.cmd('python3 %s serve %s %d &' % (PROBE, proto, port))
        node.cmd('python3 %s wait-listening 8080 9090' % PROBE)
    dc.wait_ready()
    time.sleep(0.5)
    assert matrix(dc) == {pair: ALLOWED for pair in CLIENTS.items()}


def test_one_migration_keeps_the_session_and_the_rules(dc):
    """vm4 (VXLAN, group web) moves from hv2 to hv3 in the other rack while vm2
    holds a TCP session to it; its rules and its network follow it."""
    client, server = dc.node('vm2'), dc.node('vm4')
    client.sendCmd('python3 %s session %s 8080 4' % (PROBE, server.IP()))
    time.sleep(1)
    migrate(dc, 'vm4', 'hv3')
    dc.wait_ready()
    session = float(client.waitOutput().strip().splitlines()[-1])
    assert session >= 3.9, 'the TCP session died after %.1f s' % session
    port = next(p for p in dc.client.get('/v1/ports') if p['name'] == 'vm4')
    assert port['bound_host'] == 'hv3'
    assert matrix(dc) == {pair: ALLOWED for pair in CLIENTS.items()}
