"""What ``/v2.0`` accepts and answers, declared once (pydantic, strict, as
``/v1``'s :mod:`controller.state.schemas`): the same declarations check every request
and generate ``/v2.0/openapi.json``.

A field vnetsec cannot honour is declared with the one value it can (so the
published schema says it, and a client sending another gets a 400 naming the
field and why): ``admin_state_up`` only true, ``shared`` only true (no
projects: every network is everyone's). Fields Neutron has and vnetsec ignores
(``project_id``, ``tenant_id``) are accepted and not stored.
"""
import ipaddress
from typing import Annotated, Literal, Optional

import pydantic
from pydantic import (BaseModel, BeforeValidator, ConfigDict, Field, PlainValidator,
                      WithJsonSchema)

from controller.state.schemas import (MAX_GROUPS, MAX_IPS, VNI_MAX, Body, Description, Mac, Name,
                                OptionalName, Pairs, SegmentationId, fail, _no_repeats)
from controller.state.schemas import RuleCreate as V1Rule

Text = Annotated[str, Field(max_length=255)]
Address = Annotated[str, Field(max_length=45)]


def only(value, why, schema):
    """A field whose one accepted value is ``value`` (anything else: ``why``)."""
    def check(given):
        if type(given) is not type(value) or given != value:
            raise ValueError(why)
        return given
    return Annotated[type(value), PlainValidator(check), WithJsonSchema(schema)]


UP = only(True, 'can only be true: vnetsec cannot take a network or port down',
          {'type': 'boolean', 'const': True})
SHARED = only(True, 'can only be true: vnetsec has no projects, every network is every '
              "client's", {'type': 'boolean', 'const': True})
NO_DNS = only([], 'must be []: vnetsec has no DHCP to hand them out',
              {'type': 'array', 'maxItems': 0})
NO_ROUTES = only([], 'must be []: vnetsec has no DHCP to hand them out',
                 {'type': 'array', 'maxItems': 0})
NO_PROFILE = only({}, 'must be {}: vnetsec binds a port by its vNIC, no profile',
                  {'type': 'object', 'maxProperties': 0})
NO_TEXT = only('', 'must be empty: vnetsec does not store it for this resource',
               {'type': 'string', 'maxLength': 0})


def _digits(value):
    """Neutron converts a number sent as a string (the openstack CLI sends
    --provider-segment so): "5001" is 5001."""
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 8:
        return int(value)
    return value


Segment = Annotated[SegmentationId, BeforeValidator(_digits), WithJsonSchema({'anyOf': [
    {'type': 'integer', 'minimum': 1, 'maximum': VNI_MAX},
    {'type': 'string', 'pattern': '^[1-9][0-9]{0,7}$', 'description': 'its digits'}]})]


class Ignored(Body):
    """Neutron's project fields: accepted, not stored (no projects, no Keystone)."""
    project_id: Optional[Text] = None
    tenant_id: Optional[Text] = None


# ---- networks ----------------------------------------------------------------------
class NetworkCreate(Ignored):
    name: Name
    admin_state_up: UP = True
    shared: SHARED = True
    port_security_enabled: only(True, 'can only be true at the network (set it per port)',
                                {'type': 'boolean', 'const': True}) = True
    description: NO_TEXT = ''
    network_type: Optional[Literal['vlan', 'vxlan']] = Field(
        None, alias='provider:network_type', description='default vxlan')
    segmentation_id: Optional[Segment] = Field(
        None, alias='provider:segmentation_id',
        description='VLAN 1-4094, VNI 1-16777215; allocated when absent')
    physical_network: Optional[Literal['physnet1']] = Field(
        None, alias='provider:physical_network',
        description='vlan only: the one physical network, the racks\' ToR fabric')

    @pydantic.model_validator(mode='after')
    def _physnet_for_vlan(self):
        if self.physical_network and self.network_type != 'vlan':
            fail('provider:physical_network', 'provider:physical_network is for vlan '
                 'networks only (a vxlan network runs over the underlay)')
        return self


class NetworkCreateRequest(Body):
    network: NetworkCreate


# ---- subnets -----------------------------------------------------------------------
class Pool(Body):
    start: Address
    end: Address


def _address(value, version, field):
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        fail(field, '%s must be an IPv%d address, not %r' % (field, version, value))
    if address.version != version:
        fail(field, '%s must be an IPv%d address (ip_version is %d)' % (field, version,
                                                                       version))
    return address


IPV6_MODE = Literal['slaac', 'dhcpv6-stateful', 'dhcpv6-stateless']


class SubnetCreate(Ignored):
    network_id: Name
    cidr: Annotated[str, Field(max_length=49, pattern=r'^[0-9A-Fa-f:.]{2,45}/[0-9]{1,3}$')]
    ip_version: Literal[4, 6] = 4
    name: OptionalName = ''
    gateway_ip: Optional[Address] = Field(None, description=(
        'absent: the first address of the cidr; null: no gateway'))
    allocation_pools: Optional[Annotated[list[Pool], Field(max_length=64)]] = None
    enable_dhcp: bool = Field(True, description='stored only: vnetsec has no DHCP server')
    dns_nameservers: NO_DNS = []
    host_routes: NO_ROUTES = []
    description: Description = ''
    ipv6_ra_mode: Optional[IPV6_MODE] = None
    ipv6_address_mode: Optional[IPV6_MODE] = Field(None, description=(
        'slaac, dhcpv6-stateless: a port gets the EUI-64 address of its MAC (/64 only); '
        'dhcpv6-stateful: the next free one; vnetsec runs no RA or DHCPv6 server'))

    @pydantic.model_validator(mode='after')
    def _consistent(self):
        try:
            net = ipaddress.ip_network(self.cidr)
        except ValueError as e:
            fail('cidr', 'cidr must be a network like 10.1.0.0/24 (no host bits): %s' % e)
        if net.version != self.ip_version:
            fail('cidr', 'cidr %s is not IPv%d (ip_version)' % (self.cidr, self.ip_version))
        if net.version == 4 and (net.is_loopback or net.is_multicast or net.is_reserved
                                 or net.is_unspecified or net.network_address.packed[0] == 0
                                 or net.prefixlen < 8):
            fail('cidr', 'cidr %s is not a range of unicast addresses vnetsec can give '
                 'ports (no 0/8, loopback, multicast or class E; /8 or longer)' % self.cidr)
        self._modes_fit(net)
        if self.gateway_ip is not None and 'gateway_ip' in self.model_fields_set:
            if _address(self.gateway_ip, net.version, 'gateway_ip') not in net:
                fail('gateway_ip', 'gateway_ip %s is outside %s' % (self.gateway_ip, net))
        ranges = []
        for i, pool in enumerate(self.allocation_pools or ()):
            field = 'allocation_pools[%d]' % i
            start = _address(pool.start, net.version, field + '.start')
            end = _address(pool.end, net.version, field + '.end')
            if start not in net or end not in net:
                fail(field, '%s %s-%s is outside %s' % (field, start, end, net))
            if end < start:
                fail(field + '.end', '%s.end is below its start' % field)
            if any(start <= e and s <= end for s, e in ranges):
                fail(field, '%s overlaps another pool' % field)
            ranges.append((start, end))
        return self

    def _modes_fit(self, net):
        """As Neutron: IPv6 modes on IPv6 subnets only, equal when both are given,
        SLAAC only on a /64."""
        for field in ('ipv6_ra_mode', 'ipv6_address_mode'):
            mode = getattr(self, field)
            if mode and net.version != 6:
                fail(field, '%s is for IPv6 subnets (ip_version 6)' % field)
            if mode in ('slaac', 'dhcpv6-stateless') and net.prefixlen != 64:
                fail(field, '%s %s needs a /64 cidr, not /%d' % (field, mode, net.prefixlen))
        if self.ipv6_ra_mode and self.ipv6_address_mode \
                and self.ipv6_ra_mode != self.ipv6_address_mode:
            fail('ipv6_address_mode', 'ipv6_address_mode %s differs from ipv6_ra_mode %s'
                 % (self.ipv6_address_mode, self.ipv6_ra_mode))

    def gateway(self):
        """The gateway address ('' for none): absent means the cidr's first host."""
        if 'gateway_ip' in self.model_fields_set:
            return str(ipaddress.ip_address(self.gateway_ip)) if self.gateway_ip else ''
        return str(ipaddress.ip_network(self.cidr).network_address + 1)


class SubnetCreateRequest(Body):
    subnet: SubnetCreate


# ---- ports -------------------------------------------------------------------------
class FixedIp(Body):
    subnet_id: Optional[Name] = None
    ip_address: Optional[Address] = None

    @pydantic.model_validator(mode='after')
    def _something(self):
        if not self.subnet_id and not self.ip_address:
            fail('ip_address', 'a fixed IP names a subnet_id, an ip_address or both')
        return self


GroupIds = Annotated[list[Name], Field(max_length=MAX_GROUPS, json_schema_extra={
    'uniqueItems': True}), pydantic.AfterValidator(_no_repeats)]


class PortFields(Ignored):
    name: OptionalName = ''
    fixed_ips: Optional[Annotated[list[FixedIp], Field(max_length=MAX_IPS)]] = None
    host_id: Optional[OptionalName] = Field(None, alias='binding:host_id', description=(
        'the hypervisor meant to hold it (vnetsec binds it wherever its vNIC appears)'))
    vnic_type: Optional[Literal['normal']] = Field(None, alias='binding:vnic_type')
    profile: Optional[NO_PROFILE] = Field(None, alias='binding:profile')
    device_id: Optional[Text] = None
    device_owner: Optional[Text] = None
    security_groups: Optional[GroupIds] = Field(None, description=(
        'group ids (or names); absent on create: "default"; []: no group'))
    port_security_enabled: Optional[bool] = None
    allowed_address_pairs: Optional[Pairs] = Field(None, description=(
        'addresses or prefixes (ip_address) the port may also send from, with '
        'mac_address (default its own)'))
    admin_state_up: Optional[UP] = None
    description: Optional[NO_TEXT] = None


class PortCreate(PortFields):
    network_id: Name
    mac_address: Optional[Mac] = Field(None, description='allocated (fa:16:3e:...) if absent')


class PortCreateRequest(Body):
    port: PortCreate


class PortUpdateRequest(Body):
    port: PortFields


# ---- security groups ---------------------------------------------------------------
class GroupCreate(Ignored):
    name: Name
    description: Description = ''
    stateful: bool = Field(True, description='false: stateless (no conntrack)')


class GroupCreateRequest(Body):
    security_group: GroupCreate


class GroupUpdate(Ignored):
    name: Optional[Name] = None
    description: Optional[Description] = None
    stateful: Optional[bool] = Field(None, description=(
        'changes only while no port uses the group'))


class GroupUpdateRequest(Body):
    security_group: GroupUpdate


def _nullable_optionals(schema):
    """Every optional field of the schema may also be null (the model drops nulls)."""
    for name, prop in schema.get('properties', {}).items():
        if name not in schema.get('required', ()) and {'type': 'null'} not in prop.get('anyOf', ()):
            schema['properties'][name] = {'anyOf': [prop, {'type': 'null'}]}


class RuleCreate(V1Rule):
    """/v1's rule (the same checks, Neutron's names) plus the group it joins;
    null means not given, as Neutron's clients send it."""
    model_config = ConfigDict(extra='forbid', json_schema_extra=_nullable_optionals)
    security_group_id: Name
    project_id: Optional[Text] = None
    tenant_id: Optional[Text] = None

    @pydantic.model_validator(mode='before')
    @classmethod
    def _nulls_are_absent(cls, data):
        if isinstance(data, dict):
            return {k: v for k, v in data.items()
                    if v is not None or k in ('protocol', 'port_range_min', 'port_range_max')}
        return data


class RuleCreateRequest(Body):
    security_group_rule: RuleCreate


# ---- what /v2.0 answers: every attribute optional (fields= selects some) -----------
class Out(BaseModel):
    model_config = ConfigDict(extra='allow', populate_by_name=True)


Id = Optional[str]


class NetworkOut(Out):
    id: Id = None
    name: Optional[str] = None
    status: Optional[Literal['ACTIVE']] = None
    admin_state_up: Optional[bool] = None
    shared: Optional[bool] = None
    subnets: Optional[list[str]] = None
    network_type: Optional[str] = Field(None, alias='provider:network_type')
    segmentation_id: Optional[int] = Field(None, alias='provider:segmentation_id')
    physical_network: Optional[str] = Field(None, alias='provider:physical_network')
    mtu: Optional[int] = None


class SubnetOut(Out):
    id: Id = None
    name: Optional[str] = None
    network_id: Id = None
    cidr: Optional[str] = None
    ip_version: Optional[int] = None
    gateway_ip: Optional[str] = None
    allocation_pools: Optional[list[dict]] = None
    enable_dhcp: Optional[bool] = None


class FixedIpOut(Out):
    subnet_id: Optional[str] = None
    ip_address: str


class PortOut(Out):
    id: Id = None
    name: Optional[str] = None
    network_id: Id = None
    mac_address: Optional[str] = None
    fixed_ips: Optional[list[FixedIpOut]] = None
    status: Optional[Literal['ACTIVE', 'DOWN']] = None
    security_groups: Optional[list[str]] = None
    port_security_enabled: Optional[bool] = None
    allowed_address_pairs: Optional[list[dict]] = None
    host_id: Optional[str] = Field(None, alias='binding:host_id')
    device_id: Optional[str] = None
    device_owner: Optional[str] = None


class RuleOut(Out):
    id: Id = None
    security_group_id: Id = None
    direction: Optional[Literal['ingress', 'egress']] = None
    ethertype: Optional[str] = None
    protocol: Optional[str] = None
    port_range_min: Optional[int] = None
    port_range_max: Optional[int] = None
    remote_ip_prefix: Optional[str] = None
    remote_group_id: Optional[str] = None


class GroupOut(Out):
    id: Id = None
    name: Optional[str] = None
    description: Optional[str] = None
    stateful: Optional[bool] = None
    security_group_rules: Optional[list[RuleOut]] = None


class NeutronError(BaseModel):
    class Detail(BaseModel):
        type: str
        message: str
        detail: str
    NeutronError: Detail


def wrapped(name, schema, many=False):
    """{"network": NetworkOut} or {"networks": [NetworkOut]}, as a declaration."""
    return pydantic.create_model(
        ('%s_list' if many else '%s_one') % name, __base__=Out,
        **{name: (list[schema] if many else schema, ...)})


class Versions(Out):
    versions: list[dict]


class Resources(Out):
    resources: list[dict]


class Extensions(Out):
    extensions: list[dict]


class ExtensionOne(Out):
    extension: dict
