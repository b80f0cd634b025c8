"""Turning a request body into a checked declaration of
:mod:`controller.state.schemas`, or a :class:`ValidationError` naming the
field at fault in the words a user reads (the declarations' hints)."""
import pydantic

from controller.state.model import ValidationError

HINTS = {        # what a pattern of controller.state.schemas means, said the way a user reads it
    'name': 'must be 1-64 characters of [A-Za-z0-9_.-]',
    'mac': 'must be a unicast, non-zero MAC like 02:00:00:00:00:01',
    'ips': 'must be a unicast IPv4 address like 10.0.0.1 (not loopback, multicast, '
           '0.0.0.0 or class E) or a global or unique-local IPv6 address like fd00::1 (not '
           'link-local: a port has its own, from its MAC)',
    'vtep_ip': 'must be a unicast IPv4 address like 172.16.1.11',
    'device': 'must be an interface name of 1-15 characters of [A-Za-z0-9_.-]',
    'remote_ip_prefix': 'must be an IPv4 prefix like 10.0.0.0/24 or an IPv6 prefix like '
                        'fd00::/64',
    'uplinks': 'keys must be "tor", "hv:<name>" or "rack:<n>"',
    'agent': 'must be IP:PORT, an IPv4 address and a port 1-65535, like 172.30.250.1:6699',
    'switch_address': 'must be IP:PORT, an IPv4 address and a port 1-65535, like '
                      '172.30.250.1:6653',
}


def field_path(loc):
    """('rules', 0, 'protocol') -> 'rules[0].protocol'."""
    out = ''
    for part in loc:
        out += '[%d]' % part if isinstance(part, int) else ('.' if out else '') + str(part)
    return out or 'body'


def _message(err, field):
    kind, last = err['type'], next((p for p in reversed(err['loc'])
                                    if isinstance(p, str)), field)
    if kind == 'vnetsec':
        return err['msg']
    if kind == 'value_error':
        return '%s %s' % (field, err['msg'].removeprefix('Value error, '))
    if kind == 'missing':
        return '%s is required' % field
    if kind == 'extra_forbidden':
        return 'unknown field %r' % field
    if kind == 'string_pattern_mismatch' and last in HINTS:
        return '%s %s' % (field, HINTS[last])
    if kind == 'string_pattern_mismatch' and last.endswith(('name', 'zone', 'id', 'host')):
        return '%s %s' % (field, HINTS['name'])
    if kind == 'literal_error':
        return '%s must be %s' % (field, err['ctx']['expected'].replace("'", '"'))
    if kind == 'model_type':
        return '%s must be a JSON object' % field
    if kind == 'literal_error':
        return '%s must be %s' % (field, err['msg'].removeprefix('Input should be ')
                                  .replace("'", '"'))
    if kind in ('less_than_equal', 'greater_than_equal'):
        bound = err['ctx'].get('le', err['ctx'].get('ge'))
        return '%s must be at %s %s' % (field, 'most' if kind == 'less_than_equal' else 'least',
                                        bound)
    return '%s: %s' % (field, err['msg'])


def parse(schema, body, prefix=''):
    """``body`` (decoded JSON) -> a ``schema`` instance, or ValidationError naming
    the first field at fault (``prefix`` + its path)."""
    if not isinstance(body, dict):
        where = prefix.rstrip('.')
        raise ValidationError(where or 'body', '%s must be a JSON object'
                              % (where or 'the request body'))
    try:
        return schema.model_validate(body)
    except pydantic.ValidationError as e:
        err = e.errors(include_url=False)[0]
        loc = err['loc'] + ((err['ctx']['field'],) if err['type'] == 'vnetsec' else ())
        field = prefix + field_path(loc)
        raise ValidationError(field, _message(err, field)) from None


def json_schema(schema, ref_template='#/components/schemas/{model}'):
    """The OpenAPI (3.1, JSON Schema 2020-12) schema of a declaration, and the
    schemas it refers to."""
    out = pydantic.TypeAdapter(schema).json_schema(ref_template=ref_template)
    return out, out.pop('$defs', {})

