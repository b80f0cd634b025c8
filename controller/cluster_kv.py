"""The few etcd calls replicas coordinate with: leases and compare-and-swap keys.

A thin layer over the etcd v3 JSON gateway, with its own short timeout (a
lease renewal must fail well within the lease, not after the store's 5 s) and
the same endpoint failover as the store, so that :mod:`controller.mastership`
holds only the decisions and its unit tests give it a fake of this class.
"""
import base64
import json

from etcd3gw.client import Etcd3Client
from etcd3gw.exceptions import ConnectionFailedError, ConnectionTimeoutError


def _b64(text):
    return base64.b64encode(text.encode()).decode()


def _text(b64):
    return base64.b64decode(b64).decode()


def _prefix_end(prefix):
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


class ClusterKV:
    def __init__(self, endpoints, timeout=1.0):
        self._clients = [Etcd3Client(host, port, timeout=timeout, api_path='/v3/')
                         for host, port in endpoints]
        self._current = 0           # the endpoint that answered last

    def _post(self, path, body):
        """POST to the v3 gateway, trying each endpoint in turn."""
        error = None
        for attempt in range(len(self._clients)):
            index = (self._current + attempt) % len(self._clients)
            client = self._clients[index]
            try:
                answer = client.post(client.get_url(path), json=body)
                self._current = index
                return answer
            except (ConnectionFailedError, ConnectionTimeoutError) as e:
                error = e
        raise error

    def grant(self, ttl):
        """A new lease: its id (etcd answers with at least its minimum TTL)."""
        answer = self._post('lease/grant', {'TTL': ttl})
        return int(answer['ID'])

    def keepalive(self, lease):
        """Renew the lease: the TTL it has again, 0 if it had expired."""
        answer = self._post('lease/keepalive', {'ID': lease})
        return int(answer.get('result', answer).get('TTL', 0))

    def time_to_live(self, lease):
        """Seconds the lease has left (-1: gone)."""
        return int(self._post('lease/timetolive', {'ID': lease}).get('TTL', -1))

    def revoke(self, lease):
        self._post('lease/revoke', {'ID': lease})

    def items(self, prefix):
        """{key (after prefix): (value, create_revision, mod_revision)}."""
        answer = self._post('kv/range', {'key': _b64(prefix),
                                         'range_end': _b64(_prefix_end(prefix))})
        return {_text(kv['key'])[len(prefix):]: (json.loads(_text(kv.get('value', ''))),
                                                 int(kv['create_revision']),
                                                 int(kv['mod_revision']))
                for kv in answer.get('kvs', [])}

    def put(self, key, value, lease):
        self._post('kv/put', {'key': _b64(key), 'value': _b64(json.dumps(value)),
                              'lease': lease})

    def create(self, key, value, lease):
        """Put ``key`` only if it does not exist: the revision that made it, or
        None if another got there first."""
        answer = self._post('kv/txn', {
            'compare': [{'key': _b64(key), 'target': 'CREATE', 'result': 'EQUAL',
                         'create_revision': 0}],
            'success': [{'request_put': {'key': _b64(key), 'value': _b64(json.dumps(value)),
                                         'lease': lease}}],
            'failure': []})
        return int(answer['header']['revision']) if answer.get('succeeded') else None

    def delete(self, key, mod_revision):
        """Delete ``key`` if it is still at ``mod_revision``; True if deleted."""
        answer = self._post('kv/txn', {
            'compare': [{'key': _b64(key), 'target': 'MOD', 'result': 'EQUAL',
                         'mod_revision': mod_revision}],
            'success': [{'request_delete_range': {'key': _b64(key)}}],
            'failure': []})
        return bool(answer.get('succeeded'))
