"""The switches' own share of a change: the same number of flows to the same
switches, sent with no controller at all, so a benchmark can print what no
controller could beat on this machine beside what vnetsec takes.

Bundles of harmless flows (a table the pipeline does not use, a cookie of their
own) are encoded before the clock starts and written at once over each bridge's
management socket, one OpenFlow 1.4 connection per switch opened beforehand;
the time is from the first write to the last commit reply. The flows are
deleted again afterwards (by their cookie), so the switches hold what the
controller compiled, as before.

    .venv/bin/python -m bench.switch_floor [--ports 1000] [--rests 0,0.01,0.03,0.1,0.5]

prints, on the VLAN benchmark's data center, how long one hypervisor and all
the switches take to confirm a small change by how long they rested before it
(what :mod:`bench.vlan_ports` prints at its own rest and at 100 ms)."""
import argparse
import itertools
import socket
import statistics
import struct
import time

from bench.common import plug_vnics, vlan_networks, wait_synced
from mininet_topos.datacenter import DataCenter

VERSION = 0x05                                  # OpenFlow 1.4
HELLO, ERROR, ECHO_REQUEST, ECHO_REPLY, FLOW_MOD, BUNDLE_CONTROL, BUNDLE_ADD = (
    0, 1, 2, 3, 14, 33, 34)
COMMIT_REQUEST, COMMIT_REPLY = 4, 5          # OFPBCT_*
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


def _await_commit(sock, name):
    buf = b''
    while True:
        while len(buf) < 8 or len(buf) < struct.unpack('!H', buf[2:4])[0]:
            chunk = sock.recv(65536)
            if not chunk:
                raise RuntimeError('%s closed the connection' % name)
            buf += chunk
        _, kind, length, _ = struct.unpack('!BBHI', buf[:8])
        msg, buf = buf[:length], buf[length:]
        if kind == ERROR:
            raise RuntimeError('%s refused a bundle: %s' % (name, msg.hex()))
        if kind == ECHO_REQUEST:            # a long rest: the switch asks if we live
            sock.sendall(msg[:1] + bytes((ECHO_REPLY,)) + msg[2:])
        if kind == BUNDLE_CONTROL and struct.unpack('!H', msg[12:14])[0] == COMMIT_REPLY:
            return


def _connect(switch):
    sock = socket.socket(socket.AF_UNIX)
    sock.connect('%s/%s.mgmt' % (switch.ovs.dir, switch.bridge))
    sock.sendall(_message(HELLO, b''))
    return sock


def time_switches(dc, flows_per_switch, runs=20, pause=0.1, keep=False):
    """ms per run, from writing the first bundle to the last commit reply, with
    ``flows_per_switch`` ({switch name: number of flows}) sent as one bundle per
    switch, the switches in that order. ``pause`` seconds between runs, as
    between one benchmark bind and the next. The flows are removed afterwards
    unless ``keep`` (then :func:`remove` does it)."""
    socks = _connections(dc, flows_per_switch)
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
            for (sock, _), name in zip(writes, flows_per_switch):
                _await_commit(sock, name)
            times.append((time.perf_counter() - t0) * 1000)
            time.sleep(pause)
        if not keep:
            _remove(socks)
    finally:
        for sock in socks.values():
            sock.close()
    return times


def remove(dc, names):
    """Delete the flows :func:`time_switches` left on the switches ``names``."""
    socks = _connections(dc, names)
    try:
        _remove(socks)
    finally:
        for sock in socks.values():
            sock.close()


def _connections(dc, names):
    by_name = {sw.name: sw for sw in dc.switches()}
    return {name: _connect(by_name[name]) for name in names}


def _remove(socks):
    for name, sock in socks.items():
        sock.sendall(_bundle([_flow_mod(3, ALL_TABLES, COOKIE, COOKIE_MASK)]))
        _await_commit(sock, name)


def median_max(times):
    return statistics.median(times), max(times)


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--ports', type=int, default=1000)
    p.add_argument('--rests', default='0,0.01,0.03,0.1,0.5', help='seconds, comma-separated')
    p.add_argument('--runs', type=int, default=20)
    args = p.parse_args()
    with DataCenter(racks=2, hypervisors=5, vms=1, networks='vlan:10') as dc:
        dc.client.post('/v1/ports', {'ports': plug_vnics(dc, args.ports, vlan_networks(dc, 10))})
        wait_synced(dc)
        hvs = [h.name for h in dc.hypervisors()]
        everyone = dict({hvs[0]: 20}, **{sw.name: 2 for sw in dc.switches()
                                         if sw.name != hvs[0]})
        print('The switches alone (%d ports, %d switches): first write -> last commit '
              'reply, ms, median / max of %d,' % (args.ports, len(everyone), args.runs))
        print('by how long the switches rested before the change')
        print('  %-10s %-24s %s' % ('rest', 'one hypervisor (2 flows)',
                                    'all: %s 20 flows, the others 2' % hvs[0]))
        for rest in (float(r) for r in args.rests.split(',')):
            one = time_switches(dc, {hvs[1]: 2}, args.runs, rest)
            every = time_switches(dc, everyone, args.runs, rest)
            print('  %-10s %-24s %5.1f / %5.1f' % ('%g s' % rest, '%5.1f / %5.1f' % median_max(one),
                                                   *median_max(every)))


if __name__ == '__main__':
    main()
