"""The few etcd calls replicas coordinate with: leases and compare-and-swap keys.

A thin layer over the etcd v3 JSON gateway, with its own short timeout (a
lease renewal must fail well within the lease, not after the store's 5 s) and
the same endpoint failover as the store, so that :mod:`controller.switch.mastership`
holds only the decisions and its unit tests give it a fake of this class.
"""
import json

from controller.state.etcd_http import PLAIN, Members, b64, prefix_end, text_of

CREATES_PER_TXN = 100     # under etcd's default --max-txn-ops (128)


class ClusterKV:
    def __init__(self, endpoints, timeout=1.0, access=PLAIN):
        self._members = Members(endpoints, timeout, access)     # access: the store's

    def _post(self, path, body):
        return self._members.post(path, body)

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
        answer = self._post('kv/range', {'key': b64(prefix),
                                         'range_end': b64(prefix_end(prefix))})
        return {text_of(kv['key'])[len(prefix):]: (json.loads(text_of(kv.get('value', ''))),
                                                 int(kv['create_revision']),
                                                 int(kv['mod_revision']))
                for kv in answer.get('kvs', [])}

    def put(self, key, value, lease):
        self._post('kv/put', {'key': b64(key), 'value': b64(json.dumps(value)),
                              'lease': lease})

    def create(self, key, value, lease):
        """Put ``key`` only if it does not exist: the revision that made it, or
        None if another got there first."""
        return self.create_all([(key, value)], lease)[0]

    def create_all(self, items, lease, chunk=CREATES_PER_TXN):
        """``create`` for each (key, value), a Txn of nested Txns per ``chunk``:
        one round trip for a start-up's hundreds of claims (one by one they
        outlast the lease). The revisions in order, None where the key existed."""
        return [revision if done else None for revision, done in self._guarded_each(
            [({'key': b64(key), 'target': 'CREATE', 'result': 'EQUAL', 'create_revision': 0},
              {'request_put': {'key': b64(key), 'value': b64(json.dumps(value)),
                               'lease': lease}})
             for key, value in items], chunk)]

    def delete_all(self, items, chunk=CREATES_PER_TXN):
        """Delete each key (key, mod_revision) still at that revision, as
        ``create_all`` creates: a replica giving 170 switches up one by one spent
        its round waiting for etcd, past its lease (1,000 hypervisors, loaded
        loop). True where deleted, in order."""
        return [done for _, done in self._guarded_each(
            [({'key': b64(key), 'target': 'MOD', 'result': 'EQUAL',
               'mod_revision': mod_revision}, {'request_delete_range': {'key': b64(key)}})
             for key, mod_revision in items], chunk)]

    def _guarded_each(self, guarded, chunk):
        """Each (compare, request) of ``guarded`` as a Txn of its own, nested in one
        Txn per ``chunk``: [(the revision after it, whether it was done)], in order."""
        out = []
        for start in range(0, len(guarded), chunk):
            answer = self._post('kv/txn', {'compare': [], 'failure': [], 'success': [
                {'request_txn': {'compare': [compare], 'success': [request]}}
                for compare, request in guarded[start:start + chunk]]})
            revision = int(answer['header']['revision'])
            out += [(revision, bool(r.get('response_txn', {}).get('succeeded')))
                    for r in answer.get('responses', [])]
        return out
