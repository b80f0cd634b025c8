"""A fourth feature is one module and one pipeline declaration: the toy feature
(tests/unit/toy_feature.py: one table, one record kind), added without
changing any other file, compiles, keeps to the pipeline, is stored, marks its
own pieces when its records change, is programmed by the core and explained by
a trace. Loading one app imports only its own feature."""
import importlib
import subprocess
import sys

import pytest

from controller.compile import feature, pipeline as P
from controller.state import store as store_module
from controller.compile.host import ALL, compile_host
from controller.compile.dirty import dirty
from controller.compile.explain import Words
from controller.state.inventory import Inventory
from controller.compile.pieces import compile_pieces
from controller.state.schemas import TraceRequest
from controller.api.trace import trace
from tests.unit.conftest import add_hv, add_port
from tests.unit.fakes import FakeDatapath


@pytest.fixture
def toy(monkeypatch):
    """The toy module imported afresh; every registry it wrote to restored after."""
    monkeypatch.setattr(P, 'TABLES', P.TABLES)
    monkeypatch.setattr(P, 'BY_NUMBER', dict(P.BY_NUMBER))
    owners, kinds = dict(P.OWNERS), dict(store_module.KINDS)
    declared = dict(feature._DECLARED)
    sys.modules.pop('tests.unit.toy_feature', None)
    module = importlib.import_module('tests.unit.toy_feature')
    yield module
    for registry, saved in ((P.OWNERS, owners), (store_module.KINDS, kinds),
                            (feature._DECLARED, declared)):
        registry.clear()
        registry.update(saved)


def mark_changes(store, *puts):
    changes = []
    store.watch(changes.extend)
    with store.transaction() as tx:
        for kind, record in puts:
            tx.put(kind, record.id, record)
    return changes


def test_a_toy_feature_compiles_marks_its_pieces_and_is_explained(toy, tmp_path):
    store = store_module.SqliteStore(str(tmp_path / 'toy.db'))   # opened after the import
    from controller.state.service import Service
    service = Service(store)
    add_hv(service, 'hv1', 1)
    add_hv(service, 'hv2', 2)
    net = service.create_network({'name': 'n', 'kind': 'vxlan'})
    add_port(service, net, 1, 'hv1', ofport=1)
    add_port(service, net, 2, 'hv2', ofport=1)
    features = ALL + (toy.FEATURE,)
    inv = Inventory.from_store(store)
    changes = mark_changes(store, ('toy_mark', toy.ToyMark('m1', '02:00:00:00:00:01')))
    inv.apply(changes)
    assert Inventory.from_store(store).records['toy_mark']['m1'].mac == '02:00:00:00:00:01'
    # it compiles, within its declared table
    flows = compile_host(inv, inv.hosts['hv2'], features)
    mine = [f for f in flows if f.owner == 'toy']
    assert [(f.table, dict(f.match)) for f in mine] == [(toy.TOY, {'eth_src': '02:00:00:00:00:01'})]
    assert all(P.check(f) == '' for f in flows)
    assert mine[0].cookie >> P.COOKIE_OWNER_SHIFT == 0x7e
    assert toy.TOY not in [f.table for f in compile_host(inv, inv.hosts['hv2'], ALL)
                           if f.owner != 'base']
    # its change rule marks its piece on every hypervisor, and only that
    marked = dirty(inv, changes, features)
    for name in ('hv1', 'hv2'):
        assert marked.of(name) == {('mark', 'm1')}
        assert set(compile_pieces(inv, inv.hosts[name], features, marked.of(name))) == {
            ('toy', 'mark', 'm1')}
    # a trace goes through its table, in its words
    answer = trace(inv, features, TraceRequest(source='tapvm1', destination='tapvm2',
                                               protocol='tcp', port=80))
    step = next(s for s in answer['steps'] if s['table'] == toy.TOY)
    assert step['says'] == 'toy: 02:00:00:00:00:01 is marked'
    assert Words(inv, ALL).says('hv1', toy.TOY, mine[0], {}) == 'on to l2_lookup'
    store.close()


def test_the_core_programs_a_toy_record_change_as_a_delta(toy, tmp_path):
    from controller.core import Core
    from controller.ryu_facade import CONF
    CONF([], project='vnetsec-test', default_config_files=[])
    CONF.set_override('db_path', str(tmp_path / 'db'), group='vnetsec')
    CONF.set_override('api_token', 'test', group='vnetsec')
    try:
        core = Core()
        for f in ALL + (toy.FEATURE,):
            core.register(f)
        add_hv(core.service, 'hv1', 1)
        dp = FakeDatapath(1)
        core.ofctrl.datapaths[1] = dp
        core.ofctrl.reconciler.start_sync(dp)
        core.ofctrl.reconciler.on_flow_stats(dp, [], more=False)
        core.engine.reconcile()
        dp.sent.clear()
        with core.store.transaction() as tx:
            tx.put('toy_mark', 'm1', toy.ToyMark('m1', '02:00:00:00:00:09'))
        core.engine.reconcile()
        (mod,) = dp.flow_mods()
        assert mod.command == dp.ofproto.OFPFC_ADD and mod.table_id == toy.TOY
        dp.sent.clear()
        with core.store.transaction() as tx:
            tx.delete('toy_mark', 'm1')
        core.engine.reconcile()
        assert [m.command for m in dp.flow_mods()] == [dp.ofproto.OFPFC_DELETE]
    finally:
        CONF.clear_override('db_path', group='vnetsec')
        CONF.clear_override('api_token', group='vnetsec')


@pytest.mark.parametrize('app', ['apps.vlan', 'apps.vxlan', 'apps.firewall'])
def test_loading_one_app_imports_only_its_feature(app):
    code = ('import importlib, sys; importlib.import_module(%r); from controller.api import rest; '
            'print(sorted(m for m in sys.modules if m.startswith("controller.features.")), '
            'sorted({r.feature for r in rest.ROUTES if r.feature}))' % app)
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                         check=True).stdout
    name = app.split('.')[1]
    own = ['controller.features.' + m for m in {
        'vlan': ['vlan'], 'vxlan': ['vxlan'],
        'firewall': ['firewall', 'firewall_carrier', 'firewall_changes', 'firewall_log',
                     'firewall_pairs',
                     'firewall_sessions', 'firewall_stateless', 'firewall_v6', 'firewall_words',
                     'log_api', 'log_record', 'log_sink',
                     'security_groups']}[name]]
    assert out.split('] ')[0] + ']' == str(sorted(own))
    assert ("['firewall']" in out) == (name == 'firewall')
