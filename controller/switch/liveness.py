"""A failure detector beside the etcd lease: a replica killed is seen dead in
milliseconds, not when its lease expires.

Each replica listens on a small TCP socket (its address is published in its
cluster record as ``live``) and holds a connection to every other replica's.
Nothing is ever sent on them: the kernel closes a dead process's sockets at
once, so the connection to a killed replica ends (EOF, reset) or is refused,
and the replica holding it is told (``on_dead(name, lease)``) and revokes the
lease (:meth:`controller.switch.mastership.Mastership.suspect`).

Only a closed or refused connection counts, never a silence: a replica that
is frozen keeps its sockets open and is never taken for dead here (its lease
catches it, as before), so this detector cannot cause a false failover. A
replica whose event loop stalls makes itself look dead: its stall watchdog
(:mod:`controller.switch.stall_watchdog`) calls :meth:`Liveness.silence`, and
:meth:`Liveness.reopen` once the loop turns again.
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
        self._spawn, self._on_dead, self._host = spawn, on_dead, host
        self._peers = {}        # (name, address) -> lease to revoke if it dies (None: not now)
        self._held = set()      # the peers' connections to us
        self.reopen()

    def reopen(self):
        """Listen (again, after :meth:`silence`) on a new port: ``address``."""
        family = socket.AF_INET6 if ':' in self._host else socket.AF_INET
        server = socket.socket(family, socket.SOCK_STREAM)
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind((self._host, 0))
        server.listen(64)
        self._server, self.address = server, '%s:%d' % server.getsockname()[:2]
        self._spawn(self._accept, server)

    def silence(self):
        """Look dead to the peers: they see our connections end and ours refused.
        Safe from another OS thread while the event loop is stalled: only
        shutdown(2), no close (the hub still holds these fds; the green readers
        see the end and close them when the loop turns). Our own connections to
        the peers stay: they would take the peers for dead."""
        for sock in [self._server] + list(self._held):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

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

    def _accept(self, server):
        while True:
            try:
                conn, _ = server.accept()
            except OSError:                     # silenced
                server.close()
                return
            self._held.add(conn)
            self._spawn(self._hold, conn)

    def _hold(self, conn):
        """Keep a peer's connection open until the peer goes (then free it)."""
        try:
            while conn.recv(64):
                pass
        except OSError:
            pass
        self._held.discard(conn)
        conn.close()
