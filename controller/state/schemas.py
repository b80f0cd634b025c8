"""What the REST API accepts and returns, declared once (pydantic, strict).

The same declarations validate every request body and generate the OpenAPI
document, so the contract tools read is the one the controller enforces. The
bounds are what the switch and the kernel can hold: a VLAN id has 12 bits, a
VNI 24, a datapath id 64, an interface name 15 characters; strings are matched
whole (no trailing newline slips through) and bounded.

:func:`parse` turns a body into a checked model or raises
:class:`~controller.state.model.ValidationError` naming the field (its whole path,
``rules[2].port_range_max``), before anything is stored. A check of one value
raises ValueError; a check that spans fields calls :func:`fail` with the field
to blame.
"""
import ipaddress
from typing import Annotated, Literal, Optional

import pydantic
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PlainValidator, WithJsonSchema
from pydantic_core import PydanticCustomError

from controller import addresses
from controller import constants as C
from controller import protocols
from controller.state.model import ValidationError
from controller.state.parsing import HINTS, field_path, json_schema, parse  # noqa: F401 - here too

VLAN_MIN, VLAN_MAX = 1, 4094
VNI_MIN, VNI_MAX = 1, 2 ** 24 - 1
OFPORT_MAX = C.OFPORT_MAX    # highest port number every action we use can carry
MAX_IPS, MAX_GROUPS, MAX_RULES, MAX_BULK = 16, 64, 256, 5000

_OCTET = r'(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])'
# first octet 1-223 except 127: no "this network", loopback, multicast or class E
_UNICAST_FIRST = r'(22[0-3]|2[01][0-9]|1[3-9][0-9]|12[0-689]|1[01][0-9]|[1-9][0-9]?)'
NAME_PATTERN = r'^[A-Za-z0-9_.-]{1,64}$'


def fail(field, message):
    """Blame ``field`` of the model being checked (for checks spanning fields)."""
    raise PydanticCustomError('vnetsec', message.replace('{', '(').replace('}', ')'),
                              {'field': field})


def _unicast_mac(value):
    value = value.lower()
    if value == '00:00:00:00:00:00':
        raise ValueError(HINTS['mac'])
    return value


def _device(value):
    if value in ('.', '..'):
        raise ValueError(HINTS['device'] + ', not "." or ".."')
    return value


def _prefix(value):
    if not value:
        return ''
    try:
        return str(ipaddress.ip_network(value, strict=False))
    except ValueError:
        raise ValueError(HINTS['remote_ip_prefix']) from None


def _unicast_ip(value):
    """A port's address, canonical: IPv4 (the pattern checked it) or a global or
    unique-local IPv6 unicast address."""
    if ':' not in value:
        return value
    try:
        ip = ipaddress.IPv6Address(value)
    except ValueError:
        raise ValueError(HINTS['ips']) from None
    if ip.is_multicast or ip.is_link_local or ip.is_loopback or ip.is_unspecified \
            or ip.ipv4_mapped or ip.is_reserved and not ip.is_private:
        raise ValueError(HINTS['ips'])
    return str(ip)


Name = Annotated[str, Field(pattern=NAME_PATTERN, max_length=64)]
OptionalName = Annotated[str, Field(pattern=r'^([A-Za-z0-9_.-]{1,64})?$', max_length=64)]
Mac = Annotated[str, Field(pattern=r'^[0-9A-Fa-f][02468aceACE](:[0-9A-Fa-f]{2}){5}$',
                           json_schema_extra={'not': {'const': '00:00:00:00:00:00'}}),
                AfterValidator(_unicast_mac)]
IPV4_PATTERN = r'^%s(\.%s){3}$' % (_UNICAST_FIRST, _OCTET)
_V6 = r'[0-9A-Fa-f]{0,4}(:[0-9A-Fa-f]{0,4}){2,7}'   # checked whole by ipaddress
IPV6_PATTERN = r'^%s$' % addresses.v6_pattern(addresses.GLOBAL_OR_ULA)   # a port's
Ip = Annotated[str, Field(pattern=r'(%s)|(%s)' % (IPV4_PATTERN, IPV6_PATTERN), max_length=39),
               AfterValidator(_unicast_ip)]
Prefix = Annotated[str, Field(pattern=r'^((%s(\.%s){3}/(3[0-2]|[12]?[0-9]))|'
                                      r'(%s/(12[0-8]|1[01][0-9]|[1-9]?[0-9])))?$'
                                      % (_OCTET, _OCTET, _V6), max_length=43),
                   AfterValidator(_prefix)]
Device = Annotated[str, Field(pattern=r'^[A-Za-z0-9_.-]{1,15}$', max_length=15),
                   AfterValidator(_device)]
Description = Annotated[str, Field(max_length=255)]
OfPort = Annotated[int, Field(ge=1, le=OFPORT_MAX)]
SegmentationId = Annotated[int, Field(ge=VLAN_MIN, le=VNI_MAX)]


class Body(BaseModel):
    """Strict: no coercion (a bool is not an integer, an integer not an address);
    an unknown field is an error."""
    model_config = ConfigDict(strict=True, extra='forbid', frozen=True)


def _no_repeats(values):
    seen = set()
    for v in values:
        if v in seen:
            raise ValueError('%r is given twice' % (v,))
        seen.add(v)
    return values


# ---- networks -----------------------------------------------------------------
class NetworkCreate(Body):
    model_config = ConfigDict(json_schema_extra={   # the VLAN range, for schema readers
        'if': {'properties': {'kind': {'const': 'vlan'}}, 'required': ['kind']},
        'then': {'properties': {'segmentation_id': {'anyOf': [
            {'type': 'integer', 'minimum': VLAN_MIN, 'maximum': VLAN_MAX},
            {'type': 'null'}]}}}})
    name: Name
    kind: Literal['vlan', 'vxlan'] = 'vxlan'
    segmentation_id: Optional[SegmentationId] = None

    @pydantic.model_validator(mode='after')
    def _fits_kind(self):
        seg = self.segmentation_id
        if seg is not None and self.kind == 'vlan' and not VLAN_MIN <= seg <= VLAN_MAX:
            fail(
                'segmentation_id', 'a vlan segmentation_id must be in %d-%d: the 802.1Q '
                'VLAN id has 12 bits; for more segments use kind "vxlan" (24-bit VNI, up '
                'to %d)' % (VLAN_MIN, VLAN_MAX, VNI_MAX))
        return self


# ---- ports --------------------------------------------------------------------
UNIQUE = {'uniqueItems': True}
Ips = Annotated[list[Ip], Field(max_length=MAX_IPS, json_schema_extra=UNIQUE),
                AfterValidator(_no_repeats)]
GroupRefs = Annotated[list[Name], Field(max_length=MAX_GROUPS, json_schema_extra=UNIQUE),
                      AfterValidator(_no_repeats)]


MAX_PAIRS = 10       # Neutron's default max_allowed_address_pair
_V6_EXACT = addresses.v6_pattern(addresses.HEXTET) + '|::|:(:%s){1,7}' % addresses.HEXTET


def _pair_address(value):
    """An address or a prefix (host bits cleared), IPv4 or IPv6 (a dual-stack
    port's VIP); a /32 (/128) is the address."""
    try:
        net = ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise ValueError('must be an address or prefix like 10.0.0.10, 10.0.0.0/24 or '
                         'fd00::10')
    if net.prefixlen and (net.is_multicast or net.is_loopback or net.version == 4
                          and net.is_reserved or net.prefixlen == net.max_prefixlen
                          and net.network_address.is_unspecified):
        raise ValueError('must be unicast addresses (not loopback, multicast or class E)')
    return str(net.network_address) if net.prefixlen == net.max_prefixlen else str(net)


class AddressPair(Body):
    """Neutron's allowed address pair: the port may also send from ``ip_address``
    (an address or a prefix), with ``mac_address`` (default: the port's MAC)."""
    ip_address: Annotated[str, Field(
        pattern=r'^(%s(\.%s){3}(/(3[0-2]|[12]?[0-9]))?)$|^0\.0\.0\.0/0$|'
                r'^((%s)(/(12[0-8]|1[01][0-9]|[1-9]?[0-9]))?)$' % (_UNICAST_FIRST, _OCTET,
                                                                    _V6_EXACT),
        max_length=43), AfterValidator(_pair_address)]
    mac_address: Optional[Mac] = None


def _distinct_pairs(pairs):
    """Each pair once (the same address twice, written alike or not, is one pair)."""
    seen, out = set(), []
    for p in pairs:
        if (p.ip_address, p.mac_address) not in seen:
            seen.add((p.ip_address, p.mac_address))
            out.append(p)
    return out


Pairs = Annotated[list[AddressPair], Field(max_length=MAX_PAIRS), AfterValidator(_distinct_pairs)]


class PortPatch(Body):
    name: Optional[Name] = None
    ips: Optional[Ips] = None
    host: Optional[OptionalName] = None
    security_groups: Optional[GroupRefs] = Field(None, description=(
        'the groups (names or ids); a new port without them is in "default", and [] '
        'is no group at all (with port security on, nothing gets in or out)'))
    port_security_enabled: Optional[bool] = Field(None, description=(
        'false: no anti-spoofing and no firewall on this vNIC; a port without port '
        'security has no groups and no address pairs (a new one gets none)'))
    allowed_address_pairs: Optional[Pairs] = Field(None, description=(
        'addresses or prefixes the port may also send from (a VIP): anti-spoofing '
        'admits them, remote groups include them; the ARP responder leaves them to '
        'their current holder'))
    device_id: Optional[Annotated[str, Field(max_length=255)]] = Field(None, description=(
        "who uses the port (Neutron's device_id, e.g. a VM's uuid): stored only"))
    device_owner: Optional[Annotated[str, Field(max_length=255)]] = Field(None, description=(
        "what uses the port (Neutron's device_owner, e.g. compute:nova): stored only"))


class PortCreate(PortPatch):
    network_id: Name
    mac: Mac
    device: Device


class PortBulk(Body):
    ports: Annotated[list[PortCreate], Field(min_length=1, max_length=MAX_BULK)]


class Migrate(Body):
    host: Name
    live: bool = False


_TRACE_ADDRESS = r'^((%s(\.%s){3})|(%s))?$' % (_UNICAST_FIRST, _OCTET, _V6)


class TraceRequest(Body):
    """A packet to trace: from ``source`` (a port's name or id) to
    ``destination`` (a port) or ``address`` (an address; ARP or ND only, unless
    a port of the source's network has it, or has it in an allowed address
    pair). ``ip_version`` 6: the packet is IPv6 (``icmp`` an ICMPv6 echo,
    ``nd`` a Neighbor Solicitation), between the ports' first IPv6 addresses."""
    source: Name
    destination: OptionalName = ''
    address: Annotated[str, Field(pattern=_TRACE_ADDRESS, max_length=39)] = ''
    source_address: Annotated[str, Field(
        pattern=_TRACE_ADDRESS, max_length=39,
        description="the source's address (default its first IP of the packet's "
                    "version): one of an allowed address pair's, or another's to see "
                    "anti-spoofing drop it")] = ''
    protocol: Literal['tcp', 'udp', 'sctp', 'icmp', 'arp', 'nd'] = 'tcp'
    ip_version: Literal[4, 6] = 4
    port: Optional[Annotated[int, Field(ge=1, le=65535)]] = None
    source_port: Annotated[int, Field(ge=1, le=65535)] = 40000
    state: Literal['new', 'established'] = 'new'


# ---- security groups ----------------------------------------------------------
def _both(a, b):
    return {'properties': {a: {'minLength': 1}, b: {'minLength': 1}}, 'required': [a, b]}


def _protocol(value):
    return protocols.normalise(value)


Protocol = Annotated[object, PlainValidator(_protocol),
                     WithJsonSchema(protocols.accepted_schema())]
# a port range is a range of destination ports (tcp, udp, sctp) or an ICMP type and code
WITH_PORTS = protocols.schema_of(set(protocols.PORT_FIELDS))
RANGE_PROTOCOLS = protocols.schema_of(set(protocols.PORT_FIELDS) | {protocols.ICMP, protocols.ICMPV6})
ICMP_ONLY = protocols.schema_of({protocols.ICMP, protocols.ICMPV6})
IPV6_PROTOCOLS = protocols.schema_of(set(protocols.IPV6_ONLY.values()))
# checked in RuleCreate, whose protocol says what the bound is (a port, an ICMP type)
RangeBound = Annotated[int, WithJsonSchema({'type': 'integer', 'minimum': 0,
                                            'maximum': 65535})]


class RuleCreate(Body):
    model_config = ConfigDict(json_schema_extra={'allOf': [   # for schema readers
        {'if': {'properties': {'port_range_min': {'type': 'integer'}},
                'required': ['port_range_min']},
         'then': {'properties': {'protocol': RANGE_PROTOCOLS}, 'required': ['protocol']}},
        {'if': {'properties': {'port_range_max': {'type': 'integer'}},
                'required': ['port_range_max']},
         'then': {'properties': {'port_range_min': {'type': 'integer'}},
                  'required': ['port_range_min']}},
        {'if': {'properties': {'protocol': WITH_PORTS}, 'required': ['protocol']},
         'then': {'properties': {'port_range_min': {'not': {'const': 0}},
                                 'port_range_max': {'not': {'const': 0}}}}},
        {'if': {'properties': {'protocol': ICMP_ONLY}, 'required': ['protocol']},
         'then': {'properties': {'port_range_min': {'maximum': 255},
                                 'port_range_max': {'maximum': 255}}}},
        # an IPv6-only protocol: ethertype IPv6 (a prefix of the other family is
        # refused too, which the schema does not say: generators cannot intersect
        # its pattern with the prefix's)
        {'if': {'properties': {'protocol': IPV6_PROTOCOLS}, 'required': ['protocol']},
         'then': {'properties': {'ethertype': {'const': 'IPv6'}}, 'required': ['ethertype']}},
        {'not': _both('remote_ip_prefix', 'remote_group_id')},
        {'not': _both('remote_ip_prefix', 'remote_zone')},
        {'not': _both('remote_group_id', 'remote_zone')}]})
    direction: Literal['ingress', 'egress']
    ethertype: Literal['IPv4', 'IPv6'] = 'IPv4'
    protocol: Protocol = protocols.ANY
    port_range_min: Optional[RangeBound] = Field(None, description=(
        'tcp, udp, sctp: the lowest destination port (1-65535); icmp, icmpv6: the ICMP '
        'type (0-255)'))
    port_range_max: Optional[RangeBound] = Field(None, description=(
        'tcp, udp, sctp: the highest destination port (default port_range_min); icmp: '
        'the ICMP code (0-255; default any code)'))
    remote_ip_prefix: Prefix = ''
    remote_group_id: OptionalName = ''
    remote_zone: OptionalName = ''
    description: Description = ''

    @pydantic.model_validator(mode='after')
    def _consistent(self):
        self._range_fits()
        self._ethertype_fits()
        remotes = [k for k in ('remote_ip_prefix', 'remote_group_id', 'remote_zone')
                   if getattr(self, k)]
        if len(remotes) > 1:
            fail(remotes[1], 'give at most one of remote_ip_prefix, '
                                  'remote_group_id and remote_zone')
        return self

    def _ethertype_fits(self):
        """As Neutron: an IPv6-only protocol or an IPv6 prefix needs ethertype IPv6,
        an IPv4 prefix IPv4."""
        if self.ethertype == 'IPv4' and protocols.ipv6_only(self.protocol):
            fail('protocol', 'protocol %s is IPv6 only: it needs ethertype IPv6'
                 % self.protocol)
        prefix = self.remote_ip_prefix
        if prefix and ('IPv6' if ':' in prefix else 'IPv4') != self.ethertype:
            fail('remote_ip_prefix', 'remote_ip_prefix %s does not fit ethertype %s'
                 % (prefix, self.ethertype))

    def _range_fits(self):
        """Ports only where the protocol has ports, as Neutron checks them; for
        ICMP the range is a type and a code."""
        low, high, proto = self.port_range_min, self.port_range_max, self.protocol
        if low is None and high is not None:
            fail('port_range_min', 'port_range_min is required with port_range_max'
                 + (' (the ICMP type of the code)' if protocols.is_icmp(proto) else ''))
        if low is None:
            return
        if protocols.is_icmp(proto):
            for name, value, what in (('port_range_min', low, 'type'),
                                      ('port_range_max', high, 'code')):
                if value is not None and not 0 <= value <= 255:
                    fail(name, '%s is the ICMP %s here: it must be in 0-255' % (name, what))
            return
        if protocols.port_field(proto) is None:
            unmatchable = protocols.PORTS_UNMATCHABLE.get(protocols.number(proto))
            fail('port_range_min', 'OpenFlow cannot match %s ports: allow the protocol '
                 'without a port range' % unmatchable if unmatchable else
                 'port ranges need protocol tcp, udp or sctp (or icmp: type and code), '
                 'not %s' % proto)
        for name, value in (('port_range_min', low), ('port_range_max', high)):
            if value is not None and not 1 <= value <= 65535:
                fail(name, '%s must be in 1-65535' % name)
        if high is not None and high < low:
            fail('port_range_max', 'port_range_max is below port_range_min')

    def record(self):
        """The stored rule (a dict, without its id): a port range's end defaults
        to its start; an ICMP code stays None (any code)."""
        out = self.model_dump()
        if out['port_range_max'] is None and not protocols.is_icmp(self.protocol):
            out['port_range_max'] = self.port_range_min
        return out


STATEFUL = Field(True, description=(
    'false: a stateless group, its rules admit packets in their direction only '
    '(no conntrack; replies need rules of their own); a port\'s groups are all '
    'stateful or all stateless'))


class GroupPatch(Body):
    name: Optional[Name] = None
    description: Optional[Description] = None
    zone: Optional[OptionalName] = None
    stateful: Optional[bool] = Field(None, description=STATEFUL.description)


class GroupCreate(Body):
    name: Name
    description: Description = ''
    zone: OptionalName = ''
    stateful: bool = STATEFUL
    # as in Neutron, a new group sends anywhere (IPv4 and IPv6) until its rules say
    # otherwise; "rules": [] makes a group that admits and sends nothing
    rules: Annotated[list[RuleCreate], Field(max_length=MAX_RULES)] = [
        RuleCreate(direction='egress'), RuleCreate(direction='egress', ethertype='IPv6')]

