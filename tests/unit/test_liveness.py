"""The replicas' failure detector (controller/switch/liveness.py) against a real
peer process: killed, it is reported at once; frozen, once its heartbeat has
been silent for LIVENESS_SILENCE_SECONDS; busy, never. The reader's decision
against fake connections: a late reader is not fooled by the bytes waiting."""
import ast
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

from controller.constants import HEARTBEAT_SECONDS, LIVENESS_SILENCE_SECONDS
from controller.switch.liveness import Beacon, Liveness

PEER = ('import sys, time\n'
        'from controller.switch.liveness import Liveness\n'
        'import threading\n'
        'live = Liveness("127.0.0.1", lambda f, *a: threading.Thread(target=f, args=a, '
        'daemon=True).start(), print)\n'
        'print(live.address, flush=True)\n'
        'if sys.argv[1:] == ["busy"]:\n'
        '    while True: pass\n'
        'time.sleep(60)\n')


def spawn(fn, *args):
    threading.Thread(target=fn, args=args, daemon=True).start()


@pytest.fixture(params=[''])
def peer(request):
    proc = subprocess.Popen([sys.executable, '-c', PEER] + [request.param][:bool(request.param)],
                            stdout=subprocess.PIPE, text=True,
                            cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
    address = proc.stdout.readline().strip()
    yield proc, address
    proc.kill()
    proc.wait()


def watcher(host='127.0.0.1'):
    dead = []
    seen = threading.Event()

    def on_dead(name, lease):
        dead.append((name, lease, time.monotonic()))
        seen.set()
    return Liveness(host, spawn, on_dead), dead, seen


def test_a_killed_peer_is_reported_dead_within_milliseconds_with_its_lease(peer):
    proc, address = peer
    live, dead, seen = watcher()
    live.watch({'b': (address, 77)})
    time.sleep(0.2)                         # connected
    assert dead == []
    killed = time.monotonic()
    proc.send_signal(signal.SIGKILL)
    assert seen.wait(2)
    (name, lease, at), = dead
    assert (name, lease) == ('b', 77)
    print('kill -9 seen after %.1f ms' % ((at - killed) * 1000))
    assert at - killed < 0.2


def test_a_frozen_peer_is_reported_dead_once_silent_with_its_latest_lease(peer):
    proc, address = peer
    live, dead, seen = watcher()
    live.watch({'b': (address, 77)})
    time.sleep(0.3)
    live.watch({'b': (address, 78)})        # it renewed under a new lease
    frozen = time.monotonic()
    proc.send_signal(signal.SIGSTOP)
    try:
        assert seen.wait(2)
    finally:
        proc.send_signal(signal.SIGCONT)
    (name, lease, at), = dead
    assert (name, lease) == ('b', 78)
    print('SIGSTOP seen after %.3f s' % (at - frozen))
    # by its silence (counted from its last beat, before the SIGSTOP), not at once
    assert LIVENESS_SILENCE_SECONDS / 2 < at - frozen < LIVENESS_SILENCE_SECONDS + 0.4
    assert live.status()['peers_silent'] == 1


@pytest.mark.parametrize('peer', ['busy'], indirect=True)
def test_a_peer_busy_in_python_code_keeps_beating_and_is_never_reported(peer):
    proc, address = peer                    # its main thread spins, holding the GIL
    live, dead, seen = watcher()
    live.watch({'b': (address, 77)})
    assert not seen.wait(2)
    status = live.status()
    print('longest silence of a busy peer: %.3f s' % status['peer_silence_max'])
    assert HEARTBEAT_SECONDS / 2 < status['peer_silence_max'] < LIVENESS_SILENCE_SECONDS
    assert status['peers_silent'] == 0


class FakeConn:
    """A connection whose reads are scripted: bytes, b'' (closed), 'timeout'."""

    def __init__(self, *reads):
        self.reads, self.timeouts = list(reads), []

    def settimeout(self, seconds):
        self.timeouts.append(seconds)

    def recv(self, size):
        read = self.reads.pop(0)
        if read == 'timeout':
            raise socket.timeout()
        if read == 'nothing':
            raise BlockingIOError()
        return read


def test_a_timeout_with_bytes_waiting_is_a_late_reader_not_a_silent_peer():
    live = Liveness('127.0.0.1', spawn, lambda *a: None, silent=0.6)
    # late: the timer fired before the bytes waiting were read; then closed
    assert live._listen(FakeConn(b'.', 'timeout', b'...', b'')) == 'its connection closed'
    assert live.status()['peers_silent'] == 0
    conn = FakeConn(b'.', b'.', 'timeout', 'nothing')
    assert live._listen(conn).startswith('silent for ')
    assert conn.timeouts == [0.6, 0.6, 0.6, 0.0]    # the confirmation does not wait
    assert live.status()['peers_silent'] == 1


GREEN = ('import eventlet\n'
         'eventlet.monkey_patch()\n'
         'import sys, time\n'
         'from controller.switch.liveness import Liveness\n'
         'live = Liveness("127.0.0.1", eventlet.spawn, lambda *a: print("dead", *a))\n'
         'live.watch({"b": (sys.argv[1], 7)})\n'
         'def stall():\n'
         '    eventlet.sleep(0.35)\n'
         '    host, port = sys.argv[1].rsplit(":", 1)\n'
         '    eventlet.connect((host, int(port))).recv(1)\n'
         '    end = time.monotonic() + 1.5\n'
         '    while time.monotonic() < end:\n'
         '        pass\n'
         'eventlet.spawn(stall)\n'
         'eventlet.sleep(2.5)\n'
         'print(live.status(), flush=True)\n')


def test_a_green_reader_whose_own_loop_stalled_does_not_take_its_peer_for_silent():
    """As in the controller: the reader on an eventlet loop, which then stalls
    for longer than the threshold in a green thread woken by a socket (as by an
    OpenFlow message): the hub fires the reader's overdue timeout before it
    polls, but the bytes are there."""
    beacon = Beacon('127.0.0.1')
    done = subprocess.run([sys.executable, '-c', GREEN, beacon.address], capture_output=True,
                          text=True, timeout=20,
                          cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
    beacon.stop()
    status = ast.literal_eval(done.stdout.splitlines()[-1])
    assert 'dead' not in done.stdout and status['peers_silent'] == 0, done.stdout
    assert status['peer_silence_max'] < LIVENESS_SILENCE_SECONDS / 2   # its stall is not counted


def test_a_beacon_beats_on_every_connection_and_stopped_ends_them_at_once():
    beacon = Beacon('127.0.0.1', every=0.05)
    host, port = beacon.address.rsplit(':', 1)
    conns = [socket.create_connection((host, int(port)), timeout=1) for _ in range(2)]
    time.sleep(0.3)
    for conn in conns:
        assert 4 <= len(conn.recv(100)) <= 8     # one byte every 0.05 s
    conns[0].close()                            # a peer that goes is dropped
    time.sleep(0.1)
    assert len(beacon.held) == 1
    threading.Thread(target=beacon.stop).start()
    started = time.monotonic()
    while conns[1].recv(100):
        pass
    assert time.monotonic() - started < 0.1
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((host, int(port)), timeout=1)
    conns[1].close()


def test_a_peer_no_longer_listed_is_not_reported_and_nobody_listening_is_dead(peer):
    proc, address = peer
    live, dead, seen = watcher()
    live.watch({'b': (address, 77)})
    time.sleep(0.2)
    live.watch({})                          # its record is gone: its lease with it
    proc.send_signal(signal.SIGKILL)
    assert not seen.wait(0.5)
    closed = socket.socket()
    closed.bind(('127.0.0.1', 0))           # a port nobody listens on
    live.watch({'c': ('127.0.0.1:%d' % closed.getsockname()[1], 5)})
    assert seen.wait(2) and [(n, lease) for n, lease, _ in dead] == [('c', 5)]
    closed.close()


def test_ipv6_addresses_work_alike():
    peer = Liveness('::1', spawn, lambda *a: None)
    live, dead, seen = watcher('::1')
    assert peer.address.startswith('::1:')
    closed = socket.socket(socket.AF_INET6)
    closed.bind(('::1', 0))                 # a port nobody listens on
    live.watch({'b': (peer.address, 9), 'c': ('::1:%d' % closed.getsockname()[1], 5)})
    assert seen.wait(2)
    time.sleep(0.2)
    assert [(n, lease) for n, lease, _ in dead] == [('c', 5)]     # b is alive
    closed.close()
