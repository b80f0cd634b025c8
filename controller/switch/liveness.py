"""A failure detector beside the etcd lease: a replica killed is seen dead in
milliseconds, not when its lease expires.

Each replica listens on a small TCP socket (its address is published in its
cluster record as ``live``) and holds a connection to every other replica's.
Nothing is ever sent on them: the kernel closes a dead process's sockets at
once, so the connection to a killed replica ends (EOF, reset) or is refused,
and the replica holding it is told (``on_dead(name, lease)``) and revokes the
lease (:meth:`controller.switch.mastership.Mastership.suspect`).

Only a closed or refused connection counts, never a silence: a replica that
is frozen or whose event loop stalls keeps its sockets open and is never taken
for dead here. Its lease catches it, as before; so this detector cannot cause
a false failover, only a faster true one.
"""
import logging
import socket

LOG = logging.getLogger(__name__)
CONNECT_TIMEOUT = 1.0       # a peer that does not answer is not proven dead: retried


class Liveness:
    """``spawn(fn, *args)`` runs fn concurrently (a green thread in the
    controller, a thread in tests); ``on_dead(name, lease)`` is called once per
    peer seen dead, from that concurrent reader."""

    def __init__(self, host, spawn, on_dead):
        self._spawn, self._on_dead = spawn, on_dead
        family = socket.AF_INET6 if ':' in host else socket.AF_INET
        self._server = socket.socket(family, socket.SOCK_STREAM)
        self._server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._server.bind((host, 0))
        self._server.listen(64)
        self.address = '%s:%d' % self._server.getsockname()[:2]
        self._peers = {}        # (name, address) -> lease to revoke if it dies (None: not now)
        spawn(self._accept)

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

    def _read(self, key):
        name, address = key
        host, port = address.rsplit(':', 1)
        try:
            conn = socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT)
            conn.settimeout(None)
            while conn.recv(64):
                pass
            dead = 'its connection closed'
        except ConnectionError as e:            # refused, reset: nobody there any more
            dead = '%s' % (e.strerror or type(e).__name__)
        except OSError as e:                    # unreachable, timed out: proves nothing
            LOG.info('liveness of replica %s at %s: %s (retried)', name, address, e)
            dead = None
        lease = self._peers.pop(key, None)
        if dead and lease is not None:
            LOG.warning('replica %s at %s is dead (%s)', name, address, dead)
            self._on_dead(name, lease)

    def _accept(self):
        while True:
            try:
                conn, _ = self._server.accept()
            except OSError:                     # closed
                return
            self._spawn(self._hold, conn)

    @staticmethod
    def _hold(conn):
        """Keep a peer's connection open until the peer goes (then free it)."""
        try:
            while conn.recv(64):
                pass
        except OSError:
            pass
        conn.close()
