"""/v2.0's networks, subnets and ports (routes registered with
:func:`controller.api.neutron.api.route`)."""

from controller.api.neutron import operations as ops
from controller.api.neutron import schemas as S
from controller.api.neutron import translate as T
from controller.api.neutron.api import V2, _listed, route


# ---- networks ------------------------------------------------------------------------
def _network(call, network):
    subnets = [s.id for s in ops.subnets_of(call.store, network.id)]
    return T.network_out(network, subnets)


@route('GET', V2 + '/networks', returns=S.wrapped('networks', S.NetworkOut, True),
       collection='networks')
def list_networks(call, _):
    return _listed(call, 'networks', [_network(call, n) for n in call.store.list('network')])


@route('POST', V2 + '/networks', write=True, body=S.NetworkCreateRequest, ok=201,
       returns=S.wrapped('network', S.NetworkOut), errors=(409,), collection='networks')
def create_network(call, body):
    """Create a vlan or vxlan network (provider:segmentation_id allocated if absent)."""
    network = call.service.create_network(T.network_in(body.network))
    return 201, {'network': _network(call, network)}


@route('GET', V2 + '/networks/([^/]+)', returns=S.wrapped('network', S.NetworkOut),
       errors=(404,), collection='networks')
def get_network(call, _, ident):
    return 200, {'network': call.show(_network(call, call.service.get_network(ident)))}


@route('DELETE', V2 + '/networks/([^/]+)', write=True, ok=204, errors=(404, 409),
       collection='networks')
def delete_network(call, _, ident):
    """Delete a network without ports (its subnets go with it)."""
    call.service.delete_network(ident)
    return 204, None


# ---- subnets -------------------------------------------------------------------------
@route('GET', V2 + '/subnets', returns=S.wrapped('subnets', S.SubnetOut, True),
       collection='subnets')
def list_subnets(call, _):
    return _listed(call, 'subnets', [T.subnet_out(s) for s in call.store.list('subnet')])


@route('POST', V2 + '/subnets', write=True, body=S.SubnetCreateRequest, ok=201,
       returns=S.wrapped('subnet', S.SubnetOut), errors=(404, 409), collection='subnets')
def create_subnet(call, body):
    """Create a subnet: ports of its network created without fixed_ips get the
    next free address of its pools (one of each IP version)."""
    return 201, {'subnet': T.subnet_out(ops.create_subnet(call.service, body.subnet))}


@route('GET', V2 + '/subnets/([^/]+)', returns=S.wrapped('subnet', S.SubnetOut),
       errors=(404,), collection='subnets')
def get_subnet(call, _, ident):
    return 200, {'subnet': call.show(T.subnet_out(ops.get_subnet(call.store, ident)))}


@route('DELETE', V2 + '/subnets/([^/]+)', write=True, ok=204, errors=(404, 409),
       collection='subnets')
def delete_subnet(call, _, ident):
    """Delete a subnet none of whose addresses a port holds."""
    ops.delete_subnet(call.service, ident)
    return 204, None


# ---- ports ---------------------------------------------------------------------------
def _port(call, port, synced=None):
    synced = call.synced_hosts() if synced is None else synced
    return T.port_out(port, ops.subnets_of(call.store, port.network_id), synced)


@route('GET', V2 + '/ports', returns=S.wrapped('ports', S.PortOut, True),
       collection='ports')
def list_ports(call, _):
    synced = call.synced_hosts()
    return _listed(call, 'ports', [_port(call, p, synced) for p in call.store.list('port')])


@route('POST', V2 + '/ports', write=True, body=S.PortCreateRequest, ok=201,
       returns=S.wrapped('port', S.PortOut), errors=(404, 409), collection='ports')
def create_port(call, body):
    """Create a port (MAC and fixed IPs allocated when absent); its vNIC is
    tap + the first 11 characters of its id, bound wherever that appears."""
    return 201, {'port': _port(call, ops.create_port(call.service, body.port))}


@route('GET', V2 + '/ports/([^/]+)', returns=S.wrapped('port', S.PortOut), errors=(404,),
       collection='ports')
def get_port(call, _, ident):
    return 200, {'port': call.show(_port(call, call.service.get_port(ident)))}


@route('PUT', V2 + '/ports/([^/]+)', write=True, body=S.PortUpdateRequest,
       returns=S.wrapped('port', S.PortOut), errors=(404, 409), collection='ports')
def update_port(call, body, ident):
    """Change a port's name, fixed IPs, host, device, groups or port security."""
    return 200, {'port': _port(call, ops.update_port(call.service, ident, body.port))}


@route('DELETE', V2 + '/ports/([^/]+)', write=True, ok=204, errors=(404,),
       collection='ports')
def delete_port(call, _, ident):
    call.service.delete_port(ident)
    return 204, None
