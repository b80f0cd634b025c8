"""The VXLAN overlay: the controller owns the MAC-to-VTEP tables.

Every forwarding decision comes from the inventory (no flood-and-learn):
- vxlan_in: the tunnel's VNI -> the network, marked as from remote;
- vxlan_l2: a remote MAC -> its VTEP (tun_dst, tun_id, the tunnel port);
  broadcast and unknown unicast -> the local vNICs and, from a local vNIC, only
  the VTEPs that host the network (head-end replication);
- arp_responder: the known addresses of the network are answered on the local
  host, other requests dropped: no ARP broadcast crosses the underlay; IPv6
  alike (ND suppression): a Neighbor Solicitation for a known address is
  answered here with its owner's Neighbor Advertisement, made in flows (OVS's
  nd_reserved and nd_options_type, taught to the framework by
  controller.ryu_facade), one for an unknown address dropped; Duplicate
  Address Detection (from ::) is never answered: it goes to the owner's MAC
  only, unicast;
- a port migrating here (planned): the copies the other hosts already send here
  go to its reserved port, delivered from the moment it is plugged there.
"""
from controller import addresses
from controller import constants as C
from controller.compile import pipeline as P
from controller.compile.explain import flow_regs
from controller.compile.feature import Feature, declare
from controller.compile.switching import deliver, local_copies, remote_entries, remote_ports
from controller.compile.flows import address_match, flow, goto, output, reuse, set_field
from controller.state.model import pair_addresses


def pieces(inv, host, want):
    """The overlay's flows on a hypervisor, in pieces (see :mod:`controller.compile.pieces`):
    per VXLAN network here its own flows (VNI in, floods), one MAC-to-VTEP entry
    per port bound elsewhere and its ARP responder; a port arriving here, the
    copies sent to its reserved port."""
    out = {}
    for network_id in inv.networks_on(host.name, 'vxlan'):
        network = inv.networks[network_id]
        if want.network_flows(network_id):
            out[('vxlan', 'net', network_id)] = _network_flows(inv, host, network)
        for port_id, macs, vteps in remote_entries(inv, host, network,
                                                   want.remote_ports(network_id)):
            out[('vxlan', 'remote', network_id, port_id)] = tuple(
                _entry(network, mac, vteps) for mac in macs)
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
        'vxlan', ('arp', _key(network), tuple((p.mac, tuple(p.ips), pair_addresses(p))
                                              for p in ports)),
        lambda: arp_responder(inv, network) + nd_responder(inv, network)))


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
                  {P.REG_NETWORK: network.nid, 'eth_type': P.ARP, 'arp_op': C.ARP_REQUEST})]
    for port in inv.network_ports(network.id):
        for ip in addresses.v4(port.ips):
            flows.append(flow(
                'vxlan', P.ARP_RESPONDER, P.priority(P.ARP_RESPONDER, 'known_address'),
                {P.REG_NETWORK: network.nid, 'eth_type': P.ARP, 'arp_op': C.ARP_REQUEST, 'arp_tpa': ip},
                [('move', 'eth_src', 'eth_dst', 48), set_field('eth_src', port.mac),
                 set_field('arp_op', 2), ('move', 'arp_sha', 'arp_tha', 48),
                 ('move', 'arp_spa', 'arp_tpa', 32), set_field('arp_sha', port.mac),
                 set_field('arp_spa', ip), output('in_port')]))
    # an address pair's address moves between ports (a VIP, claimed by gratuitous
    # ARP): asked for, it is flooded and its current holder answers
    for address in _pairs(inv, network, 4):
        flows.append(flow(
            'vxlan', P.ARP_RESPONDER, P.priority(P.ARP_RESPONDER, 'pair_address'),
            {P.REG_NETWORK: network.nid, 'eth_type': P.ARP, 'arp_op': C.ARP_REQUEST,
             'arp_tpa': address_match(address)}, [goto(P.L2_LOOKUP)]))
    return flows


def _pairs(inv, network, version):
    """The network's address pairs' addresses (or prefixes) of one IP version."""
    return sorted({a for port in inv.network_ports(network.id) for a in pair_addresses(port)
                   if addresses.version(a) == version})


def nd_responder(inv, network):
    """Answer a Neighbor Solicitation for every known address (fixed or
    link-local) of the network locally, as ARP is answered: the NS becomes its
    owner's solicited Advertisement (S and O flags, the owner's MAC as target
    link-layer address) and goes back where it came from. One for another
    address is dropped. Duplicate Address Detection (an NS from ::) is never
    answered here, which would tell the sender its address is taken: it goes
    to the owner's MAC only (unicast, one VTEP), which answers if it is."""
    ns = {P.REG_NETWORK: network.nid, 'eth_type': C.IPV6, 'ip_proto': C.ICMPV6,
          'icmpv6_type': C.ND_NS}

    def nd(name, match, actions=()):
        return flow('vxlan', P.ARP_RESPONDER, P.priority(P.ARP_RESPONDER, name), match, actions)
    flows = [nd('unknown_target', ns)]
    for port in inv.network_ports(network.id):
        for ip in addresses.own_v6(port):
            target = dict(ns, ipv6_nd_target=ip)
            flows += [
                nd('dad', dict(target, ipv6_src='::'),
                   [set_field('eth_dst', port.mac), goto(P.L2_LOOKUP)]),
                # the NS becomes an NA here; its option's address (now a target
                # link-layer one) is set in nd_answer, whose match is an NA: OVS
                # checks a set_field's prerequisites against the flow's match
                nd('known_target', target, [
                    ('move', 'eth_src', 'eth_dst', 48), set_field('eth_src', port.mac),
                    ('move', 'ipv6_src', 'ipv6_dst', 128), set_field('ipv6_src', ip),
                    set_field('icmpv6_type', C.ND_NA),
                    set_field('nd_options_type', C.ND_OPT_TLL),
                    set_field('nd_reserved', C.ND_NA_FLAGS_SO), ('resubmit', P.ND_ANSWER)])]
    # an address pair's IPv6 address: flooded, its holder answers (as for ARP)
    flows += [nd('pair_address', dict(ns, ipv6_nd_target=address_match(address)),
                 [goto(P.L2_LOOKUP)]) for address in _pairs(inv, network, 6)]
    flows.append(flow('vxlan', P.ND_ANSWER, P.priority(P.ND_ANSWER, 'advertisement'),
                      dict(ns, icmpv6_type=C.ND_NA),
                      [('move', 'eth_src', 'ipv6_nd_tll', 48), output('in_port')]))
    return flows


def port_changed(inv, change, marks):
    """A port of a VXLAN network changed: its MAC-to-VTEP entry (and the
    network's floods) on every host of the network, and their ARP responders
    if its addresses or network changed."""
    _, _, old, new = change
    records = [r for r in (old, new) if r is not None]
    moved = old is None or new is None or (
        old.mac, old.ips, old.network_id, old.allowed_address_pairs) != (
        new.mac, new.ips, new.network_id, new.allowed_address_pairs)
    for network_id in {r.network_id for r in records}:
        network = inv.networks.get(network_id)
        if network is None or network.kind != 'vxlan':
            continue
        for name in inv.hosts_having(network_id):
            marks.add(name, ('remote', network_id, records[0].id))
            if moved:
                marks.add(name, ('arp', network_id))


# ---- words (see controller.compile.explain) --------------------------------------------
def _vxlan_in(words, host, name, flow, packet):
    if name == 'miss':
        return 'dropped: VNI %s is not a network here' % packet.get('tunnel_id')
    return 'VNI %d -> network %s' % (packet['tunnel_id'], words.net(dict(flow_regs(flow))))


def _arp_responder(words, host, name, flow, packet):
    if name == 'known_address':
        mac = next(a[2] for a in flow.actions if a[:2] == ('set_field', 'eth_src'))
        return 'ARP for %s answered on %s: %s' % (packet.get('arp_tpa'), host, mac)
    if name == 'pair_address':
        return ('ARP for %s flooded: an allowed address pair\'s, answered by the port '
                'holding it now' % packet.get('arp_tpa'))
    if name == 'unknown_address':
        return 'dropped: no port of network %s has %s (ARP is answered locally)' % (
            words.net(packet), packet.get('arp_tpa'))
    if name == 'known_target':
        mac = next(a[2] for a in flow.actions if a[:2] == ('set_field', 'eth_src'))
        return 'neighbor solicitation for %s answered on %s: %s (ND suppression)' % (
            packet.get('ipv6_nd_target'), host, mac)
    if name == 'dad':
        mac = next(a[2] for a in flow.actions if a[:2] == ('set_field', 'eth_dst'))
        return 'duplicate address detection for %s: sent to its owner %s only' % (
            packet.get('ipv6_nd_target'), mac)
    if name == 'unknown_target':
        return 'dropped: no port of network %s has %s (ND suppression)' % (
            words.net(packet), packet.get('ipv6_nd_target'))
    return None


def _vxlan_l2(words, host, name, flow, packet):
    vteps = [a[2] for a in flow.actions if a[:2] == ('set_field', 'tun_ipv4_dst')]
    vni = next((a[2] for a in flow.actions if a[:2] == ('set_field', 'tunnel_id')), None)
    hosts = [h.name for h in words.inv.hosts.values() if h.vtep_ip in vteps]
    if name == 'remote_mac':
        return '%s -> VXLAN %s to %s (VTEP %s)' % (packet['eth_dst'], vni, ', '.join(hosts),
                                                  ', '.join(vteps))
    if name == 'flood':
        return 'broadcast: to the local vNICs of %s%s' % (
            words.net(packet), ' and VXLAN %s to %s' % (vni, ', '.join(hosts)) if hosts else '')
    if name == 'arriving':
        return '%s is arriving here (planned migration)' % packet['eth_dst']
    return 'dropped: %s is unknown in network %s' % (packet['eth_dst'], words.net(packet))


FEATURE = declare(Feature('vxlan', pieces=pieces, kinds={'vxlan': P.VXLAN_L2},
                          ports={P.TUNNEL_OFPORT: P.VXLAN_IN}, changes={'port': port_changed},
                          words={'vxlan_in': _vxlan_in, 'arp_responder': _arp_responder,
                                 'vxlan_l2': _vxlan_l2},
                          summary='VXLAN overlay: MAC-to-VTEP tables, ARP suppression, head-end '
                                  'replication'))
