"""The desired state, indexed the way compilers ask.

Compilers take an inventory as their only input. It is built from the store
(``from_store``: a snapshot), or kept up to date from the store's change events
(``apply``: the core's live copy, so that a change costs what it touches, not a
rebuild from 20,000 records). Both go through ``apply``, so they cannot differ.
The indexes hold every record as stored; the queries filter out what cannot be
compiled (a port of a missing network, a port bound to an unknown host).
"""
from dataclasses import asdict, replace

from controller.state import host_schemas, schemas
from controller.state.model import ValidationError, member_addresses
from controller.state.store import KINDS

_CHECKED = {}       # id(host record) -> (record, why it is unusable or '')


def unusable(host):
    """Why a stored host record cannot be compiled ('' if it can): records
    written by an older version, or by hand, are checked as a request would be.
    Records are frozen, so each is checked once."""
    hit = _CHECKED.get(id(host))
    if hit is None or hit[0] is not host:
        try:
            schemas.parse(host_schemas.HostCreate, asdict(host))
            why = ''
        except ValidationError as e:
            why = '%s: %s' % (e.field, e.message)
        if len(_CHECKED) > 100_000:
            _CHECKED.clear()
        hit = _CHECKED[id(host)] = (host, why)
    return hit[1]


def placed(port):
    """The hosts a port record names: bound on, or migrating to."""
    return {port.bound_host, port.migrating_to} - {''}


def _bound_at(port):
    """The host the port is bound on (an OpenFlow port there), or ''."""
    return port.bound_host if port.ofport > 0 else ''


def _arriving_at(port):
    """The host the port is migrating to (programmed ahead of the move), or ''."""
    moving = port.migrating_ofport and port.bound_host != port.migrating_to
    return port.migrating_to if moving else ''


def _network_places(port):
    """The hosts a port puts its network on, if they are hypervisors."""
    return {_bound_at(port), _arriving_at(port)} - {''}


def _count(counts, key, items, step):
    """Add ``step`` to the count of each of ``items`` under ``key`` (a count
    reaching 0 is gone, and so is a key left with none)."""
    under = counts.setdefault(key, {})
    for item in items:
        n = under.get(item, 0) + step
        if n:
            under[item] = n
        else:
            del under[item]
    if not under:
        del counts[key]


class _Index:
    """key -> the ports filed under it, sorted by id when asked (sorted once
    per change of that key)."""

    def __init__(self):
        self._ports, self._sorted = {}, {}

    def add(self, key, port):
        self._ports.setdefault(key, {})[port.id] = port
        self._sorted.pop(key, None)

    def remove(self, key, port):
        ports = self._ports.get(key)
        if ports is not None and ports.pop(port.id, None) is not None:
            self._sorted.pop(key, None)
            if not ports:
                del self._ports[key]

    def get(self, key):
        out = self._sorted.get(key)
        if out is None:
            ports = self._ports.get(key, {})
            out = self._sorted[key] = [ports[i] for i in sorted(ports)]
        return out


class Inventory:
    def memo(self, key, build):
        """Compute once per state what every host's compile asks for alike (a
        network's ARP responder, a port's MAC-to-VTEP entry): forgotten at the
        next change."""
        try:
            return self._memo[key]
        except KeyError:
            value = self._memo[key] = build()
            return value

    def _host_memo(self, host_name, key, build):
        """Like :meth:`memo`, for what depends only on the ports bound on or
        arriving at one host (and on the host and network records): kept until
        one of those changes, so a port bound on one host leaves the other
        hosts' lists as they were."""
        memo = self._of_host.setdefault(host_name, {})
        try:
            return memo[key]
        except KeyError:
            value = memo[key] = build()
            return value

    def __init__(self, hosts=(), networks=(), ports=(), groups=(), others=()):
        self._memo, self._of_host = {}, {}
        # group id -> {address, or host a port is bound on or arriving at: how many
        # of its ports have it}: who is in a group, counted as ports come and go
        self._group_ips, self._group_hosts = {}, {}
        # network id -> {host: how many of its ports put it there}, counted the same way
        self._network_hosts = {}
        self.unusable, self.hosts, self._by_dpid = {}, {}, {}
        self.networks, self.ports, self.groups = {}, {}, {}
        # kind -> {key: record}: the networks, the groups and any record kind a
        # feature declares (controller.compile.feature.declare), as stored
        self.records = {'network': self.networks, 'security_group': self.groups}
        self._by_network, self._by_bound, self._by_arriving = _Index(), _Index(), _Index()
        self._by_group = _Index()
        self._arriving_copies = {}     # port id -> (record, its copy bound at the destination)
        self.apply([('host', h.name, None, h) for h in hosts]
                   + [('network', n.id, None, n) for n in networks]
                   + [('port', p.id, None, p) for p in ports]
                   + [('security_group', g.id, None, g) for g in groups]
                   + [(kind, key, None, r) for kind, key, r in others])

    @classmethod
    def from_store(cls, store):
        """A snapshot of every record kind stored (a feature's own kinds too,
        records with an ``id``)."""
        others = [(kind, r.id, r) for kind in KINDS
                  if kind not in ('host', 'network', 'port', 'security_group')
                  for r in store.list(kind)]
        return cls(store.list('host'), store.list('network'), store.list('port'),
                   store.list('security_group'), others)

    def apply(self, changes):
        """Take the store's changes ``(kind, key, old, new)``, in order."""
        self._memo = {}
        for kind, key, old, new in changes:
            if kind == 'port':
                self._port(old, new)
                for port in (old, new):
                    if port is not None:
                        self._of_host.pop(port.bound_host, None)
                        self._of_host.pop(port.migrating_to, None)
            elif kind == 'host':
                self._of_host = {}
                self._host(old, new)
            elif kind == 'subnet':              # address ranges: nothing compiles them
                continue
            else:
                if kind == 'network':
                    self._of_host = {}
                records = self.records.setdefault(kind, {})
                if new is None:
                    records.pop(key, None)
                else:
                    records[key] = new

    def _host(self, old, new):
        if old is not None:
            self.unusable.pop(old.name, None)
            gone = self.hosts.pop(old.name, None)
            if gone is not None and self._by_dpid.get(gone.dpid) is gone:
                del self._by_dpid[gone.dpid]
        if new is not None:
            why = unusable(new)
            if why:
                self.unusable[new.name] = why
            else:
                self.hosts[new.name] = self._by_dpid[new.dpid] = new

    def _port(self, old, new):
        if old is not None:
            self.ports.pop(old.id, None)
            self._by_network.remove(old.network_id, old)
            self._by_bound.remove(old.bound_host, old)
            self._by_arriving.remove(old.migrating_to, old)
            _count(self._network_hosts, old.network_id, _network_places(old), -1)
            for g in old.security_groups:
                self._by_group.remove(g, old)
                _count(self._group_ips, g, member_addresses(old), -1)
                _count(self._group_hosts, g, placed(old), -1)
        if new is not None:
            self.ports[new.id] = new
            self._by_network.add(new.network_id, new)
            self._by_bound.add(new.bound_host, new)
            self._by_arriving.add(new.migrating_to, new)
            _count(self._network_hosts, new.network_id, _network_places(new), 1)
            for g in new.security_groups:
                self._by_group.add(g, new)
                _count(self._group_ips, g, member_addresses(new), 1)
                _count(self._group_hosts, g, placed(new), 1)

    def ports_named_by(self, host_name):
        """Every stored port bound to, or migrating to, a host of that name."""
        return self._by_bound.get(host_name) + self._by_arriving.get(host_name)

    def ports_in_group(self, group_id):
        """Every stored port naming the group."""
        return self._by_group.get(group_id)

    def group_hosts(self, group_id):
        """Names of the hosts where a stored port naming the group is bound or
        arriving (as recorded), set-like and live: use it within this state."""
        return self._group_hosts.get(group_id, {}).keys()

    def network_ports_any(self, network_id):
        """Every stored port naming the network, whether it exists or not."""
        return self._by_network.get(network_id)

    def network_ports(self, network_id):
        """The ports of the network (none if it does not exist), sorted by id."""
        return self._by_network.get(network_id) if network_id in self.networks else []

    def arriving_host(self, port):
        """The hypervisor a port is being migrated to (programmed ahead), or ''."""
        name = _arriving_at(port)
        return name if self._is_hypervisor(name) else ''

    def is_bound(self, port):
        return self._is_hypervisor(_bound_at(port))

    def _is_hypervisor(self, name):
        host = self.hosts.get(name)
        return host is not None and host.role == 'hypervisor'

    def hypervisors(self):
        return [h for h in self.hosts.values() if h.role == 'hypervisor']

    def tors(self):
        return [h for h in self.hosts.values() if h.role == 'tor']

    def host_by_dpid(self, dpid):
        return self._by_dpid.get(dpid)

    def local_ports(self, host_name):
        """The ports bound on the host (kept while they stay: every piece of a
        host asks; the list is shared, not to be changed)."""
        return self._host_memo(host_name, 'local', lambda: [
            p for p in self._by_bound.get(host_name)
            if p.network_id in self.networks and self.is_bound(p)])

    def arriving_ports(self, host_name):
        """Ports live-migrating to the host, as they will be bound there (at the
        requested port number): their rules are enforced before they arrive.
        Kept as :meth:`local_ports` is."""
        return self._host_memo(host_name, 'arriving', lambda: self._arriving(host_name))

    def _arriving(self, host_name):
        out = []
        for p in self._by_arriving.get(host_name):
            if p.network_id in self.networks and self.arriving_host(p):
                hit = self._arriving_copies.get(p.id)
                if hit is None or hit[0] is not p:     # the same copy while p stays
                    if len(self._arriving_copies) > 100_000:
                        self._arriving_copies.clear()
                    hit = self._arriving_copies[p.id] = (p, replace(
                        p, bound_host=p.migrating_to, ofport=p.migrating_ofport))
                out.append(hit[1])
        return out

    def networks_on(self, host_name, kind=None):
        """Networks (ids) with at least one port bound on (or arriving at) the
        host; only those of ``kind`` if given."""
        def build():
            ids = sorted({p.network_id for p in self.local_ports(host_name)
                          + self.arriving_ports(host_name)})
            return ids if kind is None else [n for n in ids if self.networks[n].kind == kind]
        return self._host_memo(host_name, ('networks-on', kind), build)

    def hosts_having(self, network_id):
        """Names of the hosts the network is on (a port bound there or arriving).
        From the counts kept as ports come and go, so a change costs the
        network's hosts, not a walk over its ports (that walk was 95 % of the
        reconcile after each REST write on a network of 1,000-4,000 ports)."""
        def build():
            if network_id not in self.networks:
                return set()
            return set(filter(self._is_hypervisor, self._network_hosts.get(network_id, ())))
        return self.memo(('hosts-having', network_id), build)

    def bound_ports(self, network_id):
        return [p for p in self.network_ports(network_id) if self.is_bound(p)]

    def hosts_of_network(self, network_id):
        """Names of hypervisors with a bound port in the network."""
        return sorted({p.bound_host for p in self.bound_ports(network_id)})

    def groups_of(self, port):
        """The port's security groups: none when it names none (a port created
        without groups names "default")."""
        return [self.groups[i] for i in port.security_groups if i in self.groups]

    def members(self, group_ids):
        """Addresses of the ports in any of the groups, sorted: their fixed IPs
        and their address pairs' addresses or prefixes ('10.0.0.0/24')."""
        return sorted(self.member_set(group_ids))

    def member_set(self, group_ids):
        """The same addresses, set-like and unsorted. Counted port by port as
        ports come and go, so a port joining a group of 20,000 costs its own
        addresses, not a walk over the group. One group's is a live view: use
        it within this state."""
        present = tuple(g for g in group_ids if g in self.groups)
        if len(present) == 1:
            return self._group_ips.get(present[0], {}).keys()
        return self.memo(('member-set', present), lambda: set().union(
            *(self._group_ips.get(g, {}) for g in present)))

    def zone_groups(self, zone):
        return [g.id for g in self.groups.values() if zone and g.zone == zone]

    def vlans_on(self, host_name):
        """VLAN ids of the VLAN networks with a port bound on the host."""
        return sorted(self.networks[n].segmentation_id for n in self.networks_on(host_name)
                      if self.networks[n].kind == 'vlan')
