"""The desired state, persisted.

``Store`` is the small interface every backend implements (get, list, an atomic
write transaction, change watchers); ``SqliteStore`` is the embedded default, so
state survives a controller restart. A distributed backend (etcd) implements the
same four methods.
"""
import contextlib
import json
import sqlite3
import logging
import threading

from controller import model
from controller.private_files import ensure_private

LOG = logging.getLogger(__name__)
KINDS = {'host': model.Host, 'network': model.Network, 'port': model.Port,
         'security_group': model.SecurityGroup}
FORMAT = 1          # what stored records mean; see SqliteStore._upgrade


class Store:
    """Interface: records are dataclasses from :mod:`controller.model`."""

    def get(self, kind, key):
        raise NotImplementedError

    def list(self, kind):
        raise NotImplementedError

    def transaction(self):
        """Context manager yielding a writer with ``put(kind, key, record)`` and
        ``delete(kind, key)``; all of it is applied, or none on an exception."""
        raise NotImplementedError

    def watch(self, callback):
        """``callback(changes)`` after each committed transaction, with a list
        of ``(kind, key, old_record_or_None, new_record_or_None)``."""
        raise NotImplementedError

    def add_index(self, kind, name, values):
        """Keep ``find(kind, name, value)`` answering which keys of ``kind`` have
        ``value`` among ``values(record)``, updated with each commit (a lookup
        costs the same at 100 records as at 100,000)."""
        raise NotImplementedError

    def find(self, kind, name, value):
        raise NotImplementedError


class Indexes:
    """Secondary indexes over committed records, kept by a store's commits."""

    def __init__(self):
        self._defs = {}        # (kind, name) -> values(record)
        self._maps = {}        # (kind, name) -> {value: set of keys}

    def add(self, kind, name, values, records):
        self._defs[(kind, name)] = values
        self._maps[(kind, name)] = {}
        for key, record in records.items():
            self._put(kind, name, key, record)

    def _put(self, kind, name, key, record):
        index = self._maps[(kind, name)]
        for value in self._defs[(kind, name)](record):
            index.setdefault(value, set()).add(key)

    def update(self, kind, key, old, new):
        for (k, name), values in self._defs.items():
            if k != kind:
                continue
            index = self._maps[(k, name)]
            for value in values(old) if old is not None else ():
                keys = index.get(value)
                if keys is not None:
                    keys.discard(key)
                    if not keys:
                        del index[value]
            if new is not None:
                self._put(kind, name, key, new)

    def find(self, kind, name, value):
        return set(self._maps[(kind, name)].get(value, ()))


class _Writer:
    def __init__(self, conn, current):
        self.conn = conn
        self.current = current        # kind -> {key: record} as committed
        self.changes = []

    def put(self, kind, key, record):
        self.conn.execute('INSERT OR REPLACE INTO records(kind, key, body) VALUES (?,?,?)',
                          (kind, key, json.dumps(model.to_dict(record), sort_keys=True)))
        self.changes.append((kind, key, self.current[kind].get(key), record))

    def delete(self, kind, key):
        self.conn.execute('DELETE FROM records WHERE kind=? AND key=?', (kind, key))
        self.changes.append((kind, key, self.current[kind].get(key), None))


class SqliteStore(Store):
    """SQLite on disk, with every record also held decoded in memory (this
    process is the only writer), so reads cost no SQL and no JSON. Records are
    frozen, so handing out the cached objects is safe.

    The file is 0600. ``synchronous='FULL'`` (the default) syncs the WAL at every
    commit, so an acknowledged write survives a power loss, not only a crash."""

    def __init__(self, path=':memory:', synchronous='FULL'):
        if synchronous not in ('FULL', 'NORMAL', 'EXTRA'):
            raise ValueError('synchronous must be FULL, NORMAL or EXTRA, not %r' % synchronous)
        if path != ':memory:':
            ensure_private(path)
        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.conn.execute('PRAGMA journal_mode=WAL')
        self.conn.execute('PRAGMA synchronous=%s' % synchronous)
        self.conn.execute('CREATE TABLE IF NOT EXISTS records('
                          'kind TEXT, key TEXT, body TEXT, PRIMARY KEY(kind, key))')
        self._lock = threading.RLock()
        self._watchers = []
        self._cache = {kind: {} for kind in KINDS}
        self._sorted = {}       # kind -> its records sorted by key, until the next write
        self._indexes = Indexes()
        for kind, key, body in self.conn.execute('SELECT kind, key, body FROM records'):
            if kind in KINDS:
                try:
                    self._cache[kind][key] = KINDS[kind](**json.loads(body))
                except (TypeError, ValueError) as e:     # kept on disk, left out here
                    LOG.error('stored %s %r cannot be read (%s): ignored', kind, key, e)
        self._upgrade()

    def _upgrade(self):
        """Bring records written by older versions to today's meaning, once
        (``PRAGMA user_version`` holds the format). Format 1: a port's empty
        ``security_groups`` means no group; before, it meant "default", so such
        ports are given "default" explicitly and keep what they could do."""
        if self.conn.execute('PRAGMA user_version').fetchone()[0] >= FORMAT:
            return
        default = next((g.id for g in self._cache['security_group'].values()
                        if g.name == 'default'), None)
        old = [p for p in self._cache['port'].values() if not p.security_groups]
        with self.transaction() as tx:
            for port in old if default else ():
                tx.put('port', port.id, model.changed(port, security_groups=[default]))
            tx.conn.execute('PRAGMA user_version=%d' % FORMAT)
        if old and default:
            LOG.warning('upgraded %d stored ports without groups to group "default" '
                        '(an empty list now means no group)', len(old))

    def get(self, kind, key):
        return self._cache[kind].get(key)

    def list(self, kind):
        """The records (frozen dataclasses), sorted by key (sorted once per write)."""
        out = self._sorted.get(kind)
        if out is None:
            records = self._cache[kind]
            out = self._sorted[kind] = [records[k] for k in sorted(records)]
        return list(out)

    def add_index(self, kind, name, values):
        self._indexes.add(kind, name, values, self._cache[kind])

    def find(self, kind, name, value):
        return self._indexes.find(kind, name, value)

    @contextlib.contextmanager
    def transaction(self):
        with self._lock:
            self.conn.execute('BEGIN IMMEDIATE')
            writer = _Writer(self.conn, self._cache)
            try:
                yield writer
            except BaseException:
                self.conn.execute('ROLLBACK')
                raise
            self.conn.execute('COMMIT')
            for kind, key, _old, record in writer.changes:
                old = self._cache[kind].get(key)     # the same key may change twice
                if record is None:
                    self._cache[kind].pop(key, None)
                else:
                    self._cache[kind][key] = record
                self._sorted.pop(kind, None)
                self._indexes.update(kind, key, old, record)
        for callback in self._watchers:
            try:
                callback(writer.changes)
            except Exception:               # committed already: a watcher's bug is logged
                LOG.exception('store watcher failed')

    def watch(self, callback):
        self._watchers.append(callback)
