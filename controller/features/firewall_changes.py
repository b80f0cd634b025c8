"""The firewall's change rules (see :mod:`controller.compile.dirty`): which
scopes of which hosts a port or security-group change can alter, kept narrow so
that a vNIC bound beside others of its groups recompiles no clause-1 flow."""
from controller.state import model
from controller.state.inventory import placed


def port_changed(inv, change, marks):
    """A port changed: every clause-1 flow of a host it is or was on if that
    host's rules can change; its addresses' clauses on the hosts with a rule
    naming one of its groups (or their zones) if its addresses or groups
    changed. (Its own pieces, ``('port', id)``, the core marks.)"""
    _, _, old, new = change
    records = [r for r in (old, new) if r is not None]
    for name in set().union(*map(placed, records)):
        if _rules_may_change(inv, name, records, marks.ports_changed):
            marks.add(name, ('clause1',))
    if old is None or new is None or old.ips != new.ips \
            or old.allowed_address_pairs != new.allowed_address_pairs \
            or old.security_groups != new.security_groups:
        naming = hosts_naming(inv, set().union(*(r.security_groups for r in records)))
        for ip in set().union(*map(model.member_addresses, records)):
            for name in naming:
                marks.add(name, ('clause1', ip))


def group_changed(inv, change, marks):
    """A group changed (its rules, its zone): its vNICs and the clause-1 flows
    of their hosts; every host's clause-1 flows if its members' standing as a
    remote zone changed."""
    _, key, old, new = change
    members = inv.ports_in_group(key)
    for port in members:
        for name in placed(port):
            marks.add(name, ('port', port.id))
            marks.add(name, ('clause1',))
    if members and (old is None or new is None or old.zone != new.zone):
        marks.add('*', ('clause1',))


def _rules_may_change(inv, host_name, records, ports_changed):
    """Whether a port's change can change the host's rules (those of its vNICs
    with port security, whose remote groups its clause-1 flows list): not when
    the host's vNICs that this batch left alone (``ports_changed``: the ports
    it changed) are in every group the port was or is in (a vNIC bound beside
    others of its groups recompiles no clause-1 flow)."""
    groups = {g for r in records if r.port_security_enabled for g in r.security_groups}
    if not groups:
        return False
    held = set()
    for port in inv.local_ports(host_name) + inv.arriving_ports(host_name):
        if port.id not in ports_changed and port.port_security_enabled:
            held.update(port.security_groups)
    return not groups <= held


def hosts_naming(inv, group_ids):
    """Names of the hosts whose vNICs have a rule naming one of the groups, or
    the zone of one, as its remote: the hosts whose clause-1 flows list those
    groups' member addresses (a port joining or leaving them touches those
    hosts only, not every one)."""
    zones = {inv.groups[g].zone for g in group_ids if g in inv.groups} - {'', None}
    naming = _groups_naming(inv)
    names = set()
    for remote in [('group', g) for g in group_ids] + [('zone', z) for z in zones]:
        for group_id in naming.get(remote, ()):
            names.update(inv.group_hosts(group_id))
    return names


def _groups_naming(inv):
    """{('group', id) or ('zone', name): ids of the groups with a rule naming it
    as its remote}, once per state: asking every group's rules once per port
    took 0.55 of the 0.58 s marking one POST of 2,000 ports on ``bench.scale``'s
    1,000-hypervisor data center (334 groups), 0.04 s with this index."""
    def build():
        out = {}
        for group in inv.groups.values():
            for r in group.rules:
                if r['remote_group_id']:
                    out.setdefault(('group', r['remote_group_id']), set()).add(group.id)
                if r['remote_zone']:
                    out.setdefault(('zone', r['remote_zone']), set()).add(group.id)
        return out
    return inv.memo('groups-naming', build)
