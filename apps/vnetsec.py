"""The vnetsec Ryu application: switch events in, reconciled flows out.

It owns no logic of its own: bindings go to the service, flows come from the
compilers, and only the reconciler writes to switches. Every store change wakes
one worker that recompiles and sends deltas, so a burst of API calls costs one
reconcile.
"""
import collections
import logging
import os
import secrets
import time

from controller.api import Api
from controller.compilers import compile_host, firewall
from controller.inventory import Inventory
from controller.reconciler import Reconciler
from controller.ryu_facade import (CONF, CONFIG_DISPATCHER, DEAD_DISPATCHER,
                                   MAIN_DISPATCHER, OFP_VERSION, RyuApp, cfg, hub,
                                   ofp_event, set_ev_cls)
from controller.service import Service
from controller.store import SqliteStore

LOG = logging.getLogger('vnetsec')
UNBIND_DELAY = 0.5      # seconds a vanished vNIC stays bound (it may be migrating)

CONF.register_opts([
    cfg.StrOpt('db_path', default='/var/lib/vnetsec/vnetsec.db',
               help='SQLite file holding the desired state'),
    cfg.StrOpt('api_host', default='127.0.0.1', help='REST API listen address'),
    cfg.IntOpt('api_port', default=8080, help='REST API port'),
    cfg.StrOpt('api_token', default='',
               help='Bearer token for REST writes (else $VNETSEC_API_TOKEN, else random, '
                    'written next to db_path)'),
    cfg.StrOpt('vlan_pool', default='100-4094', help='VLAN ids allocated when none given'),
    cfg.StrOpt('vni_pool', default='5000-16777215', help='VNIs allocated when none given'),
], group='vnetsec')
# OpenFlow only on loopback unless configured (Ryu's own default is every interface)
CONF.set_default('ofp_listen_host', '127.0.0.1')


def api_token(conf):
    token = conf.api_token or os.environ.get('VNETSEC_API_TOKEN', '')
    if not token:
        token = secrets.token_hex(16)
        path = conf.db_path + '.token'
        with open(path, 'w') as f:
            f.write(token + '\n')
        os.chmod(path, 0o600)
        LOG.info('no API token configured: generated one in %s', path)
    return token


class VnetsecApp(RyuApp):
    OFP_VERSIONS = [OFP_VERSION]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        conf = CONF.vnetsec
        if os.path.dirname(conf.db_path):
            os.makedirs(os.path.dirname(conf.db_path), exist_ok=True)
        self.store = SqliteStore(conf.db_path)
        self.service = Service(self.store, conf.vlan_pool, conf.vni_pool)
        self.reconciler = Reconciler()
        self.datapaths = {}
        self.seen = {}          # device name -> (host, ofport), as the switches report
        self._affected, self._affected_all = set(), True    # what changed since a reconcile
        self._arriving, self._leaving = set(), set()  # hosts ports moved to / from
        self._applied = set()   # dpids holding their desired flows since their last sync
        self._networks_of = {}  # dpid -> networks it held at its last compile
        self._confirmed = {}    # dpid -> id of the last bundle the switch committed
        self._dirty = hub.Event()
        self.store.watch(self._on_change)
        self._busy = False
        self._desired = {}      # dpid -> the flows of its last compile
        self._stat_waiters = {} # xid -> (event, replies list)
        self.timeline = collections.deque(maxlen=2000)  # what switches reported, timed
        self.api = Api(self.service, api_token(conf), status=self.status,
                       rule_stats=self.rule_stats, events=lambda: list(self.timeline))
        self._api_address = (conf.api_host, conf.api_port)

    def start(self):
        thread = super().start()
        hub.spawn(self._reconcile_loop)
        hub.spawn(self._serve_api)
        return thread

    def _serve_api(self):
        LOG.info('REST API on http://%s:%d/v1', *self._api_address)
        hub.WSGIServer(self._api_address, self.api).serve_forever()

    # ---- reconcile ------------------------------------------------------------
    def _on_change(self, changes):
        for kind, key, old, new in changes:
            if kind == 'port':
                self._affected.update(r.network_id for r in (old, new) if r is not None)
                if new is not None:
                    self._arriving.update({new.bound_host, new.migrating_to} - {''})
                if old is not None and old.bound_host != getattr(new, 'bound_host', ''):
                    self._leaving.add(old.bound_host)
                if (old is None or new is None or old.ips != new.ips
                        or old.security_groups != new.security_groups):
                    # remote-group members changed: any host's rules may name them
                    self._affected_all = True
            elif kind == 'network':
                self._affected.add(key)
            else:                                      # hosts, security groups
                self._affected_all = True
                if kind == 'host' and new is not None and new.dpid in self.datapaths:
                    self._request_ports(self.datapaths[new.dpid])   # bind what it holds
        self._dirty.set()

    def _reconcile_loop(self):
        while True:
            self._dirty.wait()
            self._busy = True
            self._dirty.clear()
            try:
                self.reconcile()
            except Exception:                          # keep the loop alive, loudly
                LOG.exception('reconcile failed')
            finally:
                self._busy = False

    def status(self):
        inv = Inventory.from_store(self.store)
        switches = {}
        for dpid in self.datapaths:
            host = inv.host_by_dpid(dpid)
            confirmed = (self._confirmed.get(dpid, 0)
                         >= self.reconciler.last_bundle.get(dpid, 0))
            switches['%016x' % dpid] = {'host': host.name if host else None,
                                        'synced': dpid in self._applied and confirmed}
        return {'switches': switches, 'idle': not (self._busy or self._dirty.is_set()),
                'reconciler': dict(self.reconciler.stats)}

    def reconcile(self):
        """Recompile the switches the changes since the last run can affect (a
        hypervisor holding, or having held, a changed network; the ToRs when a
        VLAN network is among them), and send each switch its delta: first where
        ports arrive (written at once), then the ToRs and the other hypervisors,
        last where ports left (flows left there a moment longer are never used).
        The others' bundles are written together after the loop: switches woken
        one by one would compete with the controller for the CPU while it still
        has bundles to build."""
        self.service.bind_observed(self.seen)
        affected, everything = self._affected, self._affected_all
        arriving, leaving = self._arriving, self._leaving - self._arriving
        self._affected, self._affected_all = set(), False
        self._arriving, self._leaving = set(), set()
        inv = Inventory.from_store(self.store)
        vlans = everything or any(n not in inv.networks or inv.networks[n].kind == 'vlan'
                                  for n in affected)
        order = []
        for dpid, dp in list(self.datapaths.items()):
            host = inv.host_by_dpid(dpid)
            if host is None or not self.reconciler.is_synced(dpid):
                continue
            if host.role == 'tor':
                if vlans or dpid not in self._applied:
                    order.append((1, host, dp, set()))
                continue
            networks = set(inv.networks_on(host.name))
            if (everything or dpid not in self._applied
                    or (networks | self._networks_of.get(dpid, set())) & affected):
                rank = 0 if host.name in arriving else 3 if host.name in leaving else 2
                order.append((rank, host, dp, networks))
        for rank, host, dp, networks in sorted(order, key=lambda item: item[0]):
            try:
                flows = compile_host(inv, host)
                if self.reconciler.apply(dp, flows):
                    self.timeline.append({'time': time.time(), 'event': 'sent',
                                          'host': host.name})
                    if rank == 0:
                        hub.sleep(0)    # its socket writes now: it applies while we go on
                self._desired[dp.id] = flows
                self._networks_of[dp.id] = networks
                self._applied.add(dp.id)
            except Exception:                  # one bad switch must not stop the rest
                LOG.exception('reconcile of %s failed', host.name)

    # ---- switch events --------------------------------------------------------
    @set_ev_cls(ofp_event.EventOFPSwitchFeatures, CONFIG_DISPATCHER)
    def _switch_features(self, ev):
        dp = ev.msg.datapath
        LOG.info('switch %#x connected', dp.id)
        self.datapaths[dp.id] = dp
        self._applied.discard(dp.id)
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
        """{rule id: {packets, bytes}} summed over every hypervisor, read now from
        the flows that allow traffic by that rule (new and established)."""
        inv = Inventory.from_store(self.store)
        rule_of = {firewall.rule_mark(r): r['id'] for g in inv.groups.values() for r in g.rules}
        waiters = []
        for dpid, dp in list(self.datapaths.items()):
            host = inv.host_by_dpid(dpid)
            if host is None or host.role != 'hypervisor':
                continue
            ofp, parser = dp.ofproto, dp.ofproto_parser
            req = parser.OFPFlowStatsRequest(dp, 0, ofp.OFPTT_ALL, ofp.OFPP_ANY, ofp.OFPG_ANY,
                                             firewall.COOKIE, firewall.COOKIE_MASK,
                                             parser.OFPMatch())
            dp.set_xid(req)
            waiter = (hub.Event(), [])
            self._stat_waiters[req.xid] = waiter
            waiters.append((req.xid, waiter))
            dp.send_msg(req)
        marks = {dpid: firewall.marks_by_cookie(flows) for dpid, flows in self._desired.items()}
        totals = {}
        for xid, (event, replies) in waiters:
            event.wait(timeout)
            del self._stat_waiters[xid]
            for dpid, stat in replies:
                rule_id = rule_of.get(marks.get(dpid, {}).get(stat.cookie))
                if rule_id:
                    entry = totals.setdefault(rule_id, {'packets': 0, 'bytes': 0})
                    entry['packets'] += stat.packet_count
                    entry['bytes'] += stat.byte_count
        return totals

    def _host_by_dpid(self, dpid):
        return next((h for h in self.store.list('host') if h.dpid == dpid), None)

    def _host_of(self, dp):
        host = self._host_by_dpid(dp.id)
        return host if host is not None and host.role == 'hypervisor' else None

    @set_ev_cls(ofp_event.EventOFPPortDescStatsReply, MAIN_DISPATCHER)
    def _port_desc(self, ev):
        host = self._host_of(ev.msg.datapath)
        if host is None:
            return
        devices = {p.name.decode(): p.port_no for p in ev.msg.body}
        for device, (where, _) in list(self.seen.items()):
            if where == host.name and device not in devices:
                del self.seen[device]
        self.seen.update((d, (host.name, n)) for d, n in devices.items())
        self.service.bind(host.name, devices)
        self.service.unbind(host.name, keep=devices)

    @set_ev_cls(ofp_event.EventOFPPortStatus, MAIN_DISPATCHER)
    def _port_status(self, ev):
        msg = ev.msg
        host = self._host_of(msg.datapath)
        if host is None:
            return
        name = msg.desc.name.decode()
        self.timeline.append({'time': time.time(), 'event': 'port', 'host': host.name,
                            'device': name, 'reason': msg.reason,
                            'ofport': msg.desc.port_no, 'state': msg.desc.state})
        if msg.reason == msg.datapath.ofproto.OFPPR_DELETE:
            if self.seen.get(name, ('',))[0] == host.name:
                del self.seen[name]
            # a migrating vNIC leaves its source just before it appears on its
            # destination: wait a moment rather than unbind and rebind at once
            hub.spawn_after(UNBIND_DELAY, self._unbind_if_gone, host.name, name)
            return
        link_up = not msg.desc.state & msg.datapath.ofproto.OFPPS_LINK_DOWN
        awaited = any(p.device == name and p.migrating_to == host.name
                      for p in self.store.list('port'))
        if awaited and not link_up:
            return      # live migration: plugged on its destination, not resumed yet
        if (awaited or msg.reason == msg.datapath.ofproto.OFPPR_ADD
                or self.seen.get(name, (host.name,))[0] == host.name and link_up):
            # an ADD moves a vNIC, and so does the link of an awaited one coming up;
            # a MODIFY from a host it has left must never bind it back there
            self.seen[name] = (host.name, msg.desc.port_no)
            self.service.bind(host.name, {name: msg.desc.port_no})

    def _unbind_if_gone(self, host_name, device):
        if self.seen.get(device, ('',))[0] != host_name:
            self.service.unbind(host_name, devices={device})

    @set_ev_cls(ofp_event.EventOFPBundleCtrlMsg, MAIN_DISPATCHER)
    def _bundle_reply(self, ev):
        """A switch confirms it applied a bundle: the moment flows are installed."""
        msg = ev.msg
        if msg.type == msg.datapath.ofproto.OFPBCT_COMMIT_REPLY:
            self._confirmed[msg.datapath.id] = msg.bundle_id
            host = self._host_by_dpid(msg.datapath.id)
            self.timeline.append({'time': time.time(), 'event': 'commit',
                                'host': host.name if host else None,
                                'bundle': msg.bundle_id})

    @set_ev_cls(ofp_event.EventOFPErrorMsg, MAIN_DISPATCHER)
    def _error(self, ev):
        msg = ev.msg
        LOG.error('switch %#x rejected a message: type=%d code=%d data=%s',
                  msg.datapath.id, msg.type, msg.code, bytes(msg.data[:64]).hex())
