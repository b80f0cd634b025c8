"""neutron-tempest-plugin's security-group scenarios over IPv6, ported
(``neutron_tempest_plugin/scenario/test_security_groups.py``: the dual-stack
``test_default_sec_grp_scenarios`` of ``StatelessSecGroupDualStackSlaacTest``,
and ``test_protocol_number_rule``, ``test_two_sec_groups``, ``test_ip_prefix``,
``test_ip_prefix_negative``, ``test_remote_group`` with IPv6 rules), driven
through ``/v2.0`` as tempest drives Neutron, on a dual-stack lab (``--ipv6``).

Stateful groups (the stateless flavour of the dual-stack test needs
``stateful: false``, issue 30 item 3). What tempest does through a floating IP
and SSH, a VM outside the groups under test does here ("framework", vm5), and
SSH is TCP 22 served by the probe. VLAN 10 only: vm1 vm3 vm5 vm7."""
import ipaddress

import pytest

from mininet_topos import probe
from mininet_topos.client import ApiError
from mininet_topos.datacenter import DataCenter
from tests.integration.helpers import check, ip6_of, ip_of

PROBE = probe.__file__
V2 = '/v2.0'
SSH = 22
V6 = 'IPv6'


@pytest.fixture(scope='module')
def dc():
    with DataCenter(racks=2, hypervisors=2, vms=1, networks='vlan:10', ipv6=True) as running:
        network = next(n for n in running.client.get(V2 + '/networks')['networks']
                       if n['name'] == 'vlan10')
        for body in ({'cidr': '10.0.0.0/16', 'ip_version': 4},
                     {'cidr': 'fd00::/64', 'ip_version': 6, 'ipv6_ra_mode': 'slaac',
                      'ipv6_address_mode': 'slaac'}):
            running.client.post(V2 + '/subnets', {'subnet': dict(
                body, network_id=network['id'], gateway_ip=None)})
        for vm in ('vm1', 'vm2', 'vm3', 'vm4'):
            running.node(vm).cmd('python3 %s serve tcp %d &' % (PROBE, SSH))
            running.node(vm).cmd('python3 %s wait-listening %d' % (PROBE, SSH))
        running.framework = group(running, 'framework', [])   # egress (both) only
        set_groups(running, 'vm4', [running.framework])
        yield running


def port(dc, vm):
    return next(p for p in dc.client.get(V2 + '/ports')['ports'] if p['name'] == vm)


def group(dc, name, rules):
    """A new group (Neutron gives it egress IPv4 and IPv6) plus ``rules``."""
    made = dc.client.post(V2 + '/security-groups', {'security_group': {'name': name}})
    gid = made['security_group']['id']
    for rule in rules:
        dc.client.post(V2 + '/security-group-rules', {'security_group_rule': dict(
            rule, security_group_id=gid)})
    return gid


def add_rules(dc, gid, rules):
    for rule in rules:
        dc.client.post(V2 + '/security-group-rules', {'security_group_rule': dict(
            rule, security_group_id=gid)})
    dc.wait_ready()


def set_groups(dc, vm, groups):
    dc.client.call('PUT', V2 + '/ports/%s' % port(dc, vm)['id'],
                   {'port': {'security_groups': groups}})
    dc.wait_ready()


def ping6(dc, src, dst):
    return ' 0% packet loss' in dc.node(src).cmd('ping -c1 -W1 %s' % ip6_of(dc.node(dst)))


def ssh6(dc, src, dst):
    return check(dc, src, dst, 'tcp', SSH, address=ip6_of)


def loginable(ethertype=V6):
    return {'direction': 'ingress', 'protocol': 'tcp', 'port_range_min': SSH,
            'port_range_max': SSH, 'ethertype': ethertype}


def pingable(ethertype=V6, **remote):
    return dict({'direction': 'ingress', 'protocol': 'icmp', 'ethertype': ethertype}, **remote)


def default_id(dc):
    return next(g['id'] for g in dc.client.get(V2 + '/security-groups')['security_groups']
                if g['name'] == 'default')


# vm1 (hv1), vm2 (hv2), vm3 (hv3), vm4 (hv4): vm4 is the framework
def test_default_sec_grp_scenarios_dual_stack(dc):
    default = default_id(dc)
    for vm in ('vm1', 'vm2'):
        set_groups(dc, vm, [default])
    assert not ssh6(dc, 'vm4', 'vm1')
    add_rules(dc, default, [loginable('IPv4'), loginable(V6)])
    assert ssh6(dc, 'vm4', 'vm1') and check(dc, 'vm4', 'vm1', 'tcp', SSH)
    # ICMP from the framework still fails: only SSH was added
    assert not ping6(dc, 'vm4', 'vm1')
    # between the group's VMs ICMP works with no rule for it (ingress from default)
    assert ping6(dc, 'vm1', 'vm2')
    assert ' 0% packet loss' in dc.node('vm1').cmd('ping -c1 -W1 %s' % ip_of(dc.node('vm2')))
    # and the port's addresses (IPv4 and IPv6, with their subnets' lengths) are the VM's
    for vm in ('vm1', 'vm2'):
        configured = dc.node(vm).cmd('ip -o addr show dev %s' % dc.node(vm).defaultIntf())
        for fixed in port(dc, vm)['fixed_ips']:
            length = 64 if ':' in fixed['ip_address'] else 16
            assert ' %s/%d ' % (fixed['ip_address'], length) in configured
            assert fixed['subnet_id']


def test_protocol_number_rule_v6(dc):
    gid = group(dc, 'proto58', [])
    set_groups(dc, 'vm1', [gid])
    assert not ping6(dc, 'vm4', 'vm1')
    add_rules(dc, gid, [{'direction': 'ingress', 'protocol': 58, 'ethertype': V6,
                         'remote_ip_prefix': '::/0'}])
    assert ping6(dc, 'vm4', 'vm1')


def test_two_sec_groups_v6(dc):
    ssh = group(dc, 'ssh6', [loginable()])
    icmp = group(dc, 'icmp6', [pingable()])
    set_groups(dc, 'vm1', [ssh, icmp])
    assert ssh6(dc, 'vm4', 'vm1') and ping6(dc, 'vm4', 'vm1')
    set_groups(dc, 'vm1', [ssh])
    assert ssh6(dc, 'vm4', 'vm1') and not ping6(dc, 'vm4', 'vm1')
    set_groups(dc, 'vm1', [icmp, ssh])
    assert ssh6(dc, 'vm4', 'vm1') and ping6(dc, 'vm4', 'vm1')


@pytest.mark.parametrize('cidr,succeeds', [('fd00::/64', True),                # test_ip_prefix
                                           ('fd00::dead:fe/128', False)])    # ..._negative
def test_ip_prefix_v6(dc, cidr, succeeds):
    ssh = group(dc, 'ssh-%s' % succeeds, [loginable()])
    icmp = group(dc, 'icmp-cidr-%s' % succeeds, [pingable(remote_ip_prefix=cidr)])
    for vm in ('vm1', 'vm2'):
        set_groups(dc, vm, [ssh, icmp])
    assert ssh6(dc, 'vm4', 'vm1')
    assert ping6(dc, 'vm1', 'vm2') is succeeds


def test_remote_group_v6(dc):
    gid = group(dc, 'ssh-remote', [loginable()])
    for vm in ('vm1', 'vm2'):
        set_groups(dc, vm, [gid])
    assert ssh6(dc, 'vm4', 'vm1') and ssh6(dc, 'vm4', 'vm2')
    assert not ping6(dc, 'vm1', 'vm2')
    add_rules(dc, gid, [pingable(remote_group_id=gid)])
    assert ping6(dc, 'vm1', 'vm2')
    assert not ping6(dc, 'vm4', 'vm1')          # the framework is no member


def test_rules_refused_as_neutron_refuses_them(dc):
    gid = group(dc, 'refusals', [])
    for rule, field in (({'direction': 'ingress', 'protocol': 'icmpv6'}, 'protocol'),
                        ({'direction': 'ingress', 'ethertype': 'IPv4',
                          'remote_ip_prefix': 'fd00::/64'}, 'remote_ip_prefix')):
        with pytest.raises(ApiError) as err:
            dc.client.post(V2 + '/security-group-rules', {'security_group_rule': dict(
                rule, security_group_id=gid)})
        assert err.value.status == 400 and err.value.body['NeutronError']['detail'] == field
    assert ipaddress.ip_address(ip6_of(dc.node('vm1'))).version == 6
