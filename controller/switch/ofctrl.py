"""The one owner of the switch connections, as OVN's ``ofctrl.c`` is.

It holds, per switch: the datapath, the flows it should hold (their pieces,
:class:`controller.compile.desired.DesiredFlows`) and those it holds (the reconciler's),
the bundles sent and confirmed, whether it refused its flows, and whether it has
held its desired flows since its last sync. It answers the writes waiting for
their switches (``?wait=applied``), reads flow statistics, and sends what the
reconciler keeps no account of (carried sessions, zone flushes). Everything
else (what to compile, when; the Ryu events) is the core's. Only its reconciler
writes to switches.
"""
import logging
import time

from controller.constants import LOG_METER
from controller.switch.applied import AppliedWaiters
from controller.compile.desired import DesiredFlows
from controller.state.inventory import unusable
from controller.switch.reconciler import Reconciler
from controller.ryu_facade import hub

LOG = logging.getLogger('vnetsec')


class OfCtrl:
    """``store``: to name switches by their host records; ``is_master(dpid)``:
    whether this controller programs that switch (always, without replicas);
    ``timeline``: where what is sent and confirmed is told."""

    def __init__(self, store, is_master, timeline, log_meter=None):
        self.store = store
        self.log_meter = log_meter  # (rate, burst): the controller meter set on each switch
        self.is_master = is_master
        self.timeline = timeline
        self.reconciler = Reconciler()
        self.datapaths = {}     # dpid -> Ryu datapath, while connected
        self.desired = {}       # dpid -> its DesiredFlows (pieces) since its last full compile
        self.applied = set()    # dpids holding their desired flows since their last sync
        self.confirmed = {}     # dpid -> id of the last bundle the switch committed
        self.failing = {}       # dpid -> (why, fingerprint of the flows it refused or None)
        self.sent = {}          # dpid -> fingerprint of the flows last sent
        self.waiters = AppliedWaiters(hub.Event)    # writes with ?wait=applied
        self._stat_waiters = {} # xid -> (event, replies list)

    # ---- connections -----------------------------------------------------------
    def connected(self, dp):
        """A switch (re)connected: read its table (nothing is flushed) if we
        program it; another replica's switch is read when it becomes ours."""
        self.datapaths[dp.id] = dp
        if self.is_master(dp.id):
            self.resync(dp)

    def released(self, dpid):
        """Another replica programs the switch now: keep nothing of it but its
        connection (its table is read again if it comes back to us)."""
        for held in (self.desired, self.failing, self.sent, self.confirmed,
                     self.reconciler.last_bundle):
            held.pop(dpid, None)
        self.applied.discard(dpid)
        self.reconciler.forget(dpid)
        self.check_applied()

    def resync(self, dp):
        """Read the switch's table again; the next reconcile compiles it whole
        and sends the difference (a new master, a switch that refused flows)."""
        self.applied.discard(dp.id)
        self.failing.pop(dp.id, None)
        if self.log_meter and self.is_master(dp.id):
            self.reconciler.set_meter(dp, LOG_METER, *self.log_meter)
        self.reconciler.start_sync(dp)

    def disconnected(self, dp):
        """True if ``dp`` was the connection we held for its switch."""
        if dp.id is None or self.datapaths.get(dp.id) is not dp:
            return False
        del self.datapaths[dp.id]
        self.applied.discard(dp.id)
        self.reconciler.forget(dp.id)
        self.check_applied()
        return True

    def is_synced(self, dpid):
        return self.reconciler.is_synced(dpid)

    def needs_full(self, dpid):
        """Whether the switch must be compiled whole (not holding its flows since
        its last sync)."""
        return dpid not in self.applied

    def unprogrammed(self):
        """Switches we master, whose flows we have read, that no reconcile has
        programmed since (switches that refused their flows wait for a change)."""
        return [d for d in self.datapaths if d not in self.applied
                and d not in self.failing and self.reconciler.is_synced(d)
                and self.is_master(d)]

    # ---- programming -------------------------------------------------------------
    def program(self, host, dp, pieces, scopes, full, rank=2):
        """Send a switch what its recompiled ``pieces`` change (``scopes``: what
        was recompiled, None: everything); a full compile is diffed against its
        whole table. ``rank`` 0: a switch where ports arrive, written at once."""
        if full:
            desired = self.desired[dp.id] = DesiredFlows()
        else:
            desired = self.desired[dp.id]
        removed, added = desired.update(pieces, scopes)
        fingerprint = desired.fingerprint
        failed = self.failing.get(dp.id)
        if full and failed and failed[1] == fingerprint:
            return                             # refused as is: wait for a change
        self.failing.pop(dp.id, None)
        try:
            self.sent[dp.id] = fingerprint
            if full:
                sent = self.reconciler.apply(dp, desired.flows.values())
            else:
                sent = self.reconciler.apply_delta(dp, removed, added)
            if sent:
                self.timeline.append({'time': time.time(), 'event': 'sent',
                                      'host': host.name, 'flows': sent})
                if rank == 0:
                    hub.sleep(0)    # its socket writes now: it applies while we go on
            if self.reconciler.is_synced(dp.id):    # else its table is read again: not yet
                self.applied.add(dp.id)
        except Exception as e:                 # one bad switch must not stop the rest
            LOG.exception('reconcile of %s failed', host.name)
            self.applied.discard(dp.id)
            self.failing[dp.id] = ('cannot send its flows: %s: %s'
                                   % (type(e).__name__, e), fingerprint)

    def skipped(self, dpid):
        """A change for a switch whose table we hold went unsent (our mastership
        not surely valid for a moment: fenced, a late lease renewal): compiled
        whole, and diffed, once we program it again."""
        self.applied.discard(dpid)

    def cannot_compile(self, dpid, why):
        """Its flows could not be compiled: said in its status; compiled whole
        at the next change."""
        self.failing[dpid] = (why, None)
        self.applied.discard(dpid)

    def add_unmanaged(self, dpid, flows, cookie, idle_timeout):
        """Flows no compile produces (carried sessions), ending by their idle timeout."""
        dp = self.datapaths.get(dpid)
        if dp is not None:
            self.reconciler.add_unmanaged(dp, flows, cookie, idle_timeout)

    def flush_zone(self, dpid, zone):
        """Empty a conntrack zone of a switch we master; False if we could not."""
        dp = self.datapaths.get(dpid)
        if dp is None or not self.is_master(dpid):
            return False
        self.reconciler.flush_zone(dp, zone)
        return True

    # ---- what the switches answer -------------------------------------------------
    def on_flow_stats(self, msg):
        """A flow-stats reply: for a reader of statistics, or a table being read
        back. True once a switch's table is read (it wants a reconcile)."""
        more = msg.flags & msg.datapath.ofproto.OFPMPF_REPLY_MORE
        waiter = self._stat_waiters.get(msg.xid)
        if waiter is not None:
            waiter[1].extend((msg.datapath.id, stat) for stat in msg.body)
            if not more:
                waiter[0].set()
            return False
        if not self.reconciler.on_flow_stats(msg.datapath, msg.body, more, msg.xid):
            return False
        # the table read is the truth: every bundle sent before the request (none
        # goes while it is read) was applied or refused by then, on one connection
        # in order; one refused as a slave sends no commit reply and would keep
        # the switch unconfirmed for good if its flows need no resending
        dpid = msg.datapath.id
        self.confirmed[dpid] = max(self.confirmed.get(dpid, 0),
                                   self.reconciler.last_bundle.get(dpid, 0))
        return True

    def on_stats_reply(self, msg):
        """A statistics reply someone waits for (meter statistics)."""
        waiter = self._stat_waiters.get(msg.xid)
        if waiter is not None:
            waiter[1].extend((msg.datapath.id, stat) for stat in msg.body)
            if not msg.flags & msg.datapath.ofproto.OFPMPF_REPLY_MORE:
                waiter[0].set()

    def on_commit(self, dpid, bundle_id):
        """The switch applied a bundle: the moment its flows are installed.
        Returns the seconds since it was sent (None if not known)."""
        self.confirmed[dpid] = bundle_id
        self.check_applied()
        sent = self.reconciler.sent_at.pop(bundle_id, None)
        host = self._host(dpid)
        self.timeline.append({'time': time.time(), 'event': 'commit',
                              'host': host.name if host else None, 'bundle': bundle_id})
        return None if sent is None else time.monotonic() - sent

    def refused(self, dp, why, error):
        """The switch refused something we sent: a bundle is all or nothing, so it
        holds none of that change. Say which switch and why in the status, read
        its table back, and send it flows again only once they differ from the
        ones it refused (the records changed). ``error``: the error's name."""
        before = self.failing.get(dp.id)
        if before and before[1] == self.sent.get(dp.id) and why not in before[0]:
            why = before[0] + '; ' + error
        self.failing[dp.id] = (why, self.sent.get(dp.id))
        self.check_applied()
        if self.datapaths.get(dp.id) is dp and self.reconciler.is_synced(dp.id):
            self.applied.discard(dp.id)
            self.reconciler.start_sync(dp)

    # ---- writes waiting for their switches ------------------------------------------
    def check_applied(self):
        """Wake the writes waiting for the switches we program (with replicas, a
        switch another replica masters now is that one's to program). Called on
        every commit reply: nothing to build while no write waits."""
        if not self.waiters.waiting:
            return
        self.waiters.check(self.reconciler.last_bundle, self.confirmed,
                           {d: f[0] for d, f in self.failing.items()},
                           {d for d in self.datapaths if self.is_master(d)})

    def wait_applied(self, timeout):
        """Wait until every change noted so far is on the switches we program
        (:mod:`controller.switch.applied`). Returns (names of the switches not confirmed
        in time, or None if not even compiled; {name: why} of those that refused
        their flows)."""
        pending, failing = self.waiters.wait(timeout, self.check_applied)
        return (None if pending is None else [self._name(d) for d in pending],
                {self._name(d): why for d, why in failing.items()})

    # ---- statistics and status ----------------------------------------------------
    def flow_stats(self, dpids, cookie, mask, timeout=2.0):
        """[(dpid, stat)] of the flows whose cookie matches under ``mask`` on the
        switches ``dpids``, asked of all at once, answered within ``timeout``."""
        return self._ask(dpids, lambda dp, expect: self.reconciler.ask_flow_stats(
            dp, cookie, mask, expect), timeout)

    def meter_stats(self, meter_id, timeout=2.0):
        """[(dpid, packets its band dropped)] of a meter on the switches we master."""
        dpids = [d for d in self.datapaths if self.is_master(d)]
        replies = self._ask(dpids, lambda dp, expect: self.reconciler.ask_meter_stats(
            dp, meter_id, expect), timeout)
        return [(dpid, sum(b.packet_band_count for b in stat.band_stats))
                for dpid, stat in replies if stat.meter_id == meter_id]

    def _ask(self, dpids, ask, timeout):
        """The replies to ``ask(dp, expect)`` of each switch, within ``timeout``."""
        waiters = []
        for dpid in dpids:
            dp = self.datapaths.get(dpid)
            if dp is None:
                continue

            def expect(xid, waiter=(hub.Event(), [])):
                self._stat_waiters[xid] = waiter
                waiters.append((xid, waiter))
            ask(dp, expect)
        replies = []
        deadline = time.time() + timeout
        for xid, (event, got) in waiters:
            event.wait(max(0.0, deadline - time.time()))
            del self._stat_waiters[xid]
            replies += got
        return replies

    def desired_flows(self):
        """{dpid: its desired flows} as last compiled."""
        return {dpid: d.flows.values() for dpid, d in self.desired.items()}

    def installed_count(self, dpid):
        return len(self.reconciler.installed.get(dpid, ()))

    def switches(self):
        """{dpid as 16 hex digits: {host, synced, failing, waiting, compiled}} of the
        connected switches; ``waiting``: what a switch not synced here waits for;
        ``compiled``: we hold its compiled flows (with replicas, only where we are master)."""
        stored = {h.dpid: h for h in self.store.list('host')}   # polled often: no snapshot
        out = {}
        for dpid in self.datapaths:
            host = stored.get(dpid)
            failing = self.failing.get(dpid, ('',))[0]
            why_unusable = unusable(host) if host else ''
            if why_unusable:
                failing = 'its host record cannot be used: ' + why_unusable
            waiting = self._waiting(dpid)
            out['%016x' % dpid] = {'host': host.name if host else None,
                                   'synced': not waiting and not failing,
                                   'failing': failing or None, 'waiting': waiting,
                                   'compiled': dpid in self.desired}
        return out

    def _waiting(self, dpid):
        """What keeps a switch from being synced by us ('': nothing)."""
        sent, confirmed = self.reconciler.last_bundle.get(dpid, 0), self.confirmed.get(dpid, 0)
        if not self.is_master(dpid):
            return 'not its master'
        if not self.reconciler.is_synced(dpid):
            return 'its flow table, asked %.1f s ago' % self.reconciler.reading_for(dpid)
        if dpid not in self.applied:
            return 'a reconcile since its flow table was read'
        if confirmed < sent:
            return 'the commit of bundle %d (last confirmed: %d)' % (sent, confirmed)
        return ''

    def _host(self, dpid):
        keys = self.store.find('host', 'dpid', dpid)     # every port event asks
        return self.store.get('host', min(keys)) if keys else None

    def _name(self, dpid):
        host = self._host(dpid)
        return host.name if host else '%#x' % dpid
