"""``/v1/logs``: security-group logs as a resource (routes tagged
``feature='firewall'``), their operations and what requests may say.

A log names what it covers (``security_group`` and/or ``port``, by id or name;
neither: every port), its ``event`` (``ACCEPT``, ``DROP``, ``ALL``) and the
``file`` its records are appended to, a plain file name inside ``[vnetsec]
log_dir`` (so an API client never chooses where the controller writes).
``GET /v1/logs/{id}/events`` answers the recent records.
"""
from dataclasses import asdict
from typing import Literal, Optional

from pydantic import Field

from controller import constants as C
from controller.api.responses import Out
from controller.api.rest import route
from controller.features import log_sink
from controller.features.firewall_log import KIND, Log
from controller.state import model
from controller.state.model import NotFound, ValidationError
from controller.state.schemas import Body, Description, OptionalName, parse
from controller.state.writes import retried

FW = 'firewall'
FILE_PATTERN = r'^([A-Za-z0-9_-][A-Za-z0-9_.-]{0,63})?$'      # a name, never a path
Ident = Field(default=None, max_length=64, pattern=r'^[A-Za-z0-9_.-]{1,64}$')


class LogCreate(Body):
    name: OptionalName = ''
    description: Description = ''
    event: Literal[C.LOG_EVENTS] = 'ALL'
    security_group: Optional[str] = Ident
    port: Optional[str] = Ident
    file: str = Field(default='', max_length=64, pattern=FILE_PATTERN)
    enabled: bool = True


class LogPatch(Body):
    name: Optional[OptionalName] = None
    description: Optional[Description] = None
    enabled: Optional[bool] = None


class LogOut(Out):
    id: str
    name: str
    description: str
    event: str
    group_id: Optional[str]     # None: every group (what a log names, else null)
    port_id: Optional[str]
    file: str
    path: str
    enabled: bool


class LogEvents(Out):
    log: str
    events: list[dict]


def log_out(log):
    return dict(asdict(log), path=log_sink.path_of(log), group_id=log.group_id or None,
                port_id=log.port_id or None)


class Logs:
    """Create, change and delete logs: everything checked, then one transaction."""

    def __init__(self, service):
        self.service, self.store = service, service.store

    def get(self, ident):
        log = self.store.get(KIND, ident) or next(
            (g for g in self.store.list(KIND) if g.name and g.name == ident), None)
        if log is None:
            raise NotFound('log', ident)
        return log

    def _port(self, ident):
        port = self.store.get('port', ident) or next(
            (p for p in self.store.list('port') if p.name == ident), None)
        if port is None:
            err = NotFound('port', ident)
            err.field = 'port'
            raise err
        return port

    @retried
    def create(self, body, fields=None):
        request = parse(LogCreate, body if fields is None else fields)
        group = self.service.get_group(request.security_group, 'security_group') \
            if request.security_group else None
        port = self._port(request.port) if request.port else None
        if request.name and any(g.name == request.name for g in self.store.list(KIND)):
            raise ValidationError('name', 'a log named %r exists' % request.name, 409)
        log = Log(id=model.new_id(), name=request.name, description=request.description,
                  event=request.event, group_id=group.id if group else '',
                  port_id=port.id if port else '', file=request.file,
                  enabled=request.enabled)
        with self.store.transaction() as tx:
            tx.put(KIND, log.id, log)
        return log

    @retried
    def update(self, ident, body):
        log = self.get(ident)
        fields = {k: v for k, v in parse(LogPatch, body).model_dump().items()
                  if v is not None}
        if fields.get('name') and any(g.name == fields['name'] and g.id != log.id
                                      for g in self.store.list(KIND)):
            raise ValidationError('name', 'a log named %r exists' % fields['name'], 409)
        updated = model.changed(log, **fields)
        with self.store.transaction() as tx:
            tx.put(KIND, log.id, updated)
        return updated

    @retried
    def delete(self, ident):
        log = self.get(ident)
        with self.store.transaction() as tx:
            tx.delete(KIND, log.id)
        sink = log_sink.running()
        if sink is not None:
            sink.forget(log)
        return log


def events_of(log, limit=log_sink.RECENT):
    sink = log_sink.running()
    return sink.events(log.id, limit) if sink is not None else []


@route('GET', '/v1/logs', returns=list[LogOut], feature=FW)
def list_logs(api, _):
    return 200, [log_out(g) for g in api.store.list(KIND)]


@route('POST', '/v1/logs', write=True, body=LogCreate, ok=201, returns=LogOut,
       errors=(404, 409), feature=FW)
def create_log(api, body):
    """Log a group's, a port's or every port's connections: {"event": "ACCEPT" |
    "DROP" | "ALL", "security_group", "port", "file", "name", "enabled"}."""
    return 201, log_out(Logs(api.service).create(body))


@route('GET', '/v1/logs/([^/]+)', returns=LogOut, errors=(404,), feature=FW)
def get_log(api, _, ident):
    return 200, log_out(Logs(api.service).get(ident))


@route('PATCH', '/v1/logs/([^/]+)', write=True, body=LogPatch, returns=LogOut,
       errors=(404, 409), feature=FW)
def update_log(api, body, ident):
    return 200, log_out(Logs(api.service).update(ident, body))


@route('DELETE', '/v1/logs/([^/]+)', write=True, ok=204, errors=(404,), feature=FW)
def delete_log(api, _, ident):
    Logs(api.service).delete(ident)
    return 204, None


@route('GET', '/v1/logs/([^/]+)/events', returns=LogEvents, errors=(404,), feature=FW)
def log_events(api, _, ident):
    """The log's recent records (per connection; SUPPRESSED: what the meters held back)."""
    log = Logs(api.service).get(ident)
    return 200, {'log': log.id, 'events': events_of(log)}


@route('GET', '/v1/denials', returns=list[dict], feature=FW)
def recent_denials(api, _):
    """The recent DROP records of every log, newest last (the web view's tail)."""
    sink = log_sink.running()
    return 200, sink.recent_denials() if sink is not None else []
