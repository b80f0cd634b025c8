"""Unary calls to one etcd member's v3 JSON gateway, on kept-alive connections.

A store write is one such call, so its overhead is the write's: plain
``http.client`` on a small pool of open connections costs about half of what a
``requests`` session does per call (measured, bench/README.md). Several green
threads may call at once: each takes an idle connection or opens one. Errors are
etcd3gw's exceptions, as from ``Etcd3Client.post``.

:class:`Access` says how to reach a cluster that is secured: HTTPS checked against
a CA, with a client certificate, and etcd's authentication (a user and password
exchanged for a token at ``auth/authenticate``, sent in ``Authorization``; a
token etcd no longer takes, expired or from before an auth change, is replaced
and the call made once more).
"""
import base64
import collections
import http.client
import json
import ssl
import threading
import time

from etcd3gw.exceptions import (ConnectionFailedError, ConnectionTimeoutError, Etcd3Exception,
                                InternalServerError, PreconditionFailedError)

ERRORS_BY_STATUS = {500: InternalServerError, 503: ConnectionFailedError,
                    408: ConnectionTimeoutError, 504: ConnectionTimeoutError,
                    412: PreconditionFailedError}
HEADERS = {'Content-Type': 'application/json', 'Connection': 'keep-alive'}


# calls that failed, by kind, in this process (the store's and the mastership's):
# 'unreachable' a member did not answer, 'no_member' none did (/metrics)
ERRORS = collections.Counter()


def b64(text):
    """A key or value as the gateway takes it."""
    return base64.b64encode(text.encode()).decode()


def text_of(b64_text):
    return base64.b64decode(b64_text).decode()


def prefix_end(prefix):
    """The range end covering every key that starts with ``prefix``."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


# what etcd answers when the token is missing, expired or older than an auth change
AUTH_WAIT = 60          # seconds a login waits for etcd to turn its authentication on
TOKEN_REFUSED = ('invalid auth token', 'user name is empty', 'revision in header is old')


class _ClosedWhileIdle(Exception):
    """The peer closed the connection before answering."""


class TokenRefused(Etcd3Exception):
    """etcd did not take the request's token (or its absence)."""


class Access:
    """How to reach and log in to an etcd cluster: plain HTTP by default; with
    ``tls``, HTTPS checked against ``ca`` (the system's CAs if none), with the
    client certificate ``cert``/``key`` if given; with ``user``, etcd's
    authentication, the token shared by every member's calls."""

    def __init__(self, tls=False, ca='', cert='', key='', user='', password=''):
        self.tls, self.ca, self.cert, self.key = tls, ca, cert, key
        self.user, self.password = user, password
        self.context = None
        if tls:
            self.context = ssl.create_default_context(cafile=ca or None)
            self.context.minimum_version = ssl.TLSVersion.TLSv1_2
            if cert:
                self.context.load_cert_chain(cert, key or None)
        self.token = None
        self._login = threading.Lock()

    @property
    def scheme(self):
        return 'https' if self.tls else 'http'

    def connection(self, host, port, timeout):
        if self.tls:
            return http.client.HTTPSConnection(host, port, timeout=timeout,
                                               context=self.context)
        return http.client.HTTPConnection(host, port, timeout=timeout)

    def headers(self):
        """The headers of a call: the token once logged in."""
        return dict(HEADERS, Authorization=self.token) if self.token else HEADERS

    def log_in(self, endpoint, refused=None, wait=AUTH_WAIT):
        """A token from ``endpoint`` for the user, unless another call already
        replaced the ``refused`` one meanwhile. A cluster whose authentication is
        not on yet (its first member turns it on once it has a quorum, as the
        compose deployment does) is waited for, up to ``wait`` seconds."""
        deadline = time.monotonic() + wait
        with self._login:
            while self.token is None or self.token == refused:
                try:
                    answer = endpoint.call('auth/authenticate', {
                        'name': self.user, 'password': self.password}, HEADERS)
                except Exception as e:         # etcd3gw's error for etcd's code 9
                    if ('authentication is not enabled' not in str(e)
                            or time.monotonic() > deadline):
                        raise
                    time.sleep(0.5)
                    continue
                self.token = answer['token']
            return self.token


PLAIN = Access()


class Endpoint:
    def __init__(self, host, port, timeout=5.0, prefix='/v3/', access=PLAIN):
        self.host, self.port, self.timeout, self.prefix = host, port, timeout, prefix
        self.access = access
        self._idle = []
        self._lock = threading.Lock()

    def post(self, path, body):
        """The decoded answer to POST ``prefix + path`` with ``body`` as JSON,
        logged in first if the cluster wants a user (and again once if etcd
        refuses the token)."""
        access = self.access
        if not access.user:
            return self.call(path, body, HEADERS)
        token = access.token or access.log_in(self)
        try:
            return self.call(path, body, access.headers())
        except TokenRefused:
            access.log_in(self, refused=token)
            return self.call(path, body, access.headers())

    def call(self, path, body, headers):
        """One POST with these headers, on an idle connection or a new one."""
        data = json.dumps(body)
        with self._lock:
            conn = self._idle.pop() if self._idle else None
        if conn is not None:
            try:
                return self._call(conn, path, data, headers)
            except _ClosedWhileIdle:
                pass                # the server closed it before our request: a new one
        conn = self.access.connection(self.host, self.port, self.timeout)
        try:
            return self._call(conn, path, data, headers)
        except _ClosedWhileIdle as e:
            raise ConnectionFailedError('etcd at %s:%d: %s' % (self.host, self.port, e)) from None

    def _call(self, conn, path, data, headers):
        try:
            conn.request('POST', self.prefix + path, data, headers)
            resp = conn.getresponse()
            text = resp.read()
        except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as e:
            conn.close()
            raise _ClosedWhileIdle(e) from None
        except TimeoutError as e:
            conn.close()
            raise ConnectionTimeoutError(str(e)) from None
        except (OSError, http.client.HTTPException) as e:
            conn.close()
            raise ConnectionFailedError('etcd at %s:%d: %s' % (self.host, self.port, e)) from None
        if resp.will_close:
            conn.close()
        else:
            with self._lock:
                self._idle.append(conn)
        if resp.status != 200:
            message = text.decode(errors='replace')
            if resp.status == 401 or any(words in message for words in TOKEN_REFUSED):
                raise TokenRefused(message, '%s: %s' % (resp.reason, message[:300]))
            raise ERRORS_BY_STATUS.get(resp.status, Etcd3Exception)(
                message, '%s: %s' % (resp.reason, message[:300]))
        return json.loads(text)

    def close(self):
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()


class Members:
    """The members of one etcd cluster: a call goes to the member that answered
    last, and to the next one while a member cannot be reached (the store and
    the replicas' mastership both fail over this way). ``endpoint``: the class
    of each member's calls (the store's go over gRPC, etcd_grpc.py)."""

    def __init__(self, endpoints, timeout, access=PLAIN, endpoint=Endpoint):
        self.endpoints = [endpoint(host, port, timeout, access=access)
                          for host, port in endpoints]
        self._current = 0           # the member that answered last

    def post(self, path, body):
        """As :meth:`Endpoint.post`; the last member's error if none answered."""
        error = None
        for attempt in range(len(self.endpoints)):
            index = (self._current + attempt) % len(self.endpoints)
            try:
                answer = self.endpoints[index].post(path, body)
                self._current = index
                return answer
            except (ConnectionFailedError, ConnectionTimeoutError) as e:
                ERRORS['unreachable'] += 1
                error = e
        ERRORS['no_member'] += 1
        raise error

    def close(self):
        for endpoint in self.endpoints:
            endpoint.close()
