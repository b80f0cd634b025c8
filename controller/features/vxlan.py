"""The VXLAN overlay: the controller owns the MAC-to-VTEP tables.

Every forwarding decision comes from the inventory (no flood-and-learn):
- vxlan_in: the tunnel's VNI -> the network, marked as from remote;
- vxlan_l2: a remote MAC -> its VTEP (tun_dst, tun_id, the tunnel port);
  broadcast and unknown unicast -> the local vNICs and, from a local vNIC, only
  the VTEPs that host the network (head-end replication);
- arp_responder: the known addresses of the network are answered on the local
  host, other requests dropped: no ARP broadcast crosses the underlay;
- a port migrating here (planned): the copies the other hosts already send here
  go to its reserved port, delivered from the moment it is plugged there.
"""
from controller import pipeline as P
from controller.feature import Feature
from controller.features.switching import deliver, local_copies, remote_entries, remote_ports
from controller.flows import flow, goto, output, reuse, set_field


def compile_hypervisor(inv, host):
    flows = []
    for network_id in inv.networks_on(host.name, 'vxlan'):
        flows += _network(inv, host, inv.networks[network_id])
    for port in inv.arriving_ports(host.name):
        network = inv.networks[port.network_id]
        if network.kind == 'vxlan':
            flows += _arriving(network, port)
    return flows


def pieces(inv, host, want):
    """:func:`compile_hypervisor` in pieces (see :mod:`controller.pieces`)."""
    out = {}
    for network_id in inv.networks_on(host.name, 'vxlan'):
        network = inv.networks[network_id]
        if want.network_flows(network_id):
            out[('vxlan', 'net', network_id)] = _network_flows(inv, host, network)
        for port_id, mac, vteps in remote_entries(inv, host, network,
                                                  want.remote_ports(network_id)):
            out[('vxlan', 'remote', network_id, port_id)] = (_entry(network, mac, vteps),)
        if want.arp(network_id):
            out[('vxlan', 'arp', network_id)] = _arp(inv, network)
    for port in inv.arriving_ports(host.name):
        network = inv.networks[port.network_id]
        if network.kind == 'vxlan' and want.port(port.id):
            out[('vxlan', 'port', port.id)] = _arriving(network, port)
    return out


def _arriving(network, port):
    return reuse('vxlan', ('arriving', network.nid, port.mac, port.ofport), lambda: [flow(
        'vxlan', P.VXLAN_L2, P.priority(P.VXLAN_L2, 'arriving'),
        {P.REG_NETWORK: network.nid, P.REG_FROM_REMOTE: 1, 'eth_dst': port.mac},
        deliver(port.ofport) + [goto(P.INGRESS_ACL)])])


def to_vteps(network, vteps):
    return [a for vtep_ip in vteps for a in (
        set_field('tun_ipv4_dst', vtep_ip), set_field('tunnel_id', network.segmentation_id),
        output(P.TUNNEL_OFPORT))]


def _key(network):
    return network.nid, network.segmentation_id


def _network(inv, host, network):
    return (_network_flows(inv, host, network)
            + [_entry(network, mac, vteps) for mac, vteps in remote_ports(inv, host, network)]
            + list(_arp(inv, network)))


def _network_flows(inv, host, network):
    """The network's own flows on the host: the VNI in, floods."""
    remote = remote_ports(inv, host, network)
    copies = tuple(local_copies(inv, host, network))
    vteps = tuple(sorted({vteps[0] for _, vteps in remote}))      # where they are bound
    flows = list(reuse('vxlan', ('vxlan-network', _key(network), copies), lambda: [
        flow('vxlan', P.VXLAN_IN, P.priority(P.VXLAN_IN, 'vni'),
             {'tunnel_id': network.segmentation_id},
             [set_field(P.REG_NETWORK, network.nid), set_field(P.REG_FROM_REMOTE, 1),
              goto(P.L2_LOOKUP)]),
        flow('vxlan', P.VXLAN_L2, P.priority(P.VXLAN_L2, 'flood'),
             {P.REG_NETWORK: network.nid, P.REG_FROM_REMOTE: 1}, list(copies))]))
    flows += reuse('vxlan', ('vxlan-flood', _key(network), copies, vteps), lambda: [flow(
        'vxlan', P.VXLAN_L2, P.priority(P.VXLAN_L2, 'flood'),
        {P.REG_NETWORK: network.nid, P.REG_FROM_REMOTE: 0},
        list(copies) + to_vteps(network, vteps))])
    return flows


def _arp(inv, network):
    ports = inv.network_ports(network.id)
    return inv.memo(('arp', network.id), lambda: reuse(
        'vxlan', ('arp', _key(network), tuple((p.mac, tuple(p.ips)) for p in ports)),
        lambda: arp_responder(inv, network)))


def _entry(network, mac, vteps):
    """The MAC-to-VTEP entry (to both VTEPs while a planned migration runs)."""
    return reuse('vxlan', ('to-vtep', _key(network), mac, vteps), lambda: [flow(
        'vxlan', P.VXLAN_L2, P.priority(P.VXLAN_L2, 'remote_mac'),
        {P.REG_NETWORK: network.nid, 'eth_dst': mac}, to_vteps(network, vteps))])[0]


def arp_responder(inv, network):
    """Answer ``who-has ip`` for every known address of the network, locally.
    The controller knows every address of an overlay network, so a request for
    any other address is dropped rather than flooded across the underlay."""
    flows = [flow('vxlan', P.ARP_RESPONDER, P.priority(P.ARP_RESPONDER, 'unknown_address'),
                  {P.REG_NETWORK: network.nid, 'eth_type': 0x0806, 'arp_op': 1})]
    for port in inv.network_ports(network.id):
        for ip in port.ips:
            flows.append(flow(
                'vxlan', P.ARP_RESPONDER, P.priority(P.ARP_RESPONDER, 'known_address'),
                {P.REG_NETWORK: network.nid, 'eth_type': 0x0806, 'arp_op': 1, 'arp_tpa': ip},
                [('move', 'eth_src', 'eth_dst', 48), set_field('eth_src', port.mac),
                 set_field('arp_op', 2), ('move', 'arp_sha', 'arp_tha', 48),
                 ('move', 'arp_spa', 'arp_tpa', 32), set_field('arp_sha', port.mac),
                 set_field('arp_spa', ip), output('in_port')]))
    return flows


FEATURE = Feature('vxlan', compile=compile_hypervisor, kinds={'vxlan': P.VXLAN_L2},
                  ports={P.TUNNEL_OFPORT: P.VXLAN_IN}, pieces=pieces,
                  summary='VXLAN overlay: MAC-to-VTEP tables, ARP suppression, head-end '
                          'replication')
