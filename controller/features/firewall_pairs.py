"""Allowed address pairs (Neutron's) in the firewall: a port may also send from
each pair's address or prefix, with the pair's MAC (its own when the pair names
none), IP and ARP alike. What else pairs change lives with its owner: delivery
to a pair's MAC (:mod:`controller.compile.switching`, the VXLAN and VLAN
entries), ARP for a pair's address flooded rather than answered
(:mod:`controller.features.vxlan`), remote groups counting pairs' addresses as
members (:func:`controller.state.model.member_addresses`)."""
from controller import addresses
from controller import constants as C
from controller.compile import pipeline as P
from controller.compile.flows import address_match, flow, goto
from controller.features import firewall_v6 as V6


def anti_spoofing(port):
    """The PORT_SECURITY flows admitting each of the port's pairs: IPv4 and ARP
    for an IPv4 pair; IPv6 and the Neighbor Advertisements for its addresses
    (what keepalived sends on taking the VIP over) for an IPv6 one."""
    flows = []
    own = P.priority(P.PORT_SECURITY, 'own_address')
    for pair in port.allowed_address_pairs:
        mac, address = pair['mac_address'], address_match(pair['ip_address'])
        who = {'in_port': port.ofport, 'eth_src': mac}
        if addresses.version(pair['ip_address']) == 6:
            flows.append(flow('firewall', P.PORT_SECURITY, own,
                              dict(who, eth_type=P.IPV6, ipv6_src=address),
                              [goto(P.EGRESS_ACL)]))
            flows += [flow('firewall', P.PORT_SECURITY, P.priority(P.PORT_SECURITY, 'nd_target'),
                           dict(who, eth_type=P.IPV6, ip_proto=C.ICMPV6, icmpv6_type=C.ND_NA,
                                ipv6_nd_target=address, ipv6_nd_tll=tll),
                           [goto(P.EGRESS_ACL)]) for tll in (mac, V6.NO_MAC)]
            continue
        flows += [
            flow('firewall', P.PORT_SECURITY, own, dict(who, eth_type=P.IPV4, ipv4_src=address),
                 [goto(P.EGRESS_ACL)]),
            flow('firewall', P.PORT_SECURITY, own,
                 dict(who, eth_type=P.ARP, arp_spa=address, arp_sha=mac), [goto(P.EGRESS_ACL)]),
        ]
    return flows
