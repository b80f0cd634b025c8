"""VLAN segmentation: tagging at each hypervisor's uplink, and the physical side
(the ToRs) kept consistent with the virtual side.

On a hypervisor, frames of a VLAN network leave through the uplink tagged with
its VID (unicast to any MAC not on this host, or broadcast from a local vNIC)
and come in untagged into the network. Where a remote MAC is, only the ToRs
hold: one flow per network on each hypervisor sends unicast up, so a port
bound or moved changes no other hypervisor's VLAN flows (but for whether the
network has ports elsewhere at all). Each ToR port admits only the VLANs that
have VMs behind it (a hypervisor port: the VLANs of its VMs; a trunk to another
rack: the VLANs present in both racks), recomputed on every change; tagged
frames are forwarded proactively by (VID, MAC), an unknown MAC dropped,
broadcast only to ports admitting the VID, and what arrives on a trunk never
goes back to a trunk (split horizon).
"""
from controller.compile import pipeline as P
from controller.compile.explain import flow_regs
from controller.compile.feature import Feature, declare
from controller.compile.switching import BROADCAST, local_copies, remote_by_port
from controller.compile.flows import flow, goto, output, reuse, set_field
from controller.state.inventory import placed
from controller.state.model import port_macs

VID_PRESENT = 0x1000
UNICAST = ('00:00:00:00:00:00', '01:00:00:00:00:00')


def to_uplink(network):
    return [('push_vlan',), set_field('vlan_vid', VID_PRESENT | network.segmentation_id),
            output(P.UPLINK_OFPORT)]


def pieces(inv, host, want):
    """The VLAN networks' flows on a hypervisor, one piece per network (see
    :mod:`controller.compile.pieces`)."""
    return {('vlan', 'net', network_id): _network(inv, host, inv.networks[network_id])
            for network_id in inv.networks_on(host.name, 'vlan')
            if want.network_flows(network_id)}


def _network(inv, host, network):
    """The network's flows on the host: tagged in; unicast not delivered here
    up to the ToR if the network has ports elsewhere (else dropped); floods."""
    key = network.nid, network.segmentation_id
    remote = remote_by_port(inv, network)
    remote = any(where != host.name for where, *_ in remote.values())
    copies = tuple(local_copies(inv, host, network))
    flows = list(reuse('vlan', ('vlan-network', key, copies), lambda: [
        flow('vlan', P.VLAN_IN, P.priority(P.VLAN_IN, 'vid'),
             {'vlan_vid': VID_PRESENT | network.segmentation_id},
             [('pop_vlan',), set_field(P.REG_NETWORK, network.nid),
              set_field(P.REG_FROM_REMOTE, 1), goto(P.L2_LOOKUP)]),
        flow('vlan', P.VLAN_L2, P.priority(P.VLAN_L2, 'flood'),
             {P.REG_NETWORK: network.nid, P.REG_FROM_REMOTE: 1}, list(copies))]))
    flows += reuse('vlan', ('vlan-flood', key, copies, remote), lambda: [
        flow('vlan', P.VLAN_L2, P.priority(P.VLAN_L2, 'unicast'),
             {P.REG_NETWORK: network.nid, P.REG_FROM_REMOTE: 0, 'eth_dst': UNICAST},
             to_uplink(network) if remote else []),
        flow('vlan', P.VLAN_L2, P.priority(P.VLAN_L2, 'flood'),
             {P.REG_NETWORK: network.nid, P.REG_FROM_REMOTE: 0},
             list(copies) + (to_uplink(network) if remote else []))])
    return flows


def allowed_vlans(inv, tor):
    """{ofport: sorted VIDs} for every port of the ToR."""
    rack_vlans = {}
    for hv in inv.hypervisors():
        rack_vlans.setdefault(hv.rack, set()).update(inv.vlans_on(hv.name))
    allowed = {}
    for name, ofport in tor.uplinks.items():
        kind, _, ident = name.partition(':')
        if kind == 'hv' and ident in inv.hosts:
            allowed[ofport] = set(inv.vlans_on(ident))
        elif kind == 'rack':
            allowed[ofport] = rack_vlans.get(tor.rack, set()) & rack_vlans.get(int(ident), set())
    return {port: sorted(vids) for port, vids in allowed.items()}


def _port_towards(inv, tor, hv_name):
    hv = inv.hosts[hv_name]
    if hv.rack == tor.rack:
        return tor.uplinks.get('hv:' + hv_name)
    return tor.uplinks.get('rack:%d' % hv.rack)


def tor_pieces(inv, tor, want):
    """A ToR's flows in pieces, for what ``want`` (:class:`controller.compile.pieces.Want`)
    asks: per VLAN network, ``('vlan', 'net', id)`` its VID admitted
    per port and its floods, and ``('vlan', 'remote', id, port id)`` the port
    its MAC is behind. A VLAN port's change touches its own MAC's piece, and
    its network's only when a hypervisor gains or loses the VLAN: whether a
    port admits a VID depends on that VID's network alone."""
    allowed = inv.memo(('allowed-vlans', tor.name), lambda: allowed_vlans(inv, tor))
    ports_of_vid = {}
    for port, vids in sorted(allowed.items()):
        for vid in vids:
            ports_of_vid.setdefault(vid, []).append(port)
    out = {}
    for network in inv.networks.values():
        vid = network.segmentation_id
        if network.kind != 'vlan' or vid not in ports_of_vid:
            continue
        if want.network_flows(network.id):
            out[('vlan', 'net', network.id)] = _tor_network(tor, vid, ports_of_vid[vid])
        wanted = want.remote_ports(network.id)
        if wanted is None:
            vports = inv.bound_ports(network.id)
        else:
            vports = [inv.ports[i] for i in wanted if i in inv.ports]
            vports = [p for p in vports if p.network_id == network.id and inv.is_bound(p)]
        for vport in vports:
            out_port = _port_towards(inv, tor, vport.bound_host)
            if out_port in allowed and vid in allowed[out_port]:
                macs = tuple(port_macs(vport))          # its own, its address pairs'
                out[('vlan', 'remote', network.id, vport.id)] = reuse(
                    'vlan', ('tor-mac', vid, macs, out_port), lambda: [flow(
                        'vlan', P.TOR_L2, P.priority(P.TOR_L2, 'mac', 'tor'),
                        {'vlan_vid': VID_PRESENT | vid, 'eth_dst': mac},
                        [output(out_port)]) for mac in macs])
    return out


def _tor_network(tor, vid, members):
    """A VLAN's admission on each of its ports, and its floods (a trunk's
    never back to a trunk)."""
    trunks = {p for n, p in tor.uplinks.items() if n.startswith('rack:')}
    flows = [flow('vlan', P.TOR_ADMIT, P.priority(P.TOR_ADMIT, 'allowed', 'tor'),
                  {'in_port': port, 'vlan_vid': VID_PRESENT | vid}, [goto(P.TOR_L2)])
             for port in members]
    for in_port in members:
        targets = [p for p in members if p != in_port
                   and not (in_port in trunks and p in trunks)]
        flows.append(flow('vlan', P.TOR_L2, P.priority(P.TOR_L2, 'flood', 'tor'),
                          {'in_port': in_port, 'vlan_vid': VID_PRESENT | vid,
                           'eth_dst': BROADCAST},
                          [output(p) for p in targets]))
    return tuple(flows)


def port_changed(inv, change, marks):
    """A port of a VLAN network changed: on the ToRs its own MAC's entry, or
    its network's piece if a host gained or lost the VLAN; on the network's
    other hypervisors, whether it has ports elsewhere, and only while its other
    ports are on one host or none (else that holds before and after)."""
    _, _, old, new = change
    records = [r for r in (old, new) if r is not None]
    port_id = records[0].id
    names = set().union(*map(placed, records))
    changed = marks.ports_changed
    for network_id in {r.network_id for r in records}:
        network = inv.networks.get(network_id)
        if network is None:             # of no known kind: the ToRs whole
            marks.add_tors(None)
            continue
        if network.kind != 'vlan':
            continue
        marks.add_tors(('remote', network_id, port_id) if all(
            _shares_host(inv, network_id, changed, n) for n in names)
            else ('net', network_id))
        if len(_other_hosts(inv, network_id, changed)) > 1:
            continue        # no other hypervisor's flows can change
        for name in inv.hosts_having(network_id):
            marks.add(name, ('remote', network_id, port_id))


def _other_hosts(inv, network_id, changed):
    """Hosts where the network's ports that the batch left alone (not in
    ``changed``) are bound, as far as the second one. A hypervisor holds
    nothing about a VLAN port bound elsewhere, only whether the network has a
    port bound elsewhere (its floods and unicast go up the uplink): with the
    untouched ports bound on two hosts or more, that holds for every hypervisor
    before and after the batch."""
    out = set()
    for port in inv.network_ports(network_id):
        if port.id not in changed and inv.is_bound(port):
            out.add(port.bound_host)
            if len(out) > 1:
                break
    return out


def _shares_host(inv, network_id, changed, host_name):
    """Whether a port of the network that the batch left alone is bound on or
    arriving at the host: then the host has the VLAN before and after the
    batch, and the ToRs admit it as before (only changed ports' MAC entries
    can change)."""
    return any(p.id not in changed and p.network_id == network_id
               for p in inv.local_ports(host_name) + inv.arriving_ports(host_name))


# ---- words (see controller.compile.explain) --------------------------------------------
def _vlan_in(words, host, name, flow, packet):
    if name == 'miss':
        return 'dropped: VLAN %d is not a network here' % (packet['vlan_vid'] & 0xfff)
    return 'VLAN %d -> network %s' % (packet['vlan_vid'] & 0xfff,
                                      words.net(dict(flow_regs(flow))))


def _vlan_l2(words, host, name, flow, packet):
    vid = next((a[2] & 0xfff for a in flow.actions if a[:2] == ('set_field', 'vlan_vid')),
               None)
    if name == 'unicast' and vid:
        return '%s is not on %s -> the uplink, VLAN %s (the ToR forwards it)' % (
            packet['eth_dst'], host, vid)
    if name == 'unicast':
        return 'dropped: %s is not on %s and network %s has no port elsewhere' % (
            packet['eth_dst'], host, words.net(packet))
    if name == 'flood':
        return 'broadcast: to the local vNICs of %s%s' % (
            words.net(packet), ' and the uplink, VLAN %s' % vid if vid else '')
    return 'dropped: %s is unknown in network %s' % (packet['eth_dst'], words.net(packet))


FEATURE = declare(Feature('vlan', pieces=pieces, tor_pieces=tor_pieces,
                          kinds={'vlan': P.VLAN_L2}, ports={P.UPLINK_OFPORT: P.VLAN_IN},
                          changes={'port': port_changed},
                          words={'vlan_in': _vlan_in, 'vlan_l2': _vlan_l2},
                          summary='VLAN tagging at each vNIC\'s hypervisor, trunks, and the '
                                  'ToRs admitting only the VLANs behind each port'))
