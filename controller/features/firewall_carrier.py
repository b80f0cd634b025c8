"""Carries a migrating VM's sessions from its source hypervisor to its
destination (the mechanism is described in :mod:`controller.features.firewall_sessions`).

When: a planned or live move is announced (the destination is programmed ahead
for the arriving vNIC: its sessions are carried then, so that they are in place
at the switch-over), and whenever the vNIC is found bound on another host
(every kind of move, unplanned included: the source's conntrack entries outlive
the vNIC's port). At that second time, sessions opened since the announcement
are carried too.

It reads the source's conntrack zone of the vNIC (its OpenFlow port number
there) through that hypervisor's agent, and sends the destination timed flows
in the ``sessions`` cookie space (through the reconciler, which otherwise
leaves that space alone).

Zones start empty: a zone a vNIC leaves (unplugged, moved, its port deleted)
is flushed on that switch once its sessions have been read, so the next vNIC
given that port number finds none of them. A vNIC that vanished without
appearing elsewhere yet keeps its zone for ``grace`` seconds (it may be moving,
unplanned); another vNIC bound to that port number meanwhile gets it flushed
first.
"""
import logging
import time

from controller.features import firewall_sessions as sessions
from controller.switch import agent_client
from controller.compile.pipeline import rule_mark
from controller.ryu_facade import hub

LOG = logging.getLogger('vnetsec.sessions')


def carries(old, new, left):
    """What a port record's change calls for: [(port id, source, its ofport
    there, destination, ofport there)]. ``left`` {port id: (host, ofport)}
    remembers where an unbound port was last bound (its vNIC vanished before
    it appeared elsewhere)."""
    if new is None:
        if old is not None:
            left.pop(old.id, None)
        return []
    jobs = []
    if old is not None and old.bound_host and not new.bound_host:
        left[new.id] = (old.bound_host, old.ofport)
    if new.migrating_to and new.bound_host and new.migrating_to != getattr(
            old, 'migrating_to', ''):
        jobs.append((new.id, new.bound_host, new.ofport, new.migrating_to,
                     new.migrating_ofport))
    if old is not None and new.bound_host and old.bound_host != new.bound_host:
        source, zone = ((old.bound_host, old.ofport) if old.bound_host
                        else left.pop(new.id, ('', 0)))
        if source and source != new.bound_host:
            jobs.append((new.id, source, zone, new.bound_host, new.ofport))
    return jobs


def freed_zone(old, new):
    """(host, zone) a port record's change leaves: its vNIC was bound there with
    that OpenFlow port number (its conntrack zone) and is not any more."""
    if old is None or not old.bound_host:
        return None
    if new is not None and (new.bound_host, new.ofport) == (old.bound_host, old.ofport):
        return None
    return (old.bound_host, old.ofport)


class SessionCarrier:
    """``inventory``: the records as compiled (hosts, groups); ``store``: the
    ports as they are now; ``ofctrl``: the switches (it sends only to those
    this controller masters); ``timeline``: where each carry and flush is told."""

    def __init__(self, inventory, store, ofctrl, timeline, enabled, grace, agent_secret,
                 tls=None):
        self.inventory, self.store, self.ofctrl = inventory, store, ofctrl
        self.timeline = timeline
        self.enabled = enabled
        self.grace = grace
        self.agent_secret = agent_secret    # each agent answers its own token of it
        self.tls = tls                      # an SSL context: agents speak HTTPS
        self._left = {}         # port id -> (host, ofport) it was last bound on, while unbound
        self._kept = {}         # (host, zone) left by a vanished vNIC -> its port id

    def on_change(self, changes):
        """A store watcher: the ports' changes."""
        for kind, _key, old, new in changes:
            if kind == 'port':
                self.port_changed(old, new)

    def port_changed(self, old, new):
        """A port record changed (a store watch event): carry its sessions if it
        is moving or has moved; flush the zones it left once they are read."""
        jobs = carries(old, new, self._left) if self.enabled else []
        here = new.bound_host if new is not None else ''
        if here:
            kept = self._kept.pop((here, new.ofport), None)
            if kept is not None and kept != new.id:       # its port number, reused
                self._left.pop(kept, None)
                self.flush(here, new.ofport)
        moved_from = set()
        for job in jobs:
            moved = job[3] == here      # at its destination: the source's zone is left
            if moved:
                moved_from.add((job[1], job[2]))
                self._kept.pop((job[1], job[2]), None)
            hub.spawn(self.carry, *job, flush=moved)
        if here or new is None:         # bound again, or gone: no zone of it is kept
            for zone in [z for z, p in self._kept.items() if p == (new or old).id]:
                del self._kept[zone]
                self.flush(*zone)
        freed = freed_zone(old, new)
        if freed is None or freed in moved_from:
            return
        if self.enabled and new is not None and not here:
            self._kept[freed] = new.id                  # it may appear elsewhere
            hub.spawn_after(self.grace, self._flush_kept, freed, new.id)
        else:
            self.flush(*freed)

    def _flush_kept(self, zone, port_id):
        if self._kept.get(zone) == port_id:
            del self._kept[zone]
            self.flush(*zone)

    def flush(self, host_name, zone):
        """Empty ``zone`` on ``host_name``'s switch (when this replica masters it)."""
        host = self.inventory.hosts.get(host_name)
        if host is None or not self.ofctrl.flush_zone(host.dpid, zone):
            return
        LOG.info('%s: conntrack zone %d flushed (its vNIC left)', host_name, zone)
        self.timeline.append({'time': time.time(), 'event': 'zone',
                              'host': host_name, 'zone': zone})

    def carry(self, port_id, source, zone, dest, ofport, flush=False):
        """Read ``source``'s conntrack zone ``zone`` (the port's vNIC was there),
        install the admissions of the VM's sessions on ``dest`` for the vNIC at
        ``ofport``; with ``flush``, then empty that zone. Returns the sessions
        carried."""
        try:
            return self._carry(port_id, source, zone, dest, ofport)
        finally:
            if flush:
                self.flush(source, zone)

    def _carry(self, port_id, source, zone, dest, ofport):
        started = time.time()
        try:
            inv = self.inventory        # networks, groups, hosts: as compiled
            port = self.store.get('port', port_id)
            host, dst = inv.hosts.get(source), inv.hosts.get(dest)
            if (port is None or dst is None or host is None or not host.agent
                    or dst.dpid not in self.ofctrl.datapaths
                    or not self.ofctrl.is_master(dst.dpid)):
                return []       # (with replicas, the destination's master carries)
            marks = {rule_mark(r) for g in inv.groups_of(port) for r in g.rules}
            entries = agent_client.conntrack(
                host.agent, zone, agent_client.agent_token(self.agent_secret, host.name),
                tls=self.tls)
            carried = sessions.from_conntrack(entries, port, marks)
            if carried:
                flows = [f for s in carried for f in sessions.carried_flows(s, ofport)]
                self.ofctrl.add_unmanaged(dst.dpid, flows, sessions.cookie(sessions.CARRIED),
                                          self.grace)
            LOG.info('%s: carried %d sessions from %s (zone %d) to %s (port %d) in %.3f s',
                     port.name, len(carried), source, zone, dest, ofport,
                     time.time() - started)
            self.timeline.append({'time': time.time(), 'event': 'sessions',
                                  'port': port.name, 'source': source, 'host': dest,
                                  'carried': len(carried)})
            return carried
        except Exception:                      # a move goes on without its sessions
            LOG.exception('carrying the sessions of port %s from %s to %s failed',
                          port_id, source, dest)
            return []


def attach(parts):
    """The firewall's attach hook (:class:`controller.compile.feature.Feature`):
    a carrier over the controller's parts, watching the store."""
    conf = parts.conf
    carrier = SessionCarrier(parts.inventory, parts.store, parts.ofctrl, parts.timeline,
                             conf.carry_sessions, conf.session_grace, parts.agent_secret,
                             parts.agent_tls)
    parts.store.watch(carrier.on_change)
    return carrier
