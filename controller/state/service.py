"""The operations users and switches perform on the desired state.

Each operation validates everything first (raising ``ValidationError`` naming the
field) and then writes in one store transaction, so a rejected request changes
nothing. With several controllers on one store, another may write between the
checks and the write: the store then refuses the write (``Conflict``: a record
changed, or a unique value such as a segmentation id is taken) and the
operation is redone on the fresh state, where its checks see the other write.
"""
import logging

from controller.state import host_schemas, schemas
from controller.state import model, rule_marks
from controller.state.model import NotFound, ValidationError
from controller.state.rule_marks import new_rule
from controller.state.schemas import parse
from controller.state.port_operations import PortOperations
from controller.state.writes import retried

LOG = logging.getLogger(__name__)


def parse_pool(text, field_name):
    """'100-4094' -> range(100, 4095)."""
    low, _, high = text.partition('-')
    try:
        low, high = int(low), int(high or low)
    except ValueError:
        raise ValueError('%s must look like "100-4094", not %r' % (field_name, text))
    return range(low, high + 1)


def _rule(store, body):
    """A stored rule from a request body."""
    return new_rule(store, parse(schemas.RuleCreate, body).record())


class Service(PortOperations):
    def __init__(self, store, vlan_pool='100-4094', vni_pool='5000-16777215', kinds=None,
                 sightings=None):
        self.store = store
        # where the switches we bind on report each device (binding.Sightings), if known
        self.sightings = sightings
        # what must be unique: found without scanning, and claimed by each write
        store.add_index('port', 'device', lambda p: (p.device,), unique=True)
        # a switch reporting its ports (at every connect) looks up only its own
        store.add_index('port', 'bound_host', lambda p: (p.bound_host,))
        store.add_index('port', 'mac', lambda p: ((p.network_id, p.mac),), unique=True)
        store.add_index('port', 'ip', lambda p: tuple((p.network_id, ip) for ip in p.ips),
                        unique=True)
        store.add_index('port', 'pair_mac', lambda p: tuple(
            (p.network_id, mac) for mac in model.pair_macs(p)))
        store.add_index('network', 'name', lambda n: (n.name,), unique=True)
        store.add_index('network', 'segment', lambda n: ((n.kind, n.segmentation_id),),
                        unique=True)
        store.add_index('network', 'nid', lambda n: (n.nid,), unique=True)
        store.add_index('security_group', 'name', lambda g: (g.name,), unique=True)
        store.add_index('host', 'dpid', lambda h: (h.dpid,), unique=True)
        store.add_index('security_group', 'rule_mark', rule_marks.marks, unique=True)
        self.pools = {'vlan': parse_pool(vlan_pool, 'vlan_pool'),
                      'vxlan': parse_pool(vni_pool, 'vni_pool')}
        # network kind -> its L2 table, from the loaded features (all when not said)
        self.kinds = dict(kinds) if kinds is not None else {'vlan': None, 'vxlan': None}
        self.upgrade_rule_marks()
        self.ensure_default_group()

    # ---- hosts -------------------------------------------------------------
    @retried
    def create_host(self, body):
        fields = parse(host_schemas.HostCreate, body).model_dump()
        if self.store.get('host', fields['name']) is not None:
            raise ValidationError('name', 'host %r exists: PATCH /v1/hosts/%s changes it'
                                  % (fields['name'], fields['name']), 409)
        return self._save_host(model.Host(**fields))

    @retried
    def update_host(self, name, body):
        """Change a host's fields; a role change only while nothing is bound there."""
        host = self.get_host(name)
        patch = {k: v for k, v in parse(host_schemas.HostPatch, body).model_dump().items()
                 if v is not None}
        merged = dict(model.to_dict(host), **patch)
        if 'role' in patch and patch['role'] != host.role and 'uplinks' not in patch:
            merged['uplinks'] = {}              # the other role's uplinks mean nothing
        try:
            fields = parse(host_schemas.HostCreate, merged).model_dump()
        except ValidationError as e:            # a valid change that does not fit the host
            raise ValidationError(e.field, '%s (host %r as changed)' % (e.message, name),
                                  409) from None
        if fields['role'] != host.role and self._ports_on(name):
            raise ValidationError('role', 'host %r has ports bound or arriving: it stays a %s'
                                  % (name, host.role), 409)
        return self._save_host(model.Host(**fields))

    @retried
    def delete_host(self, name):
        host = self.get_host(name)
        users = self._ports_on(name)
        if users:
            raise ValidationError('name', 'host %r has ports bound or arriving: %s'
                                  % (name, ', '.join(sorted(users)[:5])), 409)
        with self.store.transaction() as tx:
            tx.delete('host', host.name)

    def _ports_on(self, name):
        return [p.name for p in self.store.list('port')
                if name in (p.bound_host, p.migrating_to)]

    def _save_host(self, host):
        for other in self.store.list('host'):
            if other.dpid == host.dpid and other.name != host.name:
                raise ValidationError('dpid', 'dpid %#x is already host %r'
                                      % (host.dpid, other.name), 409)
        with self.store.transaction() as tx:
            tx.put('host', host.name, host)
        return host

    def get_host(self, name):
        host = self.store.get('host', name)
        if host is None:
            raise NotFound('host', name)
        return host

    # ---- networks ----------------------------------------------------------
    @retried
    def create_network(self, body):
        request = parse(schemas.NetworkCreate, body)
        name, kind, seg = request.name, request.kind, request.segmentation_id
        if kind not in self.kinds:
            raise ValidationError('kind', 'kind %r needs the %s app, which this controller '
                                  'does not run (it runs: %s)' % (
                                      kind, kind, ', '.join(sorted(self.kinds)) or 'none'))
        networks = self.store.list('network')
        if any(n.name == name for n in networks):
            raise ValidationError('name', 'a network named %r exists' % name, 409)
        taken = {n.segmentation_id for n in networks if n.kind == kind}
        if seg is None:
            seg = next((s for s in self.pools[kind] if s not in taken), None)
            if seg is None:
                raise ValidationError('segmentation_id', 'the %s pool %d-%d is exhausted'
                                      % (kind, self.pools[kind].start,
                                         self.pools[kind].stop - 1), 409)
        elif seg in taken:
            raise ValidationError('segmentation_id', '%s %d is already used' % (kind, seg), 409)
        nid = max((n.nid for n in networks), default=0) + 1
        network = model.Network(id=model.new_id(), name=name, kind=kind,
                                segmentation_id=seg, nid=nid)
        with self.store.transaction() as tx:
            tx.put('network', network.id, network)
        return network

    def get_network(self, ident, field_name='id'):
        network = self.store.get('network', ident)
        if network is None:
            for n in self.store.list('network'):       # a name works as well as an id
                if n.name == ident:
                    return n
            err = NotFound('network', ident)
            err.field = field_name
            raise err
        return network

    @retried
    def delete_network(self, ident):
        network = self.get_network(ident)
        if any(p.network_id == network.id for p in self.store.list('port')):
            raise ValidationError('id', 'network %r still has ports' % network.name, 409)
        with self.store.transaction() as tx:
            tx.delete('network', network.id)
            for subnet in self.store.list('subnet'):    # its subnets (/v2.0) go with it
                if subnet.network_id == network.id:
                    tx.delete('subnet', subnet.id)

    # ---- ports -------------------------------------------------------------
    # ---- security groups -----------------------------------------------------
    @retried
    def ensure_default_group(self):
        """The group a port created without groups joins (as in OpenStack): all
        egress, ingress only from members of "default", each for IPv4 and IPv6.
        A store's existing default group is left as it is (its rules may have
        been changed since): add its IPv6 rules through the API."""
        for group in self.store.list('security_group'):
            if group.name == 'default':
                return group
        gid = model.new_id()
        rules = [_rule(self.store, {'direction': direction, 'ethertype': ethertype,
                                    'remote_group_id': gid if direction == 'ingress' else ''})
                 for ethertype in ('IPv4', 'IPv6') for direction in ('egress', 'ingress')]
        group = model.SecurityGroup(id=gid, name='default',
                                    description='ports that name no group', rules=rules)
        with self.store.transaction() as tx:
            tx.put('security_group', gid, group)
        return group

    @retried
    def upgrade_rule_marks(self):
        """Once, for a store written before marks were allocated
        (:func:`controller.state.rule_marks.upgraded`)."""
        upgraded = rule_marks.upgraded(self.store)
        if upgraded:
            with self.store.transaction() as tx:
                for group in upgraded:
                    tx.put('security_group', group.id, group)
            LOG.warning('gave marks to the rules of %d stored groups (kept their hashed '
                        'marks where unique)', len(upgraded))

    def get_group(self, ident, field_name='id'):
        group = self.store.get('security_group', ident)
        if group is None:
            group = next((g for g in self.store.list('security_group') if g.name == ident),
                         None)
        if group is None:
            err = NotFound('security group', ident)
            err.field = field_name
            raise err
        return group

    def _resolve_groups(self, fields, field_name='security_groups'):
        if 'security_groups' in fields:
            fields['security_groups'] = [self.get_group(g, field_name).id
                                         for g in fields['security_groups']]
