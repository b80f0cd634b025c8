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
from controller.flows import flow, goto, output, resubmit, set_field

BROADCAST = ('01:00:00:00:00:00', '01:00:00:00:00:00')
VID_PRESENT = 0x1000


def compile_hypervisor(inv, host):
    flows = []
    for port in inv.local_ports(host.name):
        flows += _local_port(inv.networks[port.network_id], port)
    for port in inv.incoming_ports(host.name):        # live migration: no traffic yet
        flows += [f for f in _local_port(inv.networks[port.network_id], port)
                  if f.table != P.L2_LOOKUP]
    for network_id in inv.networks_on(host.name):
        flows += _network(inv, host, inv.networks[network_id])
    return flows


def _deliver(ofport):
    return [set_field(P.REG_OUT_PORT, ofport)]


def _local_port(network, port):
    return [
        flow('segmentation', P.CLASSIFY, P.PRIO_MATCH, {'in_port': port.ofport},
             [set_field(P.REG_NETWORK, network.nid), goto(P.PORT_SECURITY)]),
        flow('segmentation', P.L2_LOOKUP, P.PRIO_UNICAST,
             {P.REG_NETWORK: network.nid, 'eth_dst': port.mac},
             _deliver(port.ofport) + [goto(P.INGRESS_ACL)]),
        flow('segmentation', P.INGRESS_ACL, P.PRIO_FLOOD, {P.REG_OUT_PORT: port.ofport},
             [output(port.ofport)]),
    ]


def to_remote(network, vtep_ip):
    """Actions that send a frame of ``network`` towards another hypervisor."""
    if network.kind == 'vxlan':
        return [set_field('tun_ipv4_dst', vtep_ip),
                set_field('tunnel_id', network.segmentation_id), output(P.TUNNEL_OFPORT)]
    return [('push_vlan',), set_field('vlan_vid', VID_PRESENT | network.segmentation_id),
            output(P.UPLINK_OFPORT)]


def remote_vteps(inv, host, network):
    """{vtep_ip: [ports]} of the network's ports bound on other hypervisors."""
    out = {}
    for port in inv.bound_ports(network.id):
        if port.bound_host != host.name:
            out.setdefault(inv.hosts[port.bound_host].vtep_ip, []).append(port)
    return out


def _network(inv, host, network):
    nid = network.nid
    flows = [_classify_remote(network)]
    remotes = remote_vteps(inv, host, network)
    for vtep_ip, ports in sorted(remotes.items()):
        for port in ports:
            flows.append(inv.memo(('to-remote', port.id, vtep_ip), lambda: flow(
                'segmentation', P.L2_LOOKUP, P.PRIO_UNICAST,
                {P.REG_NETWORK: nid, 'eth_dst': port.mac}, to_remote(network, vtep_ip))))
    local = []
    for port in inv.local_ports(host.name):
        if port.network_id == network.id:
            local += _deliver(port.ofport) + [resubmit(P.INGRESS_ACL)]
    towards_remote = []
    if network.kind == 'vxlan':
        for vtep_ip in sorted(remotes):
            towards_remote += to_remote(network, vtep_ip)
    elif remotes:
        towards_remote = to_remote(network, '')     # one tagged copy up the trunk
    flows += [
        flow('segmentation', P.L2_LOOKUP, P.PRIO_FLOOD, {P.REG_NETWORK: nid,
                                                        P.REG_FROM_REMOTE: 0},
             local + towards_remote),
        flow('segmentation', P.L2_LOOKUP, P.PRIO_FLOOD, {P.REG_NETWORK: nid,
                                                        P.REG_FROM_REMOTE: 1}, local),
    ]
    if network.kind == 'vxlan':
        flows += inv.memo(('arp', network.id), lambda: arp_responder(inv, network))
    return flows


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
