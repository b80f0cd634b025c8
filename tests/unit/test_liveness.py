"""The replicas' failure detector (controller/switch/liveness.py) against a real
peer process: killed, it is reported at once; frozen, never."""
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

from controller.switch.liveness import Liveness

PEER = ('import sys, time\n'
        'from controller.switch.liveness import Liveness\n'
        'import threading\n'
        'live = Liveness("127.0.0.1", lambda f, *a: threading.Thread(target=f, args=a, '
        'daemon=True).start(), print)\n'
        'print(live.address, flush=True)\n'
        'time.sleep(60)\n')


def spawn(fn, *args):
    threading.Thread(target=fn, args=args, daemon=True).start()


@pytest.fixture
def peer():
    proc = subprocess.Popen([sys.executable, '-c', PEER], stdout=subprocess.PIPE, text=True,
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


def test_a_frozen_peer_is_never_reported_and_the_latest_lease_is_the_one_revoked(peer):
    proc, address = peer
    live, dead, seen = watcher()
    live.watch({'b': (address, 77)})
    time.sleep(0.2)
    proc.send_signal(signal.SIGSTOP)
    assert not seen.wait(1.5)               # silence is not death
    proc.send_signal(signal.SIGCONT)
    live.watch({'b': (address, 78)})        # it came back under a new lease
    proc.send_signal(signal.SIGKILL)
    assert seen.wait(2) and [(n, lease) for n, lease, _ in dead] == [('b', 78)]


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
