"""/v2.0's network logs (Neutron's ``logging`` extension: ``openstack network log
create --resource-type security_group --event DROP``), over the firewall's log
operations (routes tagged ``feature='firewall'``). Neutron serves them at
``/v2.0/log/logs``; ``/v2.0/logs`` answers the same."""
from typing import Literal, Optional

from controller import constants as C
from controller.api.neutron import translate as T
from controller.api.neutron.api import V2, _listed, route
from controller.api.neutron.schemas import Body, Ignored, Out, wrapped
from controller.state.schemas import Description, Name, OptionalName

FW = 'firewall'
PATHS = (V2 + '/log/logs', V2 + '/logs')


class LogCreate(Ignored):
    name: OptionalName = ''
    description: Description = ''
    resource_type: Literal['security_group'] = 'security_group'
    resource_id: Optional[Name] = None      # a security group's id (or name)
    target_id: Optional[Name] = None        # a port's id (or name)
    event: Literal[C.LOG_EVENTS] = 'ALL'
    enabled: bool = True


class LogCreateRequest(Body):
    log: LogCreate


class LogUpdate(Ignored):
    name: Optional[OptionalName] = None
    description: Optional[Description] = None
    enabled: Optional[bool] = None


class LogUpdateRequest(Body):
    log: LogUpdate


class LogOut(Out):
    """Every field optional: ``fields=`` may leave any out, as for every /v2.0 resource."""
    id: Optional[str] = None
    name: Optional[str] = None
    resource_type: Optional[str] = None
    resource_id: Optional[str] = None
    target_id: Optional[str] = None
    event: Optional[str] = None
    enabled: Optional[bool] = None


def log_out(log):
    return dict(T._common(log.description), **{
        'id': T.dashed(log.id), 'name': log.name, 'resource_type': 'security_group',
        'resource_id': T.dashed(log.group_id) or None,
        'target_id': T.dashed(log.port_id) or None, 'event': log.event,
        'enabled': log.enabled, 'revision_number': 0})


def _logs(call):
    """The firewall's log operations, imported when first asked (loading /v2.0
    imports no feature)."""
    from controller.features.log_api import Logs
    return Logs(call.service)


def _list(call, _):
    from controller.features.firewall_log import KIND
    return _listed(call, 'logs', [log_out(g) for g in call.store.list(KIND)])


def _create(call, body):
    """Log a security group's (resource_id), a port's (target_id) or every
    port's connections: ACCEPT, DROP or ALL."""
    request = body.log
    log = _logs(call).create(None, fields={
        'name': request.name, 'description': request.description, 'event': request.event,
        'enabled': request.enabled,
        'security_group': T.undash(request.resource_id) if request.resource_id else None,
        'port': T.undash(request.target_id) if request.target_id else None})
    return 201, {'log': log_out(log)}


def _show(call, _, ident):
    return 200, {'log': call.show(log_out(_logs(call).get(T.undash(ident))))}


def _update(call, body, ident):
    fields = body.log.model_dump(include={'name', 'description', 'enabled'},
                                 exclude_none=True)
    return 200, {'log': log_out(_logs(call).update(T.undash(ident), fields))}


def _delete(call, _, ident):
    _logs(call).delete(T.undash(ident))
    return 204, None


for _path in PATHS:
    route('GET', _path, returns=wrapped('logs', LogOut, True), feature=FW,
          collection='logs')(_list)
    route('POST', _path, write=True, body=LogCreateRequest, ok=201,
          returns=wrapped('log', LogOut), errors=(404, 409), feature=FW,
          collection='logs')(_create)
    route('GET', _path + '/([^/]+)', returns=wrapped('log', LogOut), errors=(404,),
          feature=FW, collection='logs')(_show)
    route('PUT', _path + '/([^/]+)', write=True, body=LogUpdateRequest,
          returns=wrapped('log', LogOut), errors=(404, 409), feature=FW,
          collection='logs')(_update)
    route('DELETE', _path + '/([^/]+)', write=True, ok=204, errors=(404,), feature=FW,
          collection='logs')(_delete)


@route('GET', V2 + '/log/loggable-resources', returns=wrapped('loggable_resources', Out,
                                                              True), feature=FW)
def loggable_resources(call, _):
    return 200, {'loggable_resources': [{'type': 'security_group'}]}
