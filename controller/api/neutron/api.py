"""``/v2.0``: Neutron's networking API for what vnetsec does, served beside
``/v1`` by the same :class:`controller.api.v1.Api` (its tokens, roles, audit log,
metrics and body limits) over the same service and store.

Mounted in ``controller.api.rest.MOUNTS``: it owns ``/`` (the version document)
and everything under ``/v2.0``. Requests and answers are Neutron's: bodies
wrapped (``{"network": {...}}``, ``{"networks": [...]}``), errors
``{"NeutronError": {"type", "message", "detail"}}`` (``detail``: the field at
fault), ``?attribute=value`` filters and ``fields=`` on lists and shows, the
token in ``X-Auth-Token`` or ``Authorization: Bearer``, ids dashed.
"""
import hmac
import logging
import re
import time

import webob

from controller.state.model import ValidationError
from controller.api.neutron import schemas as S
from controller.api.openapi import json_content
from controller.api.neutron import translate as T
from controller.state.schemas import parse
from controller.state.store import StoreUnavailable

LOG = logging.getLogger(__name__)
ROUTES = []
V2 = '/v2.0'
TYPES = {400: 'HTTPBadRequest', 401: 'HTTPUnauthorized', 403: 'HTTPForbidden',
         404: 'HTTPNotFound', 405: 'HTTPMethodNotAllowed', 409: 'Conflict',
         413: 'HTTPRequestEntityTooLarge', 414: 'HTTPRequestURITooLong',
         500: 'HTTPInternalServerError', 503: 'HTTPServiceUnavailable'}
# /v1's field names, as /v2.0 calls them (errors of the service name /v1's)
FIELDS = {'mac': 'mac_address', 'ips': 'fixed_ips', 'host': 'binding:host_id',
          'kind': 'provider:network_type', 'segmentation_id': 'provider:segmentation_id'}
BOOL, INT, TEXT = 'bool', 'int', 'text'
# what each collection can be filtered on (and its fields= names)
ATTRIBUTES = {
    'networks': {'id': TEXT, 'name': TEXT, 'status': TEXT, 'admin_state_up': BOOL,
                 'shared': BOOL, 'subnets': TEXT, 'provider:network_type': TEXT,
                 'provider:segmentation_id': INT, 'provider:physical_network': TEXT,
                 'mtu': INT, 'router:external': BOOL, 'port_security_enabled': BOOL,
                 'project_id': TEXT, 'tenant_id': TEXT, 'description': TEXT, 'tags': TEXT},
    'subnets': {'id': TEXT, 'name': TEXT, 'network_id': TEXT, 'cidr': TEXT,
                'ip_version': INT, 'gateway_ip': TEXT, 'enable_dhcp': BOOL,
                'allocation_pools': None, 'dns_nameservers': TEXT, 'host_routes': None,
                'ipv6_ra_mode': TEXT, 'ipv6_address_mode': TEXT, 'subnetpool_id': TEXT,
                'service_types': TEXT, 'project_id': TEXT, 'tenant_id': TEXT,
                'description': TEXT, 'tags': TEXT},
    'ports': {'id': TEXT, 'name': TEXT, 'network_id': TEXT, 'mac_address': TEXT,
              'fixed_ips': TEXT, 'admin_state_up': BOOL, 'status': TEXT,
              'device_id': TEXT, 'device_owner': TEXT, 'security_groups': TEXT,
              'port_security_enabled': BOOL, 'allowed_address_pairs': None,
              'binding:host_id': TEXT, 'binding:vif_type': TEXT, 'binding:vnic_type': TEXT,
              'binding:vif_details': None, 'binding:profile': None,
              'project_id': TEXT, 'tenant_id': TEXT, 'description': TEXT, 'tags': TEXT},
    'security-groups': {'id': TEXT, 'name': TEXT, 'description': TEXT, 'stateful': BOOL,
                        'shared': BOOL,
                        'security_group_rules': None, 'project_id': TEXT,
                        'tenant_id': TEXT, 'tags': TEXT},
    'security-group-rules': {'id': TEXT, 'security_group_id': TEXT, 'direction': TEXT,
                             'ethertype': TEXT, 'protocol': TEXT, 'port_range_min': INT,
                             'port_range_max': INT, 'remote_ip_prefix': TEXT,
                             'remote_group_id': TEXT, 'remote_address_group_id': TEXT,
                             'remote_zone': TEXT, 'project_id': TEXT, 'tenant_id': TEXT,
                             'description': TEXT, 'tags': TEXT},
    'logs': {'id': TEXT, 'name': TEXT, 'resource_type': TEXT, 'resource_id': TEXT,
             'target_id': TEXT, 'event': TEXT, 'enabled': BOOL, 'project_id': TEXT,
             'tenant_id': TEXT, 'description': TEXT},
}
PATTERNS = {BOOL: '^([Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee])$',
            INT: '^(0|[1-9][0-9]{0,9})$', TEXT: '^.{0,255}$'}
RESOURCE = {'networks': 'Network', 'subnets': 'Subnet', 'ports': 'Port',
            'security-groups': 'SecurityGroup', 'security-group-rules': 'SecurityGroupRule',
            'logs': 'Log'}
EXTENSIONS = [      # what /v2.0 really does (alias, name, description, feature)
    ('provider', 'Provider Network', 'provider:network_type vlan or vxlan, '
     'provider:segmentation_id, provider:physical_network physnet1 (vlan)', None),
    ('binding', 'Port Binding', 'binding:host_id; a port is bound where its vNIC '
     '(tap + its id\'s first 11 characters) appears', None),
    ('net-mtu', 'Network MTU', 'mtu, read only: 1450 on vxlan, 1500 on vlan', None),
    ('filter-validation', 'Filter parameters validation', 'an unknown filter is a 400',
     None),
    ('security-group', 'security-group', 'security groups and their rules (IPv4 and IPv6)',
     'firewall'),
    ('port-security', 'Port Security', 'port_security_enabled per port (off: no groups, '
     'no address pairs)', 'firewall'),
    ('allowed-address-pairs', 'Allowed Address Pairs', 'allowed_address_pairs per port: '
     'an address or prefix, optional mac_address', 'firewall'),
    ('stateful-security-group', 'Stateful security group', 'stateful per group: false '
     'for rules without conntrack', 'firewall'),
    ('logging', 'Logging API Extension', 'network logs of security groups: ACCEPT, DROP or '
     'ALL, per connection, rate-limited by each switch\'s controller meter', 'firewall'),
]


class Route:
    def __init__(self, method, pattern, func, write, body, ok, returns, errors, public,
                 feature, collection):
        self.method, self.func, self.write, self.public = method, func, write, public
        self.body, self.ok, self.returns, self.errors = body, ok, returns, errors
        self.feature, self.collection = feature, collection
        self.regex = re.compile('^' + pattern + '$')
        self.path = pattern.replace('([^/]+)', '{id}')


def route(method, pattern, write=False, body=None, ok=200, returns=None, errors=(),
          public=False, feature=None, collection=None):
    """As :func:`controller.api.rest.route`; ``collection``: the filters and
    ``fields=`` it takes (a list) or ``fields=`` only (a show)."""
    def register(func):
        ROUTES.append(Route(method, pattern, func, write, body, ok, returns, errors,
                            public, feature, collection))
        return func
    return register


class NeutronError(Exception):
    def __init__(self, status, message, field='', kind=None):
        super().__init__(message)
        self.status, self.message, self.field, self.kind = status, message, field, kind


def error(status, message, field='', kind=None, headers=None):
    resp = webob.Response(json={'NeutronError': {
        'type': kind or TYPES.get(status, 'HTTPError'), 'message': message,
        'detail': field or ''}}, status=status)
    for name, value in (headers or {}).items():
        resp.headers[name] = value
    return resp


def owns(path):
    return path in ('', '/') or path == V2 or path.startswith(V2 + '/')


def role(api, req):
    """'admin', 'reader' or None: the token of ``X-Auth-Token`` (keystoneauth's
    admin_token plugin sends it) or of ``Authorization: Bearer``."""
    given = req.headers.get('X-Auth-Token', '').strip()
    if not given:
        scheme, _, rest = req.headers.get('Authorization', '').strip().partition(' ')
        given = rest.strip() if scheme.lower() == 'bearer' else ''
    if not given:
        return None
    found = None
    for token, name in api.tokens:
        if hmac.compare_digest(given.encode(), token.encode()) and found is None:
            found = name
    return found


class Call:
    """One request, as the handlers see it."""

    def __init__(self, api, req, r):
        self.api, self.req, self.route = api, req, r
        self.service, self.store = api.service, api.store
        self.filters, self.fields = {}, []

    def synced_hosts(self):
        return {s['host'] for s in self.api.running.status().get('switches', {}).values()
                if s.get('synced') and s.get('host')}

    def show(self, item):
        return T.select(item, self.fields)


def handle(api, req):
    """(response, the matched route or None): what ``controller.api.rest.RestApp`` serves
    for a path this module owns."""
    path = req.path_info.rstrip('/') or '/'
    allowed = []
    for r in ROUTES:
        m = r.regex.match(path)
        if not m:
            continue
        if r.feature and r.feature not in api.running.loaded():
            return error(404, '%s: the %s app is not loaded on this controller'
                         % (path, r.feature)), r
        if r.method != req.method:
            allowed.append(r.method)
            continue
        resp = _call(api, req, r, [T.undash(g) for g in m.groups()])
        if r.write:
            api.audit({'time': time.time(), 'role': role(api, req), 'method': req.method,
                       'path': path, 'status': resp.status_int})
        return resp, r
    if allowed:
        return error(405, 'method %s not allowed here (%s)' % (req.method, ', '.join(allowed)),
                     headers={'Allow': ', '.join(allowed)}), None
    return error(404, 'the resource could not be found: %s' % path), None


def _call(api, req, r, args):
    who = role(api, req)
    if who is None and (r.write or not (api.open_reads or r.public)):
        return error(401, 'authentication required: X-Auth-Token (or Authorization: '
                     'Bearer) with the API token', 'X-Auth-Token')
    if r.write and who != 'admin':
        return error(403, 'the reader token cannot write', 'X-Auth-Token')
    call = Call(api, req, r)
    try:
        _query(call, req, r)
        body = None
        if r.body is not None:
            raw = api._json(req)
            body = parse(r.body, raw)
        status, result = r.func(call, body, *args)
    except NeutronError as e:
        return error(e.status, e.message, e.field, e.kind)
    except ValidationError as e:
        field = _field(e.field)
        kind = _kind(e, r)
        message = e.message.replace(e.field, field) if e.field else e.message
        if message.startswith(field + ': '):
            message = message[len(field) + 2:]
        if e.status == 400:
            message = 'Invalid input for %s. Reason: %s' % (field, message)
        return error(e.status, message, field, kind)
    except StoreUnavailable as e:
        LOG.warning('%s %s: the store is unavailable: %s', req.method, req.path_info, e)
        return error(503, e.advice())
    except Exception:
        LOG.exception('%s %s failed', req.method, req.path_info)
        return error(500, 'internal error; see the controller log')
    if status == 204:
        return webob.Response(status=204)
    return webob.Response(json=result, status=status)


def _field(name):
    """A field path of a request or of the service, in /v2.0's words, without
    the wrapper (``port.fixed_ips[0].ip_address`` -> ``fixed_ips[0].ip_address``,
    the service's ``mac`` -> ``mac_address``)."""
    head, dot, rest = name.partition('.')
    if dot and head in ('network', 'subnet', 'port', 'security_group',
                        'security_group_rule'):
        name = rest
    first, tail = re.match(r'([^.\[]*)(.*)', name, re.S).groups()
    return FIELDS.get(first, first) + tail


def _kind(e, r):
    if e.status == 404 and r.collection in RESOURCE and e.field == 'id':
        return RESOURCE[r.collection] + 'NotFound'
    if e.status == 409:
        if e.field == 'mac':
            return 'MacAddressInUse'
        if e.field == 'ips':
            return 'IpAddressAlreadyAllocated'
        if e.field == 'port_security_enabled':
            return 'PortSecurityPortHasSecurityGroup'
        if e.field == 'id' and r.collection in RESOURCE:
            return RESOURCE[r.collection] + 'InUse'
    return None


def _query(call, req, r):
    """``fields=`` (lists and shows) and ``?attribute=value`` filters (lists),
    checked: an unknown one, or a value not of its type, is a 400."""
    known = ATTRIBUTES.get(r.collection) or {}
    is_list = r.method == 'GET' and r.collection and r.path.endswith(r.collection)
    for name, value in req.GET.items():
        if name == 'fields' and r.method == 'GET' and r.collection:
            call.fields.append(value)       # as Neutron: a name it lacks selects nothing
        elif is_list and name in known and known[name] is not None:
            if not re.fullmatch(PATTERNS[known[name]], value, re.S):
                raise NeutronError(400, 'filter %s: %r is not a %s' % (
                    name, value, {BOOL: 'boolean (true or false)', INT: 'whole number',
                                  TEXT: 'value'}[known[name]]), name)
            call.filters.setdefault(name, []).append(value)
        else:
            raise NeutronError(400, '%s is not a filter of %s' % (
                name, r.path) if is_list else 'query parameter %r is not accepted here' % name,
                name)


def _listed(call, key, items):
    shown = [i for i in items if T.matches(i, call.filters)]
    return 200, {key: [call.show(i) for i in shown]}


# ---- versions and extensions ---------------------------------------------------------
def _links(req, path):
    return [{'rel': 'self', 'href': req.host_url + path}]


@route('GET', '/', returns=S.Versions, public=True)
def versions(call, _):
    """The API versions this endpoint serves (keystoneauth's discovery reads it)."""
    return 200, {'versions': [{'id': 'v2.0', 'status': 'CURRENT',
                               'links': _links(call.req, V2 + '/')}]}


@route('GET', V2, returns=S.Resources, public=True)
def resources(call, _):
    """The collections of /v2.0."""
    loaded = call.api.running.loaded()
    return 200, {'resources': [
        {'name': c.replace('-', '_').rstrip('s'), 'collection': c.replace('-', '_'),
         'links': _links(call.req, '%s/%s' % (V2, c))}
        for c in RESOURCE if not c.startswith('security') or 'firewall' in loaded]}


def _extensions(call):
    loaded = call.api.running.loaded()
    return [{'alias': alias, 'name': name, 'description': text, 'links': [],
             'updated': '2026-12-01T00:00:00-00:00'}
            for alias, name, text, feature in EXTENSIONS if not feature or feature in loaded]


@route('GET', V2 + '/extensions', returns=S.Extensions)
def list_extensions(call, _):
    """What /v2.0 really does beyond the core resources."""
    return 200, {'extensions': _extensions(call)}


@route('GET', V2 + '/extensions/([^/]+)', returns=S.ExtensionOne, errors=(404,))
def get_extension(call, _, alias):
    for ext in _extensions(call):
        if ext['alias'] == alias:
            return 200, {'extension': ext}
    raise NeutronError(404, 'extension %s is not supported' % alias, 'alias')


# ---- the OpenAPI document --------------------------------------------------------------
@route('GET', V2 + '/openapi.json', returns=dict, public=True)
def openapi(call, _):
    """This API's OpenAPI 3.1 document (no token needed: it holds no state)."""
    return 200, openapi_document(call.api.running.loaded())


def _query_parameters(r):
    known = ATTRIBUTES.get(r.collection)
    if not known or r.method != 'GET':
        return []
    params = [{'name': 'fields', 'in': 'query', 'required': False, 'style': 'form',
               'explode': True, 'schema': {'type': 'array', 'items': {'type': 'string'}},
               'description': 'answer only these attributes (%s)' % ', '.join(sorted(known))}]
    if r.path.endswith(r.collection):
        params += [{'name': name, 'in': 'query', 'required': False, 'style': 'form',
                    'explode': True, 'schema': {'type': 'array', 'items': {
                        'type': 'string', 'pattern': PATTERNS[kind]}}}
                   for name, kind in sorted(known.items()) if kind is not None]
    return params


def openapi_document(loaded=('vlan', 'vxlan', 'firewall')):
    """The OpenAPI 3.1 document of /v2.0 for the ``loaded`` features, from the
    route table and :mod:`controller.api.neutron.schemas`."""
    components = {}
    err = {'description': 'NeutronError', 'content': json_content(S.NeutronError, components)}
    paths = {}
    for r in ROUTES:
        if r.feature and r.feature not in loaded:
            continue
        op = {'summary': (r.func.__doc__ or r.func.__name__.replace('_', ' ')).strip()
              .split('\n')[0], 'operationId': 'neutron_' + r.func.__name__, 'responses': {}}
        if not r.public:
            op['security'] = [{'token': []}, {'bearer': []}]
        if r.ok == 204:
            op['responses']['204'] = {'description': 'done'}
        else:
            op['responses'][str(r.ok)] = {'description': 'OK',
                                          'content': json_content(r.returns, components)}
        statuses = set(r.errors) | (set() if r.public else {401}) | {400}
        if r.write:
            statuses |= {403}
        if r.body is not None:
            statuses |= {413}
        for status in sorted(statuses):
            op['responses'][str(status)] = err
        params = [{'name': 'id', 'in': 'path', 'required': True,
                   'schema': {'type': 'string', 'pattern': '^[A-Za-z0-9_.-]{1,64}$'}}] \
            if '{id}' in r.path else []
        params += _query_parameters(r)
        if params:
            op['parameters'] = params
        if r.body is not None:
            op['requestBody'] = {'required': True, 'content': json_content(r.body, components)}
        paths.setdefault(r.path, {})[r.method.lower()] = op
    return {'openapi': '3.1.0', 'info': {'title': 'vnetsec /v2.0 (Neutron)', 'version': '2.0'},
            'paths': paths,
            'components': {'securitySchemes': {
                'token': {'type': 'apiKey', 'in': 'header', 'name': 'X-Auth-Token'},
                'bearer': {'type': 'http', 'scheme': 'bearer'}},
                'schemas': components}}
