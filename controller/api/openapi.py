"""The OpenAPI 3.1 document of the REST API, generated from the route table
(:data:`controller.api.rest.ROUTES`) and the declarations of :mod:`controller.state.schemas`."""
from controller.api import responses
from controller.state import schemas
from controller.api.rest import ROUTES


def json_content(declaration, components):
    """The JSON body of a declaration, its schemas added to ``components``."""
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
    :mod:`controller.state.schemas`."""
    components = {}
    error = {'description': 'error', 'content': json_content(responses.Error, components)}
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
                       if r.media != 'application/json' else json_content(r.returns, components))
            op['responses'][str(r.ok)] = {'description': 'OK', 'content': content}
        statuses = {414} | set(r.errors) | (set() if r.public else {401})
        if r.admin:
            statuses.add(403)
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
            op['requestBody'] = {'required': True, 'content': json_content(r.body, components)}
        paths.setdefault(r.path, {})[r.method.lower()] = op
    return {'openapi': '3.1.0',
            'info': {'title': 'vnetsec', 'version': '1'},
            'paths': paths,
            'components': {'securitySchemes': {'bearer': {'type': 'http', 'scheme': 'bearer'}},
                           'schemas': components}}
