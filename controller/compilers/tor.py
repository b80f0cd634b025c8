"""ToR switches: the physical side of VLAN segmentation, kept consistent with
the virtual side.

Each ToR port admits only the VLANs that have VMs behind it (a hypervisor port:
the VLANs of its VMs; a trunk to another rack: the VLANs present in both racks),
recomputed from the inventory on every change. Tagged frames are forwarded
proactively by (VID, MAC); broadcast goes only to ports that admit the VID, and
what arrives on a trunk never goes back to a trunk (split horizon). Untagged
frames are the underlay (VTEP) traffic: NORMAL, but never across trunks.
"""
from controller import pipeline as P
from controller.compilers.segmentation import BROADCAST, VID_PRESENT
from controller.flows import flow, goto, output


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


def compile_tor(inv, tor):
    trunks = {p for n, p in tor.uplinks.items() if n.startswith('rack:')}
    allowed = allowed_vlans(inv, tor)
    flows = [flow('tor', P.TOR_ADMIT, P.PRIO_DEFAULT),                        # drop
             flow('tor', P.TOR_ADMIT, P.PRIO_FLOOD, {'vlan_vid': 0}, [output('normal')]),
             flow('tor', P.TOR_L2, P.PRIO_DEFAULT)]
    for port in sorted(trunks):          # the underlay never crosses racks at L2
        flows.append(flow('tor', P.TOR_ADMIT, P.PRIO_UNICAST,
                          {'in_port': port, 'vlan_vid': 0}))
    ports_of_vid = {}
    for port, vids in allowed.items():
        for vid in vids:
            ports_of_vid.setdefault(vid, []).append(port)
            flows.append(flow('tor', P.TOR_ADMIT, P.PRIO_MATCH,
                              {'in_port': port, 'vlan_vid': VID_PRESENT | vid},
                              [goto(P.TOR_L2)]))
    for network in inv.networks.values():
        vid = network.segmentation_id
        if network.kind != 'vlan' or vid not in ports_of_vid:
            continue
        for vport in inv.bound_ports(network.id):
            out = _port_towards(inv, tor, vport.bound_host)
            if out in allowed and vid in allowed[out]:
                flows.append(flow('tor', P.TOR_L2, P.PRIO_UNICAST,
                                  {'vlan_vid': VID_PRESENT | vid, 'eth_dst': vport.mac},
                                  [output(out)]))
        members = sorted(ports_of_vid[vid])
        for in_port in members:
            targets = [p for p in members if p != in_port
                       and not (in_port in trunks and p in trunks)]
            flows.append(flow('tor', P.TOR_L2, P.PRIO_FLOOD,
                              {'in_port': in_port, 'vlan_vid': VID_PRESENT | vid,
                               'eth_dst': BROADCAST},
                              [output(p) for p in targets]))
    return flows
