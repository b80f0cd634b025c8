"""The core every vnetsec app shares: Ryu's events in, the parts wired.

Ryu builds one object for every app that names the same ``_CONTEXTS`` key
(``vnetsec``), before any app exists: this is that object, and each feature app
registers its :class:`~controller.compile.feature.Feature` with it in ``__init__``;
the reconcile worker starts in ``start()``, after every app has registered, so
the order of the apps does not matter.

It owns no logic of its own: bindings are decided by
:mod:`controller.switch.binding` and written by the service, the reconcile worker
is :mod:`controller.switch.engine`, and only :mod:`controller.switch.ofctrl` (its
reconciler) talks to switches. What the API reads of it is
:class:`controller.api.rest.Running`.
"""
import collections
import logging
import time

# trace and neutron: their routes (/v1/trace; /v2.0, mounted beside /v1)
from controller.api import http_server, neutron, trace  # noqa: F401
from controller.api.metrics import Metrics
from controller.api.rest import Running
from controller.api.v1 import Api
from controller.config import CONF, agents_tls, api_token, open_store
from controller.ryu_facade import (CONFIG_DISPATCHER, DEAD_DISPATCHER, MAIN_DISPATCHER,
                                   OFP_VERSION, RyuApp, dial_switch, dialing_tls, every, hub,
                                   ofp_event, set_ev_cls)
from controller.state.private_files import AuditLog
from controller.state.service import Service
from controller.switch import agent_client, binding, mastership
from controller.switch.dialer import Dialer
from controller.switch.liveness import Liveness
from controller.switch.stall_watchdog import watch_replica
from controller.switch.engine import Engine
from controller.switch.ofctrl import OfCtrl

LOG = logging.getLogger('vnetsec')
Parts = collections.namedtuple('Parts', 'store inventory ofctrl timeline conf agent_secret '
                                        'agent_tls metrics packet_in')
RULE_STATS_TTL = 1.0    # seconds per-rule counters are served from the last reading


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


class Core(RyuApp, Running):
    """The shared context of the vnetsec apps (``_CONTEXTS = {'vnetsec': Core}``):
    Ryu's events translated, the parts wired, one reconcile worker."""
    OFP_VERSIONS = [OFP_VERSION]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        conf = CONF.vnetsec
        self.store = open_store(conf)
        self.mastership = mastership.for_store(self.store, conf)   # who programs which switch
        self.sightings = binding.Sightings(self.store, self.mastership.is_master)
        self.service = Service(self.store, conf.vlan_pool, conf.vni_pool, kinds={},
                               sightings=self.sightings)
        self.timeline = collections.deque(maxlen=2000)  # what switches reported, timed
        self.ofctrl = OfCtrl(self.store, self.mastership.is_master, self.timeline,
                             log_meter=(conf.log_rate, conf.log_burst or conf.log_rate))
        self.packet_in = []     # handlers of packets switches send up (a firewall log's)
        self.metrics = Metrics(self.metrics_state)
        self.engine = Engine(self.store, self.service, self.ofctrl, self.mastership,
                             self.sightings, self.metrics)
        secret = agent_client.agent_secret(conf.agent_secret, api_token(conf))
        # what a feature's attach hook may use (the firewall: carrying sessions)
        self.parts = Parts(store=self.store, inventory=self.engine.inventory,
                           ofctrl=self.ofctrl, timeline=self.timeline, conf=conf,
                           agent_secret=secret, agent_tls=agents_tls(conf),
                           metrics=self.metrics, packet_in=self.packet_in)
        self.store.watch(self._on_change)
        tls = dialing_tls(CONF)
        self.dialer = Dialer(lambda address: dial_switch(address, conf.switch_dial_interval,
                                                         tls))
        self._rule_stats = (0.0, {})    # (time read, counters)
        self.api = Api(self.service, api_token(conf), reader_token=conf.api_reader_token,
                       open_reads=conf.api_open_reads, running=self, metrics=self.metrics,
                       audit=AuditLog(conf.audit_log or conf.db_path + '.audit.log'),
                       agent_secret=secret)
        self._api_url = '%s://%s:%d/v1' % ('https' if conf.api_cert else 'http',
                                            conf.api_host, conf.api_port)

    def register(self, feature):
        """A feature app joins (:meth:`controller.switch.engine.Engine.register`)."""
        if self.engine.register(feature):
            LOG.info('feature %s: %s', feature.name, feature.summary)
            if feature.attach is not None:
                feature.attach(self.parts)

    def start(self):
        conf = CONF.vnetsec
        self._api_socket = http_server.listen((conf.api_host, conf.api_port),
                                              conf.api_cert, conf.api_key)
        thread = super().start()
        self.dialer.start(self.store.list('host'))     # switches that listen: at once
        hub.spawn(self.engine.run)
        hub.spawn(self._serve_api)
        if conf.stats_interval > 0:
            # the per-rule counters, read ahead so that a scrape of /metrics never
            # waits for the switches
            every(conf.stats_interval, self.rule_stats, 'reading the per-rule counters')
        if self.mastership.shared:
            hub.spawn(self._mastership_loop)
        return thread

    def _serve_api(self):
        LOG.info('REST API on %s', self._api_url)
        http_server.serve(self._api_socket, self.api, CONF.vnetsec.api_socket_timeout)

    # ---- what the API reads of the running controller (api.Running) -------------
    def loaded(self):
        return self.engine.loaded()

    def features(self):
        return list(self.engine.features)

    def desired_flows(self, host):
        return self.engine.desired_flows(host)

    def recent_events(self):
        return list(self.timeline)

    def status(self):
        switches = self.ofctrl.switches()
        cluster = self.mastership.status()
        for dpid, master in cluster.pop('masters', {}).items():
            switches.get(dpid, {}).update(master)
        return {'switches': switches, 'apps': self.loaded(),
                'idle': self.engine.idle, 'reconciler': dict(self.ofctrl.reconciler.stats),
                **cluster}

    def wait_applied(self, timeout=None):
        """Wait until every change made so far is on the switches this controller
        programs (:meth:`controller.switch.ofctrl.OfCtrl.wait_applied`)."""
        return self.ofctrl.wait_applied(CONF.vnetsec.wait_timeout if timeout is None
                                        else timeout)

    def rule_stats(self, timeout=2.0, cached=False):
        """{rule id: {packets, bytes}}: the counters of the feature that keeps
        them (the firewall), from the flows carrying its cookie on every
        hypervisor we program (with replicas: the ones we master; the others'
        flows were never compiled here), asked of every switch at once, answered within ``timeout``,
        and reused for a second (a burst of reads costs the switches one round).
        ``cached``: the last reading, asking nothing."""
        read_at, totals = self._rule_stats
        counting = next((f for f in self.engine.features if f.counters), None)
        if cached or counting is None or time.time() - read_at < RULE_STATS_TTL:
            return totals
        cookie, mask, summarize = counting.counters
        inv = self.engine.inventory     # what the desired flows were compiled from
        dpids = [d for d in list(self.ofctrl.datapaths) if self.mastership.is_master(d)
                 and getattr(inv.host_by_dpid(d), 'role', '') == 'hypervisor']
        replies = self.ofctrl.flow_stats(dpids, cookie, mask, timeout)
        totals = summarize(inv, self.ofctrl.desired_flows(), replies)
        self._rule_stats = (time.time(), totals)
        return totals

    def metrics_state(self):
        """What /metrics reports of the switches and rules (see
        :class:`controller.api.metrics.Metrics`)."""
        switches = [{'switch': s['host'] or '', 'dpid': dpid, 'synced': s['synced'],
                     'failing': bool(s['failing']),
                     'flows': self.ofctrl.installed_count(int(dpid, 16))}
                    for dpid, s in self.status()['switches'].items()]
        read_at, counters = self._rule_stats
        rules = [{'group': g.name, 'rule': r['id'], 'direction': r['direction'],
                  'ethertype': r.get('ethertype', 'IPv4'), **counters.get(r['id'], {'packets': 0, 'bytes': 0})}
                 for g in self.store.list('security_group') for r in g.rules]
        return {'switches': switches, 'rules': rules, 'stats_read_at': read_at,
                'etcd_errors': dict(getattr(self.store, 'errors', {}))}

    # ---- several replicas: mastership (controller/switch/mastership.py) ---------------
    def _mastership_loop(self):
        """A round every ttl / 4, and at once when the failure detector sees a
        replica die or a claim was lost to another replica."""
        woken = hub.Event()

        def dead(name, lease):
            self.mastership.suspect(name, lease)
            woken.set()
        try:
            self.mastership.liveness = Liveness(CONF.vnetsec.api_host, hub.spawn, dead)
        except OSError as e:                    # failover still works, by the lease
            LOG.error('no liveness socket on %s (%s): failover waits for the lease',
                      CONF.vnetsec.api_host, e)
        self.mastership.watchdog = watch_replica(self.mastership, woken, hub.spawn, hub.sleep)
        while True:
            woken.clear()
            started = self.mastership.clock()
            try:
                for request in self.mastership.tick():
                    self._send_role(*request)
                unprogrammed = self.ofctrl.unprogrammed()
                if unprogrammed and self.engine.idle:
                    LOG.info('switches %s: mastered, not programmed: reconciling',
                             ', '.join('%#x' % d for d in unprogrammed))
                    self.engine.wake()
            except Exception:                          # keep the loop alive, loudly
                LOG.exception('mastership round failed')
            pause = self.mastership.pause(started)
            if pause:
                woken.wait(pause)

    def _send_role(self, dpid, role, generation):
        """Tell the switch our role; a new master reads its flows (the reconcile
        then sends only the delta) and its ports (binds what was plugged meanwhile);
        a slave keeps nothing compiled for it."""
        dp = self.ofctrl.datapaths.get(dpid)
        if dp is None:
            return
        LOG.info('switch %#x: our role is %s (generation %d)', dpid, role, generation)
        mastership.send_role(dp, role, generation)
        self.ofctrl.applied.discard(dpid)
        if role == 'master':
            self.ofctrl.resync(dp)
            _request_ports(dp)
        else:
            self.ofctrl.released(dpid)

    # ---- store changes: what the timeline and the dialer tell ---------------------
    def _on_change(self, changes):
        for kind, key, old, new in changes:
            if kind == 'host':
                self.dialer.host_changed(old, new)
                if (new is not None and new.dpid in self.ofctrl.datapaths
                        and self.mastership.is_master(new.dpid)):
                    _request_ports(self.ofctrl.datapaths[new.dpid])   # bind what it holds
            elif kind == 'port':
                self._count_move(old, new)
            elif kind == 'security_group':
                self.timeline.append({'time': time.time(), 'event': 'group',
                                      'group': (new or old).name,
                                      'change': 'deleted' if new is None else 'created'
                                      if old is None else 'changed'})

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

    # ---- switch events --------------------------------------------------------
    @set_ev_cls(ofp_event.EventOFPSwitchFeatures, CONFIG_DISPATCHER)
    def _switch_features(self, ev):
        dp = ev.msg.datapath
        LOG.info('switch %#x connected', dp.id)
        self.timeline.append({'time': time.time(), 'event': 'connect', 'dpid': '%016x' % dp.id})
        role = self.mastership.on_connect(dp.id)
        if role is not None:
            mastership.send_role(dp, *role[1:])
        self.ofctrl.connected(dp)
        if self.mastership.is_master(dp.id):    # else read when it becomes ours
            _request_ports(dp)

    @set_ev_cls(ofp_event.EventOFPStateChange, DEAD_DISPATCHER)
    def _switch_gone(self, ev):
        dp = ev.datapath
        if self.ofctrl.disconnected(dp):
            LOG.info('switch %#x disconnected', dp.id)
            if self.mastership.shared:
                self.mastership.on_disconnect(dp.id)

    @set_ev_cls(ofp_event.EventOFPFlowStatsReply, MAIN_DISPATCHER)
    def _flow_stats(self, ev):
        if self.ofctrl.on_flow_stats(ev.msg):
            self.engine.wake()

    @set_ev_cls(ofp_event.EventOFPPortDescStatsReply, MAIN_DISPATCHER)
    def _port_desc(self, ev):
        host = self._hypervisor(ev.msg.datapath)
        if host is None:
            return
        devices = {p.name.decode(): p.port_no for p in ev.msg.body}
        self.sightings.port_list(host.name, devices)
        if self.mastership.is_master(ev.msg.datapath.id):
            self.service.bind(host.name, devices)
            self.service.unbind(host.name, keep=devices)

    @set_ev_cls(ofp_event.EventOFPPortStatus, MAIN_DISPATCHER)
    def _port_status(self, ev):
        """Translate the event; :mod:`controller.switch.binding` decides."""
        msg = ev.msg
        ofp = msg.datapath.ofproto
        host = self._hypervisor(msg.datapath)
        if host is None:
            return
        name, ofport = msg.desc.name.decode(), msg.desc.port_no
        self.timeline.append({'time': time.time(), 'event': 'port', 'host': host.name,
                              'device': name, 'reason': msg.reason, 'ofport': ofport,
                              'state': msg.desc.state})
        seen = self.sightings.seen
        if msg.reason == ofp.OFPPR_DELETE:
            decision = binding.port_deleted(seen, host.name, name)
        else:
            link_up = not msg.desc.state & ofp.OFPPS_LINK_DOWN
            port = self.service.port_of_device(name)
            arriving = port is not None and port.migrating_to == host.name
            report = binding.port_added if msg.reason == ofp.OFPPR_ADD else binding.port_modified
            decision = report(seen, host.name, name, ofport, link_up, arriving)
        if decision.forget:
            del seen[name]
        if decision.unbind_later:
            hub.spawn_after(binding.UNBIND_DELAY, self._unbind_if_gone, host.name, name)
        if decision.bind:
            seen[name] = (host.name, ofport)
            if self.mastership.is_master(msg.datapath.id):
                self.service.bind(host.name, decision.bind)

    def _unbind_if_gone(self, host_name, device):
        host = self.store.get('host', host_name)
        if (binding.still_gone(self.sightings.seen, host_name, device) and host
                and self.mastership.is_master(host.dpid)):
            self.service.unbind(host_name, devices={device})

    def _hypervisor(self, dp):
        keys = self.store.find('host', 'dpid', dp.id)     # every port event asks
        host = self.store.get('host', min(keys)) if keys else None
        return host if host is not None and host.role == 'hypervisor' else None

    @set_ev_cls(ofp_event.EventOFPBundleCtrlMsg, MAIN_DISPATCHER)
    def _bundle_reply(self, ev):
        msg = ev.msg
        if msg.type == msg.datapath.ofproto.OFPBCT_COMMIT_REPLY:
            took = self.ofctrl.on_commit(msg.datapath.id, msg.bundle_id)
            if took is not None:
                self.metrics.bundle_commit_seconds.observe(took)

    @set_ev_cls(ofp_event.EventOFPPacketIn, MAIN_DISPATCHER)
    def _packet_in(self, ev):
        """A packet a flow sent up (only a firewall log's flows do), metered by
        the switch: to the handlers, with its table, cookie and match as a dict."""
        msg = ev.msg
        fields = dict(msg.match.items())
        for handle in self.packet_in:
            handle(msg.datapath.id, msg.table_id, msg.cookie, fields, bytes(msg.data))

    @set_ev_cls(ofp_event.EventOFPMeterStatsReply, MAIN_DISPATCHER)
    def _meter_stats(self, ev):
        self.ofctrl.on_stats_reply(ev.msg)

    @set_ev_cls(ofp_event.EventOFPErrorMsg, MAIN_DISPATCHER)
    def _error(self, ev):
        """A switch refused something we sent (:meth:`OfCtrl.refused`), or refused
        us as its master (with replicas: we step down)."""
        msg = ev.msg
        dp = msg.datapath
        error = error_name(dp.ofproto, msg.type, msg.code)
        if self.mastership.shared and mastership.refused_as_slave(dp.ofproto, msg.type,
                                                                     msg.code):
            LOG.warning('switch %#x refused us as master (%s): stepping down', dp.id, error)
            self.mastership.demoted(dp.id)
            return
        if msg.type == dp.ofproto.OFPET_METER_MOD_FAILED \
                and msg.code == dp.ofproto.OFPMMFC_METER_EXISTS:
            return      # the log meter's ADD on a switch that has it (its MODIFY follows)
        why = 'the switch refused our flows: %s' % error
        LOG.error('switch %#x: %s (data %s)', dp.id, why, bytes(msg.data[:64]).hex())
        self.ofctrl.refused(dp, why, error)

    @set_ev_cls(ofp_event.EventOFPRoleStatus, MAIN_DISPATCHER)
    def _role_status(self, ev):
        """The switch made another controller its master: we are a slave there now."""
        msg = ev.msg
        if self.mastership.shared and msg.role != msg.datapath.ofproto.OFPCR_ROLE_MASTER:
            self.mastership.demoted(msg.datapath.id)


def _request_ports(dp):
    dp.send_msg(dp.ofproto_parser.OFPPortDescStatsRequest(dp, 0))
