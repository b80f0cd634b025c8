"""Unary calls to one etcd member's v3 JSON gateway, on kept-alive connections.

A store write is one such call, so its overhead is the write's: plain
``http.client`` on a small pool of open connections costs about half of what a
``requests`` session does per call (measured, bench/README.md). Several green
threads may call at once: each takes an idle connection or opens one. Errors are
etcd3gw's exceptions, as from ``Etcd3Client.post``.
"""
import base64
import http.client
import json
import threading

from etcd3gw.exceptions import (ConnectionFailedError, ConnectionTimeoutError, Etcd3Exception,
                                InternalServerError, PreconditionFailedError)

ERRORS_BY_STATUS = {500: InternalServerError, 503: ConnectionFailedError,
                    408: ConnectionTimeoutError, 504: ConnectionTimeoutError,
                    412: PreconditionFailedError}
HEADERS = {'Content-Type': 'application/json', 'Connection': 'keep-alive'}


def b64(text):
    """A key or value as the gateway takes it."""
    return base64.b64encode(text.encode()).decode()


def text_of(b64_text):
    return base64.b64decode(b64_text).decode()


def prefix_end(prefix):
    """The range end covering every key that starts with ``prefix``."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


class _ClosedWhileIdle(Exception):
    """The peer closed the connection before answering."""


class Endpoint:
    def __init__(self, host, port, timeout=5.0, prefix='/v3/'):
        self.host, self.port, self.timeout, self.prefix = host, port, timeout, prefix
        self._idle = []
        self._lock = threading.Lock()

    def post(self, path, body):
        """The decoded answer to POST ``prefix + path`` with ``body`` as JSON."""
        data = json.dumps(body)
        with self._lock:
            conn = self._idle.pop() if self._idle else None
        if conn is not None:
            try:
                return self._call(conn, path, data)
            except _ClosedWhileIdle:
                pass                # the server closed it before our request: a new one
        conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            return self._call(conn, path, data)
        except _ClosedWhileIdle as e:
            raise ConnectionFailedError('etcd at %s:%d: %s' % (self.host, self.port, e)) from None

    def _call(self, conn, path, data):
        try:
            conn.request('POST', self.prefix + path, data, HEADERS)
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
    the replicas' mastership both fail over this way)."""

    def __init__(self, endpoints, timeout):
        self._endpoints = [Endpoint(host, port, timeout) for host, port in endpoints]
        self._current = 0           # the member that answered last

    def post(self, path, body):
        """As :meth:`Endpoint.post`; the last member's error if none answered."""
        error = None
        for attempt in range(len(self._endpoints)):
            index = (self._current + attempt) % len(self._endpoints)
            try:
                answer = self._endpoints[index].post(path, body)
                self._current = index
                return answer
            except (ConnectionFailedError, ConnectionTimeoutError) as e:
                error = e
        raise error

    def close(self):
        for endpoint in self._endpoints:
            endpoint.close()
