"""The desired state in etcd, shared by several controllers.

Same interface as :class:`controller.state.store.SqliteStore`: every record is held
decoded in memory (reads cost nothing), fed by one etcd watch, so each change
of any controller is applied and reported exactly once, in revision order. A
transaction is one etcd Txn: each record it writes is compared with the
revision this store holds (a concurrent change fails it), each unique value it
takes is a claim key that must not exist yet; it returns once it is applied
here: at once when etcd answers, if no other writer's change can be missing
before it (then its watch event is skipped), else once the watch delivered it.
A broken watch resumes from its last revision; if etcd compacted that revision
away, everything is reloaded and the difference reported.

Keys (under the prefix, default ``/vnetsec/``)::

    state/<kind>/<key>   a record, JSON
    state/_last          rewritten by every transaction: its revision is the latest one
    claims/<name>        a unique value held, e.g. claims/port.mac/["<net>", "<mac>"]
    counters/<name>      the last value :meth:`allocate` handed out

etcd's default limit of 128 operations per transaction is too small for bulk
writes (1,000 ports take about 4,000): run it with ``--max-txn-ops``.

The Txn and range calls go to etcd's gRPC API (:mod:`controller.state.etcd_grpc`:
0.3-0.6 ms less per Txn than its JSON gateway); the watch and the logins stay on the
gateway (etcd3gw's streaming session, :mod:`controller.state.etcd_http`).
``etcds://`` is the same over TLS; with an :class:`~controller.state.etcd_http.Access`
the store checks the members' certificates, presents its own and logs in
(etcd's authentication), the watch too.
"""
import contextlib
import json
import logging
import socket
import threading
import time

import requests
from etcd3gw.client import Etcd3Client
from etcd3gw.exceptions import ConnectionFailedError, ConnectionTimeoutError, Etcd3Exception

from controller.state import etcd_pb as pb
from controller.state.etcd_grpc import GrpcEndpoint
from controller.state.etcd_http import ERRORS, PLAIN, TOKEN_REFUSED, Access, Members, b64, prefix_end, text_of
from controller.state.store import (KINDS, BufferedWriter, CachedStore, Conflict, StoreUnavailable,
                              decode, differences, encode)

LOG = logging.getLogger(__name__)
WATCH_IDLE = 60        # seconds of silence after which the watch reconnects
RETRY_DELAY = 0.2      # seconds between attempts to re-open a broken watch
WAIT_APPLIED = 10      # seconds a commit or refresh waits for the watch to deliver it


def parse_endpoints(url):
    """'etcd://h1:2379,h2:2379' -> [('h1', 2379), ('h2', 2379)] (etcds://: the same)."""
    scheme = next((s for s in ('etcd://', 'etcds://') if url.startswith(s)), None)
    if scheme is None:
        raise ValueError('store must be "sqlite" or etcd://HOST:PORT[,HOST:PORT...] '
                         '(etcds://...: over HTTPS), not %r' % url)
    endpoints = []
    for part in url[len(scheme):].split(','):
        host, _, port = part.strip().rpartition(':')
        if not host or not port.isdigit():
            raise ValueError('store: %r is not HOST:PORT' % part)
        endpoints.append((host.strip('[]'), int(port)))
    return endpoints


class EtcdUnavailable(StoreUnavailable, ConnectionFailedError):
    """No etcd endpoint answered (down, or without a quorum it cannot commit)."""


class EtcdStore(CachedStore):
    errors = ERRORS     # calls to etcd that failed, by kind (/metrics)

    def __init__(self, endpoints, prefix='/vnetsec/', timeout=5.0, access=PLAIN):
        super().__init__()
        self._endpoints = list(endpoints)
        self.access = access        # TLS and login (the replicas' mastership uses it too)
        self._clients = [Etcd3Client(host, port, protocol=access.scheme,
                                     ca_cert=access.ca or None, cert_key=access.key or None,
                                     cert_cert=access.cert or None, timeout=timeout,
                                     api_path='/v3/')
                         for host, port in self._endpoints]       # the watch's
        self._members = Members(self._endpoints, timeout, access,     # single calls
                                endpoint=GrpcEndpoint)
        self._watching = False      # the watch stream is open (GET /healthz)
        # given with each watch request: $REQUESTS_CA_BUNDLE would override the session's
        self._tls_args = {} if not access.tls else {
            'verify': access.ca or True,
            'cert': (access.cert, access.key or None) if access.cert else None}
        self._current = 0           # the member the watch follows
        self._state = prefix + 'state/'
        self._claims = prefix + 'claims/'
        self._counters = prefix + 'counters/'
        self._last = self._state + '_last'
        self._lock = threading.RLock()
        self._applied = threading.Condition(self._lock)
        self._telling = threading.RLock()   # one revision applied and told at a time
        self._revisions = {}        # (kind, key) -> mod_revision of the record held
        self._revision = 0          # every change up to this revision is applied
        self._watched = 0           # the watch's last revision: it resumes after it
        self._own = set()           # this store's Txns applied before their watch event
        self._stopped = False
        self._response = None       # the open watch stream
        self._reload()
        self._thread = threading.Thread(target=self._watch_loop, name='etcd-watch',
                                        daemon=True)
        self._thread.start()

    @classmethod
    def from_url(cls, url, ca='', cert='', key='', user='', password=''):
        """The store at ``url``; etcds://: HTTPS, checked against ``ca``, with the
        client certificate ``cert``/``key``; ``user``: log in with ``password``."""
        return cls(parse_endpoints(url),
                   access=Access(url.startswith('etcds://'), ca, cert, key, user, password))

    def healthy(self):
        """Whether the watch is connected to a member now (no call made)."""
        return self._watching

    @property
    def endpoints(self):
        """[(host, port)] of the etcd members (the replicas' mastership uses them too)."""
        return list(self._endpoints)

    # ---- talking to etcd -------------------------------------------------------
    def _post(self, path, body):
        """A call (kv/range, kv/txn: protobuf messages, over gRPC) to the first
        member that answers."""
        try:
            return self._members.post(path, body)
        except (ConnectionFailedError, ConnectionTimeoutError) as e:
            error = EtcdUnavailable('etcd did not answer (%s)' % e)
            error.unconfirmed = path == 'kv/txn'   # a member may hold it (StoreUnavailable)
            raise error from e

    def add_index(self, kind, name, values, unique=False):
        with self._lock:            # not while the watch applies a change
            super().add_index(kind, name, values, unique)

    # ---- writes -----------------------------------------------------------------
    @contextlib.contextmanager
    def transaction(self):
        writer = BufferedWriter()
        yield writer
        with self._lock:
            changes = writer.changes(self._cache)
            if not changes:
                return
            request = self._txn_request(changes)
        try:
            answer = self._post('kv/txn', request)
        except Etcd3Exception as e:
            if 'too many operations' in str(e):
                raise RuntimeError('etcd refused a transaction of %d operations: run etcd '
                                   'with --max-txn-ops of at least that'
                                   % (len(request.compare) + len(request.success)))
            raise
        if not answer.succeeded:
            raise Conflict('another writer changed these records or took one of their '
                           'unique values first: nothing was written')
        last = answer.responses[-1].response_put.prev_kv.mod_revision
        if not self._take_own(answer.header.revision, last, changes):
            self._wait_applied(answer.header.revision)

    def _take_own(self, revision, last, changes):
        """Apply this store's own committed Txn at once, without waiting for its
        watch event, if every change before it is applied here already: ``last``
        is the revision of the state's previous Txn (``_last`` before this one),
        so no change of another writer can be missing. The watch skips the
        event when it comes. False: an earlier change is still on its way (a
        concurrent writer), so the watch applies both, in order."""
        with self._telling:
            if not last <= self._revision < revision:
                return False
            with self._lock:
                changes = [(kind, key, self._cache[kind].get(key), new)
                           for kind, key, _old, new in changes]
                for kind, key, _old, new in changes:
                    if new is None:
                        self._revisions.pop((kind, key), None)
                    else:
                        self._revisions[(kind, key)] = revision
            self._own.add(revision)
            self._take(revision, changes)
            return True

    def _take(self, revision, changes):
        """Apply one revision's changes and tell the watchers (the caller holds
        ``_telling``, so revisions are told one at a time, in order)."""
        with self._lock:
            self._apply(changes)
        self._notify(changes)
        with self._applied:
            self._revision = max(self._revision, revision)
            self._applied.notify_all()

    def _txn_request(self, changes):
        """One Txn: every record as held here, every new claim absent, or nothing."""
        take, give = self._indexes.claim_plan(changes)
        request = pb.TxnRequest()
        compare, success = request.compare, request.success
        for kind, key, _old, new in changes:
            path = ('%s%s/%s' % (self._state, kind, key)).encode()
            compare.add(key=path, target=pb.MOD, result=pb.EQUAL,
                        mod_revision=self._revisions.get((kind, key), 0))
            if new is None:
                success.add().request_delete_range.key = path
            else:
                success.add(request_put=pb.PutRequest(key=path, value=encode(new).encode()))
        for name in give - set(take):
            success.add().request_delete_range.key = (self._claims + name).encode()
        for name, owner in take.items():
            path = (self._claims + name).encode()
            if name not in give:        # else a record of this Txn gives it up here
                compare.add(key=path, target=pb.CREATE, result=pb.EQUAL,
                            create_revision=0)
            success.add(request_put=pb.PutRequest(key=path, value=owner.encode()))
        # its previous revision says whether any other writer's change came between
        success.add(request_put=pb.PutRequest(key=self._last.encode(), prev_kv=True))
        return request

    def allocate(self, counter):
        """Compare-and-swap on the counter's key until this writer's increment wins."""
        key = (self._counters + counter).encode()
        while True:
            kvs = self._post('kv/range', pb.RangeRequest(key=key)).kvs
            value = int(kvs[0].value) + 1 if kvs else 1
            revision = kvs[0].mod_revision if kvs else 0
            request = pb.TxnRequest()
            request.compare.add(key=key, target=pb.MOD, result=pb.EQUAL,
                                mod_revision=revision)
            request.success.add(request_put=pb.PutRequest(key=key, value=b'%d' % value))
            if self._post('kv/txn', request).succeeded:
                return value

    def refresh(self):
        kvs = self._post('kv/range', pb.RangeRequest(key=self._last.encode())).kvs
        self._wait_applied(kvs[0].mod_revision if kvs else 0)

    def _wait_applied(self, revision):
        with self._applied:
            if not self._applied.wait_for(lambda: self._revision >= revision, WAIT_APPLIED):
                raise RuntimeError('the etcd watch did not deliver revision %d within %d s '
                                   '(at %d)' % (revision, WAIT_APPLIED, self._revision))

    # ---- the watch: the only way changes come in -----------------------------------
    def _watch_loop(self):
        while not self._stopped:
            try:
                self._follow()
            except (requests.RequestException, Etcd3Exception, ValueError, OSError) as e:
                self._watching = False
                if self._stopped:
                    return
                LOG.warning('etcd watch broken (%s): resuming from revision %d',
                            e, self._watched + 1)
                time.sleep(RETRY_DELAY)
                self._current = (self._current + 1) % len(self._clients)

    def _follow(self):
        """Stream changes from the revision after the last applied one."""
        client = self._clients[self._current]
        create = {'key': b64(self._state), 'range_end': b64(prefix_end(self._state)),
                  'start_revision': self._watched + 1}
        token = None
        if self.access.user:
            token = self.access.token or self.access.log_in(
                self._members.endpoints[self._current])
        self._response = response = client.session.post(
            client.get_url('watch'), json={'create_request': create}, stream=True,
            headers={'Authorization': token} if token else None,
            timeout=(client.timeout, WATCH_IDLE), **self._tls_args)
        if response.status_code != 200:
            raise ValueError('watch refused: HTTP %d %s' % (response.status_code,
                                                            response.text[:200]))
        self._watching = True
        for line in response.iter_lines(chunk_size=None):
            if self._stopped:
                return
            if not line.strip():
                continue
            message = json.loads(line)
            if 'error' in message:
                raise ValueError('watch error: %s' % message['error'])
            result = message.get('result', {})
            if int(result.get('compact_revision', 0)):
                LOG.warning('etcd compacted revision %d away: reloading everything',
                            self._watched + 1)
                self._reload()
                return
            if result.get('canceled'):
                reason = result.get('cancel_reason', '')
                if token and any(words in reason for words in TOKEN_REFUSED):
                    self.access.log_in(self._members.endpoints[self._current], refused=token)
                raise ValueError('watch canceled: %s' % reason)
            self._apply_events(result.get('events', []))
        raise ValueError('the watch stream ended')

    def _apply_events(self, events):
        by_revision = {}
        for event in events:
            by_revision.setdefault(int(event['kv']['mod_revision']), []).append(event)
        for revision in sorted(by_revision):
            with self._telling:
                if revision <= self._watched:
                    continue        # delivered before the watch broke
                self._watched = revision
                if revision in self._own:
                    self._own.discard(revision)
                    continue        # applied when its Txn was answered
                changes = []
                with self._lock:
                    for event in by_revision[revision]:
                        kind, _, key = text_of(
                            event['kv']['key'])[len(self._state):].partition('/')
                        if kind not in KINDS:
                            continue            # _last
                        if event.get('type') == 'DELETE':
                            new = None
                            self._revisions.pop((kind, key), None)
                        else:
                            new = decode(kind, key, text_of(event['kv'].get('value', '')))
                            self._revisions[(kind, key)] = revision
                        changes.append((kind, key, self._cache[kind].get(key), new))
                self._take(revision, changes)

    def _reload(self):
        """Read every record at one revision; report how it differs from the cache."""
        with self._telling:
            answer = self._post('kv/range', pb.RangeRequest(
                key=self._state.encode(), range_end=prefix_end(self._state).encode()))
            revision = answer.header.revision
            records, revisions = {kind: {} for kind in KINDS}, {}
            for kv in answer.kvs:
                kind, _, key = kv.key.decode()[len(self._state):].partition('/')
                if kind in KINDS:
                    revisions[(kind, key)] = kv.mod_revision
                    record = decode(kind, key, kv.value.decode())
                    if record is not None:
                        records[kind][key] = record
            with self._lock:
                changes = differences(self._cache, records)
                self._revisions = revisions
            self._watched = revision
            self._own = {own for own in self._own if own > revision}
            self._take(revision, changes)

    def close(self):
        """Stop the watch (its stream is cut so the thread ends now)."""
        self._stopped = True
        response = self._response
        if response is not None:
            with contextlib.suppress(Exception):
                sock = socket.fromfd(response.raw.fileno(), socket.AF_INET, socket.SOCK_STREAM)
                sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            with contextlib.suppress(Exception):
                response.close()
        self._thread.join(5)
        self._members.close()
