"""The analysis labs (no controller): the firewall-VM DMZ isolates as drawn, and
the bridge-mode firewall VM enforces its rules (and, as the analysis says, cannot
filter what never reaches it)."""
import os

import pytest

from mininet_topos import bridge_firewall as bf
from mininet_topos import dmz
from mininet_topos.lab import Lab, ping_ok, tcp_ok
from tests.integration.helpers import processes_mentioning

EXT_IP, LAN_IP = '10.81.0.10', '10.83.0.10'


@pytest.fixture(scope='module')
def dmz_lab():
    with Lab(dmz.DmzTopo, hypervisors=2) as lab:
        yield lab


def test_dmz_isolates_as_drawn(dmz_lab):
    ext, vm2, vm3, lan = (dmz_lab.node(n) for n in ('ext', 'vm2', 'vm3', 'lan'))
    allowed = {
        ('ext', 'web', 80): tcp_ok(ext, dmz.WEB, 80),
        ('lan', 'web', 80): tcp_ok(lan, dmz.WEB, 80),
        ('lan', 'web', 22): tcp_ok(lan, dmz.WEB, 22),
        ('lan', 'mail', 22): tcp_ok(lan, dmz.MAIL, 22),
        ('web', 'mail', 25): tcp_ok(vm2, dmz.MAIL, 25),      # inside the DMZ segment
    }
    denied = {
        ('ext', 'web', 22): tcp_ok(ext, dmz.WEB, 22),
        ('ext', 'mail', 25): tcp_ok(ext, dmz.MAIL, 25),
        ('lan', 'mail', 25): tcp_ok(lan, dmz.MAIL, 25),
        ('web', 'lan', 22): tcp_ok(vm2, LAN_IP, 22),          # the DMZ opens nothing inwards
        ('mail', 'lan', 22): tcp_ok(vm3, LAN_IP, 22),
        ('web', 'ext', 22): tcp_ok(vm2, EXT_IP, 22),          # ... nor outwards
    }
    assert all(allowed.values()), allowed
    assert not any(denied.values()), denied
    assert ping_ok(ext, dmz.WEB) and not ping_ok(ext, LAN_IP) and not ping_ok(ext, dmz.MAIL)


def test_dmz_traffic_passes_the_firewall_vms_only(dmz_lab):
    hv1 = dmz_lab.node('hv1')
    # the DMZ switch is internal-only: the DMZ's two servers and the two firewalls
    assert sorted(hv1.ports_of('br-dmz')) == ['dmz-vm1', 'dmz-vm2', 'dmz-vm3', 'dmz-vm4']
    assert 'ext0' in hv1.ports_of('br-ext') and 'lan0' in hv1.ports_of('br-lan')
    ext, lan = dmz_lab.node('ext'), dmz_lab.node('lan')
    fw_ext, fw_int = dmz_lab.node('vm1'), dmz_lab.node('vm4')
    before = fw_ext.counters().get('web', 0), fw_int.counters().get('dmz', 0)
    assert tcp_ok(ext, dmz.WEB, 80) and tcp_ok(lan, dmz.WEB, 80)
    after = fw_ext.counters().get('web', 0), fw_int.counters().get('dmz', 0)
    assert after[0] > before[0] and after[1] > before[1]
    # no route around the firewalls: the DMZ servers' only routers are vm1 and vm4
    assert 'via 10.82.0.1' in dmz_lab.node('vm2').cmd('ip route get %s' % EXT_IP)
    assert 'via 10.82.0.254' in dmz_lab.node('vm2').cmd('ip route get %s' % LAN_IP)


def test_dmz_does_not_survive_a_migration(dmz_lab):
    """Run last on the module's lab: vm3 moves to hv2, whose DMZ switch has no
    uplink either, so the DMZ cannot span the two hypervisors."""
    lan, vm2 = dmz_lab.node('lan'), dmz_lab.node('vm2')
    assert tcp_ok(lan, dmz.MAIL, 22) and tcp_ok(vm2, dmz.MAIL, 25)
    dmz.migrate(dmz_lab, 'vm3', 'hv2')
    assert dmz_lab.node('hv2').ports_of('br-dmz') == ['dmz-vm3']
    assert not tcp_ok(lan, dmz.MAIL, 22) and not tcp_ok(vm2, dmz.MAIL, 25)


@pytest.mark.parametrize('remote', [False, True], ids=['same-host', 'remote-firewall'])
def test_bridge_mode_firewall_enforces_its_rules(remote):
    with Lab(bf.BridgeFirewallTopo, remote=remote) as lab:
        a1, b1, b2, fw = (lab.node(n) for n in ('a1', 'b1', 'b2', 'fw'))
        ip = bf.ADDRESSES
        assert tcp_ok(a1, ip['b1'], bf.SERVICE_PORT) and tcp_ok(a1, ip['b2'], bf.SERVICE_PORT)
        assert ping_ok(a1, ip['b1'])
        denied_before = fw.counters().get('denied', 0)
        assert not tcp_ok(a1, ip['b1'], bf.FORBIDDEN_PORT)    # servers: no ingress 22
        assert not ping_ok(b1, ip['a1'])                      # clients: no ingress at all
        assert fw.counters()['denied'] > denied_before
        assert fw.counters()['servers'] > 0
        # b1 and b2 share br-b: the firewall VM never sees their traffic
        assert tcp_ok(b2, ip['b1'], bf.FORBIDDEN_PORT)
        if remote:       # the firewall is on hv2: a1 <-> b1 crosses the underlay
            hv1 = lab.node('hv1')
            sent = [int(hv1.cmd('cat /sys/class/net/%s/statistics/tx_packets' % link))
                    for link in bf.UNDERLAY]
            assert all(n > 0 for n in sent)
    # torn down: no daemon of this lab left, no files
    assert not processes_mentioning(lab.rundir) and not os.path.exists(lab.rundir)
