"""Allowed address pairs (Neutron's) in the firewall: a port may also send from
each pair's address or prefix, with the pair's MAC (its own when the pair names
none), IP and ARP alike. What else pairs change lives with its owner: delivery
to a pair's MAC (:mod:`controller.compile.switching`, the VXLAN and VLAN
entries), ARP for a pair's address flooded rather than answered
(:mod:`controller.features.vxlan`), remote groups counting pairs' addresses as
members (:func:`controller.state.model.member_addresses`)."""
from controller.compile import pipeline as P
from controller.compile.flows import address_match, flow, goto


def anti_spoofing(port):
    """The PORT_SECURITY flows admitting each of the port's pairs."""
    flows = []
    own = P.priority(P.PORT_SECURITY, 'own_address')
    for pair in port.allowed_address_pairs:
        mac, address = pair['mac_address'], address_match(pair['ip_address'])
        flows += [
            flow('firewall', P.PORT_SECURITY, own,
                 {'in_port': port.ofport, 'eth_src': mac, 'eth_type': P.IPV4,
                  'ipv4_src': address}, [goto(P.EGRESS_ACL)]),
            flow('firewall', P.PORT_SECURITY, own,
                 {'in_port': port.ofport, 'eth_src': mac, 'eth_type': P.ARP,
                  'arp_spa': address, 'arp_sha': mac}, [goto(P.EGRESS_ACL)]),
        ]
    return flows
