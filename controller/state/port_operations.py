"""The operations on ports: create (several at once), change, migrate,
delete, and the bindings the switches' reports cause (:mod:`controller.switch.binding`
decides them). A mixin of :class:`controller.state.service.Service`, which holds the
store, the groups and the networks they name."""
from controller.state import schemas
from controller import constants as C
from controller.state import model
from controller.state.model import NotFound, ValidationError
from controller.state.schemas import parse
from controller.state.writes import retried


def _bound(port, host_name, ofport):
    """The port bound at (host, ofport); arriving on its destination ends a migration."""
    done = port.migrating_to == host_name
    return model.changed(port, bound_host=host_name, ofport=ofport,
                         migrating_to='' if done else port.migrating_to,
                         migrating_ofport=0 if done else port.migrating_ofport)


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


def _pairs(fields, mac):
    """The request's address pairs as stored: each with its MAC (the port's
    when not given, as Neutron fills it in)."""
    if 'allowed_address_pairs' in fields:
        fields['allowed_address_pairs'] = [
            {'ip_address': p['ip_address'], 'mac_address': p['mac_address'] or mac}
            for p in fields['allowed_address_pairs']]


def check_port_security(port, asked, groups):
    """Neutron's rules for a port's security, on the port as it would be
    (``port``: its fields; ``asked``: what the request set; ``groups``: its
    group records): no groups and no address pairs without port security
    (409 naming the field the request set), and its groups all stateful or all
    stateless (409)."""
    if not port['port_security_enabled']:
        for name in ('security_groups', 'allowed_address_pairs'):
            if port[name]:
                field = name if name in asked else 'port_security_enabled'
                raise ValidationError(field, 'port security is off on this port: it can '
                                      'have no %s (remove them to turn it off, as in '
                                      'Neutron)' % name.replace('_', ' '), 409)
    kinds = {g.stateful for g in groups}
    if len(kinds) > 1:
        raise ValidationError('security_groups', 'a port\'s groups must be all stateful '
                              'or all stateless: %s' % ', '.join(
                                  '%s (%s)' % (g.name, 'stateful' if g.stateful else
                                               'stateless') for g in groups), 409)


class PortOperations:
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
                asked = set(fields)
                # as in Neutron: "default", unless port security is off
                fields.setdefault('security_groups', ['default'] if fields.get(
                    'port_security_enabled', True) else [])
                self._resolve_groups(fields)
                _pairs(fields, fields['mac'])
                self._check_security(dict({'port_security_enabled': True,
                                           'allowed_address_pairs': []}, **fields), asked)
                self._check_unique(fields, taken)
            except ValidationError as e:
                if len(bodies) > 1:
                    e.field = 'ports[%d].%s' % (i, e.field)
                raise
            port = model.Port(id=ids[i] if ids else model.new_id(), **fields)
            where = self.sightings.where(port.device) if self.sightings else None
            # its vNIC already plugged: bound in the same write (one commit, not two)
            ports.append(_bound(port, *where) if where else port)
            taken.update(((index, value), ports[-1].id)
                         for index, values in _unique_values(ports[-1]).items()
                         for value in values)
        with self.store.transaction() as tx:
            for port in ports:
                tx.put('port', port.id, port)
        return ports

    def _check_security(self, port, asked):
        check_port_security(port, asked, [self.get_group(g, 'security_groups')
                                          for g in port['security_groups']])

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
        self._check_pair_macs(fields, own_id)

    def _check_pair_macs(self, fields, own_id):
        """A MAC a port sends from is its alone in the network: its delivery and
        its MAC-to-VTEP entries name one port (a pair's MAC shared by two ports,
        VRRP's virtual MAC, is refused)."""
        network, mac = fields.get('network_id'), fields.get('mac')
        for pair in fields.get('allowed_address_pairs', ()):
            other = pair['mac_address']
            if other == mac:
                continue
            holders = (self.store.find('port', 'mac', (network, other))
                       | self.store.find('port', 'pair_mac', (network, other))) - {own_id}
            if holders:
                raise ValidationError('allowed_address_pairs', 'mac_address %s is sent from '
                                      'by another port of this network' % other, 409)
        if self.store.find('port', 'pair_mac', (network, mac)) - {own_id}:
            raise ValidationError('mac', 'mac %s is an allowed address pair\'s of another '
                                  'port in this network' % mac, 409)

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
        _pairs(fields, port.mac)
        merged = dict(model.to_dict(port), **fields)
        self._check_security(merged, set(fields))
        self._check_unique(merged, own_id=port.id)
        updated = model.Port(**merged)
        with self.store.transaction() as tx:
            tx.put('port', updated.id, updated)
        return updated

    MIGRATION_OFPORTS = C.MIGRATION_OFPORTS     # reserved for arriving vNICs

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
