"""A read-only snapshot of the desired state, indexed the way compilers ask.

Built once per reconcile from the store; compilers take it as their only input.
"""
from collections import defaultdict
from dataclasses import asdict, replace

from controller import schemas
from controller.model import ValidationError

_CHECKED = {}       # id(host record) -> (record, why it is unusable or '')


def unusable(host):
    """Why a stored host record cannot be compiled ('' if it can): records
    written by an older version, or by hand, are checked as a request would be.
    Records are frozen, so each is checked once."""
    hit = _CHECKED.get(id(host))
    if hit is None or hit[0] is not host:
        try:
            schemas.parse(schemas.HostCreate, asdict(host))
            why = ''
        except ValidationError as e:
            why = '%s: %s' % (e.field, e.message)
        if len(_CHECKED) > 100_000:
            _CHECKED.clear()
        hit = _CHECKED[id(host)] = (host, why)
    return hit[1]


class Inventory:
    def memo(self, key, build):
        """Compute once per snapshot what every host's compile asks for alike
        (a network's ARP responder, a port's MAC-to-VTEP entry)."""
        try:
            return self._memo[key]
        except KeyError:
            value = self._memo[key] = build()
            return value

    def __init__(self, hosts, networks, ports, groups=()):
        self._memo = {}
        self.unusable = {h.name: why for h in hosts for why in (unusable(h),) if why}
        hosts = [h for h in hosts if h.name not in self.unusable]
        self.hosts = {h.name: h for h in hosts}
        self._by_dpid = {h.dpid: h for h in hosts}
        self.networks = {n.id: n for n in networks}
        self.ports = {p.id: p for p in ports}
        self.groups = {g.id: g for g in groups}
        self.ports_by_network = defaultdict(list)
        self.ports_by_host = defaultdict(list)
        self.arriving_by_host = defaultdict(list)
        for p in sorted(ports, key=lambda p: p.id):
            if p.network_id not in self.networks:
                continue
            self.ports_by_network[p.network_id].append(p)
            if self.is_bound(p):
                self.ports_by_host[p.bound_host].append(p)
            if self.arriving_host(p):
                self.arriving_by_host[p.migrating_to].append(
                    replace(p, bound_host=p.migrating_to, ofport=p.migrating_ofport))

    @classmethod
    def from_store(cls, store):
        return cls(store.list('host'), store.list('network'), store.list('port'),
                   store.list('security_group'))

    def arriving_host(self, port):
        """The hypervisor a port is being migrated to (programmed ahead), or ''."""
        host = self.hosts.get(port.migrating_to)
        moving = (port.migrating_ofport and port.bound_host != port.migrating_to
                  and host is not None and host.role == 'hypervisor')
        return port.migrating_to if moving else ''

    def is_bound(self, port):
        host = self.hosts.get(port.bound_host)
        return bool(host and host.role == 'hypervisor' and port.ofport > 0)

    def hypervisors(self):
        return [h for h in self.hosts.values() if h.role == 'hypervisor']

    def tors(self):
        return [h for h in self.hosts.values() if h.role == 'tor']

    def host_by_dpid(self, dpid):
        return self._by_dpid.get(dpid)

    def local_ports(self, host_name):
        return self.ports_by_host.get(host_name, [])

    def arriving_ports(self, host_name):
        """Ports live-migrating to the host, as they will be bound there (at the
        requested port number): their rules are enforced before they arrive."""
        return self.arriving_by_host.get(host_name, [])

    def networks_on(self, host_name, kind=None):
        """Networks (ids) with at least one port bound on (or arriving at) the
        host; only those of ``kind`` if given."""
        ids = sorted({p.network_id for p in self.local_ports(host_name)
                      + self.arriving_ports(host_name)})
        return ids if kind is None else [n for n in ids if self.networks[n].kind == kind]

    def bound_ports(self, network_id):
        return [p for p in self.ports_by_network.get(network_id, []) if self.is_bound(p)]

    def hosts_of_network(self, network_id):
        """Names of hypervisors with a bound port in the network."""
        return sorted({p.bound_host for p in self.bound_ports(network_id)})

    def groups_of(self, port):
        """The port's security groups: none when it names none (a port created
        without groups names "default")."""
        return [self.groups[i] for i in port.security_groups if i in self.groups]

    def members(self, group_ids):
        """IPv4 addresses of the ports in any of the groups (from one pass over
        the ports per snapshot: each group's rules ask for them on every host)."""
        by_group = self.memo('ips by group', self._ips_by_group)
        ips = set()
        for group_id in group_ids:
            ips.update(by_group.get(group_id, ()))
        return sorted(ips)

    def _ips_by_group(self):
        by_group = defaultdict(set)
        for port in self.ports.values():
            for group in self.groups_of(port):
                by_group[group.id].update(port.ips)
        return by_group

    def zone_groups(self, zone):
        return [g.id for g in self.groups.values() if zone and g.zone == zone]

    def vlans_on(self, host_name):
        """VLAN ids of the VLAN networks with a port bound on the host."""
        return sorted(self.networks[n].segmentation_id for n in self.networks_on(host_name)
                      if self.networks[n].kind == 'vlan')
