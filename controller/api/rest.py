"""The REST framework under vnetsec's APIs: a plain webob WSGI application
dispatching on a route table.

JSON in, JSON out. Errors are ``{"error": {"code", "message", "field"}}`` with a
4xx status, raised before anything is written. Two roles: the admin token reads
and writes, the reader token only reads (403 on a write); reads need a token
too unless the operator opens them. Bodies are bounded (413) and so is their
nesting (400) and the path (414): no client can make the controller hold or
parse an unbounded request. The route table carries each operation's request
and response declarations, from which the OpenAPI document is generated
(:mod:`controller.api.openapi`).
"""
import decimal
import hmac
import json
import logging
import re
import time

import webob

from controller.api.metrics import Metrics
from controller.state.model import ValidationError
from controller.state.store import StoreUnavailable
from controller.switch import agent_client

LOG = logging.getLogger(__name__)
MAX_BODY = 1 << 20          # bytes; a 5,000-port bulk create is about 0.6 MB
MAX_DEPTH = 32              # JSON nesting; our deepest body nests 4
MAX_PATH = 2048
ROUTES = []
# other APIs served beside /v1 by the same object (tokens, roles, audit, metrics):
# modules with owns(path) and handle(api, req) -> (response, route or None)
MOUNTS = []


def _know_every_route():
    """Register the routes of every shipped feature (their modules imported now,
    their flows not compiled: a feature not loaded answers 404 naming its app),
    once; True the first time. Asked only for a path no route matched, so a
    controller loading one app imports no other feature until someone asks for
    another's resources."""
    if _know_every_route.done:
        return False
    _know_every_route.done = True
    from controller.compile.host import shipped
    shipped()
    return True


_know_every_route.done = False


class Route:
    def __init__(self, method, pattern, func, write, body, ok, returns, errors, public,
                 feature, media, admin):
        self.method, self.func, self.write, self.public = method, func, write, public
        self.admin = admin or write         # only the admin token
        self.feature, self.media = feature, media
        self.regex = re.compile('^' + pattern + '$')
        self.path = pattern.replace('([^/]+)', '{id}', 1).replace('([^/]+)', '{rule_id}')
        self.body, self.ok, self.returns, self.errors = body, ok, returns, errors


def route(method, pattern, write=False, body=None, ok=200, returns=None, errors=(),
          public=False, feature=None, media='application/json', admin=False):
    """Register an operation: ``body`` the declaration of its request body,
    ``ok`` its success status, ``returns`` the declaration of what it answers,
    ``errors`` the 4xx statuses it can give besides the common ones; ``public``
    needs no token; ``feature``: served only while that feature's app runs;
    ``media``: what it answers if not JSON (a text route answers a string);
    ``admin``: a read only the admin token may make (a secret)."""
    def register(func):
        ROUTES.append(Route(method, pattern, func, write, body, ok, returns, errors, public,
                            feature, media, admin))
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


class Running:
    """What the API reads of the running controller, and nothing else of it (the
    core is one; these answers are a controller with every app loaded and no
    switch, which the unit tests extend)."""

    def loaded(self):
        """Names of the loaded features."""
        return ['vlan', 'vxlan', 'firewall']

    def features(self):
        """The loaded :class:`controller.compile.feature.Feature` objects."""
        return ()

    def desired_flows(self, host):
        """What ``host``'s switch should hold, compiled now."""
        return []

    def status(self):
        return {'switches': {}, 'idle': True}

    def rule_stats(self, cached=False):
        """{rule id: {packets, bytes}}; ``cached``: the last background reading."""
        return {}

    def recent_events(self):
        """Recent switch events, timed (not ``events``: a Ryu app's own attribute)."""
        return []

    def wait_applied(self):
        """(switches not confirmed, or None if not even compiled; {switch: why
        failing}) once the writes so far are on the switches: ?wait=applied."""
        return [], {}


class RestApp:
    """The dispatch, authentication and errors of every route; :class:`controller.api.v1.Api`
    is the application with vnetsec's own routes."""

    def __init__(self, service, token, reader_token='', open_reads=False, running=None,
                 audit=None, metrics=None, agent_secret='', healthy=None):
        self.service = service
        self.store = service.store
        self.running = running or Running()
        # what the hypervisor agents' tokens derive from (as the core's carrier uses it)
        self.agent_secret = agent_client.agent_secret(agent_secret, token)
        self.tokens = [(t, role) for t, role in ((token, 'admin'), (reader_token, 'reader'))
                       if t]
        self.open_reads = open_reads
        self.audit = audit or (lambda entry: None)
        self.metrics = metrics or Metrics()
        # () -> whether the store is reachable now, known without a round trip (/healthz)
        self.healthy = healthy or getattr(self.store, 'healthy', None) or (lambda: True)

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
        loaded = self.running.loaded()
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
        if _know_every_route():         # a shipped feature's path: say which app serves it
            return self._route(req)
        return _error(404, 'no such resource: %s' % path), None

    def _call(self, req, r, args):
        role = self.role(req)
        if role is None and (r.admin or not (self.open_reads or r.public)):
            return _error(401, '%s need "Authorization: Bearer <token>"'
                          % ('writes' if r.write else 'reads'), 'Authorization')
        if r.admin and role != 'admin':
            return _error(403, 'the reader token cannot %s' % ('write' if r.write else
                                                                'read this'), 'Authorization')
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
            return _error(503, e.advice())
        except Exception:                          # a bug: say so in JSON, log it
            LOG.exception('%s %s failed', req.method, req.path_info)
            return _error(500, 'internal error; see the controller log')
        if wait:
            late = self._late(self.running.wait_applied())
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
