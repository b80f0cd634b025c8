"""A port's addresses, IPv4 and IPv6 side by side: which family an address is,
the port's IPv6 link-local address (EUI-64 from its MAC, RFC 4291 appendix A),
and whether a port is a router's (it may then send Router Advertisements).

``Port.ips`` holds both families, each address in its canonical text
(IPv6 compressed, lower case); the link-local address is derived, never stored.
"""
import ipaddress

# Neutron's device_owner of a router's ports: they may advertise and redirect
ROUTER_OWNERS = ('network:router_interface', 'network:router_gateway',
                 'network:ha_router_replicated_interface')


def version(ip):
    return 6 if ':' in ip else 4


def v4(ips):
    return [ip for ip in ips if version(ip) == 4]


def v6(ips):
    return [ip for ip in ips if version(ip) == 6]


def canonical(ip):
    return str(ipaddress.ip_address(ip))


def link_local(mac):
    """fe80::/64 with the modified EUI-64 interface id of ``mac``."""
    octets = [int(x, 16) for x in mac.split(':')]
    octets[0] ^= 0x02
    iid = bytes(octets[:3] + [0xff, 0xfe] + octets[3:])
    return str(ipaddress.IPv6Address(b'\xfe\x80' + bytes(6) + iid))


def eui64(prefix, mac):
    """The SLAAC address of ``mac`` in a /64 ``prefix``."""
    net = ipaddress.IPv6Network(prefix, strict=False)
    iid = int(ipaddress.IPv6Address(link_local(mac))) & (2 ** 64 - 1)
    return str(net.network_address + iid)


def own_v6(port):
    """Every IPv6 address the port may send from: its fixed ones and its
    link-local one."""
    return v6(port.ips) + [link_local(port.mac)]


def is_router(port):
    """A router's port (Neutron's device_owner says so): RA guard spares it."""
    return (port.device_owner or '').startswith(ROUTER_OWNERS)


def solicited_node(ip):
    """The solicited-node multicast group of ``ip`` (ff02::1:ffXX:XXXX) and
    its MAC (33:33:ff:XX:XX:XX), where a Neighbor Solicitation for it goes."""
    low = ipaddress.IPv6Address(ip).packed[-3:]
    group = ipaddress.IPv6Address('ff02::1:ff00:0') + int.from_bytes(low, 'big')
    return str(group), '33:33:ff:%02x:%02x:%02x' % tuple(low)


# ---- patterns (the request schemas'): what a schema-driven client generates, the API takes
HEXTET = '[0-9A-Fa-f]{1,4}'
GLOBAL_OR_ULA = '([23][0-9A-Fa-f]{3}|[fF][cdCD][0-9A-Fa-f]{2})'    # 2000::/3, fc00::/7


def v6_pattern(first):
    """A regular expression of the IPv6 addresses whose first group matches
    ``first``, in full or compressed form (no embedded IPv4)."""
    forms = ['%s(:%s){7}' % (first, HEXTET)]
    for before in range(7):
        for after in range(7 - before):
            rest = '%s(:%s){%d}' % (HEXTET, HEXTET, after - 1) if after else ''
            forms.append('%s(:%s){%d}::%s' % (first, HEXTET, before, rest))
    return '(%s)' % '|'.join(forms)
