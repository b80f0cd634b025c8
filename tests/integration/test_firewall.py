"""The distributed stateful firewall on a real data center: 2 hypervisors, a VLAN
and a VXLAN network, servers on the same hypervisor as their client and on the
other one."""
import time

import pytest

from mininet_topos import probe
from mininet_topos.datacenter import DataCenter
from tests.integration.helpers import check, pings

PROBE = probe.__file__
CLIENTS = ('vm1', 'vm2')                 # hv1: vm1 VLAN, vm2 VXLAN
SERVERS = {'vm1': ('vm3', 'vm5'),        # VLAN 10: vm3 same host, vm5 other host
           'vm2': ('vm4', 'vm6')}        # VXLAN:   vm4 same host, vm6 other host


@pytest.fixture(scope='module')
def dc():
    with DataCenter(racks=2, hypervisors=1, vms=4, networks='vlan:10,vxlan:5000') as running:
        c = running.client
        c.post('/v1/security-groups', {'name': 'client', 'zone': 'app',
                                       'rules': [{'direction': 'egress'}]})
        c.post('/v1/security-groups', {'name': 'other', 'rules': [{'direction': 'egress'}]})
        c.post('/v1/security-groups', {'name': 'web', 'zone': 'web', 'rules': [
            {'direction': 'egress'},
            {'direction': 'ingress', 'protocol': 'tcp', 'port_range_min': 8080,
             'port_range_max': 8080, 'remote_ip_prefix': '10.0.0.0/16'},
            {'direction': 'ingress', 'protocol': 'icmp', 'remote_group_id': 'client'}]})
        ports = {p['name']: p for p in c.get('/v1/ports')}
        for vm in CLIENTS:
            c.call('PATCH', '/v1/ports/%s' % ports[vm]['id'], {'security_groups': ['client']})
        for vm in sum(SERVERS.values(), ()):
            c.call('PATCH', '/v1/ports/%s' % ports[vm]['id'], {'security_groups': ['web']})
            node = running.node(vm)
            for proto, port in (('tcp', 8080), ('tcp', 9090), ('udp', 8080)):
                node.cmd('python3 %s serve %s %d &' % (PROBE, proto, port))
            node.cmd('python3 %s wait-listening 8080 9090' % PROBE)
        running.wait_ready()
        time.sleep(0.5)
        yield running


def test_matrix_same_and_other_hypervisor_vlan_and_vxlan(dc):
    for client, servers in SERVERS.items():
        for server in servers:
            where = '%s->%s' % (client, server)
            assert check(dc, client, server, 'tcp', 8080), where + ' tcp 8080 allowed'
            assert not check(dc, client, server, 'tcp', 9090), where + ' tcp 9090 blocked'
            assert not check(dc, client, server, 'udp', 8080), where + ' udp 8080 blocked'
            assert pings(dc, client, server), where + ' icmp from remote group allowed'
            assert not pings(dc, server, client), where + ' client group admits nothing'


def test_adding_a_rule_opens_only_that(dc):
    group = dc.client.get('/v1/security-groups/web')
    rule = dc.client.post('/v1/security-groups/%s/rules' % group['id'],
                          {'direction': 'ingress', 'protocol': 'udp', 'port_range_min': 8080})
    dc.wait_ready()
    try:
        assert check(dc, 'vm1', 'vm5', 'udp', 8080) and check(dc, 'vm2', 'vm4', 'udp', 8080)
        assert not check(dc, 'vm1', 'vm5', 'tcp', 9090)
    finally:
        dc.client.call('DELETE', '/v1/security-groups/%s/rules/%s' % (group['id'], rule['id']))
        dc.wait_ready()
    assert not check(dc, 'vm1', 'vm5', 'udp', 8080)


def test_spoofed_mac_and_ip_are_dropped(dc):
    vm1, vm3 = dc.node('vm1'), dc.node('vm3')
    intf = vm1.defaultIntf()
    assert pings(dc, 'vm1', 'vm3')
    vm1.cmd('ip addr add 10.0.99.99/16 dev %s' % intf)
    spoofed_ip = vm1.cmd('ping -c2 -i0.2 -W1 -I 10.0.99.99 %s' % vm3.IP())
    vm1.cmd('ip addr del 10.0.99.99/16 dev %s' % intf)
    real_mac = vm1.MAC()
    vm1.cmd('ip link set %s address 02:00:00:00:99:99; ip neigh flush all' % intf)
    spoofed_mac = vm1.cmd('ping -c2 -i0.2 -W1 %s' % vm3.IP())
    vm1.cmd('ip link set %s address %s; ip neigh flush all' % (intf, real_mac))
    assert ' 100% packet loss' in spoofed_ip
    assert ' 100% packet loss' in spoofed_mac
    assert pings(dc, 'vm1', 'vm3')


def test_remote_group_membership_change_reaches_other_hosts(dc):
    port = next(p for p in dc.client.get('/v1/ports') if p['name'] == 'vm1')
    assert pings(dc, 'vm1', 'vm5')                        # vm5 is on hv2
    dc.client.call('PATCH', '/v1/ports/%s' % port['id'], {'security_groups': ['other']})
    dc.wait_ready()
    left = pings(dc, 'vm1', 'vm5')
    dc.client.call('PATCH', '/v1/ports/%s' % port['id'], {'security_groups': ['client']})
    dc.wait_ready()
    assert not left
    assert pings(dc, 'vm1', 'vm5')


def test_rule_stats_count_allowed_traffic(dc):
    group = dc.client.get('/v1/security-groups/web')
    tcp = next(r for r in group['rules'] if r['protocol'] == 'tcp')
    before = tcp['stats']['packets']
    assert check(dc, 'vm2', 'vm6', 'tcp', 8080)
    deadline = time.time() + 5               # OVS refreshes datapath counters ~1/s
    while True:
        after = next(r for r in dc.client.get('/v1/security-groups/web')['rules']
                     if r['id'] == tcp['id'])['stats']
        if after['packets'] >= before + 4 or time.time() > deadline:
            break
        time.sleep(0.2)
    assert after['packets'] >= before + 4 and after['bytes'] > 0


def test_deleting_a_rule_cuts_an_open_session(dc):
    group = dc.client.get('/v1/security-groups/web')
    tcp = next(r for r in group['rules'] if r['protocol'] == 'tcp')
    vm1 = dc.node('vm1')
    vm1.sendCmd('python3 %s session %s 8080 6' % (PROBE, dc.node('vm5').IP()))
    time.sleep(1.5)
    dc.client.call('DELETE', '/v1/security-groups/%s/rules/%s' % (group['id'], tcp['id']))
    alive = float(vm1.waitOutput().strip().splitlines()[-1])
    dc.client.post('/v1/security-groups/%s/rules' % group['id'], {
        k: tcp[k] for k in ('direction', 'protocol', 'port_range_min', 'port_range_max',
                            'remote_ip_prefix')})
    dc.wait_ready()
    assert 1.0 < alive < 3.0, 'the session lived %.1f s of 6' % alive
    assert check(dc, 'vm1', 'vm5', 'tcp', 8080)
