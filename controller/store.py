"""The desired state, persisted.

``Store`` is the small interface every backend implements (get, list, an atomic
write transaction, change watchers); ``SqliteStore`` is the embedded default, so
state survives a controller restart. A distributed backend (etcd) implements the
same four methods.
"""
import contextlib
import json
import sqlite3
import threading

from controller import model

KINDS = {'host': model.Host, 'network': model.Network, 'port': model.Port}


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
        of ``(kind, key, record_or_None)``."""
        raise NotImplementedError


class _Writer:
    def __init__(self, conn):
        self.conn = conn
        self.changes = []

    def put(self, kind, key, record):
        self.conn.execute('INSERT OR REPLACE INTO records(kind, key, body) VALUES (?,?,?)',
                          (kind, key, json.dumps(model.to_dict(record), sort_keys=True)))
        self.changes.append((kind, key, record))

    def delete(self, kind, key):
        self.conn.execute('DELETE FROM records WHERE kind=? AND key=?', (kind, key))
        self.changes.append((kind, key, None))


class SqliteStore(Store):
    def __init__(self, path=':memory:'):
        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.conn.execute('PRAGMA journal_mode=WAL')
        self.conn.execute('PRAGMA synchronous=NORMAL')
        self.conn.execute('CREATE TABLE IF NOT EXISTS records('
                          'kind TEXT, key TEXT, body TEXT, PRIMARY KEY(kind, key))')
        self._lock = threading.RLock()
        self._watchers = []

    def get(self, kind, key):
        row = self.conn.execute('SELECT body FROM records WHERE kind=? AND key=?',
                                (kind, key)).fetchone()
        return KINDS[kind](**json.loads(row[0])) if row else None

    def list(self, kind):
        rows = self.conn.execute('SELECT body FROM records WHERE kind=? ORDER BY key', (kind,))
        return [KINDS[kind](**json.loads(r[0])) for r in rows]

    @contextlib.contextmanager
    def transaction(self):
        with self._lock:
            self.conn.execute('BEGIN IMMEDIATE')
            writer = _Writer(self.conn)
            try:
                yield writer
            except BaseException:
                self.conn.execute('ROLLBACK')
                raise
            self.conn.execute('COMMIT')
        for callback in self._watchers:
            callback(writer.changes)

    def watch(self, callback):
        self._watchers.append(callback)
