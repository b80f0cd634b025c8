"""/v2.0 driven by the real clients on a real data center (hv1: vm1, hv2: vm2,
one rack): the `openstack` CLI, then an openstacksdk script, create a network,
a subnet, a security group with a rule naming its own group, and a port per VM;
the test then does Nova's part only (a second vNIC in each VM, named as Nova
names the port's tap, with the MAC and address the port was given, plugged on
the port's host) and checks that the traffic follows exactly what the rules say.
Every API call of the scenario is a client's; the lab's /v1 client only waits
for the switches (wait_ready)."""
import json
import os
import subprocess
import sys
import time

import pytest
from pyroute2 import NetNS

from mininet_topos import probe
from mininet_topos.datacenter import DataCenter
from mininet_topos.migration import vnic_ends
from mininet_topos.nodes import VM_MTU

PROBE = probe.__file__
BIN = os.path.dirname(sys.executable)
SCENARIO = os.path.join(os.path.dirname(__file__), 'neutron_sdk_scenario.py')


@pytest.fixture(scope='module')
def dc():
    with DataCenter(racks=1, hypervisors=2, vms=1) as running:
        for vm in ('vm1', 'vm2'):
            node = running.node(vm)
            for port in (22, 80, 8080):
                node.cmd('python3 %s serve tcp %d &' % (PROBE, port))
            node.cmd('python3 %s wait-listening 22 80 8080' % PROBE)
        yield running


def openstack(dc, *args):
    """The openstack CLI, configured as README says (admin_token: no Keystone)."""
    cmd = [os.path.join(BIN, 'openstack'), '--os-auth-type', 'admin_token',
           '--os-endpoint', dc.api_url, '--os-token', dc.token] + list(args)
    if not any(a in ('set', 'delete') for a in args[:4]):       # those print nothing
        cmd += ['-f', 'json']
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, '%s\n%s%s' % (' '.join(args), run.stdout, run.stderr)
    return json.loads(run.stdout) if run.stdout.strip() else None


def sdk(dc, *args):
    run = subprocess.run([sys.executable, SCENARIO, args[0], dc.api_url, dc.token]
                         + list(args[1:]), capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    return json.loads(run.stdout)


class Nic:
    """Nova's part: a vNIC for ``port`` in VM ``vm`` (``vm-ethN``), whose
    hypervisor end is named as Nova names the port's tap (tap + the first 11
    characters of its id), plugged into br-int of the VM's hypervisor; removed
    by ``unplug`` (the pair goes with its VM end)."""

    def __init__(self, dc, vm, n, port_id, mac, ip, prefix=24):
        self.vm, self.hv = dc.node(vm), vnic_ends(dc.node(vm))[1].node
        self.name, self.device, self.ip = '%s-eth%d' % (vm, n), 'tap' + port_id[:11], ip
        with NetNS('/proc/%d/ns/net' % self.vm.pid, flags=0) as ns:
            ns.link('add', ifname=self.name, kind='veth', address=mac, mtu=VM_MTU,
                    peer={'ifname': self.device, 'net_ns_pid': self.hv.pid})
            index = ns.link_lookup(ifname=self.name)[0]
            ns.addr('add', index=index, address=ip, prefixlen=prefix)
            ns.link('set', index=index, state='up')
        self.vm.cmd('ethtool -K %s tx off >/dev/null 2>&1' % self.name)
        self.hv.plug(self.device)

    def unplug(self):
        self.hv.unplug(self.device)
        self.vm.cmd('ip link del %s 2>/dev/null' % self.name)


def tcp(dc, src, dst_ip, port):
    return dc.node(src).cmd('python3 %s check tcp %s %d' % (PROBE, dst_ip, port)).strip() == 'OK'


def pings(dc, src, dst_ip):
    return ' 0% packet loss' in dc.node(src).cmd('ping -c1 -W1 %s' % dst_ip)


def until(check, timeout=15):
    deadline = time.time() + timeout
    while not check():
        if time.time() > deadline:
            return False
        time.sleep(0.3)
    return True


def test_the_openstack_cli_drives_vnetsec(dc):
    net = openstack(dc, 'network', 'create', '--provider-network-type', 'vxlan',
                    '--provider-segment', '6001', 'os-net')
    assert (net['provider:network_type'], net['provider:segmentation_id']) == ('vxlan', 6001)
    subnet = openstack(dc, 'subnet', 'create', '--network', 'os-net', '--subnet-range',
                       '10.61.0.0/24', 'os-net-v4')
    assert subnet['gateway_ip'] == '10.61.0.1' and subnet['ip_version'] == 4
    group = openstack(dc, 'security', 'group', 'create', 'os-ssh')
    rule = openstack(dc, 'security', 'group', 'rule', 'create', '--protocol', 'tcp',
                     '--dst-port', '22', '--remote-group', 'os-ssh', 'os-ssh')
    assert (rule['protocol'], rule['port_range_min'], rule['remote_group_id']) == (
        'tcp', 22, group['id'])
    ports = {vm: openstack(dc, 'port', 'create', '--network', 'os-net', '--host', hv,
                           '--device-owner', 'compute:nova', '--no-security-group',
                           'os-' + vm)
             for vm, hv in (('vm1', 'hv1'), ('vm2', 'hv2'))}
    assert all(p['status'] == 'DOWN' for p in ports.values())         # no vNIC yet
    ip = {vm: p['fixed_ips'][0]['ip_address'] for vm, p in ports.items()}
    assert sorted(ip.values()) == ['10.61.0.2', '10.61.0.3']          # allocated
    nics = []
    try:
        for vm, port in ports.items():
            nics.append(Nic(dc, vm, 1, port['id'], port['mac_address'], ip[vm]))
        assert until(lambda: {p['Status'] for p in openstack(
            dc, 'port', 'list', '--network', 'os-net')} == {'ACTIVE'}), 'bound and applied'
        dc.wait_ready()
        # in no group, with port security on: nothing in or out
        assert not tcp(dc, 'vm1', ip['vm2'], 22) and not pings(dc, 'vm1', ip['vm2'])
        for vm in ports:
            openstack(dc, 'port', 'set', '--security-group', 'os-ssh', 'os-' + vm)
        dc.wait_ready()
        shown = openstack(dc, 'port', 'show', 'os-vm1')
        assert shown['security_group_ids'] == [group['id']]
        assert shown['binding_host_id'] == 'hv1' and shown['status'] == 'ACTIVE'
        # exactly what the rules say: tcp 22 from the group's members, egress anywhere
        assert tcp(dc, 'vm1', ip['vm2'], 22) and tcp(dc, 'vm2', ip['vm1'], 22)
        assert not tcp(dc, 'vm1', ip['vm2'], 80), 'tcp 80: no rule'
        assert not pings(dc, 'vm1', ip['vm2']), 'icmp: no rule'
        listed = openstack(dc, 'security', 'group', 'rule', 'list', 'os-ssh')
        assert {r['ID'] for r in listed} == {r['id'] for r in openstack(
            dc, 'security', 'group', 'show', 'os-ssh')['rules']}
        openstack(dc, 'security', 'group', 'rule', 'delete', rule['id'])
        dc.wait_ready()
        assert not tcp(dc, 'vm1', ip['vm2'], 22), 'the rule deleted: tcp 22 closed'
        assert tcp(dc, 'vm1', dc.node('vm2').IP(), 80), 'the lab network is untouched'
    finally:
        for nic in nics:
            nic.unplug()
    for vm in ports:
        openstack(dc, 'port', 'delete', 'os-' + vm)
    openstack(dc, 'security', 'group', 'delete', 'os-ssh')
    openstack(dc, 'subnet', 'delete', 'os-net-v4')
    openstack(dc, 'network', 'delete', 'os-net')
    assert 'os-net' not in {n['Name'] for n in openstack(dc, 'network', 'list')}
    assert openstack(dc, 'subnet', 'list') == []
    dc.wait_ready()


def test_an_openstacksdk_script_drives_vnetsec(dc):
    made = sdk(dc, 'create', 'hv1', 'hv2')
    assert made['segment'] == 31
    ports = dict(zip(('vm1', 'vm2'), made['ports']))
    assert [p['ip'] for p in made['ports']] == ['10.31.0.100', '10.31.0.101']
    assert {p['status'] for p in made['ports']} == {'DOWN'}
    nics = []
    try:
        for vm, port in ports.items():
            nics.append(Nic(dc, vm, 2, port['id'], port['mac'], port['ip']))
        dc.wait_ready()
        assert not tcp(dc, 'vm1', ports['vm2']['ip'], 8080), 'no group: sealed'
        opened = sdk(dc, 'open')
        assert all(p['groups'] == [made['group']] for p in opened['ports'])
        dc.wait_ready()
        assert {p['status'] for p in sdk(dc, 'status')['ports']} == {'ACTIVE'}
        assert tcp(dc, 'vm1', ports['vm2']['ip'], 8080), 'tcp 8080 from a member'
        assert tcp(dc, 'vm2', ports['vm1']['ip'], 8080)
        assert not tcp(dc, 'vm1', ports['vm2']['ip'], 22), 'tcp 22: no rule'
        assert len(sdk(dc, 'close')['deleted']) == 1
        dc.wait_ready()
        assert not tcp(dc, 'vm1', ports['vm2']['ip'], 8080), 'the rule deleted'
    finally:
        for nic in nics:
            nic.unplug()
    gone = sdk(dc, 'delete')
    assert 'sdk-net' not in gone['networks'] and 'sdk-web' not in gone['groups']
