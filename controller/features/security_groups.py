"""Security groups: the firewall app's records and routes.

A group holds rules (see ``controller.state.schemas.RuleCreate``); ports name the
groups they are in. The core keeps what ports need of groups (the ``default``
group, finding a group by id or name); the rest is here, served only while the
firewall app runs (``/v1/security-groups`` answers 404 otherwise).
"""
from controller.api import responses
from controller.state import schemas
from controller.state import model
from controller.api.rest import route
from controller.state.model import ValidationError
from controller.state.schemas import parse
from controller.state.rule_marks import new_rule
from controller.state.writes import retried


class SecurityGroups:
    """Create, change and delete groups and their rules: each operation checks
    everything first, then writes in one transaction."""

    def __init__(self, service):
        self.service = service
        self.store = service.store

    def _check_rule_refs(self, rule, field_prefix=''):
        if rule['remote_group_id']:
            rule['remote_group_id'] = self.service.get_group(
                rule['remote_group_id'], field_prefix + 'remote_group_id').id
        return rule

    @retried
    def create_group(self, body):
        request = parse(schemas.GroupCreate, body)
        if any(g.name == request.name for g in self.store.list('security_group')):
            raise ValidationError('name', 'a security group named %r exists'
                                  % request.name, 409)
        checked = [self._check_rule_refs(rule.record(), 'rules[%d].' % i)
                   for i, rule in enumerate(request.rules)]
        rules = [new_rule(self.store, rule) for rule in checked]  # marks for valid rules only
        group = model.SecurityGroup(id=model.new_id(), name=request.name, rules=rules,
                                    description=request.description, zone=request.zone,
                                    stateful=request.stateful)
        with self.store.transaction() as tx:
            tx.put('security_group', group.id, group)
        return group

    @retried
    def update_group(self, ident, body):
        group = self.service.get_group(ident)
        fields = {k: v for k, v in parse(schemas.GroupPatch, body).model_dump().items()
                  if v is not None}
        if group.name == 'default' and fields.get('name', 'default') != 'default':
            raise ValidationError('name', 'the default group keeps its name')
        if any(g.name == fields.get('name') and g.id != group.id
               for g in self.store.list('security_group')):
            raise ValidationError('name', 'a security group named %r exists'
                                  % fields['name'], 409)
        if fields.get('stateful', group.stateful) != group.stateful and any(
                group.id in p.security_groups for p in self.store.list('port')):
            raise ValidationError('stateful', 'group %s is used by ports: its stateful '
                                  'cannot change (as in Neutron)' % group.name, 409)
        updated = model.changed(group, **fields)
        with self.store.transaction() as tx:
            tx.put('security_group', group.id, updated)
        return updated

    @retried
    def delete_group(self, ident):
        group = self.service.get_group(ident)
        if group.name == 'default':
            raise ValidationError('id', 'the default group cannot be deleted', 409)
        users = [p.name for p in self.store.list('port') if group.id in p.security_groups]
        if users:
            raise ValidationError('id', 'group is used by ports %s' % ', '.join(users[:5]),
                                  409)
        refs = [g.name for g in self.store.list('security_group') if g.id != group.id
                and any(r['remote_group_id'] == group.id for r in g.rules)]
        if refs:
            raise ValidationError('id', 'group is a remote group of %s' % ', '.join(refs), 409)
        with self.store.transaction() as tx:
            tx.delete('security_group', group.id)

    @retried
    def add_rule(self, ident, body):
        group = self.service.get_group(ident)
        rule = new_rule(self.store, self._check_rule_refs(
            parse(schemas.RuleCreate, body).record()))
        with self.store.transaction() as tx:
            tx.put('security_group', group.id, model.changed(group, rules=group.rules + [rule]))
        return rule

    @retried
    def delete_rule(self, ident, rule_id):
        group = self.service.get_group(ident)
        rules = [r for r in group.rules if r['id'] != rule_id]
        if len(rules) == len(group.rules):
            raise ValidationError('rule_id', 'rule %r is not in group %s'
                                  % (rule_id, group.name), 404)
        with self.store.transaction() as tx:
            tx.put('security_group', group.id, model.changed(group, rules=rules))


# ---- routes (handlers take the API object, as its own methods do; registered
# when the firewall feature's module is imported, served while its app runs) ----


@route('GET', '/v1/security-groups', returns=list[responses.GroupOut],
       feature='firewall')
def list_groups(api, _):
    return 200, [model.to_dict(g) for g in api.store.list('security_group')]


@route('POST', '/v1/security-groups', write=True, body=schemas.GroupCreate, ok=201,
       returns=responses.GroupOut, errors=(404, 409),
       feature='firewall')
def create_group(api, body):
    """Create a security group: {"name", "description", "zone", "rules": [...]};
    without "rules" it starts with egress to anywhere, as in Neutron."""
    return 201, model.to_dict(SecurityGroups(api.service).create_group(body))


@route('GET', '/v1/security-groups/([^/]+)', returns=responses.GroupOut, errors=(404,),
       feature='firewall')
def get_group(api, _, ident):
    """A security group, with packets and bytes per rule from the switches."""
    group = model.to_dict(api.service.get_group(ident))
    counters = api.running.rule_stats()
    for rule in group['rules']:
        rule['stats'] = counters.get(rule['id'], {'packets': 0, 'bytes': 0})
    return 200, group


@route('PATCH', '/v1/security-groups/([^/]+)', write=True, body=schemas.GroupPatch,
       returns=responses.GroupOut, errors=(404, 409),
       feature='firewall')
def update_group(api, body, ident):
    return 200, model.to_dict(SecurityGroups(api.service).update_group(ident, body))


@route('DELETE', '/v1/security-groups/([^/]+)', write=True, ok=204, errors=(404, 409),
       feature='firewall')
def delete_group(api, _, ident):
    SecurityGroups(api.service).delete_group(ident)
    return 204, None


@route('POST', '/v1/security-groups/([^/]+)/rules', write=True, body=schemas.RuleCreate,
       ok=201, returns=responses.RuleOut, errors=(404,),
       feature='firewall')
def add_rule(api, body, ident):
    """Add a rule: {"direction", "ethertype", "protocol", "port_range_min",
    "port_range_max", "remote_ip_prefix" | "remote_group_id" | "remote_zone"}."""
    return 201, SecurityGroups(api.service).add_rule(ident, body)


@route('DELETE', '/v1/security-groups/([^/]+)/rules/([^/]+)', write=True, ok=204,
       errors=(404,),
       feature='firewall')
def delete_rule(api, _, ident, rule_id):
    SecurityGroups(api.service).delete_rule(ident, rule_id)
    return 204, None
