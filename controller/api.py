"""The REST API (``/v1``): a plain webob WSGI application over the service.

JSON in, JSON out. Errors are ``{"error": {"code", "message", "field"}}`` with a
4xx status, raised before anything is written. Two roles: the admin token reads
and writes, the reader token only reads (403 on a write); reads need a token
too unless the operator opens them. Bodies are bounded (413) and so is their
nesting (400) and the path (414): no client can make the controller hold or
parse an unbounded request. The route table carries each operation's request
and response declarations, from which the OpenAPI document is generated.
"""
import decimal
import hmac
import json
import logging
import re
import time

import webob

from controller import model, schemas, views, web
from controller.flows import to_ofctl
from controller.inventory import Inventory
from controller.metrics import CONTENT_TYPE, Metrics
from controller.model import ValidationError
from controller.store import StoreUnavailable

LOG = logging.getLogger(__name__)
MAX_BODY = 1 << 20          # bytes; a 5,000-port bulk create is about 0.6 MB
MAX_DEPTH = 32              # JSON nesting; our deepest body nests 4
MAX_PATH = 2048
ROUTES = []
# other APIs served beside /v1 by the same object (tokens, roles, audit, metrics):
# modules with owns(path) and handle(api, req) -> (response, route or None)
MOUNTS = []


class Route:
    def __init__(self, method, pattern, func, write, body, ok, returns, errors, public,
                 feature, media):
        self.method, self.func, self.write, self.public = method, func, write, public
        self.feature, self.media = feature, media
        self.regex = re.compile('^' + pattern + '$')
        self.path = pattern.replace('([^/]+)', '{id}', 1).replace('([^/]+)', '{rule_id}')
        self.body, self.ok, self.returns, self.errors = body, ok, returns, errors


def route(method, pattern, write=False, body=None, ok=200, returns=None, errors=(),
          public=False, feature=None, media='application/json'):
    """Register an operation: ``body`` the declaration of its request body,
    ``ok`` its success status, ``returns`` the declaration of what it answers,
    ``errors`` the 4xx statuses it can give besides the common ones; ``public``
    needs no token; ``feature``: served only while that feature's app runs;
    ``media``: what it answers if not JSON (a text route answers a string)."""
    def register(func):
        ROUTES.append(Route(method, pattern, func, write, body, ok, returns, errors, public,
                            feature, media))
        return func
    return register


def _error(status, message, field=None, headers=None):
    body = {'error': {'code': status, 'message': message, 'field': field}}
    resp = webob.Response(json=body, status=status)
    for name, value in (headers or {}).items():
        resp.headers[name] = value
    return resp


def _number(text):
    """A JSON number with a fraction or exponent: an integer if its value is one
    (JSON Schema's meaning of "integer": 14.0 is 14), else a float, which no
    field accepts."""
    try:
        value = decimal.Decimal(text)
        if value == value.to_integral_value() and abs(value) < 2 ** 64:
            return int(value)
    except decimal.InvalidOperation:
        pass
    return float(text)


def _depth(value, limit):
    """Nesting depth of decoded JSON, stopping once it exceeds ``limit``."""
    stack, deepest = [(value, 1)], 0
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if deepest > limit:
            break
        children = item.values() if isinstance(item, dict) else item \
            if isinstance(item, list) else ()
        stack.extend((child, depth + 1) for child in children
                     if isinstance(child, (dict, list)))
    return deepest


class Api:
    def __init__(self, service, token, reader_token='', open_reads=False, status=None,
                 rule_stats=None, events=None, audit=None, features=None, flows=None,
                 metrics=None, compiled_features=None, cached_rule_stats=None,
                 wait_applied=None):
        self.service = service
        self.flows = flows or (lambda host: [])   # host -> its compiled flows
        self.features = features or (lambda: ['vlan', 'vxlan', 'firewall'])  # loaded
        self.store = service.store
        self.tokens = [(t, role) for t, role in ((token, 'admin'), (reader_token, 'reader'))
                       if t]
        self.open_reads = open_reads
        self.status = status or (lambda: {'switches': {}, 'idle': True})
        self.rule_stats = rule_stats or dict      # () -> {rule_id: {packets, bytes}}
        self.events = events or list              # () -> recent switch events, timed
        self.audit = audit or (lambda entry: None)
        self.metrics = metrics or Metrics()
        self.compiled_features = compiled_features or tuple   # the loaded Feature objects
        self.cached_rule_stats = cached_rule_stats or dict   # the last background reading
        # () -> (switches not confirmed or None, {switch: why failing}): ?wait=applied
        self.wait_applied = wait_applied or (lambda: ([], {}))

    def __call__(self, environ, start_response):
        req = webob.Request(environ)
        return self.handle(req)(environ, start_response)

    def role(self, req):
        """'admin', 'reader' or None, from ``Authorization: Bearer <token>``
        (the scheme in any case; tokens compared in constant time)."""
        scheme, _, given = req.headers.get('Authorization', '').strip().partition(' ')
        if scheme.lower() != 'bearer':
            return None
        given = given.strip().encode()
        found = None
        for token, role in self.tokens:
            if hmac.compare_digest(given, token.encode()) and found is None:
                found = role
        return found

    def handle(self, req):
        """The response, counted by method, route (its declared path, or
        "unmatched") and status."""
        resp, matched = self._route(req)
        self.metrics.api_requests.labels(req.method, matched.path if matched else 'unmatched',
                                         str(resp.status_int)).inc()
        return resp

    def _route(self, req):
        if len(req.path_info) > MAX_PATH:
            return _error(414, 'the path is longer than %d characters' % MAX_PATH,
                          'path'), None
        for mount in MOUNTS:
            if mount.owns(req.path_info):
                return mount.handle(self, req)
        path = req.path_info.rstrip('/') or '/'
        allowed = []
        loaded = self.features()
        for r in ROUTES:
            m = r.regex.match(path)
            if not m:
                continue
            if r.feature and r.feature not in loaded:
                return _error(404, '%s: the %s app is not loaded on this controller '
                              '(ryu-manager ... apps.%s)' % (path, r.feature, r.feature)), r
            if r.method != req.method:
                allowed.append(r.method)
                continue
            resp = self._call(req, r, m.groups())
            if r.write:
                self.audit({'time': time.time(), 'role': self.role(req), 'method': req.method,
                            'path': path, 'status': resp.status_int})
            return resp, r
        if allowed:
            return _error(405, 'method %s not allowed here (%s)' % (req.method,
                                                                    ', '.join(allowed)),
                          'method', {'Allow': ', '.join(allowed)}), None
        return _error(404, 'no such resource: %s' % path), None

    def _call(self, req, r, args):
        role = self.role(req)
        if role is None and (r.write or not (self.open_reads or r.public)):
            return _error(401, '%s need "Authorization: Bearer <token>"'
                          % ('writes' if r.write else 'reads'), 'Authorization')
        if r.write and role != 'admin':
            return _error(403, 'the reader token cannot write', 'Authorization')
        wait = req.GET.get('wait')
        if wait is not None and (wait != 'applied' or not r.write):
            return _error(400, 'wait: only "applied", and only on writes (wait until the '
                               "change's switches confirm it)", 'wait')
        try:
            body = self._json(req) if r.body is not None else None
            status, result = r.func(self, body, *args)
        except ValidationError as e:
            return _error(e.status, e.message, e.field)
        except StoreUnavailable as e:               # e.g. etcd without a quorum
            LOG.warning('%s %s: the store is unavailable: %s', req.method, req.path_info, e)
            return _error(503, 'the store cannot take changes now (%s): nothing was '
                               'written; try again' % e)
        except Exception:                          # a bug: say so in JSON, log it
            LOG.exception('%s %s failed', req.method, req.path_info)
            return _error(500, 'internal error; see the controller log')
        if wait:
            late = self._late(self.wait_applied())
            if late:
                return late
        if status == 204:
            return webob.Response(status=204)
        if r.media != 'application/json':
            resp = webob.Response(body=result, status=status)
            resp.headers['Content-Type'] = r.media
            return resp
        return webob.Response(json=result, status=status)

    @staticmethod
    def _late(waited):
        """The error of a write stored but not confirmed by its switches, or None."""
        pending, failing = waited
        if failing:
            return _error(502, 'the change is stored, but %s refused its flows: %s' % (
                ', '.join(sorted(failing)), '; '.join('%s: %s' % i for i in
                                                      sorted(failing.items()))), 'wait')
        if pending is None:
            return _error(504, 'the change is stored, but not yet compiled for the '
                               'switches; see /v1/status', 'wait')
        if pending:
            return _error(504, 'the change is stored, but not yet confirmed by %s; see '
                               '/v1/status' % ', '.join(pending), 'wait')
        return None

    @staticmethod
    def _json(req):
        """The body, decoded: present, at most MAX_BODY bytes (chunked ones too),
        at most MAX_DEPTH levels deep."""
        length = req.environ.get('CONTENT_LENGTH')
        try:
            length = int(length) if length else None
        except ValueError:
            raise ValidationError('Content-Length', 'Content-Length is not a number')
        if length is not None and length > MAX_BODY:
            raise ValidationError('body', 'the body is larger than %d bytes' % MAX_BODY, 413)
        stream = req.environ['wsgi.input']
        raw = stream.read(length) if length is not None else stream.read(MAX_BODY + 1)
        if len(raw) > MAX_BODY:
            raise ValidationError('body', 'the body is larger than %d bytes' % MAX_BODY, 413)
        if not raw.strip():
            raise ValidationError('body', 'a JSON object is required as the body')
        too_deep = ValidationError('body', 'the body nests deeper than %d levels' % MAX_DEPTH)
        try:
            body = json.loads(raw, parse_float=_number)
        except RecursionError:
            raise too_deep from None
        except ValueError as e:
            raise ValidationError('body', 'the body is not valid JSON: %s' % e)
        if _depth(body, MAX_DEPTH) > MAX_DEPTH:
            raise too_deep
        return body

    # ---- hosts ---------------------------------------------------------------
    @route('GET', '/v1/hosts', returns=list[schemas.HostOut])
    def list_hosts(self, _):
        """Every switch: hypervisors with their VLANs and vNICs, ToRs with the VLANs
        allowed per port."""
        inv = Inventory.from_store(self.store)
        return 200, [views.safe_host_view(inv, h) for h in self.store.list('host')]

    @route('POST', '/v1/hosts', write=True, body=schemas.HostCreate, ok=201,
           returns=schemas.HostOut, errors=(409,))
    def create_host(self, body):
        """Register a switch (409 if its name or dpid is taken)."""
        return 201, model.to_dict(self.service.create_host(body))

    @route('GET', '/v1/hosts/([^/]+)', returns=schemas.HostOut, errors=(404,))
    def get_host(self, _, name):
        host = self.service.get_host(name)
        return 200, views.safe_host_view(Inventory.from_store(self.store), host)

    @route('GET', '/v1/hosts/([^/]+)/flows', returns=schemas.HostFlows, errors=(404, 409))
    def host_flows(self, _, name):
        """The flows the controller wants on a switch (what it compiled for the
        loaded apps), each with its cookie, in ovs-ofctl syntax."""
        host = self.service.get_host(name)
        return 200, {'host': host.name, 'flows': [
            {'cookie': '%#x' % f.cookie, 'table': f.table, 'priority': f.priority,
             'owner': f.owner, 'ofctl': to_ofctl(f)} for f in self.flows(host)]}

    @route('PATCH', '/v1/hosts/([^/]+)', write=True, body=schemas.HostPatch,
           returns=schemas.HostOut, errors=(404, 409))
    def update_host(self, body, name):
        """Change a switch's dpid, rack, VTEP or uplinks; its role only while no
        port is bound there."""
        return 200, model.to_dict(self.service.update_host(name, body))

    @route('DELETE', '/v1/hosts/([^/]+)', write=True, ok=204, errors=(404, 409))
    def delete_host(self, _, name):
        """Forget a switch (409 while ports are bound or arriving there)."""
        self.service.delete_host(name)
        return 204, None

    # ---- networks ------------------------------------------------------------
    @route('GET', '/v1/networks', returns=list[schemas.NetworkOut])
    def list_networks(self, _):
        return 200, [model.to_dict(n) for n in self.store.list('network')]

    @route('POST', '/v1/networks', write=True, body=schemas.NetworkCreate, ok=201,
           returns=schemas.NetworkOut, errors=(409,))
    def create_network(self, body):
        """Create a VLAN or VXLAN network (its segmentation id allocated if absent)."""
        return 201, model.to_dict(self.service.create_network(body))

    @route('GET', '/v1/networks/([^/]+)', returns=schemas.NetworkOut, errors=(404,))
    def get_network(self, _, ident):
        return 200, model.to_dict(self.service.get_network(ident))

    @route('DELETE', '/v1/networks/([^/]+)', write=True, ok=204, errors=(404, 409))
    def delete_network(self, _, ident):
        self.service.delete_network(ident)
        return 204, None

    @route('GET', '/v1/networks/([^/]+)/mappings', returns=schemas.Mappings, errors=(404,))
    def network_mappings(self, _, ident):
        """Per hypervisor holding the network: MAC -> VTEP of the remote ports."""
        network = self.service.get_network(ident)
        return 200, {'network': network.id, 'kind': network.kind,
                     'segmentation_id': network.segmentation_id,
                     'hosts': views.mappings(Inventory.from_store(self.store), network)}

    # ---- ports ---------------------------------------------------------------
    @route('GET', '/v1/ports', returns=list[schemas.PortOut])
    def list_ports(self, _):
        return 200, [model.to_dict(p) for p in self.store.list('port')]

    @route('POST', '/v1/ports', write=True, body=schemas.PortCreate | schemas.PortBulk,
           ok=201, returns=schemas.PortOut | list[schemas.PortOut], errors=(404, 409))
    def create_port(self, body):
        """Create a port, or several at once with {"ports": [...]} (all or none)."""
        if isinstance(body, dict) and list(body) == ['ports']:
            ports = body['ports']
            if not isinstance(ports, list) or not 1 <= len(ports) <= schemas.MAX_BULK:
                raise ValidationError('ports', 'ports must be a list of 1-%d port objects'
                                      % schemas.MAX_BULK)
            return 201, [model.to_dict(p) for p in self.service.create_ports(ports)]
        return 201, model.to_dict(self.service.create_port(body))

    @route('GET', '/v1/ports/([^/]+)', returns=schemas.PortOut, errors=(404,))
    def get_port(self, _, ident):
        return 200, model.to_dict(self.service.get_port(ident))

    @route('PATCH', '/v1/ports/([^/]+)', write=True, body=schemas.PortPatch,
           returns=schemas.PortOut, errors=(404, 409))
    def update_port(self, body, ident):
        """Change a port's name, addresses, requested host, groups or port security."""
        return 200, model.to_dict(self.service.update_port(ident, body))

    @route('POST', '/v1/ports/([^/]+)/migrate', write=True, body=schemas.Migrate,
           returns=schemas.PortOut, errors=(404, 409))
    def migrate_port(self, body, ident):
        """Planned migration: {"host": "hv3", "live": false}. The destination is
        programmed before the VM arrives, for a device at "migrating_ofport"."""
        return 200, model.to_dict(self.service.migrate_port(ident, body))

    @route('DELETE', '/v1/ports/([^/]+)', write=True, ok=204, errors=(404,))
    def delete_port(self, _, ident):
        self.service.delete_port(ident)
        return 204, None

    @route('GET', '/v1/status', returns=schemas.Status)
    def get_status(self, _):
        """Connected switches, whether each holds its desired flows (or why not),
        and whether the controller has changes still to send."""
        return 200, self.status()

    @route('GET', '/v1/events', returns=list[dict])
    def get_events(self, _):
        """Recent switch events with their times: vNICs appearing and leaving
        (port) and switches confirming flow changes (commit)."""
        return 200, self.events()

    @route('GET', '/v1/view', returns=schemas.View)
    def live_view(self, _):
        """What the web view draws: hosts by rack with their sync state, VMs,
        networks and the VTEPs they span, groups with rule counters, events."""
        return 200, web.snapshot(Inventory.from_store(self.store), self.status(),
                                 self.cached_rule_stats(), self.events())

    @route('GET', '/ui', returns=str, public=True, media='text/html; charset=utf-8')
    def web_page(self, _):
        """The live web view (no token: the page holds no state; open it as
        /ui#token=TOKEN and it reads /v1/view with that token)."""
        return 200, web.page()

    @route('GET', '/metrics', returns=str, media=CONTENT_TYPE)
    def get_metrics(self, _):
        """Prometheus metrics (text exposition format; docs/metrics.md)."""
        return 200, self.metrics.text()

    @route('GET', '/v1/openapi.json', returns=dict, public=True)
    def openapi(self, _):
        """This document (no token needed: it holds no state)."""
        return 200, openapi_document(self.features())


def _content(declaration, components):
    schema, defs = schemas.json_schema(declaration)
    components.update(defs)
    return {'application/json': {'schema': schema}}


WAIT_PARAMETER = {
    'name': 'wait', 'in': 'query', 'required': False,
    'schema': {'type': 'string', 'enum': ['applied']},
    'description': "answer only once every switch this controller programs has confirmed "
                   "the change's flows (502: one refused them; 504: not within "
                   "[vnetsec] wait_timeout)"}


def openapi_document(loaded=('vlan', 'vxlan', 'firewall')):
    """The OpenAPI 3.1 document of the routes the ``loaded`` features serve,
    generated from the route table and the declarations of
    :mod:`controller.schemas`."""
    components = {}
    error = {'description': 'error', 'content': _content(schemas.Error, components)}
    paths = {}
    for r in ROUTES:
        if r.feature and r.feature not in loaded:
            continue
        op = {'summary': (r.func.__doc__ or r.func.__name__.replace('_', ' ')).strip()
              .split('\n')[0], 'operationId': r.func.__name__,
              'responses': {}}
        if not r.public:
            op['security'] = [{'bearer': []}]
        if r.ok == 204:
            op['responses']['204'] = {'description': 'done'}
        else:
            content = ({r.media.split(';')[0]: {'schema': {'type': 'string'}}}
                       if r.media != 'application/json' else _content(r.returns, components))
            op['responses'][str(r.ok)] = {'description': 'OK', 'content': content}
        statuses = {414} | set(r.errors) | (set() if r.public else {401})
        if r.write:
            statuses |= {400, 403, 502, 504}      # 400: a bad ?wait
        if r.body is not None:
            statuses |= {400, 413}
        for status in sorted(statuses):
            op['responses'][str(status)] = error
        params = [name for name in ('id', 'rule_id') if '{%s}' % name in r.path]
        if params:
            op['parameters'] = [{'name': name, 'in': 'path', 'required': True,
                                 'schema': {'type': 'string', 'pattern': schemas.NAME_PATTERN}}
                                for name in params]
        if r.write:
            op.setdefault('parameters', []).append(WAIT_PARAMETER)
        if r.body is not None:
            op['requestBody'] = {'required': True, 'content': _content(r.body, components)}
        paths.setdefault(r.path, {})[r.method.lower()] = op
    return {'openapi': '3.1.0',
            'info': {'title': 'vnetsec', 'version': '1'},
            'paths': paths,
            'components': {'securitySchemes': {'bearer': {'type': 'http', 'scheme': 'bearer'}},
                           'schemas': components}}
