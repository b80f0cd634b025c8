"""Typed records of the desired state, and the validation of what users send.

Every check raises :class:`ValidationError` naming the offending field, before
anything is stored, so bad input never changes state.
"""
import ipaddress
import re
import uuid
from dataclasses import asdict, dataclass, field, replace

VLAN_MIN, VLAN_MAX = 1, 4094
VNI_MIN, VNI_MAX = 1, 2 ** 24 - 1
NETWORK_KINDS = ('vlan', 'vxlan')
MAC_RE = re.compile(r'^[0-9a-f]{2}(:[0-9a-f]{2}){5}$')
NAME_RE = re.compile(r'^[A-Za-z0-9_.-]{1,64}$')
DEVICE_RE = re.compile(r'^[A-Za-z0-9_.-]{1,15}$')   # a Linux interface name


class ValidationError(Exception):
    """Bad input: ``status`` 400/404/409, the field at fault and a message."""

    def __init__(self, field_name, message, status=400):
        super().__init__(message)
        self.field = field_name
        self.message = message
        self.status = status


class NotFound(ValidationError):
    def __init__(self, kind, ident):
        super().__init__('id', '%s %r does not exist' % (kind, ident), 404)


def new_id():
    return uuid.uuid4().hex


@dataclass(frozen=True)
class Host:
    """A switch the controller programs: a hypervisor's br-int or a rack's ToR."""
    name: str
    dpid: int
    role: str = 'hypervisor'          # 'hypervisor' | 'tor'
    rack: int = 1
    vtep_ip: str = ''                 # hypervisors: underlay address of the VTEP
    uplinks: dict = field(default_factory=dict)
    # hypervisor: {'tor': ofport on its rack's ToR}
    # tor: {'hv:<name>': ofport, 'rack:<n>': ofport of the trunk to rack n}


@dataclass(frozen=True)
class Network:
    id: str
    name: str
    kind: str
    segmentation_id: int
    nid: int                           # small local number, carried in a register


@dataclass(frozen=True)
class Port:
    """A vNIC. ``device`` is its interface name on the hypervisor (its identity on
    the switch: wherever that name appears, the port is bound)."""
    id: str
    name: str
    network_id: str
    mac: str
    ips: list
    device: str
    host: str = ''                     # requested host (like binding:host_id)
    security_groups: list = field(default_factory=list)   # empty: the "default" group
    port_security_enabled: bool = True  # anti-spoofing + stateful firewall on this vNIC
    bound_host: str = ''               # observed: where the device is plugged
    ofport: int = 0                    # observed: its OpenFlow port number there
    migrating_to: str = ''             # planned migration: destination programmed ahead
    migrating_ofport: int = 0          # ... for the device at this port number there


@dataclass(frozen=True)
class SecurityGroup:
    """Rules shared by many ports. ``zone`` is an optional tier label (web, app,
    db) that rules of other groups can name as ``remote_zone``."""
    id: str
    name: str
    description: str = ''
    zone: str = ''
    rules: list = field(default_factory=list)     # dicts, see parse_rule


def to_dict(record):
    return asdict(record)


def changed(record, **fields):
    """A copy of a frozen record with some fields replaced."""
    return replace(record, **fields)


# ---------------------------------------------------------------- validation
def require(body, name, kind):
    if name not in body:
        raise ValidationError(name, '%s is required' % name)
    value = body[name]
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise ValidationError(name, '%s must be of type %s' % (name, kind.__name__))
    return value


def optional(body, name, kind, default):
    return require(body, name, kind) if body.get(name) is not None else default


def check_fields(body, allowed):
    if not isinstance(body, dict):
        raise ValidationError('body', 'the request body must be a JSON object')
    for key in body:
        if key not in allowed:
            raise ValidationError(key, 'unknown field %r' % key)


def check_name(value, field_name='name'):
    if not NAME_RE.match(value):
        raise ValidationError(field_name, '%s must be 1-64 characters of [A-Za-z0-9_.-]'
                              % field_name)
    return value


def check_segmentation_id(kind, seg):
    if kind == 'vlan' and not VLAN_MIN <= seg <= VLAN_MAX:
        raise ValidationError(
            'segmentation_id', 'a vlan segmentation_id must be in %d-%d: the 802.1Q VLAN '
            'id has 12 bits; for more segments use kind "vxlan" (24-bit VNI, up to %d)'
            % (VLAN_MIN, VLAN_MAX, VNI_MAX))
    if kind == 'vxlan' and not VNI_MIN <= seg <= VNI_MAX:
        raise ValidationError(
            'segmentation_id', 'a vxlan segmentation_id (VNI) must be in %d-%d (24 bits)'
            % (VNI_MIN, VNI_MAX))
    return seg


def parse_network(body):
    """-> (name, kind, segmentation_id or None) from a POST body."""
    check_fields(body, ('name', 'kind', 'segmentation_id'))
    name = check_name(require(body, 'name', str))
    kind = optional(body, 'kind', str, 'vxlan')
    if kind not in NETWORK_KINDS:
        raise ValidationError('kind', 'kind must be one of %s' % ', '.join(NETWORK_KINDS))
    seg = optional(body, 'segmentation_id', int, None)
    if seg is not None:
        check_segmentation_id(kind, seg)
    return name, kind, seg


def check_mac(value):
    value = value.lower()
    if not MAC_RE.match(value) or int(value[:2], 16) & 1:
        raise ValidationError('mac', 'mac must be a unicast address like 02:00:00:00:00:01')
    return value


def check_ips(values):
    if not isinstance(values, list):
        raise ValidationError('ips', 'ips must be a list of IPv4 addresses')
    out = []
    for v in values:
        try:
            out.append(str(ipaddress.IPv4Address(v)))
        except (ValueError, TypeError):
            raise ValidationError('ips', 'ips: %r is not an IPv4 address' % (v,))
    return out


def check_device(value):
    if not DEVICE_RE.match(value):
        raise ValidationError('device', 'device must be an interface name of 1-15 '
                              'characters of [A-Za-z0-9_.-]')
    return value


def parse_port(body, partial=False):
    """A POST (or, with partial=True, a PATCH) body for a port -> clean dict."""
    allowed = ('name', 'network_id', 'mac', 'ips', 'device', 'host', 'security_groups',
               'port_security_enabled')
    if partial:
        allowed = ('name', 'ips', 'host', 'security_groups', 'port_security_enabled')
    check_fields(body, allowed)
    out = {}
    if not partial:
        out['network_id'] = require(body, 'network_id', str)
        out['mac'] = check_mac(require(body, 'mac', str))
        out['device'] = check_device(require(body, 'device', str))
    if 'name' in body or not partial:
        out['name'] = check_name(optional(body, 'name', str, out.get('device', 'port')))
    if 'ips' in body or not partial:
        out['ips'] = check_ips(optional(body, 'ips', list, []))
    if 'host' in body:
        out['host'] = optional(body, 'host', str, '')
    if 'security_groups' in body:
        groups = require(body, 'security_groups', list)
        if not all(isinstance(g, str) for g in groups):
            raise ValidationError('security_groups', 'security_groups must be a list of ids')
        out['security_groups'] = groups
    if 'port_security_enabled' in body:
        out['port_security_enabled'] = require(body, 'port_security_enabled', bool)
    return out


PROTOCOLS = {'any': None, 'icmp': 1, 'tcp': 6, 'udp': 17}


def parse_group(body, partial=False):
    allowed = ('name', 'description', 'zone') + (() if partial else ('rules',))
    check_fields(body, allowed)
    out = {}
    if not partial or 'name' in body:
        out['name'] = check_name(require(body, 'name', str))
    if 'description' in body:
        out['description'] = require(body, 'description', str)[:255]
    if 'zone' in body:
        zone = require(body, 'zone', str)
        if zone:
            check_name(zone, 'zone')
        out['zone'] = zone
    return out


def parse_rule(body):
    """A rule: direction, ethertype, protocol, port range, and at most one of
    remote_ip_prefix / remote_group_id / remote_zone. -> clean dict (no id)."""
    check_fields(body, ('direction', 'ethertype', 'protocol', 'port_range_min',
                        'port_range_max', 'remote_ip_prefix', 'remote_group_id',
                        'remote_zone', 'description'))
    direction = require(body, 'direction', str)
    if direction not in ('ingress', 'egress'):
        raise ValidationError('direction', 'direction must be "ingress" or "egress"')
    ethertype = optional(body, 'ethertype', str, 'IPv4')
    if ethertype != 'IPv4':
        raise ValidationError('ethertype', 'only "IPv4" is supported')
    protocol = optional(body, 'protocol', str, 'any')
    if protocol not in PROTOCOLS:
        raise ValidationError('protocol', 'protocol must be one of %s' % ', '.join(PROTOCOLS))
    low = optional(body, 'port_range_min', int, None)
    high = optional(body, 'port_range_max', int, low)
    if low is None and high is not None:
        raise ValidationError('port_range_min', 'port_range_min is required with port_range_max')
    if low is not None:
        if protocol not in ('tcp', 'udp'):
            raise ValidationError('port_range_min', 'port ranges need protocol tcp or udp')
        for name, value in (('port_range_min', low), ('port_range_max', high)):
            if not 1 <= value <= 65535:
                raise ValidationError(name, '%s must be in 1-65535' % name)
        if high < low:
            raise ValidationError('port_range_max', 'port_range_max is below port_range_min')
    remotes = [k for k in ('remote_ip_prefix', 'remote_group_id', 'remote_zone')
               if body.get(k)]
    if len(remotes) > 1:
        raise ValidationError(remotes[1], 'give at most one of remote_ip_prefix, '
                              'remote_group_id and remote_zone')
    prefix = optional(body, 'remote_ip_prefix', str, '')
    if prefix:
        try:
            prefix = str(ipaddress.IPv4Network(prefix, strict=False))
        except ValueError:
            raise ValidationError('remote_ip_prefix', 'remote_ip_prefix must be an IPv4 '
                                  'prefix like 10.0.0.0/24')
    return {'direction': direction, 'ethertype': ethertype, 'protocol': protocol,
            'port_range_min': low, 'port_range_max': high, 'remote_ip_prefix': prefix,
            'remote_group_id': optional(body, 'remote_group_id', str, ''),
            'remote_zone': optional(body, 'remote_zone', str, ''),
            'description': optional(body, 'description', str, '')[:255]}


def parse_host(body):
    check_fields(body, ('name', 'dpid', 'role', 'rack', 'vtep_ip', 'uplinks'))
    name = check_name(require(body, 'name', str))
    dpid = require(body, 'dpid', int)
    if not 0 < dpid < 2 ** 64:
        raise ValidationError('dpid', 'dpid must be a 64-bit datapath id > 0')
    role = optional(body, 'role', str, 'hypervisor')
    if role not in ('hypervisor', 'tor'):
        raise ValidationError('role', 'role must be "hypervisor" or "tor"')
    rack = optional(body, 'rack', int, 1)
    vtep_ip = optional(body, 'vtep_ip', str, '')
    if vtep_ip:
        try:
            ipaddress.IPv4Address(vtep_ip)
        except ValueError:
            raise ValidationError('vtep_ip', 'vtep_ip must be an IPv4 address')
    uplinks = optional(body, 'uplinks', dict, {})
    if not all(isinstance(v, int) and v > 0 for v in uplinks.values()):
        raise ValidationError('uplinks', 'uplinks must map names to OpenFlow port numbers')
    return Host(name=name, dpid=dpid, role=role, rack=rack, vtep_ip=vtep_ip, uplinks=uplinks)
