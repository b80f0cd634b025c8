"""L2 segmentation on a hypervisor's br-int: VLAN and VXLAN networks.

Every forwarding decision comes from the inventory (no flood-and-learn):
- classify: vNIC -> its network; tunnel + VNI or uplink + VID -> the network;
- L2 lookup: known MAC -> local vNIC, remote VTEP (tun_dst/tun_id) or tagged
  uplink; broadcast and unknown unicast -> the network's local vNICs plus only
  the VTEPs / uplink that host the network (head-end replication, no sprawl);
- ARP responder (VXLAN): known addresses are answered on the local host, other
  requests dropped: no ARP broadcast crosses the underlay;
- delivery: ``reg7 = ofport`` then the ingress ACL table outputs it.
"""
from controller import pipeline as P
from controller.flows import flow, goto, output, resubmit, reuse, set_field

BROADCAST = ('01:00:00:00:00:00', '01:00:00:00:00:00')
VID_PRESENT = 0x1000


def compile_hypervisor(inv, host):
    flows = []
    for port in inv.local_ports(host.name):
        flows += _local_port(inv.networks[port.network_id], port)
    for port in inv.incoming_ports(host.name):        # planned migration: see _arriving
        network = inv.networks[port.network_id]
        flows += [f for f in _local_port(network, port) if f.table != P.L2_LOOKUP]
        flows += _arriving(network, port)
    for network_id in inv.networks_on(host.name):
        flows += _network(inv, host, inv.networks[network_id])
    return flows


def _deliver(ofport):
    return [set_field(P.REG_OUT_PORT, ofport)]


def _local_port(network, port):
    return reuse(('local', network.nid, port.ofport, port.mac), lambda: [
        flow('segmentation', P.CLASSIFY, P.PRIO_MATCH, {'in_port': port.ofport},
             [set_field(P.REG_NETWORK, network.nid), goto(P.PORT_SECURITY)]),
        flow('segmentation', P.L2_LOOKUP, P.PRIO_UNICAST,
             {P.REG_NETWORK: network.nid, 'eth_dst': port.mac},
             _deliver(port.ofport) + [goto(P.INGRESS_ACL)]),
        flow('segmentation', P.INGRESS_ACL, P.PRIO_FLOOD, {P.REG_OUT_PORT: port.ofport},
             [output(port.ofport)]),
    ])


def _arriving(network, port):
    """A VXLAN port migrating here (``port`` as it will be bound, at its reserved
    number): the copies the other hosts already send here (see _remote_entries)
    go to that number, through its ingress rules; dropped while no device is
    plugged there (or its link is down), delivered from the moment it is. Local
    vNICs here still reach it at its source until it arrives."""
    if network.kind != 'vxlan':
        return []
    return [flow('segmentation', P.L2_LOOKUP, P.PRIO_ARRIVING,
                 {P.REG_NETWORK: network.nid, P.REG_FROM_REMOTE: 1, 'eth_dst': port.mac},
                 _deliver(port.ofport) + [goto(P.INGRESS_ACL)])]


def to_remote(network, vtep_ip):
    """Actions that send a frame of ``network`` towards another hypervisor."""
    if network.kind == 'vxlan':
        return [set_field('tun_ipv4_dst', vtep_ip),
                set_field('tunnel_id', network.segmentation_id), output(P.TUNNEL_OFPORT)]
    return [('push_vlan',), set_field('vlan_vid', VID_PRESENT | network.segmentation_id),
            output(P.UPLINK_OFPORT)]


def _remote_entries(inv, network):
    """(host, arriving host, mac, entry, entry to the source only) for each bound
    port of the network, an entry being (vteps, flow): the MAC-to-VTEP entry
    every other hypervisor of the network installs (built once per snapshot, the
    flows reused across snapshots). A VXLAN port in a planned migration is sent
    to both its source and its destination VTEP (as OVN does for a port bound to
    two chassis): when it appears at the destination, no other host needs an
    update before its traffic flows there; the destination itself keeps sending
    to the source."""
    out = []
    for port in inv.bound_ports(network.id):
        source = (inv.hosts[port.bound_host].vtep_ip,)
        arriving = inv.arriving_host(port) if network.kind == 'vxlan' else ''
        both = source + (inv.hosts[arriving].vtep_ip,) if arriving else source
        out.append((port.bound_host, arriving, port.mac,
                    (both, _entry(network, port.mac, both)),
                    (source, _entry(network, port.mac, source))))
    return out


def remote_entries(inv, host, network):
    """[(mac, vteps, flow)]: the MAC-to-VTEP entries ``host`` installs for the
    network's ports bound on other hypervisors (also what the mappings view
    shows)."""
    entries = inv.memo(('remote-entries', network.id), lambda: _remote_entries(inv, network))
    return [(mac,) + (to_source if host.name == arriving else both)
            for where, arriving, mac, both, to_source in entries if where != host.name]


def _entry(network, mac, vteps):
    return reuse(('to-remote', _key(network), mac, vteps), lambda: [flow(
        'segmentation', P.L2_LOOKUP, P.PRIO_UNICAST,
        {P.REG_NETWORK: network.nid, 'eth_dst': mac},
        [a for vtep_ip in vteps for a in to_remote(network, vtep_ip)])])[0]


def _key(network):
    return network.nid, network.kind, network.segmentation_id


def _network(inv, host, network):
    remote = remote_entries(inv, host, network)
    local = tuple(p.ofport for p in inv.local_ports(host.name) if p.network_id == network.id)
    vteps = tuple(sorted({vteps[0] for _, vteps, _ in remote}))     # where they are bound
    flows = list(reuse(('network', _key(network), local), lambda: [
        _classify_remote(network), _flood(network, local, None)]))
    flows += reuse(('flood', _key(network), local, vteps),
                   lambda: [_flood(network, local, vteps)])
    flows += [f for _, _, f in remote]
    if network.kind == 'vxlan':
        ports = inv.ports_by_network.get(network.id, [])
        flows += inv.memo(('arp', network.id), lambda: reuse(
            ('arp', _key(network), tuple((p.mac, tuple(p.ips)) for p in ports)),
            lambda: arp_responder(inv, network)))
    return flows


def _flood(network, local_ofports, vteps):
    """Broadcast and unknown unicast: to the local vNICs and, for frames from a
    local vNIC (``vteps`` not None), to the VTEPs (or the uplink) hosting the
    network."""
    local = []
    for ofport in local_ofports:
        local += _deliver(ofport) + [resubmit(P.INGRESS_ACL)]
    towards_remote = []
    if vteps and network.kind == 'vxlan':
        for vtep_ip in vteps:
            towards_remote += to_remote(network, vtep_ip)
    elif vteps:
        towards_remote = to_remote(network, '')     # one tagged copy up the trunk
    return flow('segmentation', P.L2_LOOKUP, P.PRIO_FLOOD,
                {P.REG_NETWORK: network.nid, P.REG_FROM_REMOTE: 0 if vteps is not None else 1},
                local + towards_remote)


def _classify_remote(network):
    into_network = [set_field(P.REG_NETWORK, network.nid), set_field(P.REG_FROM_REMOTE, 1)]
    if network.kind == 'vxlan':
        return flow('segmentation', P.CLASSIFY, P.PRIO_MATCH,
                    {'in_port': P.TUNNEL_OFPORT, 'tunnel_id': network.segmentation_id},
                    into_network + [goto(P.L2_LOOKUP)])
    return flow('segmentation', P.CLASSIFY, P.PRIO_MATCH,
                {'in_port': P.UPLINK_OFPORT,
                 'vlan_vid': VID_PRESENT | network.segmentation_id},
                [('pop_vlan',)] + into_network + [goto(P.L2_LOOKUP)])


def arp_responder(inv, network):
    """Answer ``who-has ip`` for every known address of the network, locally.
    The controller knows every address of an overlay network, so a request for
    any other address is dropped rather than flooded across the underlay."""
    flows = [flow('overlay', P.ARP_RESPONDER, P.PRIO_FLOOD,
                  {P.REG_NETWORK: network.nid, 'eth_type': 0x0806, 'arp_op': 1})]
    for port in inv.ports_by_network.get(network.id, []):
        for ip in port.ips:
            flows.append(flow(
                'overlay', P.ARP_RESPONDER, P.PRIO_ARP_REPLY,
                {P.REG_NETWORK: network.nid, 'eth_type': 0x0806, 'arp_op': 1, 'arp_tpa': ip},
                [('move', 'eth_src', 'eth_dst', 48), set_field('eth_src', port.mac),
                 set_field('arp_op', 2), ('move', 'arp_sha', 'arp_tha', 48),
                 ('move', 'arp_spa', 'arp_tpa', 32), set_field('arp_sha', port.mac),
                 set_field('arp_spa', ip), output('in_port')]))
    return flows
