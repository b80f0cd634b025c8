"""The reconcile worker: store changes in, each switch's delta out.

Every store change wakes one worker (a burst of API calls costs one
reconcile), which applies the changes to its live inventory, works out which
pieces of which switches they can alter (:mod:`controller.compile.dirty`), recompiles
only those (:func:`controller.compile.pieces.compile_pieces`, through the loaded
features) and hands them to the :class:`~controller.switch.ofctrl.OfCtrl`, which sends
what changed. A switch (re)connected, or every switch after a feature loads,
is compiled whole and diffed against the table read back from it.
"""
import gc
import logging
import time

from controller.compile.host import compile_host
from controller.compile.dirty import dirty
from controller.state.inventory import Inventory
from controller.state.model import ValidationError
from controller.compile.pieces import compile_pieces
from controller.ryu_facade import hub

LOG = logging.getLogger('vnetsec')
FREEZE_AFTER = 1000     # flow mods one reconcile sends that make its objects long-lived


class Engine:
    """``service``: binds the ports found plugged; ``sightings``: where the
    switches report devices; ``mastership``: which switches this controller
    programs; ``metrics``: how long reconciles take."""

    def __init__(self, store, service, ofctrl, mastership, sightings, metrics):
        self.store, self.service, self.ofctrl = store, service, ofctrl
        self.mastership, self.sightings, self.metrics = mastership, sightings, metrics
        self.features = []      # registered by the apps, in the order they load
        self.inventory = Inventory.from_store(store)    # kept up to date by changes
        self._changes, self._everything = [], True  # store changes since a reconcile
        self._taken = 0         # the count of changes the running reconcile took in
        self._new_ports = set() # ports created or changed since: bound if already plugged
        self._arriving, self._leaving = set(), set()  # hosts ports moved to / from
        self._dirty = hub.Event()
        self._busy = False
        store.watch(self.on_change)
        self._settle()          # the records just read stay: no collection walks them

    def register(self, feature):
        """A feature joins: its flows go into every switch's bundle, its network
        kinds become available."""
        if feature.name in self.loaded():
            return False
        self.features.append(feature)
        self.service.kinds.update(feature.kinds)
        self._everything = True
        self._dirty.set()
        return True

    def loaded(self):
        return [f.name for f in self.features]

    def desired_flows(self, host):
        """What ``host``'s switch should hold, compiled now from the store."""
        inv = Inventory.from_store(self.store)
        if host.name not in inv.hosts:
            raise ValidationError('name', 'host %r cannot be compiled: %s'
                                  % (host.name, inv.unusable.get(host.name)), 409)
        return compile_host(inv, host, self.features)

    @property
    def idle(self):
        return not (self._busy or self._dirty.is_set())

    def wake(self):
        """Reconcile soon (a switch's table was read back, a switch to program)."""
        self._dirty.set()

    def on_change(self, changes):
        """A store watcher: note what changed; the worker turns it into pieces."""
        self._changes += changes
        self.ofctrl.waiters.changed(len(changes))
        for kind, key, old, new in changes:
            if kind != 'port':
                continue
            if new is not None:
                self._arriving.update({new.bound_host, new.migrating_to} - {''})
                if not new.bound_host:
                    self._new_ports.add(key)
            if old is not None and old.bound_host != getattr(new, 'bound_host', ''):
                self._leaving.add(old.bound_host)
        self._dirty.set()

    def run(self):
        """The worker: one reconcile per wake-up, for ever."""
        while True:
            self._dirty.wait()
            self._busy = True
            self._dirty.clear()
            self._reconcile_once()

    def _bind_plugged(self):
        """Bind the ports created or changed since the last look whose device a
        switch we bind on already reports (a port created on another replica, a
        device renamed): before the reconcile, whose changes then include it."""
        new_ports, self._new_ports = self._new_ports, set()
        if new_ports:
            self.service.bind_observed(self.sightings.mastered(), new_ports)

    def _reconcile_once(self):
        self._bind_plugged()
        mods = self.ofctrl.reconciler.stats['flow_mods']
        try:
            with self.metrics.reconcile_seconds.time():
                self.reconcile()
        except Exception:                          # keep the loop alive, loudly
            LOG.exception('reconcile failed')
        finally:
            self._busy = False
            self.ofctrl.waiters.reconciled = self._taken
            self.ofctrl.check_applied()
        if self.ofctrl.reconciler.stats['flow_mods'] - mods >= FREEZE_AFTER:
            self._settle()

    def _settle(self):
        """Leave what exists now (the records, the compiled flows of every switch:
        millions of objects at a thousand hypervisors) out of Python's cycle
        collection: a full collection walks every tracked object and stops the
        whole controller meanwhile (178 ms measured with 1,000 VLAN ports), in
        the middle of whichever bind comes along. They are freed by
        their reference counts as before; only cycles among them would stay.
        Called after each switch compiled whole (at once: a reconcile of a
        thousand switches left to its end had every full collection walk the
        flows compiled so far again, up to 0.65 s each, and stalled the
        event loop) and after a large change, not after each small one
        (``gc.freeze`` moves lists: it costs nothing)."""
        gc.freeze()

    def reconcile(self):
        """Recompile what the changes since the last run can alter, piece by
        piece (:mod:`controller.compile.pieces`, :mod:`controller.compile.dirty`), and send each
        switch its delta: first where ports arrive (written at once), then the
        ToRs and the other hypervisors, last where ports left (flows left there
        a moment longer are never used). A switch (re)connected, or a feature
        loaded, gets a full compile diffed against what it holds. The others'
        bundles are written together after the loop: switches woken one by one
        would compete with the controller for the CPU while it still has
        bundles to build."""
        changes, self._changes = self._changes, []
        self._taken = self.ofctrl.waiters.changes
        self.inventory.apply(changes)
        inv = self.inventory
        marked = dirty(inv, changes, self.features)
        ofctrl = self.ofctrl
        if not ofctrl.datapaths:               # nothing to program: a full compile later
            return
        everything, self._everything = self._everything, False
        arriving, leaving = self._arriving, self._leaving - self._arriving
        self._arriving, self._leaving = set(), set()
        order = []
        named = None if everything else _named(inv, marked)
        for dpid, dp in list(ofctrl.datapaths.items()):
            if named is not None and dpid not in named and not ofctrl.needs_full(dpid):
                continue                    # nothing of it marked (most of 1,000)
            host = inv.host_by_dpid(dpid)
            if host is None or not ofctrl.is_synced(dpid):
                continue
            if not self.mastership.is_master(dpid):
                ofctrl.skipped(dpid)
                continue
            full = everything or ofctrl.needs_full(dpid)
            if host.role == 'tor':
                scopes = None if full else marked.of_tors()
                if scopes is None or scopes:
                    order.append((1, host, dp, scopes, full))
                continue
            scopes = None if full else marked.of(host.name)
            if scopes is None or scopes:
                rank = 0 if host.name in arriving else 3 if host.name in leaving else 2
                order.append((rank, host, dp, scopes, full))
        for rank, host, dp, scopes, full in sorted(order, key=lambda item: item[0]):
            if self.mastership.shared:
                hub.sleep(0)        # the lease renewal must not wait for a long compile
                if not self.mastership.is_master(dp.id):
                    ofctrl.skipped(dp.id)
                    continue
            self._program(host, dp, scopes, full, rank)

    def _program(self, host, dp, scopes, full, rank):
        """Compile ``scopes`` of a switch (None: all) and let the ofctrl send
        what changed."""
        started = time.perf_counter()
        try:
            pieces = compile_pieces(self.inventory, host, self.features, scopes)
        except Exception as e:                 # one bad record must not stop the rest
            LOG.exception('compiling the flows of %s failed', host.name)
            self.ofctrl.cannot_compile(dp.id, 'cannot compile its flows: %s: %s'
                                       % (type(e).__name__, e))
            return
        finally:
            self.ofctrl.reconciler.stats['compile_seconds'] += time.perf_counter() - started
        self.ofctrl.program(host, dp, pieces, scopes, full, rank)
        if full:
            self._settle()



def _named(inv, marked):
    """The dpids of the switches the marks name (None: every switch)."""
    names = marked.hosts()
    if names is None:
        return None
    dpids = {inv.hosts[n].dpid for n in names if n in inv.hosts}
    if marked.of_tors() != set():           # None (whole) or some scopes
        dpids |= {t.dpid for t in inv.tors()}
    return dpids
