"""The only code that changes switches.

Per datapath it keeps the cookies of the flows installed there. On (re)connect
it reads the switch's flow table (nothing is flushed, so traffic keeps flowing
while the controller restarts); afterwards each ``apply(desired)`` sends only the
delta, inside one atomic OpenFlow bundle. A flow's cookie is a hash of the whole
flow (see :mod:`controller.compile.flows`), so diffing is a set difference of cookies.

It talks to switches only through the datapath objects Ryu hands over
(``dp.ofproto`` / ``dp.ofproto_parser``), so it needs no ``ryu`` import and unit
tests drive it with a fake datapath.
"""
import itertools
import logging
import struct
import time

from controller.compile import pipeline
from controller.compile.actions import encode as to_actions
from controller.constants import READ_STALE_SECONDS, READS_AT_ONCE
from controller.switch.encoder import Encoder, to_match

LOG = logging.getLogger(__name__)
NX_VENDOR_ID, NXT_CT_FLUSH_ZONE = 0x00002320, 29    # as ovs-ofctl ct-flush-zone sends it


class _Installed:
    """A flow read back from a switch: enough to delete it exactly."""

    def __init__(self, cookie, table):
        self.cookie, self.table = cookie, table


def _held(cookie, flow):
    """A table's entry as a flow: a read-back flow is held as its table id
    alone (an int: a table of ints is no work for Python's cycle collector; a
    1,000-switch restart reads 1.5 million flows, and its full collections
    took up to 0.65 s each, stalling the event loop)."""
    return _Installed(cookie, flow) if isinstance(flow, int) else flow


class _XidSlot:
    """Takes the xid a datapath hands out for a message we encode ourselves."""

    def set_xid(self, xid):
        self.xid = xid


class Reconciler:
    def __init__(self):
        self.installed = {}     # dpid -> {cookie: Flow, or table id if read back}; absent = unsynced
        self._reading = {}      # dpid -> (xid of the request, its replies so far)
        self._queued = {}       # dpid -> datapath: reads waiting for a place (READS_AT_ONCE)
        self._asked = {}        # dpid -> time.monotonic() its flow table was last asked for
        self._bundle_ids = itertools.count(1)
        self.encoder = Encoder()
        self.last_bundle = {}   # dpid -> id of the last bundle sent (the switch confirms it)
        # what the controller spends, cumulative (GET /v1/status 'reconciler'):
        # compiling (counted by the core), diffing and encoding, writing sockets
        self.stats = {'bundles': 0, 'flow_mods': 0, 'compile_seconds': 0.0,
                      'encode_seconds': 0.0, 'send_seconds': 0.0, 'zones_flushed': 0}
        self.sent_at = {}       # bundle id -> time.monotonic() it left, until confirmed

    # ---- (re)connect: read what the switch holds -----------------------------
    def start_sync(self, dp):
        """Read the switch's table (again): a read already under way is
        dropped, and its replies, still on their way, are told apart by their
        xid (see :meth:`on_flow_stats`). At most ``READS_AT_ONCE`` tables are
        read at once, the others wait their turn: each read table's replies
        are decoded in the event loop's turns, so a replica taking 333 switches
        over decoded 333 x 200 flows in each turn, which stalled its loop for
        0.5-0.9 s, made its peers take its switches, and read their tables
        in turn (3 replicas, 1,000 hypervisors: bench.scale)."""
        self.installed.pop(dp.id, None)
        self._reading.pop(dp.id, None)
        self._asked[dp.id] = time.monotonic()
        self._queued[dp.id] = dp
        self._next_reads()

    def _next_reads(self):
        """Start the waiting reads there is room for; run whenever a read
        starts, ends or is dropped. A read unanswered for ``READ_STALE_SECONDS``
        counts as no place then: a switch that never answers must not hold the
        others back."""
        if not self._queued:
            return
        now = time.monotonic()
        busy = sum(1 for dpid in self._reading
                   if now - self._asked.get(dpid, now) < READ_STALE_SECONDS)
        while self._queued and busy < READS_AT_ONCE:
            dpid, dp = next(iter(self._queued.items()))
            del self._queued[dpid]
            self._asked[dpid] = now
            self.ask_flow_stats(dp, expect=lambda xid, dpid=dpid: self._reading.__setitem__(
                dpid, (xid, {})))
            busy += 1

    def reading_for(self, dpid):
        """Seconds since the switch's flow table was asked for."""
        return time.monotonic() - self._asked.get(dpid, time.monotonic())

    @staticmethod
    def ask_flow_stats(dp, cookie=0, cookie_mask=0, expect=None):
        """Ask a switch for its flows (those whose cookie matches under the
        mask). ``expect(xid)`` is called before the request leaves, so whoever
        waits for the replies (they carry that xid) is ready for them."""
        parser, ofp = dp.ofproto_parser, dp.ofproto
        req = parser.OFPFlowStatsRequest(dp, 0, ofp.OFPTT_ALL, ofp.OFPP_ANY, ofp.OFPG_ANY,
                                         cookie, cookie_mask, parser.OFPMatch())
        dp.set_xid(req)
        if expect:
            expect(req.xid)
        dp.send_msg(req)

    @staticmethod
    def ask_meter_stats(dp, meter_id, expect):
        req = dp.ofproto_parser.OFPMeterStatsRequest(dp, 0, meter_id)
        dp.set_xid(req)
        expect(req.xid)
        dp.send_msg(req)

    def set_meter(self, dp, meter_id, rate, burst):
        """Set a packets-per-second meter (the log meter): an ADD, refused by a
        switch that has it (the core ignores that error), then a MODIFY that sets
        the rate either way. Outside any bundle: OVS bundles hold flow and port
        changes only. A switch holding no flow using it spends nothing on it."""
        ofp, parser = dp.ofproto, dp.ofproto_parser
        bands = [parser.OFPMeterBandDrop(rate=rate, burst_size=burst)]
        self._send_all(dp, [parser.OFPMeterMod(dp, command, ofp.OFPMF_PKTPS | ofp.OFPMF_BURST,
                                               meter_id, bands)
                            for command in (ofp.OFPMC_ADD, ofp.OFPMC_MODIFY)])

    def on_flow_stats(self, dp, body, more, xid=None):
        """Feed a flow-stats reply; True once the switch's table is fully known.
        A reply to an earlier request (``xid``: the reply's; None: the current
        read's) is ignored: its last part would end the new read with only
        what came before it, and the flows missing from that are sent again
        (a 1,000-hypervisor restart whose reads a step-down restarted: reads
        ended at 192 of 1,516 flows, and 1,324 went again). Flows of an unmanaged owner
        (:data:`controller.compile.pipeline.UNMANAGED`: carried sessions) are
        not ours to diff: they are left out, so they are never deleted."""
        asked, reading = self._reading.get(dp.id, (None, None))
        if reading is None or xid not in (None, asked):
            return False
        for stat in body:
            if stat.cookie >> pipeline.COOKIE_OWNER_SHIFT not in pipeline.UNMANAGED:
                reading[stat.cookie] = stat.table_id
        if more:
            return False
        del self._reading[dp.id]
        self.installed[dp.id] = reading
        self._next_reads()
        return True

    def forget(self, dpid):
        self.installed.pop(dpid, None)
        self._reading.pop(dpid, None)
        self._queued.pop(dpid, None)
        self._asked.pop(dpid, None)
        self._next_reads()

    def is_synced(self, dpid):
        return dpid in self.installed

    # ---- the delta -----------------------------------------------------------
    def diff(self, dpid, desired):
        installed = self.installed[dpid]
        wanted = {f.cookie: f for f in desired}
        removed = [_held(c, f) for c, f in installed.items() if c not in wanted]
        added = [f for c, f in wanted.items() if c not in installed]
        return removed, added

    def apply(self, dp, desired):
        """Send the delta between ``desired`` and the switch; returns the number of
        flow mods sent (0 when already in sync or not yet synced)."""
        if not self.is_synced(dp.id):
            return 0
        return self.apply_delta(dp, *self.diff(dp.id, desired))

    def apply_delta(self, dp, removed, added):
        """Send a known delta (flows to remove, flows to add: what changed in
        some pieces, :mod:`controller.compile.desired`) without diffing the whole table;
        what the switch already holds, or no longer holds, is left out."""
        if not self.is_synced(dp.id):
            return 0
        started = time.perf_counter()
        installed = self.installed[dp.id]
        removed = [_held(f.cookie, installed[f.cookie]) for f in removed if f.cookie in installed]
        added = [f for f in added if f.cookie not in installed]
        if not removed and not added:
            self.stats['encode_seconds'] += time.perf_counter() - started
            return 0
        # an ADD replaces a flow of the same table, priority and match in place:
        # such a removed flow needs no DELETE of its own (flows read back from a
        # switch carry no comparable match and are always deleted)
        replaced = {(f.table, f.priority, f.match) for f in added}
        mods = [self.encoder.delete(dp, f) for f in removed
                if getattr(f, 'match', None) is None
                or (f.table, f.priority, f.match) not in replaced]
        mods += [self.encoder.add(dp, f) for f in added]
        encoded = time.perf_counter()
        self.stats['encode_seconds'] += encoded - started
        self._send_bundle(dp, mods)
        self.stats['send_seconds'] += time.perf_counter() - encoded
        for f in removed:
            installed.pop(f.cookie, None)
        for f in added:
            installed[f.cookie] = f
        self.stats['bundles'] += 1
        self.stats['flow_mods'] += len(mods)
        LOG.debug('dpid %#x: -%d +%d flows', dp.id, len(removed), len(added))
        return len(mods)

    def add_unmanaged(self, dp, flows, cookie, idle_timeout):
        """Add flows the reconciler does not keep (an owner of
        :data:`controller.compile.pipeline.UNMANAGED`: carried sessions, which end by
        their idle timeout), in one socket write."""
        ofp, parser = dp.ofproto, dp.ofproto_parser
        msgs = []
        for f in flows:
            actions, goto_table = to_actions(dp, f.actions)
            inst = [parser.OFPInstructionActions(ofp.OFPIT_APPLY_ACTIONS, actions)]
            if goto_table is not None:
                inst.append(parser.OFPInstructionGotoTable(goto_table))
            msgs.append(parser.OFPFlowMod(dp, cookie=cookie, table_id=f.table,
                                          command=ofp.OFPFC_ADD, priority=f.priority,
                                          idle_timeout=idle_timeout,
                                          match=to_match(parser, f.match), instructions=inst))
        self._send_all(dp, msgs)

    def flush_zone(self, dp, zone):
        """Empty conntrack zone ``zone`` of a switch, so that the next vNIC given
        that OpenFlow port number (= zone) starts with no sessions. Ryu has no
        class for Open vSwitch's NXT_CT_FLUSH_ZONE: an experimenter message whose
        body is ``struct nx_zone_id`` (6 zero bytes, the zone)."""
        self._send_all(dp, [dp.ofproto_parser.OFPExperimenter(
            dp, NX_VENDOR_ID, NXT_CT_FLUSH_ZONE, struct.pack('!6xH', zone))])
        self.stats['zones_flushed'] += 1

    @staticmethod
    def _send_all(dp, msgs):
        buf = bytearray()
        for msg in msgs:
            dp.set_xid(msg)
            msg.serialize()
            buf += msg.buf
        if buf:
            dp.send(bytes(buf))

    def _send_bundle(self, dp, mods):
        """One bundle-add per encoded FlowMod, then commit: one socket write (Ryu's
        send_msg queue holds only 16 messages). The first bundle-add opens the
        bundle (OpenFlow 1.4.0, 7.3.9.7; Open vSwitch does it), which spares an
        OPEN_REQUEST and its reply per switch. A bundle-add is its 16-byte header
        around the inner message, whose xid must be its own."""
        ofp = dp.ofproto
        bundle_id = next(self._bundle_ids)
        flags = ofp.OFPBF_ATOMIC | ofp.OFPBF_ORDERED
        buf = bytearray()
        for inner in mods:
            slot = _XidSlot()
            dp.set_xid(slot)
            buf += struct.pack(ofp.OFP_HEADER_PACK_STR, ofp.OFP_VERSION,
                               ofp.OFPT_BUNDLE_ADD_MESSAGE, 16 + len(inner), slot.xid)
            buf += struct.pack(ofp.OFP_BUNDLE_ADD_MSG_0_PACK_STR, bundle_id, flags)
            buf += inner[:4] + struct.pack('!I', slot.xid) + inner[8:]
        buf += self._ctrl(dp, bundle_id, ofp.OFPBCT_COMMIT_REQUEST, flags)
        dp.send(bytes(buf))
        self.last_bundle[dp.id] = bundle_id
        if len(self.sent_at) > 10_000:      # commits never confirmed (a switch gone)
            self.sent_at.clear()
        self.sent_at[bundle_id] = time.monotonic()

    @staticmethod
    def _ctrl(dp, bundle_id, kind, flags):
        msg = dp.ofproto_parser.OFPBundleCtrlMsg(dp, bundle_id, kind, flags, [])
        dp.set_xid(msg)
        msg.serialize()
        return bytes(msg.buf)
