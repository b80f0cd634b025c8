"""A failure detector beside the etcd lease: a replica killed or frozen is seen
dead in well under a second, not when its lease expires.

Each replica listens on a small TCP socket (its address is published in its
cluster record as ``live``) and holds a connection to every other replica's.
A real OS thread of the listening replica (not the event loop) writes one byte
on every connection it accepted each ``HEARTBEAT_SECONDS``. The holder of a
connection reads it and takes the peer for dead when

- the connection ends or is refused: a killed process's sockets are closed by
  the kernel at once (milliseconds);
- nothing came for ``LIVENESS_SILENCE_SECONDS``: a process frozen whole
  (SIGSTOP, a paused VM, a C call holding the GIL) stops that thread too. A
  timeout is confirmed by a non-blocking read first, so a reader that was
  itself late never takes the bytes waiting for it for a silence.

It is then told once (``on_dead(name, lease)``) and revokes the lease
(:meth:`controller.switch.mastership.Mastership.suspect`). Why the threshold
cannot fire on a loaded machine: see ``controller/constants.py``.

A replica whose event loop stalls while its threads run would keep beating: its
stall watchdog (:mod:`controller.switch.stall_watchdog`) calls
:meth:`Liveness.silence`, so that its peers see its connections end, and
:meth:`Liveness.reopen` once the loop turns again.
"""
import logging
import socket
import time

from eventlet import patcher

from controller.constants import HEARTBEAT_SECONDS, LIVENESS_SILENCE_SECONDS

_socket = patcher.original('socket')
_select = patcher.original('select')
_threading = patcher.original('threading')
_time = patcher.original('time')
LOG = logging.getLogger(__name__)
CONNECT_TIMEOUT = 1.0       # a peer that does not answer is not proven dead: retried


class Beacon:
    """The listening side, on its own OS thread, which owns its sockets: accept
    the peers' connections, beat on each, drop those the peers close.
    :meth:`stop` may be called from any thread (shutdown(2) only: the peers see
    the end at once; the thread closes the sockets)."""

    def __init__(self, host, every=HEARTBEAT_SECONDS):
        family = _socket.AF_INET6 if ':' in host else _socket.AF_INET
        server = _socket.socket(family, _socket.SOCK_STREAM)
        server.setsockopt(_socket.SOL_SOCKET, _socket.SO_REUSEADDR, 1)
        server.bind((host, 0))
        server.listen(64)
        self.server, self.address = server, '%s:%d' % server.getsockname()[:2]
        self.every, self.stopped, self.held = every, False, {}     # fd -> connection
        _threading.Thread(target=self._run, name='liveness', daemon=True).start()

    def stop(self):
        self.stopped = True
        for sock in [self.server] + list(self.held.values()):
            try:
                sock.shutdown(_socket.SHUT_RDWR)
            except OSError:
                pass

    def _run(self):
        poller = _select.poll()
        poller.register(self.server, _select.POLLIN)
        beat_at = 0.0
        while not self.stopped:
            now = _time.monotonic()
            if now >= beat_at:
                for fd, conn in list(self.held.items()):
                    self._send(poller, fd, conn)
                beat_at = now + self.every
            for fd, _ in poller.poll(max(0.0, beat_at - now) * 1000):
                if fd == self.server.fileno():
                    self._accept(poller)
                elif fd in self.held:
                    self._drain(poller, fd, self.held[fd])
        for sock in [self.server] + list(self.held.values()):
            sock.close()

    def _accept(self, poller):
        try:
            conn, _ = self.server.accept()
        except OSError:                         # stopped
            self.stopped = True
            return
        conn.setblocking(False)
        self.held[conn.fileno()] = conn
        poller.register(conn, _select.POLLIN)
        self._send(poller, conn.fileno(), conn)

    def _send(self, poller, fd, conn):
        try:
            conn.send(b'.')
        except BlockingIOError:                 # its reader is behind: it has bytes to read
            pass
        except OSError:
            self._drop(poller, fd, conn)

    def _drain(self, poller, fd, conn):
        try:
            if conn.recv(64):                   # peers send nothing: this is not expected
                return
        except BlockingIOError:
            return
        except OSError:
            pass
        self._drop(poller, fd, conn)            # the peer went (or stopped watching us)

    def _drop(self, poller, fd, conn):
        poller.unregister(fd)
        del self.held[fd]
        conn.close()


class Liveness:
    """``spawn(fn, *args)`` runs fn concurrently (a green thread in the
    controller, a thread in tests); ``on_dead(name, lease)`` is called once per
    peer seen dead, from that concurrent reader."""

    def __init__(self, host, spawn, on_dead, silent=LIVENESS_SILENCE_SECONDS):
        self._spawn, self._on_dead, self._host, self._silent = spawn, on_dead, host, silent
        self._peers = {}        # (name, address) -> lease to revoke if it dies (None: not now)
        self._beacon = None
        self.gap_max = 0.0      # the longest silence of a live peer a reader waited through
        self.silent_peers = 0   # peers taken for dead by their silence
        self.reopen()

    def reopen(self):
        """Listen (again, after :meth:`silence`) on a new port: ``address``."""
        self.silence()
        self._beacon = Beacon(self._host)
        self.address = self._beacon.address

    def silence(self):
        """Look dead to the peers: they see our connections end and ours refused.
        Safe from another OS thread while the event loop is stalled. Our own
        connections to the peers stay: they would take the peers for dead."""
        if self._beacon is not None:
            self._beacon.stop()

    def watch(self, peers):
        """``peers`` {name: (address, lease)}, the other live replicas as last
        read: hold a connection to each new one; the others are not reported."""
        wanted = {(name, address): lease for name, (address, lease) in peers.items()}
        for key in self._peers:
            self._peers[key] = wanted.get(key)
        for key, lease in wanted.items():
            if key not in self._peers:          # one reader per peer, as long as it runs
                self._peers[key] = lease
                self._spawn(self._read, key)

    def status(self):
        return {'peer_silence_max': round(self.gap_max, 3), 'peers_silent': self.silent_peers}

    def _read(self, key):
        name, address = key
        host, port = address.rsplit(':', 1)
        try:
            conn = socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT)
            try:
                dead = self._listen(conn)
            finally:
                conn.close()
        except ConnectionError as e:            # refused, reset: nobody there any more
            dead = '%s' % (e.strerror or type(e).__name__)
        except OSError as e:                    # unreachable, timed out: proves nothing
            LOG.info('liveness of replica %s at %s: %s (retried)', name, address, e)
            dead = None
        lease = self._peers.pop(key, None)
        if dead and lease is not None:
            LOG.warning('replica %s at %s is dead (%s)', name, address, dead)
            self._on_dead(name, lease)

    def _listen(self, conn):
        """Read the peer's heartbeats until it dies: why it is taken for dead."""
        heard = time.monotonic()
        while True:
            conn.settimeout(self._silent)
            try:
                data = conn.recv(64)
            except socket.timeout:
                conn.settimeout(0.0)            # were we late, or was it silent?
                try:
                    data = conn.recv(64)
                except BlockingIOError:
                    self.silent_peers += 1
                    return 'silent for %.2f s' % (time.monotonic() - heard)
            if not data:
                return 'its connection closed'
            now = time.monotonic()
            if len(data) == 1:                  # several: we were late, not the peer
                self.gap_max = max(self.gap_max, now - heard)
            heard = now
