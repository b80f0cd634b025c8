"""The VM-based, bridge-mode firewall: the comparison point of vnetsec's
distributed per-vNIC firewall (no controller involved).

    a1 ── br-a ── fw ══ br-b ── b1, b2
                 (br0 over its two NICs, nftables)

Clients sit on virtual switch ``br-a``, servers on ``br-b``; the firewall VM
bridges the two switches (one IP subnet, a transparent firewall) and enforces
``GROUPS``: the same rules a vnetsec security group holds, with the same meaning
(see mininet_topos.nftables). What it cannot see, it cannot filter: b1 and b2
share br-b, so their traffic never reaches the firewall.

``remote=True`` puts the firewall VM on a second hypervisor: a1 and b1 still
share hv1, but their traffic goes to hv2 and back (the "traffic trombone"). The
hypervisors' br-a and br-b are joined by one underlay link each (``ua``, ``ub``).

    python3 -m mininet_topos.bridge_firewall [--remote]   # the lab with Mininet's CLI
"""
import sys

from mininet.topo import Topo

from mininet_topos.lab import FirewallVM, PlainHypervisor, interactive, set_address, start_services
from mininet_topos.nftables import ruleset

ADDRESSES = {'a1': '10.90.0.1', 'b1': '10.90.0.11', 'b2': '10.90.0.12'}
MEMBERS = {'clients': ['a1'], 'servers': ['b1', 'b2']}
IPERF_PORT, SERVICE_PORT, FORBIDDEN_PORT = 5201, 5202, 22
RULES = {       # security-group rules, as POSTed to vnetsec's /v1/security-groups
    'clients': [{'direction': 'egress'}],
    'servers': [{'direction': 'ingress', 'protocol': 'tcp', 'port_range_min': IPERF_PORT,
                 'port_range_max': SERVICE_PORT},
                {'direction': 'ingress', 'protocol': 'icmp'},
                {'direction': 'egress'}],
}
SERVICES = {'b1': (SERVICE_PORT, FORBIDDEN_PORT), 'b2': (SERVICE_PORT, FORBIDDEN_PORT)}
UNDERLAY = ('ua', 'ub')


def groups():
    """The firewall VM's view of RULES: members by address."""
    return {name: {'members': [ADDRESSES[vm] for vm in MEMBERS[name]], 'rules': rules}
            for name, rules in RULES.items()}


class BridgeFirewallTopo(Topo):
    def build(self, rundir, remote=False):
        hv1 = {'br-a': [], 'br-b': []}
        hv2 = {'br-a': [], 'br-b': []} if remote else hv1
        nodes = {'hv1': self.addSwitch('hv1', cls=PlainHypervisor, dpid='b1', rundir=rundir,
                                       bridges=hv1)}
        if remote:
            nodes['hv2'] = self.addSwitch('hv2', cls=PlainHypervisor, dpid='b2',
                                          rundir=rundir, bridges=hv2)
            for link, bridge in zip(UNDERLAY, ('br-a', 'br-b')):
                self.addLink(nodes['hv1'], nodes['hv2'], intfName1=link, intfName2=link)
                hv1[bridge].append(link)
                hv2[bridge].append(link)
        fw_hv = nodes['hv2' if remote else 'hv1']
        self.addHost('fw', cls=FirewallVM, ip=None)
        for k, bridge in enumerate(('br-a', 'br-b')):
            port = 'fw%d' % k
            self.addLink('fw', fw_hv, intfName1='fw-eth%d' % k, intfName2=port)
            hv2[bridge].append(port)
        for vm in ADDRESSES:
            self.addHost(vm, ip=None)
            self.addLink(vm, nodes['hv1'], intfName1='%s-eth0' % vm, intfName2=vm)
            hv1['br-a' if vm in MEMBERS['clients'] else 'br-b'].append(vm)

    def configure(self, lab):
        for vm, ip in ADDRESSES.items():
            set_address(lab.node(vm), '%s-eth0' % vm, ip + '/24')
        lab.node('fw').load_firewall(ruleset(groups()), 'bridge', lab.rundir + '/fw.nft')
        start_services(lab, SERVICES)


def main():
    interactive(BridgeFirewallTopo, 'Bridge-mode firewall lab up: client a1 %(a1)s, servers '
                'b1 %(b1)s and b2 %(b2)s; firewall VM fw' % ADDRESSES,
                remote='--remote' in sys.argv)


if __name__ == '__main__':
    main()
