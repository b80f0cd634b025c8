"""A switch simulator for scale: one process speaking real OpenFlow 1.4 over TCP
as many switches (hypervisors and ToRs), so the controller can be measured at
a thousand hypervisors on a machine that holds a hundred real ones.

Each simulated switch connects to the controller, answers the handshake with
its datapath id, describes its ports (the vNICs, named as the lab names them:
``tapvmN``, the tunnel port ``vxlan0``, the uplink patch), applies bundles
(open / add / commit, all or nothing) and plain FlowMods to an in-memory
:class:`bench.flowtable.FlowTable`, answers flow-stats from it (multipart),
barrier, echo, role and get-config requests, and sends port-status events when
told to plug, unplug or move a vNIC. Pointed at several controllers (replicas)
each switch connects to every one and keeps roles as OVS does: one master,
generations never going back, a slave's writes refused (``OFPBRC_IS_SLAVE``). What OVS would refuse (table full, bad
match, a goto backwards) gets an OpenFlow error. One selector loop, non-blocking
sockets: hundreds of switches per process.

Driven through stdin/stdout, one JSON object per line each way::

    {"cmd": "plug", "dpid": 3, "device": "tapvm7", "ofport": 9}
    {"cmd": "unplug", "dpid": 3, "device": "tapvm7"}
    {"cmd": "move", "device": "tapvm7", "from": 3, "to": 5, "ofport": 12}
    {"cmd": "clear"}                   # empty every flow table (a cold start)
    {"cmd": "stats"}                   # per switch: flows, commits, flow mods, last commit
    {"cmd": "cookies", "dpid": 3}      # the cookies a switch holds
    {"cmd": "quit"}

Each answer is ``{"ok": true, ...}`` or ``{"ok": false, "error": "..."}``.

    python -m bench.ofsim --controller 127.0.0.1:6653 --switches spec.json

``spec.json``: ``[{"dpid": 1, "ports": {"tapvm1": 1, "vxlan0": 4000}}, ...]`` (and
``"bridge"``, the LOCAL port's name, default ``br-int``).
"""
import argparse
import errno
import json
import os
import selectors
import socket
import struct
import sys
import time

from bench.flowtable import (OFPET_BAD_REQUEST, OFPET_BUNDLE_FAILED, OFPBRC_BAD_TYPE,
                             FlowTable, OfError, parse_flow_mod)

VERSION = 5                                # OpenFlow 1.4
HELLO, ERROR, ECHO_REQUEST, ECHO_REPLY, EXPERIMENTER = 0, 1, 2, 3, 4
NX_VENDOR_ID, NXT_CT_FLUSH_ZONE = 0x00002320, 29    # Open vSwitch's, which answers nothing
FEATURES_REQUEST, FEATURES_REPLY, GET_CONFIG_REQUEST, GET_CONFIG_REPLY = 5, 6, 7, 8
SET_CONFIG, PORT_STATUS, FLOW_MOD = 9, 12, 14
MULTIPART_REQUEST, MULTIPART_REPLY, BARRIER_REQUEST, BARRIER_REPLY = 18, 19, 20, 21
ROLE_REQUEST, ROLE_REPLY, SET_ASYNC, BUNDLE_CONTROL, BUNDLE_ADD = 24, 25, 28, 33, 34
METER_MOD = 29                              # the controller meter (firewall logs): kept by no one here
MP_FLOW, MP_PORT_DESC, MP_REPLY_MORE = 1, 13, 1
OPEN_REQUEST, OPEN_REPLY, CLOSE_REQUEST, CLOSE_REPLY = 0, 1, 2, 3
COMMIT_REQUEST, COMMIT_REPLY, DISCARD_REQUEST, DISCARD_REPLY = 4, 5, 6, 7
OFPBFC_BAD_ID, OFPBFC_MSG_FAILED = 2, 13
ROLE_STATUS, OFPET_ROLE_REQUEST_FAILED, OFPRRFC_STALE, OFPBRC_IS_SLAVE = 30, 11, 0, 10
ROLE_NOCHANGE, ROLE_EQUAL, ROLE_MASTER, ROLE_SLAVE = 0, 1, 2, 3
WRITES = {FLOW_MOD, BUNDLE_ADD, BUNDLE_CONTROL, METER_MOD}   # refused from a slave
OFPPR_ADD, OFPPR_DELETE, OFPPR_MODIFY = 0, 1, 2
OFPP_LOCAL = 0xfffffffe
N_TABLES = 254
MAX_MP_BODY = 65000                         # a multipart message stays under 64 KiB
HEADER = struct.Struct('!BBHI')


def message(kind, xid, body=b''):
    return HEADER.pack(VERSION, kind, 8 + len(body), xid) + body


def port_record(number, name, link_up=True):
    """ofp_port (OpenFlow 1.4) with its Ethernet property, as OVS describes a port."""
    mac = bytes((2, 0xee, (number >> 24) & 0xff, (number >> 16) & 0xff,
                 (number >> 8) & 0xff, number & 0xff))
    ethernet = struct.pack('!HH4xIIIIII', 0, 32, 0x2840, 0, 0, 0, 10_000_000, 0)
    return struct.pack('!IH2x6s2x16sII', number, 40 + len(ethernet), mac,
                       name.encode()[:15], 0, 0 if link_up else 1) + ethernet


class Conn:
    """One of a switch's connections: one per controller (replica) it is pointed at."""

    def __init__(self, sw, address):
        self.sw, self.address = sw, address
        self.sock = None
        self.inbuf = bytearray()
        self.outbuf = bytearray()
        self.connected = False
        self.retry_at = 0.0
        self.bundles = {}                       # id -> [FlowMod] or an OfError (failed add)
        self.role = ROLE_EQUAL


class Switch:
    """One simulated switch: its ports, its flow table, its connections."""

    def __init__(self, dpid, ports, flow_limit, bridge='br-int', controllers=()):
        self.dpid, self.bridge = dpid, bridge
        self.ports = dict(ports)                # name -> OpenFlow port number
        self.table = FlowTable(flow_limit)
        self.conns = [Conn(self, address) for address in controllers]
        self.generation = None                  # the highest role generation seen (as OVS)
        self.commits = self.flow_mods = self.errors = self.connects = self.zone_flushes = 0
        self.last_commit = 0.0                  # time.time() of the last bundle applied
        self.apply_seconds = 0.0                # CPU the table updates took (the switch's share)
        self.by_controller = {}                 # controller index -> flow mods applied from it

    @property
    def connected(self):
        return all(c.connected for c in self.conns)


class Simulator:
    def __init__(self, controllers, specs, retry=0.05, flow_limit=1_000_000):
        """``controllers``: a (host, port) or a list of them (replicas): every
        switch connects to each, as OVS does to each of its controller targets."""
        if isinstance(controllers, tuple):
            controllers = [controllers]
        self.controllers = list(controllers)
        self.retry = retry
        self.switches = {s['dpid']: Switch(s['dpid'], s.get('ports', {}), flow_limit,
                                           s.get('bridge', 'br-int'), self.controllers)
                         for s in specs}
        self.sel = selectors.DefaultSelector()
        self.running = True
        self._control = bytearray()

    # ---- connections ----------------------------------------------------------
    def connect(self, conn):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        err = sock.connect_ex(conn.address)
        if err not in (0, errno.EINPROGRESS):
            sock.close()
            conn.retry_at = time.monotonic() + self.retry
            return
        conn.sock, conn.connected, conn.role = sock, False, ROLE_EQUAL
        conn.inbuf.clear()
        conn.outbuf.clear()
        self.sel.register(sock, selectors.EVENT_WRITE, conn)

    def drop(self, conn):
        """The controller went away (or refused us): try again in a moment, with
        the flows kept (fail_mode=secure)."""
        if conn.sock is not None:
            self.sel.unregister(conn.sock)
            conn.sock.close()
        conn.sock, conn.connected = None, False
        conn.bundles.clear()
        conn.retry_at = time.monotonic() + self.retry

    def send(self, conn, data):
        if conn.sock is None:
            return
        if not conn.outbuf:
            try:
                sent = conn.sock.send(data)
            except BlockingIOError:
                sent = 0
            except OSError:
                self.drop(conn)
                return
            data = data[sent:]
            if not data:
                return
            self.sel.modify(conn.sock, selectors.EVENT_READ | selectors.EVENT_WRITE, conn)
        conn.outbuf += data

    def on_writable(self, conn):
        if not conn.connected:
            if conn.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                self.drop(conn)
                return
            conn.connected = True
            conn.sw.connects += 1
            self.sel.modify(conn.sock, selectors.EVENT_READ, conn)
            self.send(conn, message(HELLO, 1, struct.pack('!HHI', 1, 8, 1 << VERSION)))
            return
        try:
            sent = conn.sock.send(conn.outbuf)
        except BlockingIOError:
            return
        except OSError:
            self.drop(conn)
            return
        del conn.outbuf[:sent]
        if not conn.outbuf:
            self.sel.modify(conn.sock, selectors.EVENT_READ, conn)

    def on_readable(self, conn):
        try:
            data = conn.sock.recv(1 << 20)
        except BlockingIOError:
            return
        except OSError:
            data = b''
        if not data:
            self.drop(conn)
            return
        buf = conn.inbuf
        buf += data
        start = 0
        while len(buf) - start >= 8:
            length = (buf[start + 2] << 8) | buf[start + 3]
            if length < 8:
                self.drop(conn)
                return
            if len(buf) - start < length:
                break
            self.handle(conn, bytes(buf[start:start + length]))
            start += length
            if conn.sock is None:
                return
        del buf[:start]

    # ---- OpenFlow -------------------------------------------------------------
    def handle(self, conn, msg):
        sw = conn.sw
        kind, xid = msg[1], struct.unpack_from('!I', msg, 4)[0]
        if kind in WRITES and conn.role == ROLE_SLAVE:     # as OVS: a slave cannot write
            self.error(conn, xid, OfError(OFPET_BAD_REQUEST, OFPBRC_IS_SLAVE), msg)
        elif kind == BUNDLE_ADD:
            self.bundle_add(conn, msg)
        elif kind == BUNDLE_CONTROL:
            self.bundle_control(conn, msg, xid)
        elif kind == ECHO_REQUEST:
            self.send(conn, message(ECHO_REPLY, xid, msg[8:]))
        elif kind == FEATURES_REQUEST:
            self.send(conn, message(FEATURES_REPLY, xid, struct.pack(
                '!QIBB2xII', sw.dpid, 0, N_TABLES, 0, 0x4f, 0)))
        elif kind == MULTIPART_REQUEST:
            self.multipart(conn, msg, xid)
        elif kind == FLOW_MOD:
            self.flow_mod(conn, msg)
        elif kind == BARRIER_REQUEST:
            self.send(conn, message(BARRIER_REPLY, xid))
        elif kind == ROLE_REQUEST:
            self.role_request(conn, msg, xid)
        elif kind == GET_CONFIG_REQUEST:
            self.send(conn, message(GET_CONFIG_REPLY, xid, struct.pack('!HH', 0, 0xffff)))
        elif kind in (HELLO, SET_CONFIG, SET_ASYNC, ECHO_REPLY, ERROR, METER_MOD):
            pass
        elif kind == EXPERIMENTER and struct.unpack_from('!II', msg, 8) == (NX_VENDOR_ID,
                                                                          NXT_CT_FLUSH_ZONE):
            sw.zone_flushes += 1        # a switch without conntrack: nothing to empty
        else:
            self.error(conn, xid, OfError(OFPET_BAD_REQUEST, OFPBRC_BAD_TYPE), msg)

    def role_request(self, conn, msg, xid):
        """As OVS: MASTER or SLAVE at a generation no older than the newest seen
        (else OFPRRFC_STALE); a new master demotes the former one to slave and
        tells it (ROLE_STATUS)."""
        sw = conn.sw
        role, generation = struct.unpack_from('!I4xQ', msg, 8)
        if role in (ROLE_MASTER, ROLE_SLAVE):
            if sw.generation is not None and (generation - sw.generation) % 2 ** 64 >= 2 ** 63:
                self.error(conn, xid, OfError(OFPET_ROLE_REQUEST_FAILED, OFPRRFC_STALE), msg)
                return
            sw.generation = generation
            if role == ROLE_MASTER:
                for other in sw.conns:
                    if other is not conn and other.role == ROLE_MASTER:
                        other.role = ROLE_SLAVE
                        self.send(other, message(ROLE_STATUS, 0, struct.pack(
                            '!IB3xQ', ROLE_SLAVE, 0, generation)))
        if role != ROLE_NOCHANGE:
            conn.role = role
        self.send(conn, message(ROLE_REPLY, xid, struct.pack('!I4xQ', conn.role,
                                                             sw.generation or 0)))

    def error(self, conn, xid, err, data):
        conn.sw.errors += 1
        self.send(conn, message(ERROR, xid, struct.pack('!HH', err.type, err.code) + data[:64]))

    def applied_from(self, conn, count):
        index = self.controllers.index(conn.address)
        conn.sw.by_controller[index] = conn.sw.by_controller.get(index, 0) + count

    def flow_mod(self, conn, msg):
        sw = conn.sw
        t0 = time.process_time()
        try:
            sw.table.apply([parse_flow_mod(msg, N_TABLES)])
            sw.flow_mods += 1
            self.applied_from(conn, 1)
        except OfError as e:
            self.error(conn, struct.unpack_from('!I', msg, 4)[0], e, msg)
        sw.apply_seconds += time.process_time() - t0

    def bundle_add(self, conn, msg):
        bundle_id = struct.unpack_from('!I', msg, 8)[0]
        inner = msg[16:]
        mods = conn.bundles.setdefault(bundle_id, [])   # the first add opens it (as OVS)
        if isinstance(mods, OfError):
            return
        try:
            if len(inner) < 8 or inner[1] != FLOW_MOD:
                raise OfError(OFPET_BAD_REQUEST, OFPBRC_BAD_TYPE, 'not a FlowMod')
            mods.append(parse_flow_mod(inner, N_TABLES))
        except OfError as e:
            self.error(conn, struct.unpack_from('!I', inner, 4)[0], e, inner)
            conn.bundles[bundle_id] = e

    def bundle_control(self, conn, msg, xid):
        sw = conn.sw
        bundle_id, kind, flags = struct.unpack_from('!IHH', msg, 8)

        def reply(kind):
            self.send(conn, message(BUNDLE_CONTROL, xid, struct.pack('!IHH', bundle_id, kind,
                                                                   flags)))
        if kind == OPEN_REQUEST:
            conn.bundles[bundle_id] = []
            reply(OPEN_REPLY)
        elif kind == CLOSE_REQUEST:
            reply(CLOSE_REPLY)
        elif kind == DISCARD_REQUEST:
            conn.bundles.pop(bundle_id, None)
            reply(DISCARD_REPLY)
        elif kind == COMMIT_REQUEST:
            mods = conn.bundles.pop(bundle_id, None)
            if mods is None:
                self.error(conn, xid, OfError(OFPET_BUNDLE_FAILED, OFPBFC_BAD_ID), msg)
                return
            if isinstance(mods, OfError):               # an add was refused: none applies
                self.error(conn, xid, OfError(OFPET_BUNDLE_FAILED, OFPBFC_MSG_FAILED), msg)
                return
            t0 = time.process_time()
            try:
                sw.table.apply(mods)
            except OfError as e:
                sw.apply_seconds += time.process_time() - t0
                self.error(conn, xid, e, msg)
                self.error(conn, xid, OfError(OFPET_BUNDLE_FAILED, OFPBFC_MSG_FAILED), msg)
                return
            sw.apply_seconds += time.process_time() - t0
            sw.flow_mods += len(mods)
            sw.commits += 1
            self.applied_from(conn, len(mods))
            sw.last_commit = time.time()
            reply(COMMIT_REPLY)
        else:
            self.error(conn, xid, OfError(OFPET_BUNDLE_FAILED, OFPBRC_BAD_TYPE), msg)

    def multipart(self, conn, msg, xid):
        sw = conn.sw
        mp_type = struct.unpack_from('!H', msg, 8)[0]
        if mp_type == MP_PORT_DESC:
            records = [port_record(OFPP_LOCAL, sw.bridge)] + [
                port_record(n, name) for name, n in sorted(sw.ports.items(),
                                                           key=lambda item: item[1])]
        elif mp_type == MP_FLOW:
            table, _out_port, _out_group, cookie, mask = struct.unpack_from('!B3xII4xQQ',
                                                                           msg, 16)
            match_len = struct.unpack_from('!H', msg, 50)[0]
            records = sw.table.stats_entries(table, cookie, mask, msg[52:48 + match_len])
        else:
            self.error(conn, xid, OfError(OFPET_BAD_REQUEST, 2), msg)   # OFPBRC_BAD_MULTIPART
            return
        out, chunk, size = [], [], 0
        for record in records:
            if size + len(record) > MAX_MP_BODY and chunk:
                out.append(chunk)
                chunk, size = [], 0
            chunk.append(record)
            size += len(record)
        out.append(chunk)
        for i, chunk in enumerate(out):
            more = MP_REPLY_MORE if i < len(out) - 1 else 0
            self.send(conn, message(MULTIPART_REPLY, xid, struct.pack('!HH4x', mp_type, more)
                                  + b''.join(chunk)))

    def port_status(self, sw, reason, name, number, link_up=True):
        """To every controller connected (OVS sends port status to slaves too)."""
        for conn in sw.conns:
            if conn.connected:
                self.send(conn, message(PORT_STATUS, 0, struct.pack('!B7x', reason)
                                        + port_record(number, name, link_up)))

    # ---- control (stdin / stdout) ---------------------------------------------
    def command(self, cmd):
        what = cmd.get('cmd')
        if what == 'plug':
            sw = self.switches[cmd['dpid']]
            sw.ports[cmd['device']] = cmd['ofport']
            self.port_status(sw, OFPPR_ADD, cmd['device'], cmd['ofport'],
                             cmd.get('link_up', True))
        elif what == 'unplug':
            sw = self.switches[cmd['dpid']]
            number = sw.ports.pop(cmd['device'])
            self.port_status(sw, OFPPR_DELETE, cmd['device'], number)
        elif what == 'move':
            self.command({'cmd': 'unplug', 'dpid': cmd['from'], 'device': cmd['device']})
            self.command({'cmd': 'plug', 'dpid': cmd['to'], 'device': cmd['device'],
                          'ofport': cmd['ofport']})
        elif what == 'clear':
            for sw in self.switches.values():
                sw.table = FlowTable(sw.table.limit)
        elif what == 'stats':
            times = os.times()
            return {'cpu_seconds': times.user + times.system, 'time': time.time(),
                    'switches': {str(d): {'flows': len(s.table), 'commits': s.commits,
                                          'flow_mods': s.flow_mods, 'errors': s.errors,
                                          'zone_flushes': s.zone_flushes,
                                          'connected': s.connected, 'connects': s.connects,
                                          'last_commit': s.last_commit,
                                          'apply_seconds': s.apply_seconds,
                                          'by_controller': s.by_controller}
                                 for d, s in self.switches.items()}}
        elif what == 'cookies':
            return {'cookies': sorted(self.switches[cmd['dpid']].table.cookies())}
        elif what == 'quit':
            self.running = False
        else:
            raise ValueError('unknown cmd %r' % what)
        return {}

    def on_control(self):
        data = os.read(sys.stdin.fileno(), 1 << 16)
        if not data:
            self.running = False
            return
        self._control += data
        while b'\n' in self._control:
            line, _, rest = bytes(self._control).partition(b'\n')
            self._control = bytearray(rest)
            try:
                answer = dict(ok=True, **self.command(json.loads(line)))
            except Exception as e:          # a bad command must not stop the switches
                answer = {'ok': False, 'error': '%s: %s' % (type(e).__name__, e)}
            sys.stdout.write(json.dumps(answer) + '\n')
            sys.stdout.flush()

    # ---- the loop -------------------------------------------------------------
    def run(self, control=True):
        if control:
            self.sel.register(sys.stdin.fileno(), selectors.EVENT_READ, None)
        conns = [c for sw in self.switches.values() for c in sw.conns]
        for conn in conns:
            self.connect(conn)
        next_retry = 0.0
        while self.running:
            now = time.monotonic()
            if now >= next_retry:               # a look at the dropped ones, not every turn
                next_retry = now + self.retry / 2
                for conn in conns:
                    if conn.sock is None and conn.retry_at <= now:
                        self.connect(conn)
            for key, events in self.sel.select(timeout=self.retry / 2):
                conn = key.data
                if conn is None:
                    self.on_control()
                    continue
                if events & selectors.EVENT_WRITE and conn.sock is not None:
                    self.on_writable(conn)
                if events & selectors.EVENT_READ and conn.sock is not None:
                    self.on_readable(conn)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--controller', default='127.0.0.1:6653',
                   help='HOST:PORT[,HOST:PORT...] (replicas: every switch connects to each)')
    p.add_argument('--switches', required=True, help='JSON file: [{dpid, ports}, ...]')
    p.add_argument('--retry', type=float, default=0.05,
                   help='seconds between connection attempts (OVS: max_backoff, >= 1 s)')
    p.add_argument('--flow-limit', type=int, default=1_000_000,
                   help='flows per switch before OFPFMFC_TABLE_FULL')
    args = p.parse_args(argv)
    controllers = [(host, int(port)) for host, _, port in
                   (c.rpartition(':') for c in args.controller.split(','))]
    with open(args.switches) as f:
        specs = json.load(f)
    Simulator(controllers, specs, args.retry, args.flow_limit).run()


if __name__ == '__main__':
    main()
