"""Every ``ryu`` import of the project, in one place.

Apps and tests import the framework from here, so that the maintained fork
(os-ken) can replace Ryu by changing this module only. It also holds the one fix
the project makes to Ryu 4.34 (its OpenFlow TLS listener, below), and the
controller's side of switches that listen for it (``dial_switch``).
"""
import logging
import socket
import ssl
import struct

from ryu import cfg
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
    reconnected at once (bench.scale)."""

    HEAD = struct.Struct(ofproto_v1_4.OFP_FLOW_STATS_0_PACK_STR)
    FIELDS = ('length', 'table_id', 'duration_sec', 'duration_nsec', 'priority',
              'idle_timeout', 'hard_timeout', 'flags', 'importance', 'cookie',
              'packet_count', 'byte_count')

    @classmethod
    def parser(cls, buf, offset):
        head = cls()
        head.__dict__.update(zip(cls.FIELDS, cls.HEAD.unpack_from(buf, offset)))
        head._raw = (buf, offset)
        return head

    def __getattr__(self, name):          # match, instructions: Ryu's full decoding
        if name.startswith('_'):
            raise AttributeError(name)
        full = ofproto_v1_4_parser.OFPFlowStats.parser(*self._raw)
        self.__dict__.update(match=full.match, instructions=full.instructions)
        return getattr(full, name)


ofproto_v1_4_parser.OFPFlowStatsReply.cls_stats_body_cls = FlowStatsHead

__all__ = ['CONF', 'CONFIG_DISPATCHER', 'DEAD_DISPATCHER', 'MAIN_DISPATCHER', 'OFP_VERSION',
           'RyuApp', 'cfg', 'dial_switch', 'dialing_tls', 'hub', 'ofp_event', 'ofproto',
           'parser', 'set_ev_cls', 'wire']
