"""The store's unary calls (KV.Range, KV.Txn) on etcd's gRPC API.

Why not the v3 JSON gateway: the gateway is a proxy inside etcd that turns each
JSON call into a gRPC call to itself, and a store write paid for it. Measured on
a port-sized Txn (8 operations, loopback, etcd 3.4, same runs, bench/README.md):
gateway 0.93-1.7 ms, gRPC 0.57-1.07 ms; a range read 0.55-0.75 against 0.41-0.44 ms.

Why OS threads: grpcio's calls block in C, which under eventlet would stop
every green thread, and its Python layer uses ``threading``, which eventlet has
made green (so green locks must never be shared between OS threads). Each call
runs on a worker: an OS thread with its own channel to the member, used by it
alone; the caller waits for its answer on a pipe with ``select`` (green under
eventlet, so other green threads run meanwhile). A handful of workers per
member lets calls overlap, as the gateway's pool of connections did. The
hand-over costs 0.13-0.23 ms over a direct call (which would hold the hub for the
whole commit); eventlet's own ``tpool`` costs the same, but its threads serve
every caller in the process, and each would need channels of its own.
A worker needs the GIL back for a moment to hand its answer over; while the
hub's thread runs Python (REST calls of other clients, the watch) CPython makes
it wait up to the switch interval, 5 ms by default: so once a worker exists the
process switches every 0.2 ms (``SWITCH_INTERVAL``; 8 clients writing at once
took 2.0 ms per port with 5 ms, against 1.6 ms on the gateway).

Logins stay on the gateway (:class:`~controller.state.etcd_http.Access`); the
token goes in the ``token`` metadata etcd reads. Errors are etcd3gw's exceptions,
as from the gateway: a member that cannot be reached is ``ConnectionFailedError``
or ``ConnectionTimeoutError``, so :class:`~controller.state.etcd_http.Members`
fails over to the next one.
"""
import queue
import select
import ssl
import sys

import grpc
from eventlet import patcher
from grpc import _observability
from etcd3gw.exceptions import ConnectionFailedError, ConnectionTimeoutError, Etcd3Exception

from controller.state import etcd_pb as pb
from controller.state.etcd_http import PLAIN, TOKEN_REFUSED, Endpoint, TokenRefused

WORKERS = 4             # calls in flight at once per member
SWITCH_INTERVAL = 0.0002    # seconds a worker may wait for the GIL (see above)
OPTIONS = [('grpc.max_send_message_length', -1), ('grpc.max_receive_message_length', -1),
           # a member back after a restart is used again within a second
           ('grpc.initial_reconnect_backoff_ms', 100), ('grpc.min_reconnect_backoff_ms', 100),
           ('grpc.max_reconnect_backoff_ms', 1000)]
METHODS = {'kv/range': ('/etcdserverpb.KV/Range', pb.RangeRequest, pb.RangeResponse),
           'kv/txn': ('/etcdserverpb.KV/Txn', pb.TxnRequest, pb.TxnResponse)}
_Thread = patcher.original('threading').Thread
_Jobs = patcher.original('queue').SimpleQueue
_os = patcher.original('os')     # eventlet's os.read/write would run a hub in the worker
# grpc takes this module-wide lock in each call; made at its import under eventlet it
# was green, and workers contending for it from their OS threads hung for good
# (greenlet.error "Cannot switch to a different thread"; a POST never answered)
_observability._plugin_lock = patcher.original('threading').RLock()


def error_of(e):
    """A grpc.RpcError as the gateway's callers know it (etcd3gw's exceptions)."""
    code, details = e.code(), e.details() or str(e.code())
    if code == grpc.StatusCode.UNAVAILABLE:
        return ConnectionFailedError(details, details)
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return ConnectionTimeoutError(details, details)
    if (code == grpc.StatusCode.UNAUTHENTICATED
            or any(words in details for words in TOKEN_REFUSED)):
        return TokenRefused(details, details)
    return Etcd3Exception(details, details)


def credentials(access):
    """The channel credentials of an etcds:// cluster (None: plain)."""
    if not access.tls:
        return None
    with open(access.ca or ssl.get_default_verify_paths().cafile, 'rb') as f:
        ca = f.read()
    key = cert = None
    if access.cert:
        with open(access.cert, 'rb') as f:
            cert = f.read()
        with open(access.key or access.cert, 'rb') as f:
            key = f.read()
    return grpc.ssl_channel_credentials(ca, key, cert)


class _Worker:
    """An OS thread with its own channel to one member, making one call at a time."""

    def __init__(self, target, creds):
        sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_INTERVAL))
        self._jobs = _Jobs()
        self._ready, self._done = _os.pipe()
        self._answer = None
        _Thread(target=self._serve, args=(target, creds), name='etcd-grpc', daemon=True).start()

    def _serve(self, target, creds):
        channel = (grpc.secure_channel(target, creds, OPTIONS) if creds
                   else grpc.insecure_channel(target, OPTIONS))
        calls = {path: channel.unary_unary(name, request_serializer=req.SerializeToString,
                                           response_deserializer=resp.FromString)
                 for path, (name, req, resp) in METHODS.items()}
        for path, request, timeout, metadata in iter(self._jobs.get, None):
            try:
                self._answer = (calls[path](request, timeout=timeout, metadata=metadata), None)
            except Exception as e:          # given to the caller: this thread goes on
                self._answer = (None, e)
            _os.write(self._done, b'.')
        channel.close()
        _os.close(self._ready)
        _os.close(self._done)

    def call(self, path, request, timeout, metadata):
        """(answer, the call's exception or None), once the worker has made the call."""
        self._jobs.put((path, request, timeout, metadata))
        select.select([self._ready], [], [])      # green under eventlet: the wait
        _os.read(self._ready, 1)                  # readable now: no second wait
        return self._answer

    def stop(self):
        self._jobs.put(None)


class GrpcEndpoint(Endpoint):
    """One member: ``kv/range`` and ``kv/txn`` with protobuf messages over gRPC,
    the rest (the login) on the gateway as :class:`Endpoint` does."""

    def __init__(self, host, port, timeout=5.0, access=PLAIN, **kwargs):
        super().__init__(host, port, timeout, access=access, **kwargs)
        self._target = '%s:%d' % ('[%s]' % host if ':' in host else host, port)
        self._credentials = credentials(self.access)
        self._workers = queue.LifoQueue()       # green under eventlet
        for _ in range(WORKERS):
            self._workers.put(None)             # None: not started yet

    def call(self, path, body, headers):
        if path not in METHODS:
            return super().call(path, body, headers)
        token = headers.get('Authorization')
        metadata = (('token', token),) if token else None
        worker = self._workers.get() or _Worker(self._target, self._credentials)
        try:
            answer, error = worker.call(path, body, self.timeout, metadata)
        except BaseException:       # the wait was cut short: the answer would go astray
            worker.stop()
            worker = None
            raise
        finally:
            self._workers.put(worker)
        if isinstance(error, grpc.RpcError):
            raise error_of(error) from None
        if error is not None:
            raise error
        return answer

    def close(self):
        """Stop the workers (a call in flight is waited for: at most the timeout)."""
        super().close()
        workers = [self._workers.get() for _ in range(WORKERS)]
        for worker in workers:
            self._workers.put(None)
            if worker is not None:
                worker.stop()
