"""What ``/v2.0`` does beyond translating: subnets (a record kind of their own)
and the addresses and MACs a port gets when its request names none. Every
write goes through the service (``/v1``'s operations, the same checks and
transactions) or, for subnets, one store transaction of its own.
"""
import ipaddress
import random

from controller import addresses
from controller.state import model
from controller.state.model import NotFound, ValidationError
from controller.api.neutron import translate as T
from controller.state.service import retried

ALLOCATION_ATTEMPTS = 20     # another writer took the address or MAC chosen: choose again


def subnets_of(store, network_id):
    return [s for s in store.list('subnet') if s.network_id == network_id]


def get_subnet(store, ident, field='id'):
    subnet = store.get('subnet', T.undash(ident))
    if subnet is None:
        err = NotFound('subnet', ident)
        err.field = field
        raise err
    return subnet


def _taken(store, network_id, ip):
    return bool(store.find('port', 'ip', (network_id, ip)))


@retried
def create_subnet(service, request):
    """A checked SubnetCreate -> the stored Subnet (its network must exist; an
    IPv4 range may not overlap another of the same network)."""
    store = service.store
    network = service.get_network(T.undash(request.network_id), 'network_id')
    net = ipaddress.ip_network(request.cidr)
    for other in subnets_of(store, network.id):
        if other.ip_version == net.version and net.overlaps(ipaddress.ip_network(other.cidr)):
            raise ValidationError('cidr', 'cidr %s overlaps subnet %s (%s) of network %s'
                                  % (net, T.dashed(other.id), other.cidr, network.name))
    gateway = request.gateway()
    pools = ([p.model_dump() for p in request.allocation_pools]
             if request.allocation_pools is not None else T.default_pools(str(net), gateway))
    for i, pool in enumerate(pools):
        if gateway and ipaddress.ip_address(pool['start']) <= ipaddress.ip_address(gateway) \
                <= ipaddress.ip_address(pool['end']):
            raise ValidationError('gateway_ip', 'gateway_ip %s is in allocation_pools[%d]'
                                  % (gateway, i), 409)
    subnet = model.Subnet(id=model.new_id(), name=request.name, network_id=network.id,
                          cidr=str(net), ip_version=net.version, gateway_ip=gateway,
                          allocation_pools=pools, enable_dhcp=request.enable_dhcp,
                          description=request.description,
                          ipv6_ra_mode=request.ipv6_ra_mode or '',
                          ipv6_address_mode=request.ipv6_address_mode or '')
    with store.transaction() as tx:
        tx.put('subnet', subnet.id, subnet)
    return subnet


@retried
def delete_subnet(service, ident):
    store = service.store
    subnet = get_subnet(store, ident)
    users = [p.name for p in store.list('port') if p.network_id == subnet.network_id
             and T.subnet_of_any(p.ips, [subnet])]
    if users:
        raise ValidationError('id', 'subnet %s has addresses of ports %s'
                              % (subnet.cidr, ', '.join(sorted(users)[:5])), 409)
    with store.transaction() as tx:
        tx.delete('subnet', subnet.id)


def choose_ips(store, network, fixed_ips, keep=(), mac=''):
    """The addresses a port gets: ``fixed_ips`` None: per IP version, the first
    free address of the network's first subnet of it that has one (none without
    subnets); otherwise each entry's ``ip_address`` (in the given subnet, or in
    one of the network's) or the next free address of its ``subnet_id``.
    ``keep``: the port's own addresses (free for it). On an IPv6 subnet in
    SLAAC or DHCPv6-stateless mode the address is the EUI-64 of ``mac``, as
    the guest makes it itself."""
    subnets = subnets_of(store, network.id)
    chosen = []

    def free(subnet):
        if subnet.ipv6_address_mode in ('slaac', 'dhcpv6-stateless'):
            return addresses.eui64(subnet.cidr, mac)
        for ip in T.pool_addresses(subnet):
            if ip != subnet.gateway_ip and ip not in chosen and (
                    ip in keep or not _taken(store, network.id, ip)):
                return ip
        return None

    if fixed_ips is None:
        for version in (4, 6):
            ip = next(filter(None, (free(s) for s in subnets if s.ip_version == version)),
                      None)
            chosen += [ip] if ip else []
        return chosen
    for i, entry in enumerate(fixed_ips):
        where = 'fixed_ips[%d].' % i
        subnet = None
        if entry.subnet_id:
            subnet = get_subnet(store, entry.subnet_id, where + 'subnet_id')
            if subnet.network_id != network.id:
                raise ValidationError(where + 'subnet_id', 'subnet %s is not on network %s'
                                      % (entry.subnet_id, network.name))
        if entry.ip_address:
            try:
                ip = ipaddress.ip_address(entry.ip_address)
            except ValueError:
                raise ValidationError(where + 'ip_address', '%r is not an IP address'
                                      % entry.ip_address) from None
            if ip.version == 6 and (ip.is_link_local or ip.is_multicast):
                raise ValidationError(where + 'ip_address', '%s is not a unicast global or '
                                      'unique-local address (a port has its link-local '
                                      'address from its MAC)' % ip)
            holder = T.subnet_of(str(ip), [subnet] if subnet else subnets)
            if holder is None:
                raise ValidationError(where + 'ip_address', '%s is in no subnet %s' % (
                    ip, 'of network %s' % network.name if subnet is None
                    else '%s (%s)' % (entry.subnet_id, subnet.cidr)))
            chosen.append(str(ip))
        else:
            ip = free(subnet)
            if ip is None:
                raise ValidationError(where + 'subnet_id', 'subnet %s has no free address '
                                      'left in its pools' % entry.subnet_id, 409)
            chosen.append(ip)
    return chosen


def free_mac(store, network_id):
    """A MAC of Neutron's base fa:16:3e (locally administered, unicast) no port
    of the network has."""
    while True:
        mac = 'fa:16:3e:%02x:%02x:%02x' % tuple(random.randrange(256) for _ in range(3))
        if not store.find('port', 'mac', (network_id, mac)):
            return mac


def create_port(service, request):
    """A checked PortCreate -> the stored port. Its id is chosen first so that
    its vNIC's name (``tap`` + the dashed id's first 11 characters, as Nova
    names it) is known when it is stored."""
    store = service.store
    network = service.get_network(T.undash(request.network_id), 'network_id')
    for attempt in range(1, ALLOCATION_ATTEMPTS + 1):
        allocated_mac = not request.mac_address
        mac = free_mac(store, network.id) if allocated_mac else request.mac_address.lower()
        ips = choose_ips(store, network, request.fixed_ips, mac=mac)
        body = T.port_in(request, ips)
        body['network_id'] = network.id
        body['mac'] = mac
        port_id = model.new_id()
        body['device'] = T.device_of(port_id)
        try:
            return service.create_port(body, port_id)
        except ValidationError as e:    # a concurrent writer took what was chosen
            chosen = (e.field == 'ips' and _allocated(request.fixed_ips)) or (
                e.field == 'mac' and allocated_mac)
            if e.status != 409 or not chosen or attempt == ALLOCATION_ATTEMPTS:
                raise
            store.refresh()


def _allocated(fixed_ips):
    return fixed_ips is None or any(not f.ip_address for f in fixed_ips)


def update_port(service, ident, request):
    port = service.get_port(T.undash(ident))
    ips = None
    if request.fixed_ips is not None:
        network = service.get_network(port.network_id)
        ips = choose_ips(service.store, network, request.fixed_ips, keep=port.ips,
                         mac=port.mac)
    body = T.port_in(request, ips, create=False)
    return service.update_port(port.id, body) if body else port
