"""Neutron's resources <-> vnetsec's records, both ways, pure.

``*_out`` turn a stored record (and what it needs to be told: a network's
subnets, a port's status) into the dict ``/v2.0`` answers; ``*_in`` turn a
checked ``/v2.0`` request (:mod:`controller.api.neutron.schemas`) into the body the
``/v1`` service takes. Ids are vnetsec's (uuid4 hex) shown dashed, and either
form is accepted (:func:`undash`). :func:`matches` and :func:`select` are the
``?field=value`` filters and ``fields=`` of the list calls.
"""
import ipaddress
import uuid

PHYSNET = 'physnet1'          # the one physical network: the racks' ToR fabric
MTU = {'vxlan': 1450, 'vlan': 1500}
DEVICE_PREFIX = 'tap'         # a port's vNIC: tap + the first 11 characters of its id


# ---- ids -------------------------------------------------------------------------
def dashed(ident):
    """'0123...ef' (32 hex digits) -> '01234567-89ab-...'; anything else as it is."""
    if ident and len(ident) == 32:
        try:
            return str(uuid.UUID(hex=ident))
        except ValueError:
            pass
    return ident


def undash(ident):
    """A dashed uuid -> vnetsec's 32 hex digits (lower case); anything else (a
    name, an id already undashed) as it is."""
    if ident and len(ident) == 36 and ident.count('-') == 4:
        try:
            return uuid.UUID(ident).hex
        except ValueError:
            pass
    return ident


def device_of(port_id):
    """The vNIC name of a port created through ``/v2.0``: what Nova and os-vif
    call a port's tap (``tap`` + its dashed id's first 11 characters)."""
    return DEVICE_PREFIX + dashed(port_id)[:11]


def _common(description=''):
    return {'project_id': '', 'tenant_id': '', 'description': description, 'tags': []}


# ---- networks --------------------------------------------------------------------
def network_out(network, subnet_ids=()):
    return dict(_common(), **{
        'id': dashed(network.id), 'name': network.name, 'status': 'ACTIVE',
        'admin_state_up': True, 'shared': True, 'subnets': [dashed(s) for s in subnet_ids],
        'provider:network_type': network.kind,
        'provider:segmentation_id': network.segmentation_id,
        'provider:physical_network': PHYSNET if network.kind == 'vlan' else None,
        'mtu': MTU.get(network.kind, 1500), 'router:external': False,
        'port_security_enabled': True})


def network_in(request):
    """A checked NetworkCreate -> the /v1 network body."""
    body = {'name': request.name, 'kind': request.network_type or 'vxlan'}
    if request.segmentation_id is not None:
        body['segmentation_id'] = request.segmentation_id
    return body


# ---- subnets ---------------------------------------------------------------------
def subnet_out(subnet):
    return dict(_common(subnet.description), **{
        'id': dashed(subnet.id), 'name': subnet.name, 'network_id': dashed(subnet.network_id),
        'cidr': subnet.cidr, 'ip_version': subnet.ip_version,
        'gateway_ip': subnet.gateway_ip or None,
        'allocation_pools': [dict(p) for p in subnet.allocation_pools],
        'enable_dhcp': subnet.enable_dhcp, 'dns_nameservers': [], 'host_routes': [],
        'ipv6_ra_mode': subnet.ipv6_ra_mode or None,
        'ipv6_address_mode': subnet.ipv6_address_mode or None, 'subnetpool_id': None,
        'service_types': []})


def default_pools(cidr, gateway):
    """Neutron's pools when none are given: every host address but the gateway."""
    net = ipaddress.ip_network(cidr)
    first, last = net.network_address + 1, net.broadcast_address - (net.version == 4)
    if net.prefixlen >= net.max_prefixlen - 1:       # /31, /32: every address
        first, last = net.network_address, net.broadcast_address
    pools, start = [], first
    gw = ipaddress.ip_address(gateway) if gateway else None
    if gw is not None and first <= gw <= last:
        if gw > first:
            pools.append({'start': str(first), 'end': str(gw - 1)})
        start = gw + 1
    if start <= last:
        pools.append({'start': str(start), 'end': str(last)})
    return pools


def pool_addresses(subnet):
    """The subnet's pool addresses, in order (a generator: pools may be large)."""
    for pool in subnet.allocation_pools:
        address, end = ipaddress.ip_address(pool['start']), ipaddress.ip_address(pool['end'])
        while address <= end:
            yield str(address)
            address += 1


def subnet_of(address, subnets):
    """The subnet (of ``subnets``) holding ``address``, or None."""
    ip = ipaddress.ip_address(address)
    return next((s for s in subnets if ip.version == s.ip_version
                 and ip in ipaddress.ip_network(s.cidr)), None)


def subnet_of_any(addresses, subnets):
    """Is one of ``addresses`` in one of ``subnets``?"""
    return any(subnet_of(a, subnets) is not None for a in addresses)


# ---- ports -----------------------------------------------------------------------
def port_status(port, synced_hosts):
    """ACTIVE once bound (its vNIC plugged) on a switch holding all its desired
    flows, else DOWN."""
    return 'ACTIVE' if port.bound_host and port.bound_host in synced_hosts else 'DOWN'


def port_out(port, subnets=(), synced_hosts=()):
    """``subnets``: the port's network's subnets (a fixed IP names the one holding it)."""
    fixed = []
    for ip in port.ips:
        subnet = subnet_of(ip, subnets)
        fixed.append({'subnet_id': dashed(subnet.id) if subnet else None, 'ip_address': ip})
    bound = bool(port.bound_host)
    return dict(_common(), **{
        'id': dashed(port.id), 'name': port.name, 'network_id': dashed(port.network_id),
        'mac_address': port.mac, 'fixed_ips': fixed, 'admin_state_up': True,
        'status': port_status(port, synced_hosts),
        'device_id': port.device_id, 'device_owner': port.device_owner,
        'security_groups': [dashed(g) for g in port.security_groups],
        'port_security_enabled': port.port_security_enabled,
        'allowed_address_pairs': [dict(p) for p in port.allowed_address_pairs],
        'binding:host_id': port.host or port.bound_host,
        'binding:vif_type': 'ovs' if bound else 'unbound',
        'binding:vnic_type': 'normal',
        'binding:vif_details': {'port_filter': True, 'datapath_type': 'netdev',
                                'bridge_name': 'br-int'} if bound else {},
        'binding:profile': {}})


def port_in(request, ips=None, create=True):
    """A checked PortCreate/PortUpdate -> the /v1 port body (``ips``: the
    addresses, already chosen from ``fixed_ips``; None leaves them as they are)."""
    body = {}
    if request.name:
        body['name'] = request.name
    if ips is not None:
        body['ips'] = ips
    for theirs, ours in (('host_id', 'host'), ('device_id', 'device_id'),
                         ('device_owner', 'device_owner'),
                         ('port_security_enabled', 'port_security_enabled')):
        value = getattr(request, theirs)
        if value is not None:
            body[ours] = value
    if request.security_groups is not None:
        body['security_groups'] = [undash(g) for g in request.security_groups]
    if request.allowed_address_pairs is not None:
        body['allowed_address_pairs'] = [p.model_dump(exclude_none=True)
                                         for p in request.allowed_address_pairs]
    if create:
        body['network_id'] = undash(request.network_id)
        if request.mac_address:
            body['mac'] = request.mac_address
    return body


# ---- security groups -------------------------------------------------------------
def rule_out(rule, group_id):
    """A stored rule (a dict inside its group) as Neutron shows it: protocol a
    string or null (any), absent remotes null."""
    protocol = rule['protocol']
    return dict(_common(rule.get('description', '')), **{
        'id': dashed(rule['id']), 'security_group_id': dashed(group_id),
        'direction': rule['direction'], 'ethertype': rule.get('ethertype', 'IPv4'),
        'protocol': None if protocol == 'any' else str(protocol),
        'port_range_min': rule.get('port_range_min'),
        'port_range_max': rule.get('port_range_max'),
        'remote_ip_prefix': rule.get('remote_ip_prefix') or None,
        'remote_group_id': dashed(rule.get('remote_group_id')) or None,
        'remote_address_group_id': None,
        # vnetsec's tier label (no Neutron field): a rule naming one is not "from anywhere"
        'remote_zone': rule.get('remote_zone') or None})


def rule_in(request):
    """A checked RuleCreate -> the /v1 rule body (Neutron's nulls: not given)."""
    body = {k: v for k, v in request.model_dump(
        exclude={'security_group_id', 'project_id', 'tenant_id'}).items() if v is not None}
    if body.get('remote_group_id'):
        body['remote_group_id'] = undash(body['remote_group_id'])
    return body


def group_out(group):
    return dict(_common(group.description), **{
        'id': dashed(group.id), 'name': group.name, 'stateful': group.stateful,
        'shared': True,
        'security_group_rules': [rule_out(r, group.id) for r in group.rules]})


# ---- list filters and fields -----------------------------------------------------
def _equal(item, value):
    """Is the shown ``item`` the filter's ``value`` (a query string)? Booleans
    as true/false (any case), null as the empty string, ids in either form."""
    if isinstance(item, bool):
        return value.lower() == ('true' if item else 'false')
    if item is None:
        return value == ''
    return undash(str(item)) == undash(value)


def matches(shown, filters):
    """Does the shown resource pass ``filters`` {attribute: [values]} (any value
    of each attribute, every attribute)? A list attribute passes if one of its
    items is a wanted value; ``fixed_ips`` takes ``ip_address=A`` or
    ``subnet_id=S`` as Neutron's clients send them."""
    for name, values in filters.items():
        have = shown.get(name)
        if name == 'fixed_ips':
            pairs = {'%s=%s' % (k, undash(ip[k] or '')) for ip in have for k in ip}
            if not any(_fixed_ip_filter(v) in pairs for v in values):
                return False
            continue
        items = have if isinstance(have, list) else [have]
        if not any(_equal(i, v) for i in items for v in values):
            return False
    return True


def _fixed_ip_filter(value):
    key, _, wanted = value.partition('=')
    return '%s=%s' % (key, undash(wanted))


def select(shown, fields):
    """Only the attributes ``fields`` names (all of them without any)."""
    return {k: v for k, v in shown.items() if k in fields} if fields else shown
