"""The operations users and switches perform on the desired state.

Each operation validates everything first (raising ``ValidationError`` naming the
field) and then writes in one store transaction, so a rejected request changes
nothing. With several controllers on one store, another may write between the
checks and the write: the store then refuses the write (``Conflict``: a record
changed, or a unique value such as a segmentation id is taken) and the
operation is redone on the fresh state, where its checks see the other write.
"""
import functools
import logging
import random
import time
import zlib

from controller import model, schemas
from controller import pipeline as P
from controller.model import NotFound, ValidationError
from controller.schemas import parse
from controller.store import Conflict

LOG = logging.getLogger(__name__)
CONFLICT_ATTEMPTS = 50      # each round of a conflict lets one writer through


def retried(operation):
    """Redo ``operation`` when a concurrent writer got there first."""
    @functools.wraps(operation)
    def run(self, *args, **kwargs):
        for attempt in range(1, CONFLICT_ATTEMPTS + 1):
            try:
                return operation(self, *args, **kwargs)
            except Conflict:
                if attempt == CONFLICT_ATTEMPTS:
                    raise
                time.sleep(random.uniform(0, 0.002 * attempt))   # writers spread out
                self.store.refresh()
    return run


def _bound(port, host_name, ofport):
    """The port bound at (host, ofport); arriving on its destination ends a migration."""
    done = port.migrating_to == host_name
    return model.changed(port, bound_host=host_name, ofport=ofport,
                         migrating_to='' if done else port.migrating_to,
                         migrating_ofport=0 if done else port.migrating_ofport)


def parse_pool(text, field_name):
    """'100-4094' -> range(100, 4095)."""
    low, _, high = text.partition('-')
    try:
        low, high = int(low), int(high or low)
    except ValueError:
        raise ValueError('%s must look like "100-4094", not %r' % (field_name, text))
    return range(low, high + 1)


def new_rule(store, fields):
    """A stored rule: its checked fields, a new id and a mark of its own
    (``P.MARK_ALLOCATED`` + the next value of the store's mark counter)."""
    return dict(fields, id=model.new_id(),
                mark=P.MARK_ALLOCATED | store.allocate(P.MARK_COUNTER))


def _rule(store, body):
    """A stored rule from a request body."""
    return new_rule(store, parse(schemas.RuleCreate, body).record())


def legacy_mark(rule_id):
    """The mark versions before allocation hashed from a rule's id (two ids
    could share one): what an upgraded store keeps where it is unique."""
    return zlib.crc32(rule_id.encode()) & 0x7fffffff or 1


def _marks(group):
    return tuple(r['mark'] for r in group.rules if 'mark' in r)


def _unique_values(port):
    return {'device': {port.device}, 'mac': {(port.network_id, port.mac)},
            'ip': {(port.network_id, ip) for ip in port.ips}}


def _port_fields(request):
    """The fields a port request sets (a PATCH's omitted or null fields keep
    theirs); a new port without a name takes its device's."""
    fields = {k: v for k, v in request.model_dump().items() if v is not None}
    if isinstance(request, schemas.PortCreate):
        fields.setdefault('name', fields['device'])
        fields.setdefault('ips', [])
    return fields


class Service:
    def __init__(self, store, vlan_pool='100-4094', vni_pool='5000-16777215', kinds=None,
                 located=None):
        self.store = store
        # device -> (host, ofport) where a switch we may bind on holds it, or None
        self.located = located or (lambda device: None)
        # what must be unique: found without scanning, and claimed by each write
        store.add_index('port', 'device', lambda p: (p.device,), unique=True)
        store.add_index('port', 'bound_host', lambda p: (p.bound_host,))
        store.add_index('port', 'mac', lambda p: ((p.network_id, p.mac),), unique=True)
        store.add_index('port', 'ip', lambda p: tuple((p.network_id, ip) for ip in p.ips),
                        unique=True)
        store.add_index('network', 'name', lambda n: (n.name,), unique=True)
        store.add_index('network', 'segment', lambda n: ((n.kind, n.segmentation_id),),
                        unique=True)
        store.add_index('network', 'nid', lambda n: (n.nid,), unique=True)
        store.add_index('security_group', 'name', lambda g: (g.name,), unique=True)
        store.add_index('host', 'dpid', lambda h: (h.dpid,), unique=True)
        store.add_index('security_group', 'rule_mark', _marks, unique=True)
        # a switch reporting its ports (at every connect) looks up only its own
        store.add_index('port', 'bound_host', lambda p: (p.bound_host,))
        self.pools = {'vlan': parse_pool(vlan_pool, 'vlan_pool'),
                      'vxlan': parse_pool(vni_pool, 'vni_pool')}
        # network kind -> its L2 table, from the loaded features (all when not said)
        self.kinds = dict(kinds) if kinds is not None else {'vlan': None, 'vxlan': None}
        self.upgrade_rule_marks()
        self.ensure_default_group()

    # ---- hosts -------------------------------------------------------------
    @retried
    def create_host(self, body):
        fields = parse(schemas.HostCreate, body).model_dump()
        if self.store.get('host', fields['name']) is not None:
            raise ValidationError('name', 'host %r exists: PATCH /v1/hosts/%s changes it'
                                  % (fields['name'], fields['name']), 409)
        return self._save_host(model.Host(**fields))

    @retried
    def update_host(self, name, body):
        """Change a host's fields; a role change only while nothing is bound there."""
        host = self.get_host(name)
        patch = {k: v for k, v in parse(schemas.HostPatch, body).model_dump().items()
                 if v is not None}
        merged = dict(model.to_dict(host), **patch)
        if 'role' in patch and patch['role'] != host.role and 'uplinks' not in patch:
            merged['uplinks'] = {}              # the other role's uplinks mean nothing
        try:
            fields = parse(schemas.HostCreate, merged).model_dump()
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
        egress, ingress only from members of "default"."""
        for group in self.store.list('security_group'):
            if group.name == 'default':
                return group
        gid = model.new_id()
        rules = [_rule(self.store, {'direction': 'egress'}),
                 _rule(self.store, {'direction': 'ingress', 'remote_group_id': gid})]
        group = model.SecurityGroup(id=gid, name='default',
                                    description='ports that name no group', rules=rules)
        with self.store.transaction() as tx:
            tx.put('security_group', gid, group)
        return group

    @retried
    def upgrade_rule_marks(self):
        """Give every stored rule without a mark (written before marks were
        allocated) the mark it had, its id's hash, so its connections live on;
        where two rules shared one, the second met gets a new one. Once: then
        every rule has its mark."""
        groups = self.store.list('security_group')
        taken = {m for g in groups for m in _marks(g)}
        upgraded = []
        for group in groups:
            if len(_marks(group)) == len(group.rules):
                continue
            rules = []
            for rule in group.rules:
                if 'mark' not in rule:
                    mark = legacy_mark(rule['id'])
                    if mark in taken:
                        mark = P.MARK_ALLOCATED | self.store.allocate(P.MARK_COUNTER)
                    taken.add(mark)
                    rule = dict(rule, mark=mark)
                rules.append(rule)
            upgraded.append(model.changed(group, rules=rules))
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

    # ---- ports (continued) ---------------------------------------------------
    def create_port(self, body, port_id=None):
        return self.create_ports([body], [port_id] if port_id else None)[0]

    @retried
    def create_ports(self, bodies, ids=None):
        """Create several ports at once: all are valid, or none is created (an
        error names the field as ``ports[i].field``). ``ids``: the new ports'
        ids, if the caller chose them (``/v2.0`` names a port's vNIC after it)."""
        ports, taken = [], {}
        for i, body in enumerate(bodies):
            try:
                fields = _port_fields(parse(schemas.PortCreate, body))
                fields['network_id'] = self.get_network(fields['network_id'],
                                                        'network_id').id
                fields.setdefault('security_groups', ['default'])   # as in Neutron
                self._resolve_groups(fields)
                self._check_unique(fields, taken)
            except ValidationError as e:
                if len(bodies) > 1:
                    e.field = 'ports[%d].%s' % (i, e.field)
                raise
            port = model.Port(id=ids[i] if ids else model.new_id(), **fields)
            where = self.located(port.device)
            # its vNIC already plugged: bound in the same write (one commit, not two)
            ports.append(_bound(port, *where) if where else port)
            taken.update(((index, value), ports[-1].id)
                         for index, values in _unique_values(ports[-1]).items()
                         for value in values)
        with self.store.transaction() as tx:
            for port in ports:
                tx.put('port', port.id, port)
        return ports

    def _check_unique(self, fields, pending=None, own_id=None):
        """The device is unique, and the MAC and addresses within the network,
        among the stored ports and ``pending`` ones (created in the same call:
        {(index, value): port id})."""
        pending = pending or {}
        network = fields.get('network_id')
        checks = [('device', 'device', fields.get('device'), 'device %r is port %s'),
                  ('mac', 'mac', (network, fields.get('mac')), 'mac %s is used in this network')]
        checks += [('ip', 'ips', (network, ip), 'ip %s is used in this network')
                   for ip in sorted(fields.get('ips', ()))]
        for index, field, value, message in checks:
            holders = self.store.find('port', index, value) - {own_id}
            if (index, value) in pending:
                holders.add(pending[(index, value)])
            if holders:
                shown = value[1] if isinstance(value, tuple) else value
                args = (shown, sorted(holders)[0]) if index == 'device' else (shown,)
                raise ValidationError(field, message % args, 409)

    def port_of_device(self, device):
        """The port whose vNIC is ``device``, or None."""
        keys = self.store.find('port', 'device', device)
        return self.store.get('port', min(keys)) if keys else None

    def get_port(self, ident):
        port = self.store.get('port', ident)
        if port is None:
            raise NotFound('port', ident)
        return port

    @retried
    def update_port(self, ident, body):
        port = self.get_port(ident)
        fields = _port_fields(parse(schemas.PortPatch, body))
        self._resolve_groups(fields)
        merged = dict(model.to_dict(port), **fields)
        self._check_unique(merged, own_id=port.id)
        updated = model.Port(**merged)
        with self.store.transaction() as tx:
            tx.put('port', updated.id, updated)
        return updated

    MIGRATION_OFPORTS = range(2000, 4000)    # reserved for arriving vNICs

    @retried
    def migrate_port(self, ident, body):
        """Planned migration to ``host``: the destination is programmed before
        the VM arrives (its rules enforced there, its traffic still going to the
        source) for a device plugged at the returned ``migrating_ofport``; the
        switch-over happens when that device appears there with its link up.
        ``live`` says the VM's vNIC is plugged there (link down) before the
        switch-over rather than moved there at it; the controller treats both
        alike."""
        port = self.get_port(ident)
        host_name = parse(schemas.Migrate, body).host
        host = self.store.get('host', host_name)
        if host is None or host.role != 'hypervisor':
            raise ValidationError('host', 'no hypervisor named %r' % host_name, 404)
        if host_name == port.bound_host:
            raise ValidationError('host', 'the port is already on %s' % host_name, 409)
        used = {p.ofport for p in self.store.list('port') if p.bound_host == host_name}
        used |= {p.migrating_ofport for p in self.store.list('port')
                 if p.migrating_to == host_name}
        ofport = next((n for n in self.MIGRATION_OFPORTS if n not in used), None)
        if ofport is None:
            raise ValidationError('host', '%s has no free port number for an arriving vNIC '
                                  '(%d-%d are all reserved)' % (
                                      host_name, self.MIGRATION_OFPORTS.start,
                                      self.MIGRATION_OFPORTS.stop - 1), 409)
        updated = model.changed(port, host=host_name, migrating_to=host_name,
                                migrating_ofport=ofport)
        with self.store.transaction() as tx:
            tx.put('port', port.id, updated)
        return updated

    @retried
    def delete_port(self, ident):
        port = self.get_port(ident)
        with self.store.transaction() as tx:
            tx.delete('port', port.id)

    # ---- bindings, observed on the switches --------------------------------
    @retried
    def bind(self, host_name, devices):
        """``devices`` {name: ofport} seen on ``host_name``; binds the known ones
        there (a device seen on a new host moves there). Returns changed ports."""
        changed = []
        for device, ofport in devices.items():
            port = self.port_of_device(device)
            if port and ofport and (port.bound_host, port.ofport) != (host_name, ofport):
                changed.append(_bound(port, host_name, ofport))
        self._save(changed)
        return changed

    @retried
    def bind_observed(self, seen, port_ids):
        """``seen`` {device: (host, ofport)} of every device the switches reported:
        binds those of ``port_ids`` (ports created or changed since the last
        look) whose device was plugged before they existed. Never unbinds."""
        changed = []
        for port_id in port_ids:
            port = self.store.get('port', port_id)
            where = seen.get(port.device) if port is not None else None
            if where and (port.bound_host, port.ofport) != where:
                changed.append(_bound(port, *where))
        self._save(changed)
        return changed

    @retried
    def unbind(self, host_name, devices=None, keep=None):
        """Unbind ports bound on ``host_name`` whose device is in ``devices`` (or,
        with ``keep``, whose device is not in ``keep``)."""
        changed = []
        bound_there = (self.store.get('port', key)
                       for key in sorted(self.store.find('port', 'bound_host', host_name)))
        for port in bound_there:
            if port is None or port.bound_host != host_name:
                continue
            gone = port.device in devices if devices is not None else port.device not in keep
            if gone:
                changed.append(model.changed(port, bound_host='', ofport=0))
        self._save(changed)
        return changed

    def _save(self, ports):
        if ports:
            with self.store.transaction() as tx:
                for port in ports:
                    tx.put('port', port.id, port)
