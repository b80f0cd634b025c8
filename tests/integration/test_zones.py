"""Zones start empty (issue 28), on real Open vSwitch: vm1 holds a UDP session
with vm2; its port is deleted and a new port with the same addresses is bound
to the same OpenFlow port number (= conntrack zone) on the same hypervisor.
While the session existed, vm2's packets of it reached vm1 although vm1's
group lets nothing in; after the swap the very same packets reach nothing,
because the old vNIC's zone was flushed when it left."""
import re
import time

import pytest

from mininet_topos import probe
from mininet_topos.datacenter import DataCenter

PROBE = probe.__file__
SPORT, DPORT = 40000, 7000
# vm2 sends one datagram from DPORT to vm1's SPORT: the reply direction of vm1's session
REPLY = ('python3 -c "import socket; s=socket.socket(2, 2); '
         's.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind((\'\', %d)); '
         's.sendto(b\'late\', (\'%%s\', %d))"' % (DPORT, SPORT))
# vm1 waits for it on SPORT: prints what came, or nothing
RECEIVE = ('python3 -c "import socket; s=socket.socket(2, 2); s.bind((\'\', %d)); '
           's.settimeout(%%s); print(s.recv(64))" 2>/dev/null' % SPORT)


@pytest.fixture(scope='module')
def dc():
    with DataCenter(racks=1, hypervisors=1, vms=2, networks='vxlan:5000') as running:
        c = running.client
        c.post('/v1/security-groups', {'name': 'closed', 'rules': [{'direction': 'egress'}]})
        c.post('/v1/security-groups', {'name': 'open', 'rules': [
            {'direction': 'egress'},
            {'direction': 'ingress', 'protocol': 'udp', 'port_range_min': DPORT}]})
        ports = {p['name']: p for p in c.get('/v1/ports')}
        c.call('PATCH', '/v1/ports/%s' % ports['vm1']['id'], {'security_groups': ['closed']})
        c.call('PATCH', '/v1/ports/%s' % ports['vm2']['id'], {'security_groups': ['open']})
        running.wait_ready()
        yield running


def conntrack(dc, zone):
    hv = dc.node('hv1')
    return [line for line in hv.ovs.appctl('dpctl/dump-conntrack zone=%d' % zone).splitlines()
            if 'udp' in line and 'port=%d' % SPORT in line]


def reply_reaches_vm1(dc):
    vm1, vm2 = dc.node('vm1'), dc.node('vm2')
    vm1.sendCmd(RECEIVE % 2)
    time.sleep(0.4)
    vm2.cmd(REPLY % vm1.IP())
    return 'late' in vm1.waitOutput()


def open_session(dc):
    """vm1 -> vm2:DPORT from SPORT (egress allowed, vm2's ingress allows it)."""
    vm1, vm2 = dc.node('vm1'), dc.node('vm2')
    vm2.cmd('python3 -c "import socket; s=socket.socket(2, 2); s.bind((\'\', %d)); '
            's.settimeout(3); print(s.recv(64))" > /dev/null 2>&1 &' % DPORT)
    time.sleep(0.3)
    vm1.cmd('python3 -c "import socket; s=socket.socket(2, 2); '
            's.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind((\'\', %d)); '
            's.sendto(b\'hello\', (\'%s\', %d))"' % (SPORT, vm2.IP(), DPORT))
    time.sleep(0.3)


def test_a_new_vnic_on_a_left_port_number_finds_no_session(dc):
    c = dc.client
    old = next(p for p in c.get('/v1/ports') if p['name'] == 'vm1')
    zone = old['ofport']
    open_session(dc)
    assert conntrack(dc, zone), 'the session is in vm1\'s zone'
    assert reply_reaches_vm1(dc), 'while the session exists its packets reach vm1'

    # vm1's port leaves (unplugged, then deleted) ...
    hv = dc.node('hv1')
    hv.unplug(old['device'])
    c.call('DELETE', '/v1/ports/%s' % old['id'])
    deadline = time.time() + 5
    while conntrack(dc, zone) and time.time() < deadline:
        time.sleep(0.1)
    assert not conntrack(dc, zone), 'the zone it left is empty'
    events = [e for e in c.get('/v1/events') if e.get('event') == 'zone']
    assert {'host': 'hv1', 'zone': zone} in [{'host': e['host'], 'zone': e['zone']}
                                             for e in events]

    # ... and a new port with the same addresses gets the same port number
    new = c.post('/v1/ports', {'network_id': old['network_id'], 'mac': old['mac'],
                               'ips': old['ips'], 'device': old['device'], 'host': 'hv1',
                               'name': 'vm1', 'security_groups': ['closed']})
    hv.ovs.vsctl('add-port br-int %s -- set interface %s ofport_request=%d'
                 % (old['device'], old['device'], zone))
    deadline = time.time() + 10
    while c.get('/v1/ports/%s' % new['id'])['ofport'] != zone and time.time() < deadline:
        time.sleep(0.1)
    assert c.get('/v1/ports/%s' % new['id'])['ofport'] == zone
    dc.wait_ready()
    out = hv.ovs.ofctl('dump-flows br-int')
    assert re.search(r'ct_zone=%d\b' % zone, out), 'the new vNIC has its flows'
    assert not reply_reaches_vm1(dc), 'the old session\'s packets reach nothing'
    assert not conntrack(dc, zone)
