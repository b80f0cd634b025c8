"""IPv6 sessions move with the VM (issue 30), as IPv4 ones do
(test_sessions_move.py): vm1 (hv1) reads TCP and UDP streams that vm3 (hv2)
pushes to it over IPv6, its group letting in nothing but ICMP and ICMPv6; vm5
(hv3) sprays forbidden IPv6 TCP and UDP at it throughout; vm1 moves live, then
unplanned, and the streams live on while nothing forbidden gets in."""
import re

import pytest

from mininet_topos import streams
from mininet_topos.datacenter import DataCenter
from tests.integration.helpers import ip6_of
from tests.integration.test_sessions_move import CARRIED, GRACE, MOVE_AT, SECONDS

V6 = {'ethertype': 'IPv6'}
READER = [{'direction': 'egress'}, dict(V6, direction='egress'),
          {'direction': 'ingress', 'protocol': 'icmp'},
          dict(V6, direction='ingress', protocol='icmpv6')]
SERVER = [dict(V6, direction='egress'), dict(V6, direction='ingress', protocol='icmpv6')] + [
    dict(V6, direction='ingress', protocol=proto, port_range_min=port)
    for proto, port in streams.PORTS.items()]


@pytest.fixture(scope='module')
def dc():
    with DataCenter(racks=3, hypervisors=1, vms=2, networks='vxlan:5000', ipv6=True,
                    options={'session_grace': str(GRACE)}) as running:
        api = running.client
        api.post('/v1/security-groups', {'name': 'reader6', 'rules': READER})
        api.post('/v1/security-groups', {'name': 'server6', 'rules': SERVER})
        ports = {p['name']: p['id'] for p in api.get('/v1/ports')}
        api.call('PATCH', '/v1/ports/%s' % ports['vm3'], {'security_groups': ['server6']})
        api.call('PATCH', '/v1/ports/%s' % ports['vm1'], {'security_groups': ['reader6']})
        streams.serve(running.node('vm3'))
        running.wait_ready()
        yield running


def across(dc, dest, **how):
    result, forbidden = streams.across_move(dc, 'vm1', 'vm3', dest, SECONDS, MOVE_AT,
                                            prober='vm5', address=ip6_of, **how)
    assert forbidden == [], 'forbidden packets reached vm1: %s' % forbidden[:3]
    for proto, (alive, silence) in result.items():
        assert alive >= SECONDS - 0.5, 'the %s stream died after %.1f s' % (proto, alive)
        assert silence < 2.0, 'the %s stream paused %.1f s' % (proto, silence)


def carried_on(dc, host):
    out = dc.node(host).ovs.ofctl('dump-flows br-int cookie=%s --no-stats' % CARRIED)
    return [line for line in out.splitlines() if 'priority=' in line]


def test_live_move_keeps_the_ipv6_streams(dc):
    across(dc, 'hv3', live=True)
    carried = carried_on(dc, 'hv3')
    assert carried and all('ipv6' in f for f in carried)
    assert any(re.search(r'ipv6_dst=%s\b' % re.escape(ip6_of(dc.node('vm1'))), f)
               for f in carried)


def test_unplanned_move_keeps_the_ipv6_streams(dc):
    across(dc, 'hv1', planned=False)
    carried = carried_on(dc, 'hv1')
    assert carried and all('idle_timeout=%d' % GRACE in f for f in carried)
