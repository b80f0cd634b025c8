"""VM migration on a real data center: rules and mappings follow the VM, nothing
forbidden gets through during the move, allowed sessions survive."""
import os
import re
import time

import pytest

from controller.compile import pipeline as P
from mininet_topos import probe
from mininet_topos.datacenter import DataCenter
from mininet_topos.migration import migrate

PROBE = probe.__file__


@pytest.fixture(scope='module')
def dc():
    # hv1: vm1 VLAN, vm2 VXLAN | hv2: vm3, vm4 | rack 2: hv3: vm5, vm6 | hv4: vm7, vm8
    with DataCenter(racks=2, hypervisors=2, vms=2, networks='vlan:10,vxlan:5000') as running:
        running.client.post('/v1/security-groups', {'name': 'web', 'rules': [
            {'direction': 'egress'},
            {'direction': 'ingress', 'protocol': 'icmp'},
            {'direction': 'ingress', 'protocol': 'tcp', 'port_range_min': 8080}]})
        for port in running.client.get('/v1/ports'):
            if port['name'] in ('vm1', 'vm2'):
                running.client.call('PATCH', '/v1/ports/%s' % port['id'],
                                    {'security_groups': ['web']})
        for vm in ('vm1', 'vm2'):
            node = running.node(vm)
            for proto, port in (('tcp', 8080), ('tcp', 9090), ('udp', 7070)):
                node.cmd('python3 %s serve %s %d &' % (PROBE, proto, port))
            node.cmd('python3 %s wait-listening 8080 9090' % PROBE)
        running.wait_ready()
        yield running


def moved_under_load(dc, vm, peer, prober, dest, live, ready=None):
    """Migrate ``vm`` to ``dest`` while ``peer`` pings it and holds a TCP session to
    it, and ``prober`` keeps sending forbidden TCP and UDP; returns what got through."""
    target, p, bad = dc.node(vm), dc.node(peer), dc.node(prober)
    ip = target.IP()
    capture = '/tmp/vnetsec-forbidden-%s.txt' % vm
    target.cmd('tcpdump -lnni %s "tcp dst port 9090 or udp dst port 7070" > %s 2>/dev/null &'
               % (target.defaultIntf(), capture))
    bad.cmd('python3 %s spray %s 9090 7070 6 &' % (PROBE, ip))
    p.cmd('ping -i 0.01 -c 400 -W 1 %s > /tmp/vnetsec-mig-ping.txt 2>&1 &' % ip)
    p.sendCmd('python3 %s session %s 8080 5' % (PROBE, ip))
    time.sleep(1.5)
    migrate(dc, vm, dest, live=live, ready=ready)
    dc.wait_ready()
    session = float(p.waitOutput().strip().splitlines()[-1])
    p.cmd('wait')
    bad.cmd('wait')
    time.sleep(1)
    target.cmd('kill %tcpdump; wait %tcpdump')
    with open(capture) as f:
        forbidden = [line for line in f if line.strip()]
    with open('/tmp/vnetsec-mig-ping.txt') as f:
        ping = f.read()
    os.remove(capture)
    received = int(re.search(r'(\d+) received', ping).group(1))
    return forbidden, session, received


def test_vxlan_vm_across_racks_keeps_session_and_rules(dc):
    mac, both = dc.node('vm2').MAC(), {}

    def before_switch_over():       # the others already send to hv1 (source) and hv3
        for host in ('hv2', 'hv4'):
            out = dc.node(host).ovs.ofctl('dump-flows br-int table=%d,dl_dst=%s'
                                          % (P.VXLAN_L2, mac))
            both[host] = ['172.16.1.11' in out, '172.16.2.11' in out]
    forbidden, session, received = moved_under_load(dc, 'vm2', 'vm4', 'vm8', 'hv3',
                                                    live=False, ready=before_switch_over)
    assert both == {'hv2': [True, True], 'hv4': [True, True]}
    assert forbidden == []
    assert session >= 4.9, 'the TCP session died after %.1f s' % session
    assert received >= 380, 'ping lost %d of 400' % (400 - received)
    net = next(n for n in dc.client.get('/v1/networks') if n['kind'] == 'vxlan')
    hosts = dc.client.get('/v1/networks/%s/mappings' % net['id'])['hosts']
    for host, table in hosts.items():
        if host != 'hv3':
            assert table[mac] == '172.16.2.11', host     # hv3's VTEP, from every host
    assert mac not in hosts['hv3']
    flows = dc.node('hv1').ovs.ofctl('dump-flows br-int --no-stats')
    assert 'tapvm2' not in flows                          # the source is cleaned up


def test_vlan_vm_within_rack_follows_trunks(dc):
    forbidden, session, received = moved_under_load(dc, 'vm1', 'vm5', 'vm3', 'hv2', live=True)
    assert forbidden == []
    assert session >= 4.9 and received >= 380
    assert dc.client.get('/v1/hosts/hv1')['tor']['allowed_vlans'] == []
    assert dc.client.get('/v1/hosts/hv2')['tor']['allowed_vlans'] == [10]


def test_migrate_back_live_and_reach_everyone(dc):
    migrate(dc, 'vm2', 'hv1', live=True)
    migrate(dc, 'vm2', 'hv2', live=True)         # live twice: the source's late
    migrate(dc, 'vm2', 'hv1', live=True)         # link-down must not rebind it there
    migrate(dc, 'vm1', 'hv1', planned=False)      # unplanned: it just appears there
    dc.wait_ready()
    for vm, peers in (('vm1', ('vm3', 'vm5', 'vm7')), ('vm2', ('vm4', 'vm6', 'vm8'))):
        for peer in peers:
            assert ' 0% packet loss' in dc.node(peer).cmd('ping -c2 -i0.2 -W1 %s'
                                                          % dc.node(vm).IP()), (vm, peer)
    assert dc.client.get('/v1/hosts/hv1')['tor']['allowed_vlans'] == [10]


def test_bad_migration_requests_change_nothing(dc):
    from mininet_topos.client import ApiError
    port = next(p for p in dc.client.get('/v1/ports') if p['name'] == 'vm2')
    for body, field in (({'host': 'nowhere'}, 'host'), ({'host': 'hv1'}, 'host'),
                        ({'host': 'hv2', 'live': 'yes'}, 'live'), ({}, 'host')):
        with pytest.raises(ApiError) as err:
            dc.client.post('/v1/ports/%s/migrate' % port['id'], body)
        assert err.value.field == field
    assert dc.client.get('/v1/ports/%s' % port['id']) == port
