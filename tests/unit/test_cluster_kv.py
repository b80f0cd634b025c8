"""The replicas' etcd calls (controller/switch/cluster_kv.py) on a real etcd member."""
from controller.switch.cluster_kv import ClusterKV
from controller.state.etcd_store import parse_endpoints
from tests.unit.test_store_contract import etcd  # noqa: F401 (a fixture)


def test_create_all_claims_the_absent_keys_in_chunks_and_skips_the_taken(etcd):  # noqa: F811
    kv = ClusterKV(parse_endpoints(etcd.url))
    lease = kv.grant(10)
    assert kv.create('m/3', {'replica': 'b'}, lease) is not None      # another's claim
    keys = [('m/%d' % i, {'replica': 'a'}) for i in range(1, 8)]
    revisions = kv.create_all(keys, lease, chunk=3)                 # 3 Txns: 3, 3, 1
    assert revisions[2] is None
    assert all(isinstance(r, int) for i, r in enumerate(revisions) if i != 2)
    assert revisions[0] == revisions[1] < revisions[3] == revisions[4] < revisions[6]
    held = kv.items('m/')
    assert {k: v[0]['replica'] for k, v in held.items()} == {
        '%d' % i: 'b' if i == 3 else 'a' for i in range(1, 8)}
    assert held['1'][1] == revisions[0]                 # the revision is the key's creation
    kv.revoke(lease)
    assert kv.items('m/') == {}                         # attached to the lease


def test_delete_all_deletes_in_chunks_only_the_keys_still_at_their_revision(etcd):  # noqa: F811
    kv = ClusterKV(parse_endpoints(etcd.url))
    lease = kv.grant(10)
    revisions = kv.create_all([('m/%d' % i, {'replica': 'a'}) for i in range(1, 6)], lease)
    kv.put('m/2', {'replica': 'b'}, lease)              # changed since: not ours to delete
    done = kv.delete_all([('m/%d' % i, revisions[i - 1]) for i in range(1, 6)], chunk=2)
    assert done == [True, False, True, True, True]
    assert {k: v[0]['replica'] for k, v in kv.items('m/').items()} == {'2': 'b'}
