"""Security groups with Neutron's meanings on a real data center (hv1: vm1, vm2;
hv2: vm3, vm4; one VXLAN network): GRE allowed by its protocol number and
denied without the rule, an explicit empty group list sealing a port that
"default" members reached, and a fresh group's egress rule."""
import subprocess

import pytest

from mininet_topos import probe
from mininet_topos.datacenter import DataCenter

PROBE = probe.__file__
GRE = 47


@pytest.fixture(scope='module')
def dc():
    with DataCenter(racks=1, hypervisors=2, vms=2) as running:
        yield running


def port_of(dc, vm):
    return next(p for p in dc.client.get('/v1/ports') if p['name'] == vm)


def set_groups(dc, vm, groups):
    dc.client.call('PATCH', '/v1/ports/%s' % port_of(dc, vm)['id'],
                   {'security_groups': groups})
    dc.wait_ready()


def pings(dc, src, dst):
    return ' 0% packet loss' in dc.node(src).cmd('ping -c1 -W1 %s' % dc.node(dst).IP())


def raw_packets_arriving(dc, src, dst, proto, count=5):
    """How many of ``count`` packets of IP protocol ``proto`` sent by src reach dst."""
    receiver = dc.node(dst).popen(['python3', PROBE, 'raw-receive', str(proto), '2'],
                                  stdout=subprocess.PIPE, text=True)
    try:
        dc.node(src).cmd('sleep 0.3; python3 %s raw-send %d %s %d'
                         % (PROBE, proto, dc.node(dst).IP(), count))
        return int(receiver.communicate(timeout=10)[0].strip())
    finally:
        if receiver.poll() is None:
            receiver.kill()


@pytest.fixture
def servers(dc):
    """vm2 (same host as vm1) and vm3 (the other host) in a fresh group that
    admits nothing yet; back to "default" afterwards."""
    group = dc.client.post('/v1/security-groups', {'name': 'tunnels'})
    for vm in ('vm2', 'vm3'):
        set_groups(dc, vm, ['tunnels'])
    yield group
    for vm in ('vm2', 'vm3'):
        set_groups(dc, vm, ['default'])
    dc.client.call('DELETE', '/v1/security-groups/%s' % group['id'])


def test_gre_allowed_by_its_number_and_denied_without_the_rule(dc, servers):
    for server in ('vm2', 'vm3'):
        assert raw_packets_arriving(dc, 'vm1', server, GRE) == 0, server + ': no rule yet'
    rule = dc.client.post('/v1/security-groups/tunnels/rules',
                          {'direction': 'ingress', 'protocol': GRE,
                           'remote_ip_prefix': '10.0.0.0/16'})
    assert rule['protocol'] == GRE
    dc.wait_ready()
    for server in ('vm2', 'vm3'):
        assert raw_packets_arriving(dc, 'vm1', server, GRE) == 5, server + ': allowed'
        assert raw_packets_arriving(dc, 'vm1', server, 50) == 0, server + ': ESP is not GRE'
        assert not pings(dc, 'vm1', server), server + ': ICMP is not GRE'
    dc.client.call('DELETE', '/v1/security-groups/tunnels/rules/%s' % rule['id'])
    dc.wait_ready()
    assert raw_packets_arriving(dc, 'vm1', 'vm3', GRE) == 0, 'rule removed: denied again'


def test_an_empty_group_list_seals_a_port_default_members_reached(dc):
    assert port_of(dc, 'vm3')['security_groups'] == [
        dc.client.get('/v1/security-groups/default')['id']]      # omitted at creation
    assert pings(dc, 'vm1', 'vm3') and pings(dc, 'vm3', 'vm1')
    set_groups(dc, 'vm3', [])
    try:
        assert port_of(dc, 'vm3')['security_groups'] == []
        assert not pings(dc, 'vm1', 'vm3'), 'a default member no longer gets in'
        assert not pings(dc, 'vm3', 'vm1'), 'nor does the sealed port get out'
        assert pings(dc, 'vm1', 'vm2'), 'the other default members are untouched'
    finally:
        set_groups(dc, 'vm3', ['default'])
    assert pings(dc, 'vm1', 'vm3')


def test_a_fresh_group_keeps_its_ports_outgoing_connections(dc):
    c = dc.client
    fresh = c.post('/v1/security-groups', {'name': 'fresh'})       # as in Neutron
    c.post('/v1/security-groups/fresh/rules', {'direction': 'ingress', 'protocol': 'icmp',
                                               'port_range_min': 8})
    empty = c.post('/v1/security-groups', {'name': 'empty', 'rules': []})
    opened = c.post('/v1/security-groups', {'name': 'open', 'rules': [
        {'direction': 'ingress'}, {'direction': 'egress'}]})
    set_groups(dc, 'vm3', ['open'])
    try:
        set_groups(dc, 'vm1', ['fresh'])
        assert pings(dc, 'vm1', 'vm3'), 'the fresh group sends anywhere'
        assert pings(dc, 'vm3', 'vm1'), 'and admits what its ingress rule says (echo request)'
        set_groups(dc, 'vm1', ['empty'])
        assert not pings(dc, 'vm1', 'vm3'), 'a group created with rules [] sends nothing'
    finally:
        set_groups(dc, 'vm1', ['default'])
        set_groups(dc, 'vm3', ['default'])
        for group in (fresh, empty, opened):
            c.call('DELETE', '/v1/security-groups/%s' % group['id'])
