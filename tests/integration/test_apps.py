"""The three apps compose: ``ryu-manager apps.vlan apps.vxlan`` (no firewall)
segments a mixed data center exactly; restarted with ``apps.firewall`` added, it
secures the same VMs without flushing a flow: every flow of the other apps
stays (checked by cookie) and only firewall flows arrive."""
import re
import signal
import subprocess

import pytest

from controller.compile import pipeline as P
from mininet_topos.client import ApiError
from mininet_topos.datacenter import DataCenter
from tests.integration.helpers import expected_pairs, flow_cookies, reachability

FIREWALL = P.OWNERS['firewall']


def owner(cookie):
    return int(cookie, 16) >> P.COOKIE_OWNER_SHIFT


@pytest.fixture(scope='module')
def dc():
    with DataCenter(racks=1, hypervisors=2, vms=2, networks='vlan:10,vxlan:5000',
                    apps=('vlan', 'vxlan')) as running:
        running.wait_ready()
        yield running


def same_network(dc):
    ports = {p['name']: p['network_id'] for p in dc.client.get('/v1/ports')}
    return expected_pairs(dc, lambda a, b: ports[a.name] == ports[b.name])


def test_vlan_and_vxlan_without_a_firewall_segment_exactly(dc):
    assert dc.client.get('/v1/status')['apps'] == ['vlan', 'vxlan']
    assert reachability(dc) == same_network(dc)
    for sw in dc.switches():
        assert FIREWALL not in {owner(c) for c in flow_cookies(sw)}, sw.name
    with pytest.raises(ApiError) as err:
        dc.client.get('/v1/security-groups')
    assert err.value.status == 404 and 'firewall app is not loaded' in str(err.value)


def test_adding_the_firewall_on_restart_secures_the_vms_and_flushes_nothing(dc):
    before = {sw.name: set(flow_cookies(sw)) for sw in dc.switches()}
    ping = dc.node('vm1').popen(['ping', '-q', '-i', '0.05', '-W', '1', dc.node('vm3').IP()],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        dc.controller.stop()
        dc.controller.apps.append('apps.firewall')
        dc.controller.start()
        dc.wait_ready()
    finally:
        ping.send_signal(signal.SIGINT)
        summary = ping.communicate(timeout=10)[0]
    sent, received = map(int, re.search(r'(\d+) packets transmitted, (\d+) received',
                                        summary).groups())
    assert sent > 10 and received == sent, summary          # traffic never stopped
    assert dc.client.get('/v1/status')['apps'] == ['vlan', 'vxlan', 'firewall']
    for sw in dc.switches():
        after = set(flow_cookies(sw))
        assert before[sw.name] <= after, sw.name             # the other apps' flows stay
        added = {owner(c) for c in after - before[sw.name]}
        assert added <= {FIREWALL}, sw.name
        assert (FIREWALL in added) == (sw.name.startswith('hv')), sw.name
    # secured: a group without rules seals vm3 from its network's peer
    assert reachability(dc) == same_network(dc)             # the default group admits them
    dc.client.post('/v1/security-groups', {'name': 'sealed', 'rules': []})
    vm3 = next(p for p in dc.client.get('/v1/ports') if p['name'] == 'vm3')
    dc.client.call('PATCH', '/v1/ports/%s' % vm3['id'], {'security_groups': ['sealed']})
    dc.wait_ready()
    assert ('vm1', 'vm3') not in reachability(dc)
