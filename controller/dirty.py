"""Which pieces of which switches a batch of store changes can alter.

From the changes ``(kind, key, old, new)`` and the inventory after them, the
scopes (:mod:`controller.pieces`) to recompile per hypervisor name (``'*'``:
every hypervisor), and those of the ToRs (whole, or VLAN networks). A host that had a
network before the changes but not after is always one a changed port left, so
the old records name every host that needs a look.

What each piece depends on, and so what marks it:
- a vNIC's own pieces: its record, its network, its groups' records;
- a network's flows on a host: its ports there (floods), whether and where it
  has ports elsewhere (flood targets), the network record;
- a remote entry (VXLAN): the port's record and the VTEPs of its hosts (a VLAN
  port has none: other hypervisors send all unicast up, so they hold only
  whether the network has ports elsewhere);
- a VLAN network's piece on a ToR (its VID admitted per port, its floods):
  which hypervisors have the network (a port bound or arriving), their racks;
  a VLAN port's MAC entry there: the port's record, its host's rack;
- the ARP responder: the addresses of every port of the network;
- a firewall clause for an address: the rules of the host's vNICs and the
  members of their remote groups and zones (so a port's addresses or groups
  changing mark only the hosts with a rule naming one of its groups or their
  zones: :func:`hosts_naming`; a port arriving at or leaving a host changes
  that host's rules only if no other vNIC there is in its groups).
"""
from collections import defaultdict

from controller.inventory import placed

ALL = None          # the whole host


class Dirty:
    def __init__(self):
        self.scopes = defaultdict(set)      # host name or '*' -> scopes (ALL: whole host)
        self.whole = set()                  # hosts to recompile whole
        self.tors = False                   # the ToRs to recompile whole
        self.tor_scopes = set()             # else these scopes of theirs (VLAN networks)
        self.ports_changed = set()          # ids of the ports the changes touch

    def add(self, host_name, scope):
        if host_name:
            if scope is ALL:
                self.whole.add(host_name)
            else:
                self.scopes[host_name].add(scope)

    def hosts(self):
        """Names of the hypervisors with any mark (None: every one)."""
        return None if '*' in self.scopes else self.whole | set(self.scopes)

    def of_tors(self):
        """The scopes of every ToR, as :meth:`of`."""
        return ALL if self.tors else self.tor_scopes

    def of(self, host_name):
        """The scopes of a hypervisor: None (whole), a set, or empty."""
        if host_name in self.whole:
            return ALL
        return self.scopes.get(host_name, set()) | self.scopes.get('*', set())


def dirty(inv, changes):
    out = Dirty()
    out.ports_changed = {key for kind, key, _, _ in changes if kind == 'port'}
    for kind, key, old, new in changes:
        if kind == 'port':
            _port(inv, old, new, out, addresses=True)
        elif kind == 'network':
            for port in inv.network_ports_any(key):
                for name in placed(port):
                    out.add(name, ALL)
            out.tors = True
        elif kind == 'security_group':
            for port in inv.ports_in_group(key):
                for name in placed(port):
                    out.add(name, ('port', port.id))
                    out.add(name, ('clause1-all',))
            if (old is None or new is None or old.zone != new.zone) and \
                    inv.ports_in_group(key):        # members of remote groups and zones
                out.add('*', ('clause1-all',))
        elif kind == 'host':
            for record in (old, new):
                if record is not None:
                    out.add(record.name, ALL)
                    for port in inv.ports_named_by(record.name):
                        _port(inv, port, port, out, addresses=False)
            out.tors = True
        elif kind == 'subnet':       # no flow depends on a subnet (ports carry their addresses)
            continue
        else:
            raise ValueError('unknown kind of change %r' % kind)
    return out


def _port(inv, old, new, out, addresses):
    records = [r for r in (old, new) if r is not None]
    port_id = records[0].id
    networks = {r.network_id for r in records}
    names = set().union(*map(placed, records))
    for name in names:
        out.add(name, ('port', port_id))
        if _rules_may_change(inv, name, records, out.ports_changed):
            out.add(name, ('clause1-all',))
        for network_id in networks:
            out.add(name, ('net', network_id))
    moved = old is None or new is None or (old.mac, old.ips, old.network_id) != (
        new.mac, new.ips, new.network_id)
    for network_id in networks:
        network = inv.networks.get(network_id)
        if network is not None and network.kind == 'vlan':
            changed = out.ports_changed
            out.tor_scopes.add(('remote', network_id, port_id) if all(
                _shares_host(inv, network_id, changed, n) for n in names)
                else ('net', network_id))
            if len(_other_hosts(inv, network_id, changed)) > 1:
                continue        # no other hypervisor's flows can change
        for name in hosts_having(inv, network_id):
            out.add(name, ('remote', network_id, port_id))
            if addresses and moved:
                out.add(name, ('arp', network_id))
        if network is None:
            out.tors = True
    if addresses and (old is None or new is None or old.ips != new.ips
                      or old.security_groups != new.security_groups):
        groups = set().union(*(r.security_groups for r in records))
        naming = hosts_naming(inv, groups)
        for ip in set().union(*(r.ips for r in records)):
            for name in naming:
                out.add(name, ('clause1', ip))


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


def _other_hosts(inv, network_id, changed):
    """Hosts where the network's ports that the batch left alone (not in
    ``changed``) are bound, as far as the second one. A hypervisor holds
    nothing about a VLAN port bound elsewhere, only whether the network has a
    port bound elsewhere (its floods and unicast go up the uplink): with the
    untouched ports bound on two hosts or more, that holds for every hypervisor
    before and after the batch."""
    out = set()
    for port in inv.network_ports(network_id):
        if port.id not in changed and inv.is_bound(port):
            out.add(port.bound_host)
            if len(out) > 1:
                break
    return out


def _shares_host(inv, network_id, changed, host_name):
    """Whether a port of the network that the batch left alone is bound on or
    arriving at the host: then the host has the VLAN before and after the
    batch, and the ToRs admit it as before (only changed ports' MAC entries
    can change)."""
    return any(p.id not in changed and p.network_id == network_id
               for p in inv.local_ports(host_name) + inv.arriving_ports(host_name))


def hosts_having(inv, network_id):
    """Names of the hosts the network is on (a port bound there or arriving)."""
    def build():
        ports = inv.network_ports(network_id)
        return ({p.bound_host for p in ports if inv.is_bound(p)}
                | {inv.arriving_host(p) for p in ports} - {''})
    return inv.memo(('hosts-having', network_id), build)


def hosts_naming(inv, group_ids):
    """Names of the hosts whose vNICs have a rule naming one of the groups, or
    the zone of one, as its remote: the hosts whose firewall clause-1 flows
    list those groups' member addresses (a port joining or leaving them
    touches those hosts only, not every one)."""
    zones = {inv.groups[g].zone for g in group_ids if g in inv.groups} - {'', None}
    names = set()
    for group in inv.groups.values():
        if any(r['remote_group_id'] in group_ids
               or (r['remote_zone'] and r['remote_zone'] in zones) for r in group.rules):
            names.update(inv.group_hosts(group.id))
    return names
