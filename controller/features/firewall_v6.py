"""The firewall's IPv6 side: what differs from IPv4, kept apart so that the
firewall's compiler (:mod:`controller.features.firewall`) reads both families
from one table of field names.

- anti-spoofing: a vNIC sends IPv6 only from its own addresses (its fixed ones
  and its link-local one, EUI-64 from its MAC); a Neighbor Advertisement only
  for its own addresses, with its own MAC as target link-layer address (or
  none); Router Advertisements, redirects and DHCPv6 server messages never
  (RA guard), unless its port is a router's (``device_owner``
  ``network:router_interface*``); Duplicate Address Detection, router
  solicitations and MLD reports from the unspecified address (what a host
  sends before its address is its own) pass.
- the ACL lets the ND and MLD a host needs pass untracked in both directions,
  as Neutron's OVS firewall does: without them no IPv6 address resolves.
"""
from controller import addresses
from controller import constants as C
from controller.compile import pipeline as P
from controller.compile.flows import flow, goto

# per ethertype: the match fields of the firewall's flows
FAMILY = {
    'IPv4': {'eth_type': C.IPV4, 'src': 'ipv4_src', 'dst': 'ipv4_dst', 'icmp': C.ICMP,
             'icmp_type': 'icmpv4_type', 'icmp_code': 'icmpv4_code'},
    'IPv6': {'eth_type': C.IPV6, 'src': 'ipv6_src', 'dst': 'ipv6_dst', 'icmp': C.ICMPV6,
             'icmp_type': 'icmpv6_type', 'icmp_code': 'icmpv6_code'},
}
ETHERTYPE_OF_VERSION = {4: 'IPv4', 6: 'IPv6'}
UNSPECIFIED = '::'
NO_MAC = '00:00:00:00:00:00'     # an NA without a target link-layer address option
# what a host sends before it owns an address (RFC 4862 DAD, RFC 4861 RS, RFC 3810)
FROM_UNSPECIFIED = (C.ND_NS, C.ND_RS, C.MLD2_REPORT)
# the ND and MLD that pass the ACL untracked, both ways (routers' RA and redirects
# reach VMs; a VM's never leave its port: port security drops them first)
ND_MLD = (C.MLD_QUERY, C.MLD_REPORT, C.MLD_DONE, C.ND_RS, C.ND_RA, C.ND_NS, C.ND_NA,
          C.ND_REDIRECT, C.MLD2_REPORT)


def ethertype(rule):
    return rule.get('ethertype') or 'IPv4'


def family_of(ip):
    return FAMILY[ETHERTYPE_OF_VERSION[addresses.version(ip)]]


def _icmp6(**match):
    return dict(match, eth_type=C.IPV6, ip_proto=C.ICMPV6)


def anti_spoofing(port):
    """The vNIC's IPv6 port-security flows (see the module's docstring)."""
    table, who = P.PORT_SECURITY, {'in_port': port.ofport, 'eth_src': port.mac}

    def ps(name, match, actions=()):
        return flow('firewall', table, P.priority(table, name), match, actions)
    flows = [ps('guard', _icmp6(in_port=port.ofport, icmpv6_type=C.ND_NA))]
    if not addresses.is_router(port):
        flows += [ps('guard', _icmp6(in_port=port.ofport, icmpv6_type=t))
                  for t in (C.ND_RA, C.ND_REDIRECT)]
        flows.append(ps('guard', {'in_port': port.ofport, 'eth_type': C.IPV6,
                                  'ip_proto': C.UDP, 'udp_src': C.DHCPV6_SERVER_PORT}))
    for ip in addresses.own_v6(port):
        flows.append(ps('own_address', dict(who, eth_type=C.IPV6, ipv6_src=ip),
                        [goto(P.EGRESS_ACL)]))
        flows += [ps('nd_target', _icmp6(**who, icmpv6_type=C.ND_NA, ipv6_nd_target=ip,
                                         ipv6_nd_tll=mac), [goto(P.EGRESS_ACL)])
                  for mac in (port.mac, NO_MAC)]
    flows += [ps('unspecified', _icmp6(**who, ipv6_src=UNSPECIFIED, icmpv6_type=t),
                 [goto(P.EGRESS_ACL)]) for t in FROM_UNSPECIFIED]
    return flows


def nd_passes(table, who, passed):
    """The ACL flows letting ND and MLD pass untracked (before ``track``)."""
    return [flow('firewall', table, P.priority(table, 'nd'), _icmp6(**who, icmpv6_type=t),
                 passed) for t in ND_MLD]
