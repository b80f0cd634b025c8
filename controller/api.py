"""The REST API (``/v1``): a plain webob WSGI application over the service.

JSON in, JSON out. Errors are ``{"error": {"code", "message", "field"}}`` with a
4xx status, raised before anything is written. Writes need
``Authorization: Bearer <token>``; reads are open.
"""
import json
import logging
import re

import webob
import webob.exc

from controller import model, views
from controller.inventory import Inventory
from controller.model import ValidationError

LOG = logging.getLogger(__name__)
ROUTES = []


def route(method, pattern, write=False):
    def register(func):
        ROUTES.append((method, re.compile('^' + pattern + '$'), write, func))
        return func
    return register


def _error(status, message, field=None):
    body = {'error': {'code': status, 'message': message, 'field': field}}
    return webob.Response(json=body, status=status)


class Api:
    def __init__(self, service, token, status=None, rule_stats=None, events=None):
        self.service = service
        self.store = service.store
        self.token = token
        self.status = status or (lambda: {'switches': {}, 'idle': True})
        self.rule_stats = rule_stats or dict      # () -> {rule_id: {packets, bytes}}
        self.events = events or list              # () -> recent switch events, timed

    def __call__(self, environ, start_response):
        req = webob.Request(environ)
        return self.handle(req)(environ, start_response)

    def handle(self, req):
        path = req.path_info.rstrip('/') or '/'
        allowed = []
        for method, pattern, write, func in ROUTES:
            m = pattern.match(path)
            if not m:
                continue
            if method != req.method:
                allowed.append(method)
                continue
            if write and req.headers.get('Authorization') != 'Bearer %s' % self.token:
                return _error(401, 'writes need "Authorization: Bearer <token>"',
                              'Authorization')
            try:
                body = None
                if write and req.method in ('POST', 'PATCH', 'PUT'):
                    body = self._json(req)
                status, result = func(self, body, *m.groups())
            except ValidationError as e:
                return _error(e.status, e.message, e.field)
            except Exception:                          # a bug: say so in JSON, log it
                LOG.exception('%s %s failed', req.method, path)
                return _error(500, 'internal error; see the controller log')
            if status == 204:
                return webob.Response(status=204)
            return webob.Response(json=result, status=status)
        if allowed:
            return _error(405, 'method %s not allowed here (%s)' % (req.method,
                                                                    ', '.join(allowed)))
        return _error(404, 'no such resource: %s' % path)

    @staticmethod
    def _json(req):
        try:
            return json.loads(req.body or b'{}')
        except ValueError as e:
            raise ValidationError('body', 'the body is not valid JSON: %s' % e)

    # ---- hosts ---------------------------------------------------------------
    @route('GET', '/v1/hosts')
    def list_hosts(self, _):
        inv = Inventory.from_store(self.store)
        return 200, [views.host_view(inv, h) for h in sorted(inv.hosts.values(),
                                                             key=lambda h: h.name)]

    @route('POST', '/v1/hosts', write=True)
    def register_host(self, body):
        return 201, model.to_dict(self.service.register_host(body))

    @route('GET', '/v1/hosts/([^/]+)')
    def get_host(self, _, name):
        host = self.service.get_host(name)
        return 200, views.host_view(Inventory.from_store(self.store), host)

    # ---- networks ------------------------------------------------------------
    @route('GET', '/v1/networks')
    def list_networks(self, _):
        return 200, [model.to_dict(n) for n in self.store.list('network')]

    @route('POST', '/v1/networks', write=True)
    def create_network(self, body):
        return 201, model.to_dict(self.service.create_network(body))

    @route('GET', '/v1/networks/([^/]+)')
    def get_network(self, _, ident):
        return 200, model.to_dict(self.service.get_network(ident))

    @route('DELETE', '/v1/networks/([^/]+)', write=True)
    def delete_network(self, _, ident):
        self.service.delete_network(ident)
        return 204, None

    @route('GET', '/v1/networks/([^/]+)/mappings')
    def network_mappings(self, _, ident):
        network = self.service.get_network(ident)
        return 200, {'network': network.id, 'kind': network.kind,
                     'segmentation_id': network.segmentation_id,
                     'hosts': views.mappings(Inventory.from_store(self.store), network)}

    # ---- ports ---------------------------------------------------------------
    @route('GET', '/v1/ports')
    def list_ports(self, _):
        return 200, [model.to_dict(p) for p in self.store.list('port')]

    @route('POST', '/v1/ports', write=True)
    def create_port(self, body):
        """Create a port, or several at once with {"ports": [...]} (all or none)."""
        if isinstance(body, dict) and list(body) == ['ports']:
            if not isinstance(body['ports'], list):
                raise ValidationError('ports', 'ports must be a list of port objects')
            return 201, [model.to_dict(p) for p in self.service.create_ports(body['ports'])]
        return 201, model.to_dict(self.service.create_port(body))

    @route('GET', '/v1/ports/([^/]+)')
    def get_port(self, _, ident):
        return 200, model.to_dict(self.service.get_port(ident))

    @route('PATCH', '/v1/ports/([^/]+)', write=True)
    def update_port(self, body, ident):
        return 200, model.to_dict(self.service.update_port(ident, body))

    @route('POST', '/v1/ports/([^/]+)/migrate', write=True)
    def migrate_port(self, body, ident):
        """Planned migration: {"host": "hv3", "live": false}. The destination is
        programmed before the VM arrives, for a device at "migrating_ofport"."""
        return 200, model.to_dict(self.service.migrate_port(ident, body))

    @route('DELETE', '/v1/ports/([^/]+)', write=True)
    def delete_port(self, _, ident):
        self.service.delete_port(ident)
        return 204, None

    # ---- security groups -----------------------------------------------------
    @route('GET', '/v1/security-groups')
    def list_groups(self, _):
        return 200, [model.to_dict(g) for g in self.store.list('security_group')]

    @route('POST', '/v1/security-groups', write=True)
    def create_group(self, body):
        """Create a security group: {"name", "description", "zone", "rules": [...]}."""
        return 201, model.to_dict(self.service.create_group(body))

    @route('GET', '/v1/security-groups/([^/]+)')
    def get_group(self, _, ident):
        """A security group, with packets and bytes per rule from the switches."""
        group = model.to_dict(self.service.get_group(ident))
        counters = self.rule_stats()
        for rule in group['rules']:
            rule['stats'] = counters.get(rule['id'], {'packets': 0, 'bytes': 0})
        return 200, group

    @route('PATCH', '/v1/security-groups/([^/]+)', write=True)
    def update_group(self, body, ident):
        return 200, model.to_dict(self.service.update_group(ident, body))

    @route('DELETE', '/v1/security-groups/([^/]+)', write=True)
    def delete_group(self, _, ident):
        self.service.delete_group(ident)
        return 204, None

    @route('POST', '/v1/security-groups/([^/]+)/rules', write=True)
    def add_rule(self, body, ident):
        """Add a rule: {"direction", "ethertype", "protocol", "port_range_min",
        "port_range_max", "remote_ip_prefix" | "remote_group_id" | "remote_zone"}."""
        return 201, self.service.add_rule(ident, body)

    @route('DELETE', '/v1/security-groups/([^/]+)/rules/([^/]+)', write=True)
    def delete_rule(self, _, ident, rule_id):
        self.service.delete_rule(ident, rule_id)
        return 204, None

    @route('GET', '/v1/status')
    def get_status(self, _):
        """Connected switches, whether each holds its desired flows, and whether
        the controller has changes still to send."""
        return 200, self.status()

    @route('GET', '/v1/events')
    def get_events(self, _):
        """Recent switch events with their times: vNICs appearing and leaving
        (port) and switches confirming flow changes (commit)."""
        return 200, self.events()

    @route('GET', '/v1/openapi.json')
    def openapi(self, _):
        return 200, openapi_document()


def openapi_document():
    """The OpenAPI 3 document, generated from the route table."""
    paths = {}
    for method, pattern, write, func in ROUTES:
        path = pattern.pattern.strip('^$').replace('([^/]+)', '{id}', 1).replace(
            '([^/]+)', '{rule_id}')
        op = {'summary': (func.__doc__ or func.__name__.replace('_', ' ')).strip(),
              'operationId': func.__name__,
              'responses': {'200': {'description': 'OK'},
                            '4XX': {'description': 'error',
                                    'content': {'application/json': {'schema': {
                                        '$ref': '#/components/schemas/Error'}}}}}}
        params = [name for name in ('id', 'rule_id') if '{%s}' % name in path]
        if params:
            op['parameters'] = [{'name': name, 'in': 'path', 'required': True,
                                 'schema': {'type': 'string'}} for name in params]
        if write:
            op['security'] = [{'bearer': []}]
        if method in ('POST', 'PATCH'):
            op['requestBody'] = {'required': True, 'content': {'application/json': {
                'schema': {'type': 'object'}}}}
        paths.setdefault(path, {})[method.lower()] = op
    return {'openapi': '3.0.3',
            'info': {'title': 'vnetsec', 'version': '1'},
            'paths': paths,
            'components': {
                'securitySchemes': {'bearer': {'type': 'http', 'scheme': 'bearer'}},
                'schemas': {'Error': {'type': 'object', 'properties': {'error': {
                    'type': 'object', 'properties': {
                        'code': {'type': 'integer'}, 'message': {'type': 'string'},
                        'field': {'type': 'string', 'nullable': True}}}}}}}}
