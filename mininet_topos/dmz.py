"""Approach A of the analysis: segmentation by a combination of firewalls, a DMZ
made of firewall VMs on one hypervisor (no controller involved).

    ext ── br-ext ── vm1 ══ br-dmz ══ vm4 ── br-lan ── lan
                    (fw)   vm2 vm3   (fw)
                        internal-only

- ``vm1`` (fw-ext) faces the external network (``ext``), ``vm4`` (fw-int) the
  internal one (``lan``); both route and filter with nftables (stateful).
- ``br-dmz`` is an internal-only virtual switch (no uplink) holding the DMZ's
  servers ``vm2`` (web: tcp 80) and ``vm3`` (mail: tcp 25), both also running ssh
  (tcp 22): every packet to or from the DMZ passes vm1 or vm4.
- Policy: the outside reaches only vm2's web service (and pings it); the inside
  reaches web and ssh of both DMZ servers; the DMZ opens no connection outwards
  or inwards; the outside has no path to the inside at all.
- ``hypervisors=2`` adds hv2 with its own internal-only br-dmz: where a DMZ VM
  ends up after a migration.

    python3 -m mininet_topos.dmz        # the lab with Mininet's CLI
"""
from mininet.topo import Topo

from mininet_topos.lab import FirewallVM, PlainHypervisor, interactive, set_address, start_services
from mininet_topos.migration import move_vnic, vnic_ends
from mininet_topos.nftables import ruleset

EXT, DMZ, LAN = '10.81.0.0/24', '10.82.0.0/24', '10.83.0.0/24'
ADDRESSES = {           # node: [(interface, address)]
    'ext': [('ext-eth0', '10.81.0.10/24')],
    'vm1': [('vm1-eth0', '10.81.0.1/24'), ('vm1-eth1', '10.82.0.1/24')],
    'vm2': [('vm2-eth0', '10.82.0.2/24')],
    'vm3': [('vm3-eth0', '10.82.0.3/24')],
    'vm4': [('vm4-eth0', '10.82.0.254/24'), ('vm4-eth1', '10.83.0.1/24')],
    'lan': [('lan-eth0', '10.83.0.10/24')],
}
ROUTES = {
    'ext': [(DMZ, '10.81.0.1')],
    'vm2': [(EXT, '10.82.0.1'), (LAN, '10.82.0.254')],
    'vm3': [(EXT, '10.82.0.1'), (LAN, '10.82.0.254')],
    'lan': [(DMZ, '10.83.0.1')],
}
SERVICES = {'vm2': (80, 22), 'vm3': (25, 22), 'lan': (22,), 'ext': (22,)}
WEB, MAIL = '10.82.0.2', '10.82.0.3'
# the firewall VMs' policies, as security groups (see mininet_topos.nftables)
FW_EXT = {'web': {'members': [WEB], 'rules': [
              {'direction': 'ingress', 'protocol': 'tcp', 'port_range_min': 80},
              {'direction': 'ingress', 'protocol': 'icmp'}]},
          'mail': {'members': [MAIL], 'rules': []}}
FW_INT = {'dmz': {'members': [WEB, MAIL], 'rules': [
              {'direction': 'ingress', 'protocol': 'tcp', 'port_range_min': 80,
               'remote_ip_prefix': LAN},
              {'direction': 'ingress', 'protocol': 'tcp', 'port_range_min': 22,
               'remote_ip_prefix': LAN},
              {'direction': 'ingress', 'protocol': 'icmp', 'remote_ip_prefix': LAN}]}}


class DmzTopo(Topo):
    def build(self, rundir, hypervisors=1):
        bridges = {'br-ext': [], 'br-dmz': [], 'br-lan': []}
        hv = self.addSwitch('hv1', cls=PlainHypervisor, dpid='a1', rundir=rundir,
                            bridges=bridges)
        for h in range(2, hypervisors + 1):
            self.addSwitch('hv%d' % h, cls=PlainHypervisor, dpid='a%d' % h, rundir=rundir,
                           bridges={'br-dmz': []})
        for name in ADDRESSES:
            cls = FirewallVM if name in ('vm1', 'vm4') else None
            self.addHost(name, ip=None, **({'cls': cls} if cls else {}))
        plan = [('ext', 'br-ext', 'ext0'), ('vm1', 'br-ext', 'ext-vm1'),
                ('vm1', 'br-dmz', 'dmz-vm1'), ('vm2', 'br-dmz', 'dmz-vm2'),
                ('vm3', 'br-dmz', 'dmz-vm3'), ('vm4', 'br-dmz', 'dmz-vm4'),
                ('vm4', 'br-lan', 'lan-vm4'), ('lan', 'br-lan', 'lan0')]
        nic = {}
        for node, bridge, port in plan:
            k = nic[node] = nic.get(node, -1) + 1
            self.addLink(node, hv, intfName1='%s-eth%d' % (node, k), intfName2=port)
            bridges[bridge].append(port)

    def configure(self, lab):
        for name, nics in ADDRESSES.items():
            node = lab.node(name)
            for intf, address in nics:
                set_address(node, intf, address)
            for prefix, via in ROUTES.get(name, ()):
                node.cmd('ip route replace %s via %s' % (prefix, via))
        for name, groups in (('vm1', FW_EXT), ('vm4', FW_INT)):
            lab.node(name).load_firewall(ruleset(groups), 'router',
                                         '%s/%s.nft' % (lab.rundir, name))
        start_services(lab, SERVICES)


def migrate(lab, vm_name, dest_name):
    """Move a DMZ VM's vNIC to another hypervisor's br-dmz (as a migration would)."""
    _, tap = vnic_ends(lab.node(vm_name))
    move_vnic(tap, lab.node(dest_name), bridge='br-dmz')


def main():
    interactive(DmzTopo, 'DMZ lab up: ext 10.81.0.10, web %s, mail %s, lan 10.83.0.10; '
                'firewall VMs vm1 (external side) and vm4 (internal side); hv2 has its '
                'own internal-only br-dmz' % (WEB, MAIL), hypervisors=2)


if __name__ == '__main__':
    main()
