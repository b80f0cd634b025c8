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

from controller import constants as C
from controller import protocols
from controller.state.model import ValidationError

VLAN_MIN, VLAN_MAX = 1, 4094
VNI_MIN, VNI_MAX = 1, 2 ** 24 - 1
OFPORT_MAX = C.OFPORT_MAX    # highest port number every action we use can carry
MAX_IPS, MAX_GROUPS, MAX_RULES, MAX_BULK = 16, 64, 256, 5000

_OCTET = r'(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])'
# first octet 1-223 except 127: no "this network", loopback, multicast or class E
_UNICAST_FIRST = r'(22[0-3]|2[01][0-9]|1[3-9][0-9]|12[0-689]|1[01][0-9]|[1-9][0-9]?)'
NAME_PATTERN = r'^[A-Za-z0-9_.-]{1,64}$'
HINTS = {        # what a pattern means, said the way a user reads it
    'name': 'must be 1-64 characters of [A-Za-z0-9_.-]',
    'mac': 'must be a unicast, non-zero MAC like 02:00:00:00:00:01',
    'ips': 'must be a unicast IPv4 address like 10.0.0.1 (not loopback, multicast, '
           '0.0.0.0 or class E)',
    'vtep_ip': 'must be a unicast IPv4 address like 172.16.1.11',
    'device': 'must be an interface name of 1-15 characters of [A-Za-z0-9_.-]',
    'remote_ip_prefix': 'must be an IPv4 prefix like 10.0.0.0/24',
    'uplinks': 'keys must be "tor", "hv:<name>" or "rack:<n>"',
    'agent': 'must be IP:PORT, an IPv4 address and a port 1-65535, like 172.30.250.1:6699',
    'switch_address': 'must be IP:PORT, an IPv4 address and a port 1-65535, like '
                      '172.30.250.1:6653',
}


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
    return str(ipaddress.IPv4Network(value, strict=False)) if value else ''


Name = Annotated[str, Field(pattern=NAME_PATTERN, max_length=64)]
OptionalName = Annotated[str, Field(pattern=r'^([A-Za-z0-9_.-]{1,64})?$', max_length=64)]
Mac = Annotated[str, Field(pattern=r'^[0-9A-Fa-f][02468aceACE](:[0-9A-Fa-f]{2}){5}$',
                           json_schema_extra={'not': {'const': '00:00:00:00:00:00'}}),
                AfterValidator(_unicast_mac)]
Ip = Annotated[str, Field(pattern=r'^%s(\.%s){3}$' % (_UNICAST_FIRST, _OCTET), max_length=15)]
Prefix = Annotated[str, Field(pattern=r'^(%s(\.%s){3}/(3[0-2]|[12]?[0-9]))?$' % (_OCTET, _OCTET),
                              max_length=18), AfterValidator(_prefix)]
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


def _pair_address(value):
    """An address or a prefix (host bits cleared); a /32 is the address."""
    try:
        net = ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise ValueError('must be an IPv4 address or prefix like 10.0.0.10 or 10.0.0.0/24')
    if net.version != 4:
        raise ValueError('must be IPv4: vnetsec ports are IPv4 only')
    if net.prefixlen and (net.is_multicast or net.is_loopback or net.is_reserved
                          or net.network_address.is_unspecified):
        raise ValueError('must be unicast addresses (not loopback, multicast or class E)')
    return str(net.network_address) if net.prefixlen == net.max_prefixlen else str(net)


class AddressPair(Body):
    """Neutron's allowed address pair: the port may also send from ``ip_address``
    (an address or a prefix), with ``mac_address`` (default: the port's MAC)."""
    ip_address: Annotated[str, Field(max_length=49), AfterValidator(_pair_address)]
    mac_address: Optional[Mac] = None


def _distinct_pairs(pairs):
    _no_repeats(['%s %s' % (p.ip_address, p.mac_address or '(its MAC)') for p in pairs])
    return pairs


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


class TraceRequest(Body):
    """A packet to trace: from ``source`` (a port's name or id) to
    ``destination`` (a port) or ``address`` (an IPv4 address; ARP only, unless
    a port of the source's network has it, or has it in an allowed address
    pair)."""
    source: Name
    destination: OptionalName = ''
    address: Annotated[str, Field(pattern=r'^(%s(\.%s){3})?$' % (_UNICAST_FIRST, _OCTET),
                                  max_length=15)] = ''
    source_address: Annotated[str, Field(
        pattern=r'^(%s(\.%s){3})?$' % (_UNICAST_FIRST, _OCTET), max_length=15,
        description="the source's address (default its first IP): one of an "
                    "allowed address pair's, or another's to see anti-spoofing drop it")] = ''
    protocol: Literal['tcp', 'udp', 'sctp', 'icmp', 'arp'] = 'tcp'
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
RANGE_PROTOCOLS = protocols.schema_of(set(protocols.PORT_FIELDS) | {protocols.ICMP})
ICMP_ONLY = protocols.schema_of({protocols.ICMP})
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
        {'not': _both('remote_ip_prefix', 'remote_group_id')},
        {'not': _both('remote_ip_prefix', 'remote_zone')},
        {'not': _both('remote_group_id', 'remote_zone')}]})
    direction: Literal['ingress', 'egress']
    ethertype: Literal['IPv4'] = 'IPv4'
    protocol: Protocol = protocols.ANY
    port_range_min: Optional[RangeBound] = Field(None, description=(
        'tcp, udp, sctp: the lowest destination port (1-65535); icmp: the ICMP type '
        '(0-255)'))
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
        remotes = [k for k in ('remote_ip_prefix', 'remote_group_id', 'remote_zone')
                   if getattr(self, k)]
        if len(remotes) > 1:
            fail(remotes[1], 'give at most one of remote_ip_prefix, '
                                  'remote_group_id and remote_zone')
        return self

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
    # as in Neutron, a new group sends anywhere until its rules say otherwise;
    # "rules": [] makes a group that admits and sends nothing
    rules: Annotated[list[RuleCreate], Field(max_length=MAX_RULES)] = [
        RuleCreate(direction='egress')]


# ---- parsing ------------------------------------------------------------------
def field_path(loc):
    """('rules', 0, 'protocol') -> 'rules[0].protocol'."""
    out = ''
    for part in loc:
        out += '[%d]' % part if isinstance(part, int) else ('.' if out else '') + str(part)
    return out or 'body'


def _message(err, field):
    kind, last = err['type'], next((p for p in reversed(err['loc'])
                                    if isinstance(p, str)), field)
    if kind == 'vnetsec':
        return err['msg']
    if kind == 'value_error':
        return '%s %s' % (field, err['msg'].removeprefix('Value error, '))
    if kind == 'missing':
        return '%s is required' % field
    if kind == 'extra_forbidden':
        return 'unknown field %r' % field
    if kind == 'string_pattern_mismatch' and last in HINTS:
        return '%s %s' % (field, HINTS[last])
    if kind == 'string_pattern_mismatch' and last.endswith(('name', 'zone', 'id', 'host')):
        return '%s %s' % (field, HINTS['name'])
    if kind == 'literal_error':
        return '%s must be %s' % (field, err['ctx']['expected'].replace("'", '"'))
    if kind == 'model_type':
        return '%s must be a JSON object' % field
    if kind == 'literal_error':
        return '%s must be %s' % (field, err['msg'].removeprefix('Input should be ')
                                  .replace("'", '"'))
    if kind in ('less_than_equal', 'greater_than_equal'):
        bound = err['ctx'].get('le', err['ctx'].get('ge'))
        return '%s must be at %s %s' % (field, 'most' if kind == 'less_than_equal' else 'least',
                                        bound)
    return '%s: %s' % (field, err['msg'])


def parse(schema, body, prefix=''):
    """``body`` (decoded JSON) -> a ``schema`` instance, or ValidationError naming
    the first field at fault (``prefix`` + its path)."""
    if not isinstance(body, dict):
        where = prefix.rstrip('.')
        raise ValidationError(where or 'body', '%s must be a JSON object'
                              % (where or 'the request body'))
    try:
        return schema.model_validate(body)
    except pydantic.ValidationError as e:
        err = e.errors(include_url=False)[0]
        loc = err['loc'] + ((err['ctx']['field'],) if err['type'] == 'vnetsec' else ())
        field = prefix + field_path(loc)
        raise ValidationError(field, _message(err, field)) from None


def json_schema(schema, ref_template='#/components/schemas/{model}'):
    """The OpenAPI (3.1, JSON Schema 2020-12) schema of a declaration, and the
    schemas it refers to."""
    out = pydantic.TypeAdapter(schema).json_schema(ref_template=ref_template)
    return out, out.pop('$defs', {})
