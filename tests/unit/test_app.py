"""The Ryu app's reconcile over fake datapaths: which switches a move touches,
and in which order their bundles go."""
import dataclasses
import gc

import pytest

from controller.compile.host import ALL
from controller.core import Core
from controller.features import vlan
from controller.ryu_facade import CONF
from tests.unit.conftest import add_hv, add_port
from tests.unit.fakes import FakeDatapath, FlowStat

TOR_DPID = 0x7001


@pytest.fixture
def app(tmp_path):
    CONF([], project='vnetsec-test', default_config_files=[])
    CONF.set_override('db_path', str(tmp_path / 'db'), group='vnetsec')
    CONF.set_override('api_token', 'test', group='vnetsec')
    core = Core()
    for feature in ALL:
        core.register(feature)
    yield core
    CONF.clear_override('db_path', group='vnetsec')
    CONF.clear_override('api_token', group='vnetsec')


def connect(app, dpid):
    dp = FakeDatapath(dpid)
    app.ofctrl.datapaths[dpid] = dp
    app.ofctrl.reconciler.start_sync(dp)
    app.ofctrl.reconciler.on_flow_stats(dp, [], more=False)     # an empty switch
    return dp


def data_center(app, kind):
    """hv1..hv4 with one port each in one network, a ToR, all programmed."""
    for i in range(1, 5):
        add_hv(app.service, 'hv%d' % i, i)
    app.service.create_host({'name': 'tor1', 'dpid': TOR_DPID, 'role': 'tor', 'rack': 1,
                               'uplinks': {'hv:hv%d' % i: i for i in range(1, 5)}})
    net = app.service.create_network({'name': 'n', 'kind': kind})
    for i in range(1, 5):
        add_port(app.service, net, i, 'hv%d' % i, ofport=i)
    dps = {i: connect(app, i) for i in range(1, 5)}
    dps['tor'] = connect(app, TOR_DPID)
    app.engine.reconcile()
    return dps


def bundles_sent(app):
    """Hosts in the order their bundles were sent by the last reconcile."""
    sent = [e['host'] for e in app.timeline if e['event'] == 'sent']
    app.timeline.clear()
    return sent


@pytest.mark.parametrize('kind', ['vxlan', 'vlan'])
def test_a_move_programs_the_destination_first_and_the_source_last(app, kind):
    data_center(app, kind)
    assert set(bundles_sent(app)) == {'hv1', 'hv2', 'hv3', 'hv4', 'tor1'}
    app.service.bind('hv3', {'tapvm1': 7})                  # vm1: hv1 -> hv3
    app.engine.reconcile()
    sent = bundles_sent(app)
    assert sent[0] == 'hv3' and sent[-1] == 'hv1'
    if kind == 'vxlan':         # the others' MAC entry now names hv3's VTEP
        assert sorted(sent) == ['hv1', 'hv2', 'hv3', 'hv4']
    else:                       # theirs still goes up the trunk; the ToR's VLANs change
        assert sorted(sent) == ['hv1', 'hv3', 'tor1']


def test_remote_hosts_get_only_the_moved_entry_and_their_flood_list(app):
    dps = data_center(app, 'vxlan')
    for dp in dps.values():
        dp.sent.clear()
    app.service.bind('hv3', {'tapvm1': 7})           # hv1 now hosts nothing of the network
    app.engine.reconcile()
    for i in (2, 4):
        adds = [m for m in dps[i].flow_mods() if m.command == dps[i].ofproto.OFPFC_ADD]
        assert len(dps[i].flow_mods()) == len(adds) == 2   # MAC -> hv3, flood without hv1


def test_a_vlan_port_recompiles_only_its_network_on_the_tor(app):
    """... and only its own MAC's entry when its hypervisor had the VLAN."""
    dps = data_center(app, 'vlan')
    other = app.service.create_network({'name': 'other', 'kind': 'vlan'})
    add_port(app.service, other, 5, 'hv2', ofport=5)
    app.engine.reconcile()
    tor = app.ofctrl.desired[TOR_DPID]
    assert ('vlan', 'net', other.id) in tor.pieces
    compiled = []                                      # the networks the ToR compiles

    def counted(inv, t, want=None):
        pieces = vlan.tor_pieces(inv, t, want)
        compiled.append(sorted(pieces))
        return pieces
    app.engine.features = [dataclasses.replace(f, tor_pieces=counted) if f.name == 'vlan' else f
                    for f in app.engine.features]
    dps['tor'].sent.clear()
    add_port(app.service, other, 6, 'hv3', ofport=6)   # a VLAN new on hv3: the ToR admits it
    app.engine.reconcile()
    assert {key[2] for key in compiled[0]} == {other.id}   # not the first network's piece
    adds = [m for m in dps['tor'].flow_mods() if m.command == dps['tor'].ofproto.OFPFC_ADD]
    assert adds, 'the ToR learns the new MAC and admits the VLAN on the port to hv3'
    compiled.clear()
    dps['tor'].sent.clear()
    seventh = add_port(app.service, other, 7, 'hv3', ofport=7)  # hv3 has the VLAN already
    app.engine.reconcile()
    assert compiled == [[('vlan', 'net', other.id), ('vlan', 'remote', other.id, seventh.id)]]
    mods = dps['tor'].flow_mods()                      # its MAC, nothing else
    assert [m.command for m in mods] == [dps['tor'].ofproto.OFPFC_ADD]


def test_a_reconcile_building_a_switch_whole_leaves_its_objects_out_of_cycle_collection(app):
    data_center(app, 'vxlan')                          # compiled; nothing frozen yet
    gc.unfreeze()
    connect(app, 9)
    add_hv(app.service, 'hv9', 9)
    try:
        app.engine._reconcile_once()                          # hv9 compiled whole
        assert gc.get_freeze_count() > 0
        gc.unfreeze()
        app.service.bind('hv9', {'tapvm1': 3})         # a small change: nothing frozen
        app.engine._reconcile_once()
        assert gc.get_freeze_count() == 0
    finally:
        gc.unfreeze()


def test_the_records_read_at_start_are_left_out_of_cycle_collection(app):
    """A replica's whole store (20,000 ports at 1,000 hypervisors) is read at
    start: a full collection walking it stalls the event loop."""
    from controller.switch.engine import Engine
    gc.unfreeze()
    try:
        Engine(app.store, app.service, app.ofctrl, app.mastership, app.sightings, app.metrics)
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


def test_a_switch_refusing_a_bundle_is_reported_and_retried_only_after_a_change(app):
    from types import SimpleNamespace
    dps = data_center(app, 'vxlan')
    ofp = dps[2].ofproto
    error = SimpleNamespace(datapath=dps[2], type=ofp.OFPET_FLOW_MOD_FAILED,
                            code=ofp.OFPFMFC_TABLE_FULL, data=b'')
    app._error(SimpleNamespace(msg=error))
    status = app.status()['switches']
    assert status['%016x' % 2]['failing'] == (
        'the switch refused our flows: OFPET_FLOW_MOD_FAILED/OFPFMFC_TABLE_FULL')
    assert not status['%016x' % 2]['synced'] and status['%016x' % 1]['failing'] is None
    app.ofctrl.reconciler.on_flow_stats(dps[2], [], more=False)      # its table, read back
    for dp in dps.values():
        dp.sent.clear()
    app.engine.reconcile()
    assert dps[2].flow_mods() == []                           # the same flows: not resent
    net = app.service.get_network('n')
    add_port(app.service, net, 9, 'hv2', ofport=9)            # the records change
    app.engine.reconcile()
    assert dps[2].flow_mods() and app.status()['switches']['%016x' % 2]['failing'] is None


def test_an_unusable_host_record_is_named_in_the_status_and_the_rest_are_programmed(app):
    from controller.state.model import Host
    data_center(app, "vxlan")
    with app.store.transaction() as tx:           # e.g. written by an older version
        tx.put('host', 'hv2', Host(name='hv2', dpid=2, vtep_ip='127.0.0.1'))
    app.engine.reconcile()
    status = app.status()['switches']
    assert 'vtep_ip' in status['%016x' % 2]['failing']
    assert all(status['%016x' % i]['failing'] is None and i in app.ofctrl.applied
               for i in (1, 3, 4))


class LapsingMastership:
    """A replica's mastership whose lease validity lapses and comes back with
    no role change (a slow etcd round): :class:`controller.switch.mastership.Mastership`'s
    is_master as the reconcile sees it."""
    shared = True
    name = 'c1'

    def __init__(self):
        self.valid = True

    def is_master(self, dpid):
        return self.valid

    def status(self):
        return {}


def test_a_switch_skipped_while_the_lease_lapsed_is_programmed_once_it_is_valid(app):
    for i in (1, 2):
        add_hv(app.service, 'hv%d' % i, i)
    net = app.service.create_network({'name': 'n', 'kind': 'vxlan'})
    add_port(app.service, net, 1, 'hv1', ofport=1)
    lapsing = LapsingMastership()
    app.mastership = app.engine.mastership = lapsing       # every part asks it
    app.ofctrl.is_master = app.sightings.is_master = lapsing.is_master
    app.mastership.valid = False
    dps = {i: connect(app, i) for i in (1, 2)}
    app.engine.reconcile()                                    # read, but not ours this instant
    assert not dps[1].flow_mods() and 1 not in app.ofctrl.applied
    app.mastership.valid = True                        # renewed: no role change follows
    assert sorted(app.ofctrl.unprogrammed()) == [1, 2]       # the mastership loop wakes the reconcile
    app.engine.reconcile()
    assert dps[1].flow_mods() and app.ofctrl.unprogrammed() == []
    assert app.status()['switches']['%016x' % 1]['synced'] is False   # until it confirms


def test_a_port_created_for_a_plugged_vnic_is_bound_as_it_is_stored(app, monkeypatch):
    """What the switches reported binds a new port in its own write; a device on
    a switch another replica masters is left to that replica."""
    data_center(app, 'vlan')
    bundles_sent(app)
    net = app.store.list('network')[0]
    app.sightings.seen['tapnew'] = ('hv2', 42)             # hv2's switch reported it
    port = app.service.create_port({'network_id': net.id, 'device': 'tapnew',
                                    'mac': '02:00:00:00:00:42', 'ips': ['10.0.0.42']})
    assert (port.bound_host, port.ofport) == ('hv2', 42)
    app.engine.reconcile()
    assert bundles_sent(app)[0] == 'hv2'
    assert any(dict(f.match).get('in_port') == 42 for f in app.ofctrl.reconciler.installed[2].values())
    monkeypatch.setattr(app.sightings, 'is_master', lambda dpid: dpid != 3)
    app.sightings.seen['tapother'] = ('hv3', 43)
    other = app.service.create_port({'network_id': net.id, 'device': 'tapother',
                                     'mac': '02:00:00:00:00:43', 'ips': ['10.0.0.43']})
    assert (other.bound_host, other.ofport) == ('', 0)


def read_back(app, dp, flows):
    """The switch answers the read-back of its table with ``flows``."""
    from types import SimpleNamespace
    body = [FlowStat(f.cookie, f.table, f.priority, f.match) for f in flows]
    app._flow_stats(SimpleNamespace(msg=SimpleNamespace(datapath=dp, body=body, flags=0,
                                                        xid=dp.xid)))


def test_a_bundle_never_confirmed_is_settled_by_the_next_read_back_of_the_table(app):
    """A bundle the switch refused as a slave (another replica mastered it
    meanwhile) has no commit reply; mastered again, its table read back holding
    every desired flow, the switch is synced with nothing to send."""
    dps = data_center(app, 'vxlan')
    for dpid, bundle in app.ofctrl.reconciler.last_bundle.items():
        app.ofctrl.on_commit(dpid, bundle)
    add_port(app.service, app.service.get_network('n'), 9, 'hv2', ofport=9)
    app.engine.reconcile()                          # a bundle to hv2, never confirmed
    assert app.status()['switches']['%016x' % 2]['waiting'].startswith('the commit of bundle')
    app.ofctrl.resync(dps[2])                       # ours again: its table read back
    assert app.status()['switches']['%016x' % 2]['waiting'].startswith('its flow table')
    read_back(app, dps[2], app.ofctrl.desired[2].flows.values())   # it holds them all
    dps[2].sent.clear()
    app.engine.reconcile()
    assert dps[2].flow_mods() == []
    assert app.status()['switches']['%016x' % 2] == {
        'host': 'hv2', 'synced': True, 'failing': None, 'waiting': '', 'compiled': True}


def test_a_switch_read_again_while_it_is_compiled_is_programmed_after_the_read(app):
    """A compile that finds the switch's table being read again (it was synced
    when the reconcile began) sends nothing and leaves it to be programmed
    once the table is known."""
    dps = data_center(app, 'vxlan')
    host = app.store.get('host', 'hv1')
    app.ofctrl.resync(dps[1])
    app.engine._program(host, dps[1], None, True, 2)
    assert 1 not in app.ofctrl.applied
    read_back(app, dps[1], [])
    assert app.ofctrl.unprogrammed() == [1]
    app.engine.reconcile()
    assert dps[1].flow_mods() and app.ofctrl.unprogrammed() == []


def test_a_slave_reads_a_switchs_ports_only_once_it_becomes_its_master(app):
    """A replica keeps no port list of the switches another replica masters
    (each connect cost a reply to parse); a new master reads them, to bind
    what was plugged meanwhile."""
    from types import SimpleNamespace
    add_hv(app.service, 'hv1', 1)
    lapsing = LapsingMastership()
    app.mastership = app.engine.mastership = lapsing
    app.ofctrl.is_master = app.sightings.is_master = lapsing.is_master
    lapsing.on_connect = lambda dpid: None

    def reads(dp):              # multipart requests: its flow table, its port list
        return [m for m in dp.sent if getattr(m, 'msg_type', None)
                == dp.ofproto.OFPT_MULTIPART_REQUEST]
    lapsing.valid = False                                     # a slave at connect
    dp = FakeDatapath(1)
    app._switch_features(SimpleNamespace(msg=SimpleNamespace(datapath=dp)))
    assert reads(dp) == []
    lapsing.valid = True                                      # then its master
    app._send_role(1, 'master', 7)
    assert len(reads(dp)) == 2
