"""The core's own flows on every switch, whatever features are loaded.

On a hypervisor: each bound vNIC is classified into its network (reg5) and is
where frames to its MAC are delivered (reg7, then the output table, through the
ingress ACL table when a firewall is loaded); a frame for any other MAC goes to
the L2 table of its network's kind (VLAN, VXLAN), and traffic from a feature's
fixed port (the tunnel, the uplink) to that feature's first table. On a ToR:
untagged frames are the underlay (VTEP to VTEP): NORMAL, never across racks.

A vNIC migrating here (planned) is classified and can be delivered to at its
reserved port number before it arrives; frames reach it there only through the
kind's "arriving" flows.
"""
from controller import pipeline as P
from controller.flows import flow, goto, output, resubmit, reuse, set_field

BROADCAST = ('01:00:00:00:00:00', '01:00:00:00:00:00')


def compile_hypervisor(inv, host, kinds, ports):
    """``kinds``: network kind -> its L2 table; ``ports``: fixed ofport -> the
    table that takes its traffic (from the loaded features)."""
    entry = tuple(sorted(ports.items()))
    flows = list(reuse('core', ('feature-ports', entry), lambda: [
        flow('core', P.CLASSIFY, P.priority(P.CLASSIFY, 'feature_port'), {'in_port': ofport},
             [goto(table)]) for ofport, table in entry]))
    for port in inv.local_ports(host.name):
        network = inv.networks[port.network_id]
        if network.kind in kinds:
            flows += _vnic(network, port)
    for port in inv.arriving_ports(host.name):
        network = inv.networks[port.network_id]
        if network.kind in kinds:
            flows += [f for f in _vnic(network, port) if f.table != P.L2_LOOKUP]
    for network_id in inv.networks_on(host.name):
        network = inv.networks[network_id]
        if network.kind in kinds:
            flows += reuse('core', ('to-kind', network.nid, kinds[network.kind]), lambda: [flow(
                'core', P.L2_LOOKUP, P.priority(P.L2_LOOKUP, 'network'),
                {P.REG_NETWORK: network.nid}, [goto(kinds[network.kind])])])
    return flows


def deliver(ofport):
    """Actions that hand a frame to the local vNIC at ``ofport`` (its ingress
    rules first): reg7, then the ingress ACL table, which goes on to output."""
    return [set_field(P.REG_OUT_PORT, ofport)]


def _vnic(network, port):
    return reuse('core', ('vnic', network.nid, port.ofport, port.mac), lambda: [
        flow('core', P.CLASSIFY, P.priority(P.CLASSIFY, 'vnic'), {'in_port': port.ofport},
             [set_field(P.REG_NETWORK, network.nid), goto(P.PORT_SECURITY)]),
        flow('core', P.L2_LOOKUP, P.priority(P.L2_LOOKUP, 'local_mac'),
             {P.REG_NETWORK: network.nid, 'eth_dst': port.mac},
             deliver(port.ofport) + [goto(P.INGRESS_ACL)]),
        flow('core', P.OUTPUT, P.priority(P.OUTPUT, 'vnic'), {P.REG_OUT_PORT: port.ofport},
             [output(port.ofport)]),
    ])


def local_copies(inv, host, network):
    """Actions copying a flooded frame to every local vNIC of the network (each
    through its ingress rules): what a kind's flood flow starts with."""
    out = []
    for port in inv.local_ports(host.name):
        if port.network_id == network.id:
            out += deliver(port.ofport) + [resubmit(P.INGRESS_ACL)]
    return out


def remote_ports(inv, host, network):
    """[(mac, VTEP addresses)] of the network's ports bound on other hypervisors:
    the entries ``host`` needs. A port in a planned migration on VXLAN is sent
    to both its source and its destination VTEP (as OVN does for a port bound to
    two chassis): when it appears at the destination, no other host needs an
    update before its traffic flows there; the destination itself keeps sending
    to the source until then. Computed once per snapshot and network."""
    return [(mac, vteps) for _, mac, vteps in remote_entries(inv, host, network)]


def remote_entries(inv, host, network, port_ids=None):
    """[(port id, mac, VTEP addresses)]: :func:`remote_ports` with the port each
    entry is about (only those of ``port_ids`` if given)."""
    entries = remote_by_port(inv, network)
    ids = entries if port_ids is None else [i for i in port_ids if i in entries]
    return [(i, mac, to_source if host.name == arriving else both)
            for i in ids for where, arriving, mac, both, to_source in (entries[i],)
            if where != host.name]


def remote_by_port(inv, network):
    """{port id: (its host, the host it arrives at, mac, both VTEPs, source
    VTEP)} of the network's bound ports, once per state and network."""
    return inv.memo(('remote-ports', network.id), lambda: _remote_ports(inv, network))


def _remote_ports(inv, network):
    out = {}
    for port in inv.bound_ports(network.id):
        source = (inv.hosts[port.bound_host].vtep_ip,)
        arriving = inv.arriving_host(port) if network.kind == 'vxlan' else ''
        both = source + (inv.hosts[arriving].vtep_ip,) if arriving else source
        out[port.id] = (port.bound_host, arriving, port.mac, both, source)
    return out


def compile_tor(inv, tor):
    trunks = sorted(p for n, p in tor.uplinks.items() if n.startswith('rack:'))
    return list(reuse('core', ('tor-underlay', tuple(trunks)), lambda: [
        flow('core', P.TOR_CLASSIFY, P.priority(P.TOR_CLASSIFY, 'underlay', 'tor'),
             {'vlan_vid': 0}, [output('normal')])] + [
        flow('core', P.TOR_CLASSIFY, P.priority(P.TOR_CLASSIFY, 'trunk_underlay', 'tor'),
             {'in_port': port, 'vlan_vid': 0}) for port in trunks]))
