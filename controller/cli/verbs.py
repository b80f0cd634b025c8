"""What each command does: the API calls, and the answer as data (``-f json``)
and as text (the tables of :mod:`controller.cli.show`). Names are resolved as
the API resolves them (networks and groups by name or id) or, for ports, by
listing (name, device or id)."""
import collections

from controller.cli import show
from controller.cli.client import ApiError
from controller.protocols import rule_words
from controller.cli.words import NotFound, UsageError, group_body, rule_body, trace_body

Result = collections.namedtuple('Result', 'data text code', defaults=(0,))
NOT_AS_EXPECTED = 1         # the exit code of an answer that is not what was asked for


class Session:
    """What a command needs: the client, whether writes wait for the switches
    (``?wait=applied``), what to run after a write (the lab waits for its
    data center)."""

    def __init__(self, client, wait=False, after_write=None):
        self.client, self.wait, self.after_write = client, wait, after_write

    def get(self, path):
        return self.client.call('GET', path)

    def write(self, method, path, body=None):
        answer = self.client.call(method, path, body, wait=self.wait)
        if self.after_write:
            self.after_write()
        return answer

    def group_names(self):
        return {g['id']: g['name'] for g in self.get('/v1/security-groups')}

    def members(self):
        """{group id: names of its ports}."""
        out = {}
        for port in self.get('/v1/ports'):
            for gid in port['security_groups']:
                out.setdefault(gid, []).append(port['name'])
        return out

    def port(self, ident):
        """The port with that name, device or id."""
        found = next((p for p in self.get('/v1/ports')
                      if ident in (p['name'], p['device'], p['id'])), None)
        if found is None:
            raise NotFound('no port named %r' % ident, 'port')
        return found


# ---- networks ----------------------------------------------------------------
def network_list(s, a):
    nets = s.get('/v1/networks')
    return Result(nets, show.networks(nets))


def network_show(s, a):
    net = s.get('/v1/networks/%s' % a.network)
    return Result(net, show.record(net))


def network_create(s, a):
    body = {'name': a.name, 'kind': a.kind}
    if a.segmentation_id is not None:
        body['segmentation_id'] = a.segmentation_id
    net = s.write('POST', '/v1/networks', body)
    return Result(net, 'created network %s (%s %d, id %s)\n'
                  % (net['name'], net['kind'], net['segmentation_id'], net['id']))


def network_delete(s, a):
    s.write('DELETE', '/v1/networks/%s' % a.network)
    return Result(None, 'deleted network %s\n' % a.network)


def network_mappings(s, a):
    answer = s.get('/v1/networks/%s/mappings' % a.network)
    return Result(answer, show.mappings(answer))


# ---- ports -------------------------------------------------------------------
def port_list(s, a):
    found = s.get('/v1/ports')
    nets = {n['id']: n['name'] for n in s.get('/v1/networks')}
    if getattr(a, 'network', None):     # `port` alone lists them all
        wanted = {i for i, name in nets.items() if a.network in (i, name)}
        found = [p for p in found if p['network_id'] in wanted]
    return Result(found, show.ports(found, nets, s.group_names()))


def port_show(s, a):
    port = s.port(a.port)
    names = s.group_names()
    return Result(port, show.record(dict(port, security_groups=[
        names.get(g, g) for g in port['security_groups']])))


def _port_fields(a):
    body = {key: value for key, value in (('name', a.name), ('ips', a.ip), ('host', a.host),
                                          ('security_groups', a.group))
            if value is not None}
    if a.port_security is not None:
        body['port_security_enabled'] = a.port_security == 'on'
    return body


def port_create(s, a):
    body = dict(_port_fields(a), network_id=a.network, mac=a.mac, device=a.device)
    port = s.write('POST', '/v1/ports', body)
    return Result(port, 'created port %s (device %s, id %s)\n'
                  % (port['name'], port['device'], port['id']))


def port_set(s, a):
    body = _port_fields(a)
    if a.no_groups:
        body['security_groups'] = []
    if not body:
        raise UsageError('nothing to change: give --name, --ip, --host, --group, '
                         '--no-groups or --port-security')
    port = s.write('PATCH', '/v1/ports/%s' % s.port(a.port)['id'], body)
    return Result(port, 'changed port %s: %s\n' % (port['name'], ', '.join(sorted(body))))


def port_delete(s, a):
    port = s.port(a.port)
    s.write('DELETE', '/v1/ports/%s' % port['id'])
    return Result(None, 'deleted port %s\n' % port['name'])


def port_migrate(s, a):
    port = s.write('POST', '/v1/ports/%s/migrate' % s.port(a.port)['id'],
                   {'host': a.host, 'live': a.live})
    return Result(port, 'port %s moving to %s (its device expected at ofport %s)\n'
                  % (port['name'], port['migrating_to'], port['migrating_ofport']))


# ---- security groups ---------------------------------------------------------
def _group_path(group):
    return '/v1/security-groups/%s' % group


def sg_list(s, a):
    found = s.get('/v1/security-groups')
    return Result(found, show.groups(found, s.members()))


def sg_show(s, a):
    found = s.get(_group_path(a.group))
    return Result(found, show.group(found, s.members(), s.group_names()))


def sg_create(s, a):
    body = group_body(a.name, a.words)
    if a.stateless:
        body['stateful'] = False
    found = s.write('POST', '/v1/security-groups', body)
    return Result(found, 'created %s (id %s)\n' % (found['name'], found['id']))


def sg_delete(s, a):
    s.write('DELETE', _group_path(a.group))
    return Result(None, 'deleted %s\n' % a.group)


def sg_rule_add(s, a):
    rule = s.write('POST', _group_path(a.group) + '/rules', rule_body(a.words))
    return Result(rule, 'added to %s: %s (id %s)\n' % (
        a.group, rule_words(rule, s.group_names()), rule['id']))


def sg_rule_del(s, a):
    found = s.get(_group_path(a.group))
    rules = found['rules']
    number = int(a.rule) if a.rule.isdigit() else 0
    rule_id = rules[number - 1]['id'] if 1 <= number <= len(rules) else a.rule
    rule = next((r for r in rules if r['id'] == rule_id), None)
    if rule is None:
        raise NotFound('group %s has no rule %r (a number in `sg show %s`, or an id)'
                       % (found['name'], a.rule, found['name']), 'rule')
    s.write('DELETE', '%s/rules/%s' % (_group_path(found['id']), rule_id))
    return Result(rule, 'removed from %s: %s (id %s)\n' % (
        found['name'], rule_words(rule, s.group_names()), rule_id))


def sg_port(s, a):
    """A port's groups, or put it in these (replacing them)."""
    port = s.port(a.port)
    if a.none and a.groups:
        raise UsageError('either groups or --none', 'security_groups')
    if a.none or a.groups:
        port = s.write('PATCH', '/v1/ports/%s' % port['id'],
                       {'security_groups': [] if a.none else a.groups})
    names = s.group_names()
    return Result(port, '%s: %s\n' % (port['name'], ' '.join(
        names.get(g, g) for g in port['security_groups']) or '(no group)'))


# ---- firewall logs -------------------------------------------------------------
def log_list(s, a):
    found = s.get('/v1/logs')
    ports = {p['id']: p['name'] for p in s.get('/v1/ports')}
    return Result(found, show.logs(found, s.group_names(), ports))


def log_show(s, a):
    log = s.get('/v1/logs/%s' % a.log)
    records = s.get('/v1/logs/%s/events' % log['id'])['events']
    records = records[-a.last:] if a.last else records
    return Result(records, ''.join(show.log_record(r) + '\n' for r in records))


def log_create(s, a):
    body = {k: v for k, v in (('event', a.event), ('security_group', a.group),
                              ('port', a.port), ('file', a.file), ('name', a.name))
            if v is not None}
    log = s.write('POST', '/v1/logs', body)
    return Result(log, 'created log %s (id %s): %s%s\n' % (
        log['name'] or '-', log['id'], log['event'],
        ', file ' + log['path'] if log['path'] else ''))


def log_delete(s, a):
    s.write('DELETE', '/v1/logs/%s' % a.log)
    return Result(None, 'deleted log %s\n' % a.log)


# ---- the controller ----------------------------------------------------------
def trace(s, a):
    answer = s.client.call('POST', '/v1/trace', trace_body(a.words))
    code = NOT_AS_EXPECTED if a.expect and answer['verdict'] != a.expect else 0
    return Result(answer, show.trace(answer), code)


def health(s):
    """'ok', or why not: /healthz answers 503 while the store cannot be reached."""
    try:
        return s.get('/healthz')['status']
    except ApiError as e:
        if e.status != 503:
            raise
        return 'unavailable'


def status(s, a):
    answer = s.get('/v1/status')
    state = health(s)
    late = show.out_of_sync(answer)
    code = NOT_AS_EXPECTED if a.check and (late or not answer['idle'] or state != 'ok') else 0
    return Result(answer, show.status(answer, state), code)


def controllers(s, a):
    answer = s.get('/v1/status')
    return Result(answer, show.controllers(answer))


def events(s, a):
    found = s.get('/v1/events')
    found = found[-a.last:] if a.last else found
    return Result(found, show.events(found))
