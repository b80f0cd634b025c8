"""Typed records of the desired state, and the error every check raises.

What users may send is declared in :mod:`controller.state.schemas`; every check
raises :class:`ValidationError` naming the offending field, before anything is
stored, so bad input never changes state.
"""
import uuid
from dataclasses import asdict, dataclass, field, replace


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
    uplinks: dict[str, int] = field(default_factory=dict)
    # hypervisor: {'tor': ofport on its rack's ToR}
    # tor: {'hv:<name>': ofport, 'rack:<n>': ofport of the trunk to rack n}
    agent: str = ''                   # hypervisors: their agent's 'IP:port' (agent.server)
    switch_address: str = ''          # 'IP:PORT' where the switch listens for its
                                      # controllers (OVS ptcp:/pssl:): they dial it


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
    ips: list[str]
    device: str
    host: str = ''                     # requested host (like binding:host_id)
    security_groups: list[str] = field(default_factory=list)   # group ids; empty: none
    port_security_enabled: bool = True  # anti-spoofing + stateful firewall on this vNIC
    bound_host: str = ''               # observed: where the device is plugged
    ofport: int = 0                    # observed: its OpenFlow port number there
    migrating_to: str = ''             # planned migration: destination programmed ahead
    migrating_ofport: int = 0          # ... for the device at this port number there
    device_id: str = ''                # who uses it (Neutron's: a VM's uuid), stored only
    device_owner: str = ''             # what uses it (Neutron's: compute:nova), stored only
    # Neutron's allowed address pairs: [{'ip_address': address or prefix,
    # 'mac_address': the MAC it may send it from}] (a VIP under keepalived, a router)
    allowed_address_pairs: list[dict] = field(default_factory=list)


@dataclass(frozen=True)
class SecurityGroup:
    """Rules shared by many ports. ``zone`` is an optional tier label (web, app,
    db) that rules of other groups can name as ``remote_zone``."""
    id: str
    name: str
    description: str = ''
    zone: str = ''
    rules: list[dict] = field(default_factory=list)   # dicts: schemas.RuleCreate + id
    stateful: bool = True             # False: rules admit packets one way, no conntrack


@dataclass(frozen=True)
class Subnet:
    """An address range of a network (Neutron's subnet, served by ``/v2.0``):
    ports created there without addresses get the next free one of its pools.
    Nothing is compiled from it (no DHCP: ``enable_dhcp`` is stored only)."""
    id: str
    name: str
    network_id: str
    cidr: str
    ip_version: int = 4
    gateway_ip: str = ''              # '' : none
    allocation_pools: list[dict] = field(default_factory=list)   # [{'start', 'end'}]
    enable_dhcp: bool = True
    description: str = ''
    ipv6_ra_mode: str = ''            # stored only (no router advertisements are sent)
    ipv6_address_mode: str = ''       # slaac, dhcpv6-stateless: ports get EUI-64 addresses


def pair_addresses(port):
    """Its allowed address pairs' addresses or prefixes (not its fixed IPs)."""
    return tuple(sorted({p['ip_address'] for p in port.allowed_address_pairs}
                        - set(port.ips)))


def member_addresses(port):
    """What a port may send from, as a remote group sees it: its fixed IPs and
    its allowed address pairs' addresses or prefixes."""
    return list(port.ips) + list(pair_addresses(port))


def pair_macs(port):
    """The MACs of a port's address pairs other than its own: it sends from
    them too, so frames to them are delivered to it."""
    return sorted({p['mac_address'] for p in port.allowed_address_pairs} - {port.mac})


def port_macs(port):
    """Every MAC a port sends from: its own, then its pairs'."""
    return [port.mac] + pair_macs(port)


def to_dict(record):
    return asdict(record)


def changed(record, **fields):
    """A copy of a frozen record with some fields replaced."""
    return replace(record, **fields)


