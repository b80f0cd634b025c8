"""The store contract, on both backends: SQLite (a file) and etcd (a real etcd
3.4 member started for each test, stopped by its PID). Several store objects on
the same file or the same etcd play several controllers."""
import signal
import threading

import pytest

from controller.state.model import Network, Port, Subnet
from controller.state.service import Service
from controller.state.store import Conflict, SqliteStore
from mininet_topos.etcd_proc import EtcdProcess, etcd_binary

KINDS = ('host', 'network', 'port', 'security_group', 'subnet')


@pytest.fixture
def etcd(tmp_path):
    if not etcd_binary():
        pytest.skip('no etcd binary: install Debian etcd-server (scripts/setup.sh does)')
    member = EtcdProcess(str(tmp_path / 'etcd')).start()
    yield member
    member.stop(signal.SIGKILL)


@pytest.fixture(params=['sqlite', 'etcd'])
def open_store(request, tmp_path):
    """A function opening one more store object on the same state."""
    opened = []
    if request.param == 'sqlite':
        path = str(tmp_path / 'state.db')
        make = lambda: SqliteStore(path)            # noqa: E731
    else:
        from controller.state.etcd_store import EtcdStore
        url = request.getfixturevalue('etcd').url
        make = lambda: EtcdStore.from_url(url)      # noqa: E731

    def opener():
        store = make()
        opened.append(store)
        return store
    yield opener
    for store in opened:
        store.close()


def state(store):
    return {kind: {getattr(r, 'id', getattr(r, 'name', None)): r for r in store.list(kind)}
            for kind in KINDS}


def network(i, seg=None):
    return Network(id='n%d' % i, name='net%d' % i, kind='vlan',
                   segmentation_id=seg or 100 + i, nid=i)


class Replay:
    """A watcher that checks every change continues the last one it saw of the
    same key (none missed, none twice) and so rebuilds the state."""

    def __init__(self, store):
        self.state = {kind: {r.id if hasattr(r, 'id') else r.name: r
                             for r in store.list(kind)} for kind in KINDS}
        self.batches = []
        store.watch(self)

    def __call__(self, changes):
        self.batches.append(changes)
        for kind, key, old, new in changes:
            assert self.state[kind].get(key) == old, 'change of %s %s out of order' % (kind, key)
            if new is None:
                del self.state[kind][key]
            else:
                self.state[kind][key] = new


def test_a_transaction_is_all_or_none(open_store):
    store = open_store()
    store.add_index('network', 'segment', lambda n: (n.segmentation_id,), unique=True)
    with store.transaction() as tx:
        tx.put('network', 'n1', network(1))
    with pytest.raises(RuntimeError):
        with store.transaction() as tx:
            tx.put('network', 'n2', network(2))
            tx.put('network', 'n3', network(3))
            raise RuntimeError('the body failed')
    with pytest.raises(Conflict):              # the second record takes n1's segment
        with store.transaction() as tx:
            tx.put('network', 'n4', network(4))
            tx.put('network', 'n5', network(5, seg=101))
    other = open_store()
    other.refresh()
    for s in (store, other):
        assert [n.id for n in s.list('network')] == ['n1']
    with store.transaction() as tx:            # a deleted record gives its value back
        tx.delete('network', 'n1')
        tx.put('network', 'n5', network(5, seg=101))
    other.refresh()
    assert [n.id for n in other.list('network')] == ['n5']


def test_subnets_are_kept_watched_and_go_with_their_network(open_store):
    """A subnet (/v2.0's record kind) is stored, read back by another store
    object, reported to its watchers, and deleted with its network."""
    first, second = open_store(), open_store()
    service = Service(first)
    net = service.create_network({'name': 'blue', 'kind': 'vxlan'})
    seen = Replay(second)
    subnet = Subnet(id='s1', name='blue-v4', network_id=net.id, cidr='10.1.0.0/24',
                    gateway_ip='10.1.0.1', enable_dhcp=False,
                    allocation_pools=[{'start': '10.1.0.10', 'end': '10.1.0.20'}])
    v6 = Subnet(id='s2', name='blue-v6', network_id=net.id, cidr='fd00::/64', ip_version=6)
    with first.transaction() as tx:
        tx.put('subnet', 's1', subnet)
        tx.put('subnet', 's2', v6)
    second.refresh()
    assert second.get('subnet', 's1') == subnet and second.list('subnet') == [subnet, v6]
    assert seen.state['subnet'] == {'s1': subnet, 's2': v6}
    service.delete_network(net.id)
    second.refresh()
    assert second.list('subnet') == [] and seen.state['subnet'] == {}


def test_a_write_from_a_stale_view_is_refused(open_store):
    first, second = open_store(), open_store()
    for s in (first, second):
        s.add_index('port', 'device', lambda p: (p.device,), unique=True)
    port = Port(id='p1', name='p1', network_id='n', mac='02:00:00:00:00:01', ips=[],
                device='tap1')
    with first.transaction() as tx:
        tx.put('port', 'p1', port)
    with pytest.raises(Conflict):       # the second one has not seen p1 take tap1
        with second.transaction() as tx:
            tx.put('port', 'p2', Port(**dict(port.__dict__, id='p2', name='p2')))
    second.refresh()
    assert second.find('port', 'device', 'tap1') == {'p1'}


def test_allocation_is_compare_and_swap_under_8_clients(open_store):
    """8 clients, each with its own store, create 5 networks (the next free
    segmentation id) and try the same 12 devices, MACs and addresses at once:
    every id is given once, every device to one port."""
    open_store()                            # the first one creates the default group
    clients = [Service(open_store(), vlan_pool='100-4094') for _ in range(8)]
    redone = []                             # refreshes before a redo: real contention
    for client in clients:
        client.store.refresh = lambda s=client.store, r=client.store.refresh: (
            redone.append(s), r())[1]
    network_id = clients[0].create_network({'name': 'shared', 'kind': 'vxlan'}).id
    for client in clients:
        client.store.refresh()
    start, errors, made = threading.Barrier(8), [], []

    def work(i, service):
        start.wait()
        for k in range(5):
            made.append(service.create_network({'name': 'c%d-%d' % (i, k), 'kind': 'vlan'}))
        for k in range(12):
            body = {'network_id': network_id, 'device': 'tap%d' % k,
                    'mac': '02:00:00:00:%02x:%02x' % (i, k), 'ips': ['10.0.%d.1' % k]}
            try:
                made.append(service.create_port(body))
            except Exception as e:              # noqa: BLE001 (checked below)
                errors.append(e)

    threads = [threading.Thread(target=work, args=(i, c)) for i, c in enumerate(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert all(getattr(e, 'status', None) == 409 for e in errors), errors[:3]
    check = open_store()
    networks = [n for n in check.list('network') if n.kind == 'vlan']
    assert len(networks) == 40
    assert len({n.segmentation_id for n in networks}) == 40
    assert len({n.nid for n in check.list('network')}) == 41
    ports = check.list('port')
    assert sorted(p.device for p in ports) == sorted('tap%d' % k for k in range(12))
    assert len({ip for p in ports for ip in p.ips}) == 12
    assert len(errors) == 8 * 12 - 12
    assert redone                           # some writes were refused and redone


def test_counters_never_hand_out_a_value_twice(open_store):
    """Four writers allocate at once (compare-and-swap on etcd); a store opened
    afterwards goes on from the highest value."""
    clients = [open_store() for _ in range(4)]
    got = [[] for _ in clients]

    def work(i, client):
        for _ in range(25):
            got[i].append(client.allocate('rule_mark'))

    threads = [threading.Thread(target=work, args=(i, c)) for i, c in enumerate(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    values = sum(got, [])
    assert sorted(values) == list(range(1, 101))
    assert all(run == sorted(run) for run in got)
    assert open_store().allocate('rule_mark') == 101
    assert open_store().allocate('another') == 1


def test_watchers_see_every_change_of_another_store_once(open_store):
    writer, reader = open_store(), open_store()
    own, seen = Replay(writer), Replay(reader)
    for i in range(1, 11):
        with writer.transaction() as tx:
            tx.put('network', 'n%d' % i, network(i))
            if i > 1:
                tx.put('network', 'n%d' % (i - 1), network(i - 1, seg=500 + i))
            if i > 2:
                tx.delete('network', 'n%d' % (i - 2))
    reader.refresh()
    assert seen.state == own.state == state(reader) == state(writer)
    assert sorted(seen.state['network']) == ['n10', 'n9']
    if 'Etcd' in type(reader).__name__:     # etcd: the same transactions, one by one
        assert seen.batches == own.batches


def test_the_watch_resumes_after_an_etcd_restart(etcd):
    from controller.state.etcd_store import EtcdStore
    writer, reader = EtcdStore.from_url(etcd.url), EtcdStore.from_url(etcd.url)
    seen = Replay(reader)
    try:
        with writer.transaction() as tx:
            tx.put('network', 'n1', network(1))
        reader.refresh()
        etcd.stop(signal.SIGKILL)                  # both watches break
        etcd.start()                               # same data, same revisions
        for i in range(2, 22):
            with writer.transaction() as tx:
                tx.put('network', 'n%d' % i, network(i))
                tx.delete('network', 'n%d' % (i - 1))
        reader.refresh()
        assert seen.state == state(reader) == state(writer)
        assert list(seen.state['network']) == ['n21']
        assert len(seen.batches) == 21             # one per transaction, none twice
    finally:
        writer.close()
        reader.close()
