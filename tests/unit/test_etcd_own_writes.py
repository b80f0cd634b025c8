"""A store's own etcd transactions are applied when etcd answers them, not again
when their watch event comes (controller/state/etcd_store.py ``_take_own``),
unless another writer's change may still be on its way: then the watch applies
both, in revision order (a real etcd member, stopped by its PID)."""
import threading
import time

from controller.state.etcd_store import EtcdStore
from tests.unit.test_store_contract import Replay, etcd, network, state  # noqa: F401


def watched_up_to(store, revision, timeout=10):
    """Wait until the store's watch has passed ``revision``."""
    deadline = time.monotonic() + timeout
    while store._watched < revision:
        assert time.monotonic() < deadline, 'the watch never passed %d' % revision
        time.sleep(0.01)


def test_an_own_write_is_applied_at_once_and_told_once(etcd):  # noqa: F811
    """Read back as soon as the transaction returns, told to the watchers once
    whether its Txn's answer or its watch event came first."""
    store = EtcdStore.from_url(etcd.url)
    try:
        seen = Replay(store)
        for i in range(1, 6):
            with store.transaction() as tx:
                tx.put('network', 'n%d' % i, network(i))
            assert store.get('network', 'n%d' % i) == network(i)
        watched_up_to(store, store._revision)
        assert seen.batches == [[('network', 'n%d' % i, None, network(i))] for i in range(1, 6)]
        assert seen.state == state(store)
        assert store._own == set()          # every own event met and skipped
    finally:
        store.close()


def test_a_write_after_another_writers_waits_for_it_and_tells_both_in_order(etcd):  # noqa: F811
    """The other writer's change is not here yet when this store's Txn is
    answered (``_last`` was written after what this store applied): the write
    waits for the watch, which applies the other's change first, then this one."""
    other, store = EtcdStore.from_url(etcd.url), EtcdStore.from_url(etcd.url)
    gate, apply_events = threading.Event(), store._apply_events
    store._apply_events = lambda events: gate.wait(10) and apply_events(events)
    try:
        seen = Replay(store)
        with other.transaction() as tx:
            tx.put('network', 'n1', network(1))
        done = []

        def write():
            with store.transaction() as tx:
                tx.put('network', 'n2', network(2))
            done.append(store.get('network', 'n1'))
        writer = threading.Thread(target=write)
        writer.start()
        time.sleep(0.5)
        assert not done and store.get('network', 'n2') is None  # answered; waits for the watch
        gate.set()
        writer.join(10)
        assert done == [network(1)]         # the other's change was applied first
        assert [[c[1] for c in batch] for batch in seen.batches] == [['n1'], ['n2']]
        other.refresh()
        assert state(other) == state(store) == seen.state
    finally:
        gate.set()
        other.close()
        store.close()
