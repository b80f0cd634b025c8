"""Every import of the OpenFlow framework, in one place: Ryu or os-ken.

Apps and tests import the framework from here, never ``ryu`` or ``os_ken``
themselves (``tests/unit/test_runtime.py`` checks it). The project runs on two
runtimes (docs/runtime.md): Ryu 4.34 on Python 3.11, and os-ken, OpenStack's
maintained fork, on Python 3.12 and later, both on eventlet's green threads.
``RUNTIME`` names the one imported: Ryu when it is installed (scripts/setup.sh
installs it on Python 3.11 only), else os-ken. This module also holds the one
fix the project makes to the framework's OpenFlow TLS listener (below), the
controller's side of switches that listen for it (``dial_switch``), and the
launcher of os-ken, which has none of its own since 4.0 (``run_manager``).
"""
import importlib.util
import logging
import os
import socket
import ssl
import struct
import sys

if importlib.util.find_spec('ryu') is None:   # Python >= 3.12: Ryu cannot run there
    RUNTIME = 'os-ken'
    # The project is written for green threads: its REST server is eventlet's
    # WSGI server (controller/api/http_server.py), its loops yield with hub.sleep(0),
    # and its state is shared between green threads without locks. os-ken 4
    # defaults to native threads; the hub type is read once, at its import.
    if os.environ.get('OSKEN_HUB_TYPE', 'eventlet') != 'eventlet':
        raise RuntimeError('vnetsec runs on the eventlet hub only (OSKEN_HUB_TYPE=%s)'
                           % os.environ['OSKEN_HUB_TYPE'])
    os.environ['OSKEN_HUB_TYPE'] = 'eventlet'
    from os_ken import __version__ as VERSION
    from os_ken import cfg
    from os_ken import log as _log
    from os_ken.base import app_manager
    from os_ken.controller import controller as _ofp_controller
    from os_ken.controller import ofp_event
    from os_ken.controller.handler import (CONFIG_DISPATCHER, DEAD_DISPATCHER,
                                           MAIN_DISPATCHER, set_ev_cls)
    from os_ken.lib import hub
    from os_ken.ofproto import ofproto_parser as wire  # decoding raw OpenFlow bytes
    from os_ken.ofproto import ofproto_v1_4, ofproto_v1_4_parser
    RyuApp = app_manager.OSKenApp
    if hub.HUB_TYPE != 'eventlet':      # os_ken.lib.hub was imported before this module
        raise RuntimeError('os-ken was imported with OSKEN_HUB_TYPE=%s; vnetsec needs '
                           'eventlet' % hub.HUB_TYPE)
else:
    RUNTIME = 'ryu'
    from ryu import cfg
    from ryu import log as _log
    from ryu import version as VERSION
    from ryu.base import app_manager
    from ryu.controller import controller as _ofp_controller
    from ryu.controller import ofp_event
    from ryu.controller.handler import (CONFIG_DISPATCHER, DEAD_DISPATCHER, MAIN_DISPATCHER,
                                        set_ev_cls)
    from ryu.lib import hub
    from ryu.ofproto import ofproto_parser as wire  # decoding raw OpenFlow bytes
    from ryu.ofproto import ofproto_v1_4, ofproto_v1_4_parser
    RyuApp = app_manager.RyuApp

CONF = cfg.CONF
OFP_VERSION = ofproto_v1_4.OFP_VERSION
ofproto = ofproto_v1_4
parser = ofproto_v1_4_parser


class TlsStreamServer(hub.StreamServer):
    """The OpenFlow listener, with a backlog for a thousand switches at once.
    Ryu 4.34's OpenFlow TLS listener pops its TLS arguments out of a shared dict
    on the first connection, so every later switch fails its handshake
    ("certfile must be specified"). This one builds the TLS context once, requires
    TLS 1.2 or later, bounds the handshake in time, and logs a failed handshake
    (a switch without a certificate the CA signed, a plain-TCP client) and closes
    the connection."""

    HANDSHAKE_SECONDS = 10
    BACKLOG = 4096      # eventlet listens with 50: 1,000 switches reconnecting at once
                        # overflow it, and the dropped ones retry their SYN after 1, 3,
                        # 7, 15, 31, 63 s (bench.scale saw 2 minutes to the last one)

    def __init__(self, listen_info, handle=None, keyfile=None, certfile=None,
                 cert_reqs=ssl.CERT_NONE, ca_certs=None, **_ryu_ssl_args):
        super().__init__(listen_info, handle)
        self.server.listen(self.BACKLOG)
        if certfile is None:          # Ryu's plain-TCP listener
            return
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.minimum_version = ssl.TLSVersion.TLSv1_2
        self.context.load_cert_chain(certfile, keyfile)
        if ca_certs:
            self.context.load_verify_locations(ca_certs)
        self.context.verify_mode = cert_reqs
        self.handle = self._handshake_then(handle)

    def _handshake_then(self, handle):
        def wrap_and_handle(sock, addr):
            sock.settimeout(self.HANDSHAKE_SECONDS)
            # the TLS socket owns the connection from here: close that one
            tls = self.context.wrap_socket(sock, server_side=True,
                                           do_handshake_on_connect=False)
            try:
                tls.do_handshake()
            except (ssl.SSLError, OSError) as e:
                _LOG.warning('OpenFlow TLS handshake from %s:%s failed: %s',
                             addr[0], addr[1], e)
                tls.close()
                return
            handle(tls, addr)
        return wrap_and_handle


_LOG = logging.getLogger('vnetsec.tls')
_ofp_controller.StreamServer = TlsStreamServer   # Ryu looks it up per listener


def every(interval, work, what):
    """Run ``work()`` every ``interval`` seconds on a green thread, for ever; a
    failure is logged (``what`` failed) and the next round runs as usual."""
    def loop():
        while True:
            hub.sleep(interval)
            try:
                work()
            except Exception:
                logging.getLogger('vnetsec').exception('%s failed', what)
    return hub.spawn(loop)


def dial_switch(address, interval, tls=None, timeout=5.0):
    """Connect to a switch that listens for its controllers (OVS ``ptcp:`` or
    ``pssl:``) and serve it as Ryu serves a switch that connected; once the
    connection ends or fails, try again every ``interval`` seconds. ``tls``: a
    client-side ``ssl.SSLContext``. Returns a function that stops the retries
    (a connection up stays up)."""
    dialing = [True]

    def loop():
        failed = None
        while dialing[0]:
            try:
                sock = socket.create_connection(address, timeout)
            except OSError as e:
                if str(e) != failed:            # once per kind of failure, not every try
                    failed = str(e)
                    _LOG.info('switch at %s:%d not reached: %s', address[0], address[1], e)
                hub.sleep(interval)
                continue
            failed = None
            try:
                if tls:
                    sock = tls.wrap_socket(sock)        # handshake within ``timeout``
                _ofp_controller.datapath_connection_factory(sock, address)  # until it ends
            except (OSError, ssl.SSLError) as e:
                _LOG.warning('switch at %s:%d: connection failed: %s', address[0],
                             address[1], e)
            except Exception:                   # Ryu logged it; keep dialing
                pass
            sock.close()
            hub.sleep(interval)
    hub.spawn(loop)
    return lambda: dialing.__setitem__(0, False)


def dialing_tls(conf):
    """The TLS context for dialing switches when OpenFlow runs over TLS (the
    controller's certificate, switches' certificates checked against the CA;
    a switch is known by its address, not by a name in its certificate), else None."""
    if not (conf.ctl_privkey and conf.ctl_cert and conf.ca_certs):
        return None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.check_hostname = False
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_cert_chain(conf.ctl_cert, conf.ctl_privkey)
    context.load_verify_locations(conf.ca_certs)
    return context


class FlowStatsHead:
    """A flow-stats record decoded only as far as the controller reads it
    (cookie, table, priority, counters); its match and instructions are decoded
    by Ryu on first access. Ryu's full decoding (every match field and action
    into objects) was 40% of the controller's CPU when 1,000 switches
    reconnected at once (bench.scale).

    Decoding yields to the event loop every ``YIELD_EVERY`` records: Ryu decodes
    all a switch has sent before its green thread waits again, so a hundred
    tables read back at once (a replica taking switches over) kept the loop
    from every other task (its heartbeat, its lease) for seconds."""

    HEAD = struct.Struct(ofproto_v1_4.OFP_FLOW_STATS_0_PACK_STR)
    YIELD_EVERY = 200
    decoded = 0
    FIELDS = ('length', 'table_id', 'duration_sec', 'duration_nsec', 'priority',
              'idle_timeout', 'hard_timeout', 'flags', 'importance', 'cookie',
              'packet_count', 'byte_count')

    @classmethod
    def parser(cls, buf, offset):
        head = cls()
        head.__dict__.update(zip(cls.FIELDS, cls.HEAD.unpack_from(buf, offset)))
        head._raw = (buf, offset)
        FlowStatsHead.decoded += 1
        if not FlowStatsHead.decoded % cls.YIELD_EVERY:
            hub.sleep(0)
        return head

    def __getattr__(self, name):          # match, instructions: Ryu's full decoding
        if name.startswith('_'):
            raise AttributeError(name)
        full = ofproto_v1_4_parser.OFPFlowStats.parser(*self._raw)
        self.__dict__.update(match=full.match, instructions=full.instructions)
        return getattr(full, name)


ofproto_v1_4_parser.OFPFlowStatsReply.cls_stats_body_cls = FlowStatsHead


def _teach_nd_fields():
    """OVS's two ND fields that let a flow turn a Neighbor Solicitation into an
    Advertisement (features/vxlan.py's ND responder): ``nd_reserved`` (the R, S,
    O flags) and ``nd_options_type`` (source → target link-layer address
    option), ERICOXM class 0x1000, fields 1 and 2 in OVS's meta-flow. Neither
    framework declares them; both build their OXM codec from ``oxm_types``, so
    declaring them there and regenerating encodes them in flows and decodes
    them in flow dumps."""
    from importlib import import_module
    runtime = 'os_ken' if RUNTIME == 'os-ken' else 'ryu'
    oxm_fields = import_module(runtime + '.ofproto.oxm_fields')
    type_desc = import_module(runtime + '.lib.type_desc')

    class Ericsson(oxm_fields._OxmClass):
        _class = 0x1000

    if not any(f.name == 'nd_reserved' for f in ofproto_v1_4.oxm_types):
        ofproto_v1_4.oxm_types += [Ericsson('nd_reserved', 1, type_desc.Int4),
                                   Ericsson('nd_options_type', 2, type_desc.Int1)]
        oxm_fields.generate(ofproto_v1_4.__name__)


_teach_nd_fields()

def run_manager(argv, prog='vnetsec-controller'):
    """Run the apps named in ``argv`` (and its options: ``--config-file``, the
    framework's ``--ofp-*``, ...) as ``ryu-manager`` runs them, on either runtime;
    the caller has monkey-patched with eventlet first (controller/launcher.py).
    On Ryu this is ``ryu-manager`` itself; os-ken 4 has no launcher any more
    (``os_ken.cmd`` was removed), so this is what its ``osken-manager`` did."""
    if RUNTIME == 'ryu':
        from controller import compat
        compat.install()                    # ryu.app.wsgi, imported by the manager
        from ryu.cmd import manager
        return manager.main(args=argv, prog=prog)
    CONF.register_cli_opts([
        cfg.ListOpt('app-lists', default=[], help='application module name to run'),
        cfg.MultiStrOpt('app', positional=True, default=[],
                        help='application module name to run'),
        cfg.StrOpt('pid-file', default=None, help='pid file name'),
    ])
    CONF(args=argv, prog=prog, project='vnetsec',
         version='%s (os-ken %s)' % (prog, VERSION))
    _log.init_log()
    if CONF.pid_file:
        with open(CONF.pid_file, 'w') as f:
            f.write('%d\n' % os.getpid())
    apps = CONF.app_lists + CONF.app
    if not apps:
        sys.exit('%s: name the apps to run, e.g. apps.vlan apps.vxlan apps.firewall' % prog)
    manager = app_manager.AppManager.get_instance()
    manager.load_apps(apps)
    services = manager.instantiate_apps(**manager.create_contexts())
    try:
        hub.joinall(services)
    except KeyboardInterrupt:
        pass
    finally:
        manager.close()


__all__ = ['CONF', 'CONFIG_DISPATCHER', 'DEAD_DISPATCHER', 'MAIN_DISPATCHER', 'OFP_VERSION',
           'RUNTIME', 'RyuApp', 'VERSION', 'cfg', 'dial_switch', 'dialing_tls', 'every', 'hub',
           'ofp_event', 'ofproto', 'parser', 'run_manager', 'set_ev_cls', 'wire']
