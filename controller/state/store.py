"""The desired state, persisted.

``Store`` is the small interface every backend implements (get, list, an atomic
write transaction, change watchers, indexes); ``SqliteStore`` is the embedded
default, so state survives a controller restart. ``controller.state.etcd_store``
implements the same interface on etcd, for several controllers sharing one state.

Uniqueness under several writers: an index declared ``unique`` makes every
transaction *claim* the values its records take (and release those they drop) in
the same atomic write, so two writers can never both commit the same device,
MAC, address or segmentation id, whatever their caches said: the second gets
:class:`Conflict`, and the service redoes its operation on a fresh view.
"""
import contextlib
import json
import sqlite3
import logging
import threading

from controller.state import model
from controller.state.private_files import ensure_private

LOG = logging.getLogger(__name__)
KINDS = {'host': model.Host, 'network': model.Network, 'port': model.Port,
         'security_group': model.SecurityGroup, 'subnet': model.Subnet}
FORMAT = 1          # what stored records mean; see SqliteStore._upgrade


class Conflict(model.ValidationError):
    """A concurrent writer changed what this transaction was computed from, or
    took a unique value it claims: nothing was written (HTTP 409 if it reaches
    a client)."""

    def __init__(self, message):
        super().__init__('id', message, 409)


class StoreUnavailable(RuntimeError):
    """The store cannot take writes now (e.g. etcd lost its quorum); HTTP 503 if
    it reaches a client. ``unconfirmed``: a write was sent and not answered.
    etcd commits a proposal it still holds once its quorum is back (a write
    answered 503 was seen applied after a quorum loss), so the client is told
    the change may yet happen, never that nothing was written."""
    unconfirmed = False

    def advice(self):
        """The 503's message."""
        if self.unconfirmed:
            return ('the store cannot take changes now (%s): the change was sent but not '
                    'confirmed, and may still be applied once the store recovers; read it '
                    'back before trying again' % self)
        return 'the store cannot take changes now (%s): nothing was written; try again' % self


def encode(record):
    return json.dumps(model.to_dict(record), sort_keys=True)


def decode(kind, key, body):
    """The record, or None (logged) for one this version cannot read."""
    try:
        return KINDS[kind](**json.loads(body))
    except (TypeError, ValueError) as e:     # kept in storage, left out here
        LOG.error('stored %s %r cannot be read (%s): ignored', kind, key, e)
        return None


def differences(before, after):
    """The changes ``(kind, key, old, new)`` that turn ``before`` into ``after``
    (both kind -> {key: record}): what watchers are told after a reload."""
    changes = []
    for kind in KINDS:
        old, new = before.get(kind, {}), after.get(kind, {})
        for key in sorted(set(old) | set(new)):
            if old.get(key) != new.get(key):
                changes.append((kind, key, old.get(key), new.get(key)))
    return changes


class Store:
    """Interface: records are dataclasses from :mod:`controller.state.model`."""

    def get(self, kind, key):
        raise NotImplementedError

    def list(self, kind):
        raise NotImplementedError

    def transaction(self):
        """Context manager yielding a writer with ``put(kind, key, record)`` and
        ``delete(kind, key)``; all of it is applied, or none on an exception or
        :class:`Conflict`. On return this store's reads include it."""
        raise NotImplementedError

    def watch(self, callback):
        """``callback(changes)`` once for each committed transaction of any
        writer sharing the state, with a list of ``(kind, key, old_record_or_None,
        new_record_or_None)``."""
        raise NotImplementedError

    def refresh(self):
        """Bring this store's view up to every transaction committed before the
        call, by any writer (watchers told first)."""
        raise NotImplementedError

    def add_index(self, kind, name, values, unique=False):
        """Keep ``find(kind, name, value)`` answering which keys of ``kind`` have
        ``value`` among ``values(record)``, updated with each commit (a lookup
        costs the same at 100 records as at 100,000). ``unique``: commits claim
        the values, so no two records of any writer ever hold the same one."""
        raise NotImplementedError

    def find(self, kind, name, value):
        raise NotImplementedError

    def allocate(self, counter):
        """The next value (1, 2, ...) of the named counter: no writer sharing the
        state is ever handed the same value again, even after a restart (a value
        taken by a write that then failed is skipped, not reused)."""
        raise NotImplementedError

    def close(self):
        """Stop background work and release connections."""


class Indexes:
    """Secondary indexes over committed records, kept by a store's commits."""

    def __init__(self):
        self._defs = {}        # (kind, name) -> values(record)
        self._maps = {}        # (kind, name) -> {value: set of keys}
        self._unique = set()   # (kind, name) whose values are claimed

    def add(self, kind, name, values, records, unique=False):
        self._defs[(kind, name)] = values
        self._maps[(kind, name)] = {}
        if unique:
            self._unique.add((kind, name))
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

    def claims(self, kind, record):
        """The unique names ``record`` holds: 'kind.index/<value as JSON>'."""
        if record is None:
            return set()
        return {'%s.%s/%s' % (kind, name, json.dumps(value))
                for (k, name) in self._unique if k == kind
                for value in self._defs[(k, name)](record)}

    def claim_plan(self, changes):
        """For a transaction's final ``changes`` [(kind, key, old, new)]: the
        names to take ({name: owner}) and those to give up (set). A name two of
        its records would hold is a :class:`Conflict`; a name one record gives up
        and another takes is in both."""
        take, give = {}, set()
        for kind, key, old, new in changes:
            before, after = self.claims(kind, old), self.claims(kind, new)
            give |= before - after
            for name in after - before:
                if name in take:
                    raise Conflict('%s is claimed twice in one transaction' % name)
                take[name] = '%s/%s' % (kind, key)
        return take, give


class BufferedWriter:
    """What a transaction's body writes, kept until commit: the last state of
    each key it touched (a key changed twice counts once, from its committed
    record to its last)."""

    def __init__(self):
        self.final = {}                # (kind, key) -> record or None, in first-touch order

    def put(self, kind, key, record):
        if kind not in KINDS:
            raise ValueError('unknown kind %r' % kind)
        self.final[(kind, key)] = record

    def delete(self, kind, key):
        self.final[(kind, key)] = None

    def changes(self, committed):
        """[(kind, key, old, new)] against ``committed`` (kind -> {key: record})."""
        out = [(kind, key, committed[kind].get(key), new)
               for (kind, key), new in self.final.items()]
        return [c for c in out if c[2] is not None or c[3] is not None]


class CachedStore(Store):
    """What both backends share: every record held decoded in memory (frozen,
    so handing out the cached objects is safe), indexes kept by each applied
    change, watchers told after it."""

    def __init__(self):
        self._cache = {kind: {} for kind in KINDS}
        self._sorted = {}       # kind -> its records sorted by key, until the next change
        self._indexes = Indexes()
        self._watchers = []

    def get(self, kind, key):
        return self._cache[kind].get(key)

    def list(self, kind):
        """The records (frozen dataclasses), sorted by key (sorted once per write)."""
        out = self._sorted.get(kind)
        if out is None:
            records = self._cache[kind]
            out = self._sorted[kind] = [records[k] for k in sorted(records)]
        return list(out)

    def add_index(self, kind, name, values, unique=False):
        self._indexes.add(kind, name, values, self._cache[kind], unique)

    def find(self, kind, name, value):
        return self._indexes.find(kind, name, value)

    def watch(self, callback):
        self._watchers.append(callback)

    def _apply(self, changes):
        for kind, key, old, new in changes:
            if new is None:
                self._cache[kind].pop(key, None)
            else:
                self._cache[kind][key] = new
            self._sorted.pop(kind, None)
            self._indexes.update(kind, key, old, new)

    def _notify(self, changes):
        if not changes:
            return
        for callback in self._watchers:
            try:
                callback(changes)
            except Exception:               # committed already: a watcher's bug is logged
                LOG.exception('store watcher failed')


class SqliteStore(CachedStore):
    """SQLite on disk, with every record also held decoded in memory, so reads
    cost no SQL and no JSON.

    One controller is the usual single writer. Other store objects on the same
    file are seen through ``PRAGMA data_version``: at the start of each
    transaction (under the write lock) and on ``refresh()`` this object reloads
    what they committed and tells its watchers the difference. Unique values are
    rows of a ``claims`` table, taken in the same SQL transaction.

    The file is 0600. ``synchronous='FULL'`` (the default) syncs the WAL at every
    commit, so an acknowledged write survives a power loss, not only a crash."""

    def __init__(self, path=':memory:', synchronous='FULL'):
        if synchronous not in ('FULL', 'NORMAL', 'EXTRA'):
            raise ValueError('synchronous must be FULL, NORMAL or EXTRA, not %r' % synchronous)
        if path != ':memory:':
            ensure_private(path)
        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False,
                                    timeout=30)
        self.conn.execute('PRAGMA journal_mode=WAL')
        self.conn.execute('PRAGMA synchronous=%s' % synchronous)
        self.conn.execute('CREATE TABLE IF NOT EXISTS records('
                          'kind TEXT, key TEXT, body TEXT, PRIMARY KEY(kind, key))')
        self.conn.execute('CREATE TABLE IF NOT EXISTS claims(name TEXT PRIMARY KEY, owner TEXT)')
        self.conn.execute('CREATE TABLE IF NOT EXISTS counters(name TEXT PRIMARY KEY, '
                          'value INTEGER)')
        super().__init__()
        self._lock = threading.RLock()
        self._data_version = None
        self._cache = self._load()
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
        if old and default:
            with self.transaction() as tx:
                for port in old:
                    tx.put('port', port.id, model.changed(port, security_groups=[default]))
            LOG.warning('upgraded %d stored ports without groups to group "default" '
                        '(an empty list now means no group)', len(old))
        self.conn.execute('PRAGMA user_version=%d' % FORMAT)

    def _load(self):
        cache = {kind: {} for kind in KINDS}
        for kind, key, body in self.conn.execute('SELECT kind, key, body FROM records'):
            record = decode(kind, key, body) if kind in KINDS else None
            if record is not None:
                cache[kind][key] = record
        self._data_version = self.conn.execute('PRAGMA data_version').fetchone()[0]
        return cache

    def _catch_up(self):
        """Inside a transaction: the changes other connections committed since
        this object last looked, applied to the cache."""
        if self.conn.execute('PRAGMA data_version').fetchone()[0] == self._data_version:
            return []
        changes = differences(self._cache, self._load())
        self._apply(changes)
        return changes

    def add_index(self, kind, name, values, unique=False):
        super().add_index(kind, name, values, unique)
        if unique:      # a file written before claims existed: claim what it holds
            rows = [(name, '%s/%s' % (kind, key)) for key, record in self._cache[kind].items()
                    for name in self._indexes.claims(kind, record)]
            with self._lock:
                self.conn.execute('BEGIN IMMEDIATE')
                self.conn.executemany('INSERT OR IGNORE INTO claims(name, owner) VALUES (?,?)',
                                      rows)
                self.conn.execute('COMMIT')

    @contextlib.contextmanager
    def transaction(self):
        writer = BufferedWriter()
        yield writer
        with self._lock:
            self.conn.execute('BEGIN IMMEDIATE')
            outside = []
            try:
                outside = self._catch_up()
                changes = writer.changes(self._cache)
                self._write(changes)
            except BaseException:
                self.conn.execute('ROLLBACK')
                self._notify(outside)
                raise
            self.conn.execute('COMMIT')
            self._apply(changes)
        self._notify(outside)
        self._notify(changes)

    def _write(self, changes):
        take, give = self._indexes.claim_plan(changes)
        for kind, key, _old, new in changes:
            if new is None:
                self.conn.execute('DELETE FROM records WHERE kind=? AND key=?', (kind, key))
            else:
                self.conn.execute('INSERT OR REPLACE INTO records(kind, key, body) '
                                  'VALUES (?,?,?)', (kind, key, encode(new)))
        self.conn.executemany('DELETE FROM claims WHERE name=?', [(n,) for n in give])
        for name, owner in take.items():
            try:
                self.conn.execute('INSERT INTO claims(name, owner) VALUES (?,?)', (name, owner))
            except sqlite3.IntegrityError:
                raise Conflict('%s is taken' % name) from None

    def allocate(self, counter):
        with self._lock:
            self.conn.execute('BEGIN IMMEDIATE')
            try:
                row = self.conn.execute('SELECT value FROM counters WHERE name=?',
                                        (counter,)).fetchone()
                value = (row[0] if row else 0) + 1
                self.conn.execute('INSERT OR REPLACE INTO counters(name, value) VALUES (?,?)',
                                  (counter, value))
            except BaseException:
                self.conn.execute('ROLLBACK')
                raise
            self.conn.execute('COMMIT')
        return value

    def refresh(self):
        with self._lock:
            self.conn.execute('BEGIN')
            try:
                outside = self._catch_up()
            finally:
                self.conn.execute('COMMIT')
        self._notify(outside)

    def close(self):
        self.conn.close()
