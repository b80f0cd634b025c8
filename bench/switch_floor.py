"""The switches' own share of a change: the same number of flows to the same
switches, sent with no controller at all, so a benchmark can print what no
controller could beat on this machine beside what vnetsec takes.

Bundles of harmless flows (a table the pipeline does not use, a cookie of their
own) are encoded before the clock starts and written at once over each bridge's
management socket, one OpenFlow 1.4 connection per switch opened beforehand;
the time is from the first write to the last commit reply. The flows are
deleted again afterwards (by their cookie), so the switches hold what the
controller compiled, as before."""
import itertools
import socket
import statistics
import struct
import time

VERSION = 0x05                                  # OpenFlow 1.4
HELLO, ERROR, FLOW_MOD, BUNDLE_CONTROL, BUNDLE_ADD = 0, 1, 14, 33, 34
COMMIT_REQUEST, COMMIT_REPLY = 2, 3
ATOMIC_ORDERED = 0x3
TABLE = 250                                     # no vnetsec flow lives there
COOKIE = 0x7e00000000000000                     # nor under this owner byte
COOKIE_MASK = 0xff00000000000000
ANY = 0xffffffff
ALL_TABLES = 0xff
_xids = itertools.count(1)
_bundle_ids = itertools.count(0x7e000000)


def _message(kind, body):
    return struct.pack('!BBHI', VERSION, kind, 8 + len(body), next(_xids)) + body


def _flow_mod(command, table, cookie, cookie_mask, match_ip=None):
    """An ADD of ``ip,nw_src=match_ip`` with no instructions (drop), or a
    DELETE of every flow under ``cookie``/``cookie_mask``."""
    fields = b''
    if match_ip is not None:
        fields = (struct.pack('!IH', 0x80000a02, 0x0800)                # eth_type
                  + struct.pack('!I', 0x80001604) + socket.inet_aton(match_ip))  # ipv4_src
    match = struct.pack('!HH', 1, 4 + len(fields)) + fields
    match += b'\0' * (-len(match) % 8)
    return _message(FLOW_MOD, struct.pack('!QQBBHHHIIIHH', cookie, cookie_mask, table, command,
                                          0, 0, 1, ANY, ANY, ANY, 0, 0) + match)


def _bundle(mods):
    """Bundle-adds of ``mods`` (the first opens it) and the commit: one write.
    An added message carries its bundle-add's xid (Open vSwitch checks)."""
    bundle_id = next(_bundle_ids)
    head = struct.pack('!IHH', bundle_id, 0, ATOMIC_ORDERED)
    adds = b''
    for mod in mods:
        xid = next(_xids)
        inner = mod[:4] + struct.pack('!I', xid) + mod[8:]
        adds += struct.pack('!BBHI', VERSION, BUNDLE_ADD, 16 + len(inner), xid) + head + inner
    return (adds
            + _message(BUNDLE_CONTROL, struct.pack('!IHH', bundle_id, COMMIT_REQUEST,
                                                   ATOMIC_ORDERED)))


def _await_commit(sock):
    buf = b''
    while True:
        while len(buf) < 8 or len(buf) < struct.unpack('!H', buf[2:4])[0]:
            chunk = sock.recv(65536)
            if not chunk:
                raise RuntimeError('the switch closed the connection')
            buf += chunk
        _, kind, length, _ = struct.unpack('!BBHI', buf[:8])
        msg, buf = buf[:length], buf[length:]
        if kind == ERROR:
            raise RuntimeError('the switch refused a bundle: %s' % msg.hex())
        if kind == BUNDLE_CONTROL and struct.unpack('!H', msg[12:14])[0] == COMMIT_REPLY:
            return


def _connect(switch):
    sock = socket.socket(socket.AF_UNIX)
    sock.connect('%s/%s.mgmt' % (switch.ovs.dir, switch.bridge))
    sock.sendall(_message(HELLO, b''))
    return sock


def time_switches(dc, flows_per_switch, runs=20, pause=0.1):
    """ms per run, from writing the first bundle to the last commit reply, with
    ``flows_per_switch`` ({switch name: number of flows}) sent as one bundle per
    switch, the switches in that order. ``pause`` seconds between runs, as
    between one benchmark bind and the next."""
    by_name = {sw.name: sw for sw in dc.switches()}
    socks = {name: _connect(by_name[name]) for name in flows_per_switch}
    times = []
    try:
        for run in range(runs):
            writes = [(socks[name], _bundle([
                _flow_mod(0, TABLE, COOKIE | run << 16 | k, 0,
                          '10.254.%d.%d' % (run % 250, k % 250 + 1)) for k in range(count)]))
                for name, count in flows_per_switch.items()]
            t0 = time.perf_counter()
            for sock, data in writes:
                sock.sendall(data)
            for sock, _ in writes:
                _await_commit(sock)
            times.append((time.perf_counter() - t0) * 1000)
            time.sleep(pause)
        for sock in socks.values():
            sock.sendall(_bundle([_flow_mod(3, ALL_TABLES, COOKIE, COOKIE_MASK)]))
            _await_commit(sock)
    finally:
        for sock in socks.values():
            sock.close()
    return times


def median_max(times):
    return statistics.median(times), max(times)
