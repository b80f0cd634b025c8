"""Foundation: a 2 racks x 2 hypervisors x 2 VMs data center under a real
ryu-manager: switches connect, VMs ping, a controller restart loses nothing, and
teardown leaves nothing behind."""
import os
import time

import pytest

from mininet_topos.datacenter import DataCenter
from tests.integration.helpers import (expected_pairs, flow_cookies, processes_mentioning,
                                       reachability, root_links, running)


@pytest.fixture(scope='module')
def dc():
    with DataCenter(racks=2, hypervisors=2, vms=2) as running:
        yield running


def test_controller_connects_to_every_switch(dc):
    status = dc.client.get('/v1/status')
    names = {s['host'] for s in status['switches'].values() if s['synced']}
    assert names == {'hv1', 'hv2', 'hv3', 'hv4', 'tor1', 'tor2'}
    hosts = {h['name']: h for h in dc.client.get('/v1/hosts')}
    assert hosts['hv3']['rack'] == 2 and hosts['hv3']['vtep_ip'] == '172.16.2.11'
    assert all(p['bound_host'] for p in dc.client.get('/v1/ports'))


def test_vms_of_one_network_reach_each_other(dc):
    assert reachability(dc) == expected_pairs(dc, lambda a, b: True)


def test_controller_restart_keeps_flows_and_loses_no_packet(dc):
    vm1, vm8 = dc.node('vm1'), dc.node('vm8')
    before = {hv.name: flow_cookies(hv) for hv in dc.hypervisors()}
    vm1.cmd('ping -i 0.01 -c 500 -W 1 %s > /tmp/vnetsec-restart-ping.txt 2>&1 &' % vm8.IP())
    time.sleep(1)
    dc.restart_controller(down_seconds=1.0)      # SIGKILL, 1 s down, start again
    dc.wait_ready()
    vm1.cmd('wait')
    with open('/tmp/vnetsec-restart-ping.txt') as f:
        summary = f.read()
    os.remove('/tmp/vnetsec-restart-ping.txt')
    assert ' 0% packet loss' in summary, summary
    assert {hv.name: flow_cookies(hv) for hv in dc.hypervisors()} == before
    assert reachability(dc) == expected_pairs(dc, lambda a, b: True)


def test_teardown_leaves_nothing_behind():
    dc = DataCenter(racks=1, hypervisors=1, vms=1)
    dc.start()
    pids = [n.pid for n in dc.net.hosts + dc.net.switches] + [dc.controller.pid]
    pids += [p for sw in dc.switches() for p in sw.ovs.pids()]
    assert processes_mentioning(dc.rundir)                     # its OVS daemons ran
    dc.stop()
    assert running(pids) == []
    assert processes_mentioning(dc.rundir) == []
    assert root_links(dc.mgmt_name) == []
    assert not os.path.exists(dc.rundir)
