"""Carries a migrating VM's sessions from its source switch to its destination
(the mechanism is described in :mod:`controller.sessions`).

When: a planned or live move is announced (the destination is programmed ahead
for the arriving vNIC: its sessions are carried then, so that they are in place
at the switch-over), and whenever the vNIC is found bound on another host
(every kind of move, unplanned included: the source's records outlive the
vNIC's port). At that second time, sessions opened since the announcement are
carried too, and the VM's records are removed from the source.

It only reads switches (flow statistics) and sends them timed flows in the
``sessions`` cookie space, which the reconciler leaves alone.
"""
import logging
import time

from controller import sessions
from controller.features.firewall import rule_mark
from controller.ryu_facade import hub

LOG = logging.getLogger('vnetsec.sessions')


def carries(old, new, left):
    """What a port record's change calls for: [(port id, source, destination,
    ofport there, moved)]. ``left`` {port id: host} remembers where an unbound
    port was last bound (its vNIC vanished before it appeared elsewhere)."""
    if new is None:
        if old is not None:
            left.pop(old.id, None)
        return []
    jobs = []
    if old is not None and old.bound_host and not new.bound_host:
        left[new.id] = old.bound_host
    if new.migrating_to and new.bound_host and new.migrating_to != getattr(
            old, 'migrating_to', ''):
        jobs.append((new.id, new.bound_host, new.migrating_to, new.migrating_ofport, False))
    if old is not None and new.bound_host and old.bound_host != new.bound_host:
        source = old.bound_host or left.pop(new.id, '')
        if source and source != new.bound_host:
            jobs.append((new.id, source, new.bound_host, new.ofport, True))
    return jobs


class SessionCarrier:
    def __init__(self, core, enabled, grace):
        self.core = core
        self.enabled = enabled
        self.grace = grace
        self._left = {}         # port id -> the host it was last bound on, while unbound

    def port_changed(self, old, new):
        """A port record changed (a store watch event): carry its sessions if it
        is moving or has moved."""
        if self.enabled:
            for job in carries(old, new, self._left):
                hub.spawn(self.carry, *job)

    def carry(self, port_id, source, dest, ofport, moved):
        """Read ``source``'s records of the port's VM, install their admissions on
        ``dest`` for the vNIC at ``ofport``; ``moved``: the VM has left the
        source, whose records of it go. Returns the sessions carried."""
        started = time.time()
        try:
            inv = self.core.inventory   # networks, groups, hosts: as compiled
            port = self.core.store.get('port', port_id)
            network = inv.networks.get(port.network_id) if port else None
            src_dp, dst_dp = (self._datapath(inv, name) for name in (source, dest))
            if network is None or src_dp is None or dst_dp is None:
                return []
            marks = {rule_mark(r) for g in inv.groups_of(port) for r in g.rules}
            stats = [stat for _, stat in self.core.flow_stats(
                [src_dp], sessions.OWNER_COOKIE, sessions.OWNER_MASK)]
            carried = sessions.of_port(sessions.parse(stats), port, network.nid, marks)
            if carried:
                flows = [f for s in carried for f in sessions.carried_flows(s, ofport)]
                reconciler = self.core.reconciler
                reconciler.add_unmanaged(dst_dp, flows, sessions.cookie(sessions.CARRIED),
                                         self.grace)
                if moved:
                    reconciler.delete_read(src_dp, sessions.records_of(stats, carried))
            LOG.info('%s: carried %d sessions from %s to %s (port %d) in %.3f s', port.name,
                     len(carried), source, dest, ofport, time.time() - started)
            self.core.timeline.append({'time': time.time(), 'event': 'sessions',
                                       'port': port.name, 'source': source, 'host': dest,
                                       'carried': len(carried)})
            return carried
        except Exception:                      # a move goes on without its sessions
            LOG.exception('carrying the sessions of port %s from %s to %s failed',
                          port_id, source, dest)
            return []

    def _datapath(self, inv, host_name):
        host = inv.hosts.get(host_name)
        return self.core.datapaths.get(host.dpid) if host is not None else None
