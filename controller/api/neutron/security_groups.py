"""/v2.0's security groups and top-level security group rules, over the
firewall's operations (routes tagged ``feature='firewall'``)."""

from controller.api.neutron import schemas as S
from controller.api.neutron import translate as T
from controller.api.neutron.api import NeutronError, V2, _listed, route


# ---- security groups -----------------------------------------------------------------
FW = 'firewall'


@route('GET', V2 + '/security-groups', returns=S.wrapped('security_groups', S.GroupOut,
                                                         True),
       feature=FW, collection='security-groups')
def list_groups(call, _):
    return _listed(call, 'security_groups',
                   [T.group_out(g) for g in call.store.list('security_group')])


@route('POST', V2 + '/security-groups', write=True, body=S.GroupCreateRequest, ok=201,
       returns=S.wrapped('security_group', S.GroupOut), errors=(409,), feature=FW,
       collection='security-groups')
def create_group(call, body):
    """Create a group (with one rule, egress to anywhere, as in Neutron)."""
    request = body.security_group
    group = _groups(call.service).create_group(
        {'name': request.name, 'description': request.description,
         'stateful': request.stateful})
    return 201, {'security_group': T.group_out(group)}


@route('GET', V2 + '/security-groups/([^/]+)', returns=S.wrapped('security_group',
                                                                 S.GroupOut),
       errors=(404,), feature=FW, collection='security-groups')
def get_group(call, _, ident):
    return 200, {'security_group': call.show(T.group_out(call.service.get_group(ident)))}


@route('PUT', V2 + '/security-groups/([^/]+)', write=True, body=S.GroupUpdateRequest,
       returns=S.wrapped('security_group', S.GroupOut), errors=(404, 409), feature=FW,
       collection='security-groups')
def update_group(call, body, ident):
    """Rename a group, change its description or (while no port uses it) its
    statefulness."""
    fields = body.security_group.model_dump(include={'name', 'description', 'stateful'},
                                            exclude_none=True)
    group = _groups(call.service).update_group(ident, fields)
    return 200, {'security_group': T.group_out(group)}


@route('DELETE', V2 + '/security-groups/([^/]+)', write=True, ok=204, errors=(404, 409),
       feature=FW, collection='security-groups')
def delete_group(call, _, ident):
    _groups(call.service).delete_group(ident)
    return 204, None


def _rules(store):
    return [(g, r) for g in store.list('security_group') for r in g.rules]


def _find_rule(call, ident):
    for group, rule in _rules(call.store):
        if rule['id'] == ident:
            return group, rule
    raise NeutronError(404, 'security group rule %s does not exist' % T.dashed(ident), 'id',
                       'SecurityGroupRuleNotFound')


@route('GET', V2 + '/security-group-rules', returns=S.wrapped('security_group_rules',
                                                              S.RuleOut, True),
       feature=FW, collection='security-group-rules')
def list_rules(call, _):
    return _listed(call, 'security_group_rules',
                   [T.rule_out(r, g.id) for g, r in _rules(call.store)])


@route('POST', V2 + '/security-group-rules', write=True, body=S.RuleCreateRequest, ok=201,
       returns=S.wrapped('security_group_rule', S.RuleOut), errors=(404,), feature=FW,
       collection='security-group-rules')
def create_rule(call, body):
    """Add a rule to the group security_group_id names (IPv4 or IPv6; the same checks as /v1)."""
    request = body.security_group_rule
    group = call.service.get_group(T.undash(request.security_group_id), 'security_group_id')
    rule = _groups(call.service).add_rule(group.id, T.rule_in(request))
    return 201, {'security_group_rule': T.rule_out(rule, group.id)}


@route('GET', V2 + '/security-group-rules/([^/]+)', returns=S.wrapped(
    'security_group_rule', S.RuleOut), errors=(404,), feature=FW,
    collection='security-group-rules')
def get_rule(call, _, ident):
    group, rule = _find_rule(call, ident)
    return 200, {'security_group_rule': call.show(T.rule_out(rule, group.id))}


@route('DELETE', V2 + '/security-group-rules/([^/]+)', write=True, ok=204, errors=(404,),
       feature=FW, collection='security-group-rules')
def delete_rule(call, _, ident):
    group, rule = _find_rule(call, ident)
    _groups(call.service).delete_rule(group.id, rule['id'])
    return 204, None




def _groups(service):
    """The firewall's group operations, imported when first asked: loading
    /v2.0 imports no feature (without the firewall these routes answer 404)."""
    from controller.features.security_groups import SecurityGroups
    return SecurityGroups(service)
