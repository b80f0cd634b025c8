"""The core every vnetsec app shares: switch events in, reconciled flows out.

Ryu builds one object for every app that names the same ``_CONTEXTS`` key
(``vnetsec``), before any app exists: this is that object, and each feature app
registers its :class:`~controller.feature.Feature` with it in ``__init__``; the
reconcile loop starts in ``start()``, after every app has registered, so the
order of the apps does not matter. One store, one API server, one reconciler,
one bundle per switch holding every loaded feature's flows.

It owns no logic of its own: bindings are decided by :mod:`controller.binding`
and kept by the service, flows come from the features
(:func:`controller.compile.compile_host`), and only the reconciler writes to
switches. Every store change wakes one worker that recompiles and sends deltas,
so a burst of API calls costs one reconcile.
"""
import collections
import gc
import logging
import os
import time

from controller import binding, environment, http_server, mastership, trace  # noqa: F401 - its route
from controller import neutron  # noqa: F401 - /v2.0, mounted beside /v1
from controller.api import Api
from controller.applied import AppliedWaiters
from controller.compile import compile_host
from controller.desired import DesiredFlows
from controller.dialer import Dialer
from controller.dirty import dirty
from controller.inventory import Inventory, unusable
from controller.metrics import Metrics
from controller.pieces import compile_pieces
from controller.model import ValidationError
from controller.private_files import AuditLog, load_or_create_token
from controller.reconciler import Reconciler
from controller.ryu_facade import (CONF, CONFIG_DISPATCHER, DEAD_DISPATCHER,
                                   MAIN_DISPATCHER, OFP_VERSION, RyuApp, cfg, dial_switch,
                                   dialing_tls, hub, ofp_event, set_ev_cls)
from controller.service import Service
from controller.session_carrier import SessionCarrier
from controller.store import SqliteStore

LOG = logging.getLogger('vnetsec')
RULE_STATS_TTL = 1.0    # seconds per-rule counters are served from the last reading
FREEZE_AFTER = 1000     # flow mods one reconcile sends that make its objects long-lived

OPTIONS = [
    cfg.StrOpt('store', default='sqlite',
               help='where the desired state lives: "sqlite" (the file db_path) or '
                    'etcd://HOST:PORT[,HOST:PORT...] (shared by several controllers)'),
    cfg.StrOpt('db_path', default='/var/lib/vnetsec/vnetsec.db',
               help='SQLite file holding the desired state (created 0600); with etcd, '
                    'the token and audit log files are still named after it'),
    cfg.StrOpt('db_synchronous', default='FULL', choices=['FULL', 'NORMAL', 'EXTRA'],
               help='SQLite synchronous mode: FULL survives power loss'),
    cfg.StrOpt('api_host', default='127.0.0.1', help='REST API listen address'),
    cfg.IntOpt('api_port', default=8080, help='REST API port'),
    cfg.StrOpt('api_token', default='', secret=True,
               help='admin Bearer token (reads and writes); else $VNETSEC_API_TOKEN, else '
                    'one generated once and kept in <db_path>.token (0600)'),
    cfg.StrOpt('api_reader_token', default='', secret=True,
               help='reader Bearer token (reads only); else $VNETSEC_API_READER_TOKEN'),
    cfg.BoolOpt('api_open_reads', default=False, help='let reads in without a token'),
    cfg.FloatOpt('api_socket_timeout', default=10.0,
                 help='seconds a client may take for each read or write of a request'),
    cfg.StrOpt('api_cert', default='', help='certificate (PEM): serve the API over HTTPS'),
    cfg.StrOpt('api_key', default='', secret=True, help="the certificate's private key"),
    cfg.StrOpt('audit_log', default='',
               help='JSON lines, one per write (default <db_path>.audit.log)'),
    cfg.StrOpt('vlan_pool', default='100-4094', help='VLAN ids allocated when none given'),
    cfg.StrOpt('vni_pool', default='5000-16777215', help='VNIs allocated when none given'),
    cfg.BoolOpt('carry_sessions', default=True,
                help="a migrated VM's established sessions are carried to its destination "
                     "(read from the source's conntrack through its agent); false: they "
                     'are not'),
    cfg.IntOpt('session_grace', default=30,
               help="seconds a carried session's admission at the destination stays "
                    'without a packet needing it (an idle timeout)'),
    cfg.IntOpt('lease_ttl', default=2, min=1,
               help='with etcd: seconds a replica that stops renewing its lease keeps its '
                    'switches (etcd raises it to its own minimum, 2 s with its defaults)'),
    cfg.StrOpt('replica_name', default='',
               help='with etcd: this replica\'s name among the controllers sharing the '
                    'store (default HOSTNAME:API_PORT)'),
    cfg.FloatOpt('stats_interval', default=5.0,
                 help='seconds between background readings of the per-rule counters '
                      'that /metrics serves (0: never)'),
    cfg.FloatOpt('wait_timeout', default=10.0,
                 help='seconds a write with ?wait=applied waits for its switches to '
                      'confirm its flows'),
    cfg.FloatOpt('switch_dial_interval', default=1.0,
                 help='seconds between attempts to reach a switch that listens for its '
                      'controllers (its host record names a switch_address) while it '
                      'does not answer'),
]
CONF.register_opts(OPTIONS, group='vnetsec')
# OpenFlow only on loopback unless configured (Ryu's own default is every interface)
CONF.set_default('ofp_listen_host', '127.0.0.1')
environment.apply(CONF, OPTIONS)    # VNETSEC_STORE=..., VNETSEC_OFP_PORT=...: for containers


def open_store(conf):
    """The store the configuration names."""
    if conf.store != 'sqlite':
        from controller.etcd_store import EtcdStore
        return EtcdStore.from_url(conf.store)
    return SqliteStore(conf.db_path, conf.db_synchronous)


def api_token(conf):
    token = conf.api_token or os.environ.get('VNETSEC_API_TOKEN', '')
    if not token:
        path = conf.db_path + '.token'
        token = load_or_create_token(path)
        LOG.info('no API token configured: using the one kept in %s', path)
    return token


def error_name(ofp, err_type, code):
    """'OFPET_FLOW_MOD_FAILED/OFPFMFC_TABLE_FULL' for an OpenFlow error."""
    names = {v: k for k, v in vars(ofp).items() if k.startswith('OFPET_')}
    type_name = names.get(err_type, 'type %d' % err_type)
    prefix = {'OFPET_FLOW_MOD_FAILED': 'OFPFMFC_', 'OFPET_BUNDLE_FAILED': 'OFPBFC_',
              'OFPET_BAD_REQUEST': 'OFPBRC_', 'OFPET_BAD_ACTION': 'OFPBAC_',
              'OFPET_BAD_MATCH': 'OFPBMC_', 'OFPET_BAD_INSTRUCTION': 'OFPBIC_'}.get(type_name)
    code_name = next((k for k, v in vars(ofp).items()
                      if prefix and k.startswith(prefix) and v == code), 'code %d' % code)
    return '%s/%s' % (type_name, code_name)


class Core(RyuApp):
    """The shared context of the vnetsec apps (``_CONTEXTS = {'vnetsec': Core}``)."""
    OFP_VERSIONS = [OFP_VERSION]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        conf = CONF.vnetsec
        if os.path.dirname(conf.db_path):
            os.makedirs(os.path.dirname(conf.db_path), exist_ok=True)
        self.store = open_store(conf)
        self.service = Service(self.store, conf.vlan_pool, conf.vni_pool, kinds={},
                               located=self._located)
        self.reconciler = Reconciler()
        self.mastership = mastership.for_store(self.store, conf)   # who programs which switch
        self.features = []      # registered by the apps, in the order they load
        self.datapaths = {}
        self.seen = {}          # device name -> (host, ofport), as the switches report
        self._changes, self._everything = [], True  # store changes since a reconcile
        self._taken = 0         # the count of changes the running reconcile took in
        self._new_ports = set() # ports created or changed since: bound if already plugged
        self._arriving, self._leaving = set(), set()  # hosts ports moved to / from
        self._applied = set()   # dpids holding their desired flows since their last sync
        self._confirmed = {}    # dpid -> id of the last bundle the switch committed
        self._dirty = hub.Event()
        self.applied = AppliedWaiters(hub.Event)    # writes with ?wait=applied
        tls = dialing_tls(CONF)
        self.dialer = Dialer(lambda address: dial_switch(address, conf.switch_dial_interval,
                                                         tls))
        self.inventory = Inventory.from_store(self.store)    # kept up to date by changes
        self.store.watch(self._on_change)
        self._busy = False
        self._desired = {}      # dpid -> its DesiredFlows (pieces) since its last full compile
        self._grown = False     # a reconcile built many objects that will stay: see _settle
        self._stat_waiters = {} # xid -> (event, replies list)
        self._rule_stats = (0.0, {})    # (time read, counters)
        self._failing = {}      # dpid -> (why, fingerprint of the flows it refused or None)
        self._sent = {}         # dpid -> fingerprint of the flows last sent
        self.timeline = collections.deque(maxlen=2000)  # what switches reported, timed
        self.metrics = Metrics(self.metrics_state)
        self.carrier = SessionCarrier(self, conf.carry_sessions, conf.session_grace,
                                      api_token(conf))
        self.api = Api(self.service, api_token(conf), features=self.loaded,
                       flows=self.desired_flows,
                       reader_token=(conf.api_reader_token
                                     or os.environ.get('VNETSEC_API_READER_TOKEN', '')),
                       open_reads=conf.api_open_reads, status=self.status,
                       rule_stats=self.rule_stats, events=lambda: list(self.timeline),
                       audit=AuditLog(conf.audit_log or conf.db_path + '.audit.log'),
                       metrics=self.metrics, compiled_features=lambda: self.features,
                       cached_rule_stats=lambda: self._rule_stats[1],
                       wait_applied=self.wait_applied)
        self._api_url = '%s://%s:%d/v1' % ('https' if conf.api_cert else 'http',
                                            conf.api_host, conf.api_port)

    def register(self, feature):
        """A feature app joins: its flows go into every switch's bundle, its
        network kinds and routes become available."""
        if feature.name in self.loaded():
            return
        self.features.append(feature)
        self.service.kinds.update(feature.kinds)
        self._everything = True
        LOG.info('feature %s: %s', feature.name, feature.summary)

    def loaded(self):
        return [f.name for f in self.features]

    def desired_flows(self, host):
        """What ``host``'s switch should hold, compiled now."""
        inv = Inventory.from_store(self.store)
        if host.name not in inv.hosts:
            raise ValidationError('name', 'host %r cannot be compiled: %s'
                                  % (host.name, inv.unusable.get(host.name)), 409)
        return compile_host(inv, host, self.features)

    def start(self):
        conf = CONF.vnetsec
        self._api_socket = http_server.listen((conf.api_host, conf.api_port),
                                              conf.api_cert, conf.api_key)
        thread = super().start()
        self.dialer.start(self.store.list('host'))     # switches that listen: at once
        hub.spawn(self._reconcile_loop)
        hub.spawn(self._serve_api)
        if CONF.vnetsec.stats_interval > 0:
            hub.spawn(self._stats_loop, CONF.vnetsec.stats_interval)
        if self.mastership.shared:
            hub.spawn(self._mastership_loop)
        return thread

    # ---- several replicas: mastership (controller/mastership.py) ---------------
    def _mastership_loop(self):
        while True:
            try:
                for request in self.mastership.tick():
                    self._send_role(*request)
                unprogrammed = self._unprogrammed()
                if unprogrammed and not (self._busy or self._dirty.is_set()):
                    LOG.info('switches %s: mastered, not programmed: reconciling',
                             ', '.join('%#x' % d for d in unprogrammed))
                    self._dirty.set()
            except Exception:                          # keep the loop alive, loudly
                LOG.exception('mastership round failed')
            hub.sleep(self.mastership.interval)

    def _unprogrammed(self):
        """Switches we master, whose flows we have read, that no reconcile has
        programmed since: a reconcile skips a switch while our lease's validity
        lapses (a slow etcd round), and when it is renewed no role changes, so
        nothing else would bring the reconcile back for it (found after an etcd
        quorum loss: every switch mastered, none ever in sync). Switches that
        refused their flows wait for a change instead."""
        return [d for d in self.datapaths if d not in self._applied
                and d not in self._failing and self.reconciler.is_synced(d)
                and self.mastership.is_master(d)]

    def _send_role(self, dpid, role, generation):
        """Tell the switch our role; a new master reads its flows (the reconcile
        then sends only the delta) and its ports (binds what was plugged meanwhile)."""
        dp = self.datapaths.get(dpid)
        if dp is None:
            return
        LOG.info('switch %#x: our role is %s (generation %d)', dpid, role, generation)
        mastership.send_role(dp, role, generation)
        self._applied.discard(dpid)
        if role == 'master':
            self._failing.pop(dpid, None)
            self.reconciler.start_sync(dp)
            self._request_ports(dp)

    def _located(self, device):
        """(host, ofport) where a switch we may bind on reports ``device``, or
        None: a port created for a vNIC already plugged is bound as it is
        stored. Elsewhere (another replica's switch) its master binds it."""
        where = self.seen.get(device)
        host = self.store.get('host', where[0]) if where else None
        return where if host is not None and self._may_bind(host.dpid) else None

    def _may_bind(self, dpid):
        """Bindings a switch reports are written by its master alone (once)."""
        return self.mastership.is_master(dpid)

    def _serve_api(self):
        LOG.info('REST API on %s', self._api_url)
        http_server.serve(self._api_socket, self.api, CONF.vnetsec.api_socket_timeout)

    # ---- reconcile ------------------------------------------------------------
    def _on_change(self, changes):
        """Note what changed (the reconcile loop turns it into pieces to
        recompile: :mod:`controller.dirty`) and what the timeline tells."""
        self._changes += changes
        self.applied.changed(len(changes))
        for kind, key, old, new in changes:
            if kind == 'host':
                self.dialer.host_changed(old, new)
            if kind == 'port':
                self._count_move(old, new)
                self.carrier.port_changed(old, new)
                if new is not None:
                    self._arriving.update({new.bound_host, new.migrating_to} - {''})
                    if not new.bound_host:
                        self._new_ports.add(key)
                if old is not None and old.bound_host != getattr(new, 'bound_host', ''):
                    self._leaving.add(old.bound_host)
            elif kind == 'security_group':
                self.timeline.append({'time': time.time(), 'event': 'group',
                                      'group': (new or old).name,
                                      'change': 'deleted' if new is None else 'created'
                                      if old is None else 'changed'})
            elif kind == 'host' and new is not None and new.dpid in self.datapaths:
                self._request_ports(self.datapaths[new.dpid])   # bind what it holds
        self._dirty.set()

    def _count_move(self, old, new):
        """A port found on a (new) hypervisor is a bind; found there while it
        was bound elsewhere, a migration (planned if the migrate call named that
        destination)."""
        if new is None or not new.bound_host or (old and old.bound_host == new.bound_host):
            return
        self.metrics.binds.inc()
        event = {'time': time.time(), 'event': 'bind', 'port': new.name,
                 'host': new.bound_host}
        if old is not None and old.bound_host:
            planned = old.migrating_to == new.bound_host
            self.metrics.migrations.labels('planned' if planned else 'unplanned').inc()
            event.update(event='move', source=old.bound_host,
                         mode='planned' if planned else 'unplanned')
        self.timeline.append(event)

    def _reconcile_loop(self):
        while True:
            self._dirty.wait()
            self._busy = True
            self._dirty.clear()
            self._reconcile_once()

    def _reconcile_once(self):
        mods = self.reconciler.stats['flow_mods']
        try:
            with self.metrics.reconcile_seconds.time():
                self.reconcile()
        except Exception:                          # keep the loop alive, loudly
            LOG.exception('reconcile failed')
        finally:
            self._busy = False
            self.applied.reconciled = self._taken
            self._check_applied()
        if self._grown or self.reconciler.stats['flow_mods'] - mods >= FREEZE_AFTER:
            self._settle()

    def wait_applied(self, timeout=None):
        """Wait until every change made so far is on the switches this
        controller programs (:mod:`controller.applied`). Returns (names of the
        switches not confirmed in time, or None if not even compiled; {name:
        why} of those that refused their flows)."""
        pending, failing = self.applied.wait(
            CONF.vnetsec.wait_timeout if timeout is None else timeout, self._check_applied)
        name = self._switch_name
        return (None if pending is None else [name(d) for d in pending],
                {name(d): why for d, why in failing.items()})

    def _switch_name(self, dpid):
        host = self._host_by_dpid(dpid)
        return host.name if host else '%#x' % dpid

    def _check_applied(self):
        """Wake the writes waiting for the switches we program (with replicas,
        a switch another replica masters now is that replica's to program).
        Called on every commit reply: nothing to build while no write waits."""
        if not self.applied.waiting:
            return
        self.applied.check(self.reconciler.last_bundle, self._confirmed,
                           {d: f[0] for d, f in self._failing.items()},
                           {d for d in self.datapaths if self.mastership.is_master(d)})

    def _settle(self):
        """Leave what exists now (the records, the compiled flows of every switch:
        millions of objects at a thousand hypervisors) out of Python's cycle
        collection: a full collection walks every tracked object and stops the
        whole controller meanwhile (178 ms measured with 1,000 VLAN ports), in
        the middle of whichever bind comes along. They are freed by
        their reference counts as before; only cycles among them would stay.
        Called after a reconcile that built many lasting objects (a switch
        compiled whole, a large change), not after each small one."""
        self._grown = False
        gc.freeze()

    def _stats_loop(self, interval):
        """Read the per-rule counters every ``interval`` seconds, so that a
        scrape of /metrics never waits for the switches."""
        while True:
            hub.sleep(interval)
            try:
                self.rule_stats()
            except Exception:
                LOG.exception('reading the per-rule counters failed')

    def metrics_state(self):
        """What /metrics reports of the switches and rules (see
        :class:`controller.metrics.Metrics`), from what the core holds."""
        switches = [{'switch': s['host'] or '', 'dpid': dpid, 'synced': s['synced'],
                     'failing': bool(s['failing']),
                     'flows': len(self.reconciler.installed.get(int(dpid, 16), ()))}
                    for dpid, s in self.status()['switches'].items()]
        read_at, counters = self._rule_stats
        rules = [{'group': g.name, 'rule': r['id'], 'direction': r['direction'],
                  **counters.get(r['id'], {'packets': 0, 'bytes': 0})}
                 for g in self.store.list('security_group') for r in g.rules]
        return {'switches': switches, 'rules': rules, 'stats_read_at': read_at}

    def status(self):
        stored = {h.dpid: h for h in self.store.list('host')}   # polled often: no snapshot
        switches = {}
        for dpid in self.datapaths:
            host = stored.get(dpid)
            name = host.name if host else None
            confirmed = (self._confirmed.get(dpid, 0)
                         >= self.reconciler.last_bundle.get(dpid, 0))
            failing = self._failing.get(dpid, ('',))[0]
            why_unusable = unusable(host) if host else ''
            if why_unusable:
                failing = 'its host record cannot be used: ' + why_unusable
            switches['%016x' % dpid] = {'host': name,
                                        'synced': dpid in self._applied and confirmed
                                        and not failing and self.mastership.is_master(dpid),
                                        'failing': failing or None}
        cluster = self.mastership.status()
        for dpid, master in cluster.pop('masters', {}).items():
            switches.get(dpid, {}).update(master)
        return {'switches': switches, 'apps': self.loaded(),
                'idle': not (self._busy or self._dirty.is_set()),
                'reconciler': dict(self.reconciler.stats), **cluster}

    def reconcile(self):
        """Recompile what the changes since the last run can alter, piece by
        piece (:mod:`controller.pieces`, :mod:`controller.dirty`), and send each
        switch its delta: first where ports arrive (written at once), then the
        ToRs and the other hypervisors, last where ports left (flows left there
        a moment longer are never used). A switch (re)connected, or a feature
        loaded, gets a full compile diffed against what it holds. The others'
        bundles are written together after the loop: switches woken one by one
        would compete with the controller for the CPU while it still has
        bundles to build."""
        new_ports, self._new_ports = self._new_ports, set()
        seen = self.seen
        if self.mastership.shared:              # the devices on switches we master
            mastered = {h.name for h in self.store.list('host') if self._may_bind(h.dpid)}
            seen = {d: where for d, where in seen.items() if where[0] in mastered}
        self.service.bind_observed(seen, new_ports)
        changes, self._changes = self._changes, []
        self._taken = self.applied.changes
        self.inventory.apply(changes)
        inv = self.inventory
        marked = dirty(inv, changes)
        if not self.datapaths:                 # nothing to program: a full compile later
            return
        everything, self._everything = self._everything, False
        arriving, leaving = self._arriving, self._leaving - self._arriving
        self._arriving, self._leaving = set(), set()
        order = []
        named = None if everything else self._named(inv, marked)
        for dpid, dp in list(self.datapaths.items()):
            if named is not None and dpid not in named and dpid in self._applied:
                continue                    # nothing of it marked (most of 1,000)
            host = inv.host_by_dpid(dpid)
            if (host is None or not self.reconciler.is_synced(dpid)
                    or not self.mastership.is_master(dpid)):
                continue
            full = everything or dpid not in self._applied
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
                    continue
            self._program(host, dp, scopes, full, rank)

    @staticmethod
    def _named(inv, marked):
        """The dpids of the switches the marks name (None: every switch)."""
        names = marked.hosts()
        if names is None:
            return None
        dpids = {inv.hosts[n].dpid for n in names if n in inv.hosts}
        if marked.of_tors() != set():           # None (whole) or some scopes
            dpids |= {t.dpid for t in inv.tors()}
        return dpids

    def _program(self, host, dp, scopes, full, rank):
        """Compile ``scopes`` of a switch (None: all) and send what changed; a
        full compile is diffed against the switch's whole table."""
        started = time.perf_counter()
        try:
            pieces = compile_pieces(self.inventory, host, self.features, scopes)
            self.reconciler.stats['compile_seconds'] += time.perf_counter() - started
        except Exception as e:                 # one bad record must not stop the rest
            LOG.exception('compiling the flows of %s failed', host.name)
            self._failing[dp.id] = ('cannot compile its flows: %s: %s'
                                    % (type(e).__name__, e), None)
            self._applied.discard(dp.id)       # compiled whole at the next change
            return
        if full:
            self._grown = True
            desired = self._desired[dp.id] = DesiredFlows()
        else:
            desired = self._desired[dp.id]
        removed, added = desired.update(pieces, scopes)
        fingerprint = desired.fingerprint
        failed = self._failing.get(dp.id)
        if full and failed and failed[1] == fingerprint:
            return                             # refused as is: wait for a change
        self._failing.pop(dp.id, None)
        try:
            self._sent[dp.id] = fingerprint
            if full:
                sent = self.reconciler.apply(dp, desired.flows.values())
            else:
                sent = self.reconciler.apply_delta(dp, removed, added)
            if sent:
                self.timeline.append({'time': time.time(), 'event': 'sent',
                                      'host': host.name, 'flows': sent})
                if rank == 0:
                    hub.sleep(0)    # its socket writes now: it applies while we go on
            self._applied.add(dp.id)
        except Exception as e:                 # one bad switch must not stop the rest
            LOG.exception('reconcile of %s failed', host.name)
            self._applied.discard(dp.id)
            self._failing[dp.id] = ('cannot send its flows: %s: %s'
                                    % (type(e).__name__, e), fingerprint)

    # ---- switch events --------------------------------------------------------
    @set_ev_cls(ofp_event.EventOFPSwitchFeatures, CONFIG_DISPATCHER)
    def _switch_features(self, ev):
        dp = ev.msg.datapath
        LOG.info('switch %#x connected', dp.id)
        self.timeline.append({'time': time.time(), 'event': 'connect', 'dpid': '%016x' % dp.id})
        self.datapaths[dp.id] = dp
        self._applied.discard(dp.id)
        self._failing.pop(dp.id, None)
        role = self.mastership.on_connect(dp.id)
        if role is not None:
            mastership.send_role(dp, *role[1:])
        self.reconciler.start_sync(dp)
        self._request_ports(dp)

    @staticmethod
    def _request_ports(dp):
        dp.send_msg(dp.ofproto_parser.OFPPortDescStatsRequest(dp, 0))

    @set_ev_cls(ofp_event.EventOFPStateChange, DEAD_DISPATCHER)
    def _switch_gone(self, ev):
        dp = ev.datapath
        if dp.id is not None and self.datapaths.get(dp.id) is dp:
            LOG.info('switch %#x disconnected', dp.id)
            del self.datapaths[dp.id]
            self._applied.discard(dp.id)
            self.reconciler.forget(dp.id)
            if self.mastership.shared:
                self.mastership.on_disconnect(dp.id)
            self._check_applied()

    @set_ev_cls(ofp_event.EventOFPFlowStatsReply, MAIN_DISPATCHER)
    def _flow_stats(self, ev):
        msg = ev.msg
        more = msg.flags & msg.datapath.ofproto.OFPMPF_REPLY_MORE
        waiter = self._stat_waiters.get(msg.xid)
        if waiter is not None:
            waiter[1].extend((msg.datapath.id, stat) for stat in msg.body)
            if not more:
                waiter[0].set()
        elif self.reconciler.on_flow_stats(msg.datapath, msg.body, more):
            self._dirty.set()

    def rule_stats(self, timeout=2.0):
        """{rule id: {packets, bytes}}: the counters of the feature that keeps
        them (the firewall), from the flows carrying its cookie on every
        hypervisor, asked of every switch at once, answered within ``timeout``,
        and reused for a second (a burst of reads costs the switches one round)."""
        read_at, totals = self._rule_stats
        counting = next((f for f in self.features if f.counters), None)
        if counting is None or time.time() - read_at < RULE_STATS_TTL:
            return totals
        cookie, mask, summarize = counting.counters
        inv = self.inventory        # what the flows in self._desired were compiled from
        dps = [dp for dpid, dp in list(self.datapaths.items())
               if getattr(inv.host_by_dpid(dpid), 'role', '') == 'hypervisor']
        replies = self.flow_stats(dps, cookie, mask, timeout)
        totals = summarize(inv, {dpid: d.flows.values() for dpid, d in self._desired.items()},
                           replies)
        self._rule_stats = (time.time(), totals)
        return totals

    def flow_stats(self, dps, cookie, mask, timeout=2.0):
        """[(dpid, stat)] of the flows whose cookie matches under ``mask`` on the
        switches ``dps``, asked of all at once, answered within ``timeout``."""
        waiters = []
        for dp in dps:
            def expect(xid, waiter=(hub.Event(), [])):
                self._stat_waiters[xid] = waiter
                waiters.append((xid, waiter))
            self.reconciler.ask_flow_stats(dp, cookie, mask, expect)
        replies = []
        deadline = time.time() + timeout
        for xid, (event, got) in waiters:
            event.wait(max(0.0, deadline - time.time()))
            del self._stat_waiters[xid]
            replies += got
        return replies

    def _host_by_dpid(self, dpid):
        keys = self.store.find('host', 'dpid', dpid)     # every port event asks
        return self.store.get('host', min(keys)) if keys else None

    def _host_of(self, dp):
        host = self._host_by_dpid(dp.id)
        return host if host is not None and host.role == 'hypervisor' else None

    @set_ev_cls(ofp_event.EventOFPPortDescStatsReply, MAIN_DISPATCHER)
    def _port_desc(self, ev):
        host = self._host_of(ev.msg.datapath)
        if host is None:
            return
        devices = {p.name.decode(): p.port_no for p in ev.msg.body}
        self.seen = binding.port_list(self.seen, host.name, devices)
        if self._may_bind(ev.msg.datapath.id):
            self.service.bind(host.name, devices)
            self.service.unbind(host.name, keep=devices)

    @set_ev_cls(ofp_event.EventOFPPortStatus, MAIN_DISPATCHER)
    def _port_status(self, ev):
        """Translate the event; :mod:`controller.binding` decides."""
        msg = ev.msg
        ofp = msg.datapath.ofproto
        host = self._host_of(msg.datapath)
        if host is None:
            return
        name, ofport = msg.desc.name.decode(), msg.desc.port_no
        self.timeline.append({'time': time.time(), 'event': 'port', 'host': host.name,
                              'device': name, 'reason': msg.reason, 'ofport': ofport,
                              'state': msg.desc.state})
        if msg.reason == ofp.OFPPR_DELETE:
            decision = binding.port_deleted(self.seen, host.name, name)
        else:
            link_up = not msg.desc.state & ofp.OFPPS_LINK_DOWN
            port = self.service.port_of_device(name)
            arriving = port is not None and port.migrating_to == host.name
            report = binding.port_added if msg.reason == ofp.OFPPR_ADD else binding.port_modified
            decision = report(self.seen, host.name, name, ofport, link_up, arriving)
        if decision.forget:
            del self.seen[name]
        if decision.unbind_later:
            hub.spawn_after(binding.UNBIND_DELAY, self._unbind_if_gone, host.name, name)
        if decision.bind:
            self.seen[name] = (host.name, ofport)
            if self._may_bind(msg.datapath.id):
                self.service.bind(host.name, decision.bind)

    def _unbind_if_gone(self, host_name, device):
        host = self.store.get('host', host_name)
        if binding.still_gone(self.seen, host_name, device) and host and self._may_bind(host.dpid):
            self.service.unbind(host_name, devices={device})

    @set_ev_cls(ofp_event.EventOFPBundleCtrlMsg, MAIN_DISPATCHER)
    def _bundle_reply(self, ev):
        """A switch confirms it applied a bundle: the moment flows are installed."""
        msg = ev.msg
        if msg.type == msg.datapath.ofproto.OFPBCT_COMMIT_REPLY:
            self._confirmed[msg.datapath.id] = msg.bundle_id
            self._check_applied()
            sent = self.reconciler.sent_at.pop(msg.bundle_id, None)
            if sent is not None:
                self.metrics.bundle_commit_seconds.observe(time.monotonic() - sent)
            host = self._host_by_dpid(msg.datapath.id)
            self.timeline.append({'time': time.time(), 'event': 'commit',
                                'host': host.name if host else None,
                                'bundle': msg.bundle_id})

    @set_ev_cls(ofp_event.EventOFPErrorMsg, MAIN_DISPATCHER)
    def _error(self, ev):
        """A switch refused something we sent: a bundle is all or nothing, so it
        holds none of that change. Say which switch and why in the status, read
        its table back, and send it flows again only once they differ from the
        ones it refused (the records changed)."""
        msg = ev.msg
        dp = msg.datapath
        if self.mastership.shared and mastership.refused_as_slave(dp.ofproto, msg.type,
                                                                     msg.code):
            LOG.warning('switch %#x refused us as master (%s): stepping down', dp.id,
                        error_name(dp.ofproto, msg.type, msg.code))
            self.mastership.demoted(dp.id)
            return
        why = 'the switch refused our flows: %s' % error_name(dp.ofproto, msg.type, msg.code)
        LOG.error('switch %#x: %s (data %s)', dp.id, why, bytes(msg.data[:64]).hex())
        before = self._failing.get(dp.id)
        if before and before[1] == self._sent.get(dp.id) and why not in before[0]:
            why = before[0] + '; ' + error_name(dp.ofproto, msg.type, msg.code)
        self._failing[dp.id] = (why, self._sent.get(dp.id))
        self._check_applied()
        if self.datapaths.get(dp.id) is dp and self.reconciler.is_synced(dp.id):
            self._applied.discard(dp.id)
            self.reconciler.start_sync(dp)

    @set_ev_cls(ofp_event.EventOFPRoleStatus, MAIN_DISPATCHER)
    def _role_status(self, ev):
        """The switch made another controller its master: we are a slave there now."""
        msg = ev.msg
        if self.mastership.shared and msg.role != msg.datapath.ofproto.OFPCR_ROLE_MASTER:
            self.mastership.demoted(msg.datapath.id)
