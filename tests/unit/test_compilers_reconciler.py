"""Compilers (pure) and the reconciler (fake datapath, real OpenFlow encoding)."""
import pytest

from controller.compile import pipeline as P
from controller.compile.host import compile_host, feature_flows
from controller.features import vlan, vxlan
from controller.compile.flows import to_ofctl
from controller.state.inventory import Inventory
from controller.compile.pieces import compile_pieces
from controller.switch.encoder import Encoder, flow_mod
from controller.switch.reconciler import Reconciler
from controller.api.views import mappings
from controller.features.security_groups import SecurityGroups
from tests.unit.conftest import add_hv, add_port
from tests.unit.fakes import BundleAdd, FakeDatapath, FlowModView, FlowStat, Raw


def inventory(store):
    return Inventory.from_store(store)


def build(service, kind):
    net = service.create_network({'name': 'n', 'kind': kind})
    add_hv(service, 'hv1', 1)
    add_hv(service, 'hv2', 2)
    add_hv(service, 'hv3', 3)
    add_port(service, net, 1, 'hv1', ofport=1)
    add_port(service, net, 2, 'hv2', ofport=1)
    return net


def l2(flows):
    return [f for f in flows if f.table in (P.L2_LOOKUP, P.VXLAN_L2, P.VLAN_L2)]


def prio(table, name):
    return P.priority(table, name)


def test_vxlan_unicast_points_to_the_vtep(service, store):
    build(service, 'vxlan')
    inv = inventory(store)
    flows = compile_host(inv, inv.hosts['hv1'])
    remote = [f for f in l2(flows) if ('eth_dst', '02:00:00:00:00:02') in f.match]
    assert len(remote) == 1
    assert ('set_field', 'tun_ipv4_dst', '172.16.1.12') in remote[0].actions
    assert ('output', P.TUNNEL_OFPORT) in remote[0].actions


def test_host_without_port_in_network_gets_nothing_of_it(service, store):
    build(service, 'vxlan')
    inv = inventory(store)
    hv3 = inv.hosts['hv3']
    assert feature_flows(inv, hv3, vxlan.FEATURE) == []
    assert set(compile_pieces(inv, hv3, [vxlan.FEATURE])) == {('base', 'host'), ('core', 'host')}
    net = list(inv.networks.values())[0]
    assert set(mappings(inv, net)) == {'hv1', 'hv2'}


def test_flood_reaches_only_vteps_of_the_network(service, store):
    net = build(service, 'vxlan')
    inv = inventory(store)
    flood = [f for f in l2(compile_host(inv, inv.hosts['hv1']))
             if f.priority == prio(P.VXLAN_L2, 'flood') and (P.REG_FROM_REMOTE, 0) in f.match]
    tunnels = [a[2] for a in flood[0].actions if a[:2] == ('set_field', 'tun_ipv4_dst')]
    assert tunnels == ['172.16.1.12']                     # hv3 hosts nothing of it
    assert net.segmentation_id == 5000


def test_vlan_unicast_goes_tagged_up_the_trunk_in_one_flow_per_network(service, store):
    """A hypervisor holds no remote MAC of a VLAN network: one flow sends its
    unicast up (the ToR knows where each MAC is); with no port elsewhere, none
    leaves the host."""
    build(service, 'vlan')
    inv = inventory(store)
    unicast = [f for f in l2(compile_host(inv, inv.hosts['hv1']))
               if f.priority == prio(P.VLAN_L2, 'unicast')]
    assert [dict(f.match)['eth_dst'] for f in unicast] == [('00:00:00:00:00:00',
                                                            '01:00:00:00:00:00')]
    assert unicast[0].actions == (('push_vlan',), ('set_field', 'vlan_vid', 0x1000 | 100),
                                  ('output', P.UPLINK_OFPORT))
    assert not [f for f in l2(compile_host(inv, inv.hosts['hv1']))
                if ('eth_dst', '02:00:00:00:00:02') in f.match]
    service.delete_port(next(p.id for p in inv.ports.values() if p.mac == '02:00:00:00:00:02'))
    inv = inventory(store)
    alone = [f for f in l2(compile_host(inv, inv.hosts['hv1']))
             if f.priority == prio(P.VLAN_L2, 'unicast')]
    assert [f.actions for f in alone] == [()]


def test_arp_responder_only_for_vxlan(service, store):
    build(service, 'vxlan')
    inv = inventory(store)
    arp = [f for f in compile_host(inv, inv.hosts['hv1']) if f.table == P.ARP_RESPONDER
           and f.priority == prio(P.ARP_RESPONDER, 'known_address')]
    assert {dict(f.match)['arp_tpa'] for f in arp} == {'10.0.0.1', '10.0.0.2'}
    others = [f for f in compile_host(inv, inv.hosts['hv1']) if f.table == P.ARP_RESPONDER
              and f.priority == prio(P.ARP_RESPONDER, 'unknown_address')]
    assert len(others) == 1 and others[0].actions == ()      # unknown addresses: dropped


def test_tor_admits_only_vlans_behind_each_port(service, store):
    v10 = service.create_network({'name': 'v10', 'kind': 'vlan', 'segmentation_id': 10})
    v30 = service.create_network({'name': 'v30', 'kind': 'vlan', 'segmentation_id': 30})
    add_hv(service, 'hv1', 1)
    add_hv(service, 'hv2', 2)
    add_hv(service, 'hv3', 3, rack=2)
    service.create_host({'name': 'tor1', 'dpid': 0x7001, 'role': 'tor', 'rack': 1,
                           'uplinks': {'hv:hv1': 1, 'hv:hv2': 2, 'rack:2': 3}})
    add_port(service, v10, 1, 'hv1', ofport=1)
    add_port(service, v30, 2, 'hv2', ofport=1)
    add_port(service, v10, 3, 'hv3', ofport=1)
    inv = inventory(store)
    assert vlan.allowed_vlans(inv, inv.hosts['tor1']) == {1: [10], 2: [30], 3: [10]}
    flows = compile_host(inv, inv.hosts['tor1'])
    admitted = {(dict(f.match)['in_port'], dict(f.match)['vlan_vid'] & 0xfff)
                for f in flows if f.table == P.TOR_ADMIT and f.actions and 'in_port' in dict(f.match)}
    assert (1, 30) not in admitted and (2, 10) not in admitted and (3, 30) not in admitted
    bcast = [f for f in flows if ('in_port', 1) in f.match
             and f.priority == P.priority(P.TOR_L2, 'flood', 'tor') and f.table == P.TOR_L2][0]
    assert bcast.actions == (('output', 3),)              # never to hv2 (no VLAN 10 there)


def test_cookie_is_stable_and_content_addressed(service, store):
    build(service, 'vxlan')
    inv = inventory(store)
    a = compile_host(inv, inv.hosts['hv1'])
    b = compile_host(inventory(store), inv.hosts['hv1'])
    assert [f.cookie for f in a] == [f.cookie for f in b]
    assert len({f.cookie for f in a}) == len(a)
    assert all(f.cookie >> P.COOKIE_OWNER_SHIFT in P.OWNERS.values() for f in a)
    assert 'table=40' in ''.join(to_ofctl(f) for f in a)


def test_reconciler_sends_only_the_delta_in_one_bundle(service, store):
    net = build(service, 'vxlan')
    inv = inventory(store)
    dp = FakeDatapath(1)
    rec = Reconciler()
    rec.start_sync(dp)
    assert rec.apply(dp, compile_host(inv, inv.hosts['hv1'])) == 0     # not synced yet
    assert rec.on_flow_stats(dp, [], more=False)
    first = compile_host(inv, inv.hosts['hv1'])
    assert rec.apply(dp, first) == len(first)
    bundle = dp.sent[-(len(first) + 1):]          # adds open it implicitly, then commit
    assert all(isinstance(m, BundleAdd) for m in bundle[:-1])
    assert {m.bundle_id for m in bundle[:-1]} == {bundle[-1].bundle_id}
    assert bundle[-1].type == dp.ofproto.OFPBCT_COMMIT_REQUEST
    assert rec.apply(dp, first) == 0                                    # idempotent
    add_port(service, net, 4, 'hv2', ofport=2)
    inv = inventory(store)
    second = compile_host(inv, inv.hosts['hv1'])
    dp.sent.clear()
    sent = rec.apply(dp, second)
    removed = {f.cookie for f in first} - {f.cookie for f in second}
    added = {f.cookie for f in second} - {f.cookie for f in first}
    mods = dp.flow_mods()
    deletes = [m for m in mods if m.command == dp.ofproto.OFPFC_DELETE]
    adds = [m for m in mods if m.command == dp.ofproto.OFPFC_ADD]
    assert {m.cookie for m in adds} == added and 0 < sent < len(second)
    assert sent == len(adds) + len(deletes)
    # a removed flow is deleted unless an added one replaces it (same match)
    replaced = {(f.table, f.priority, f.match) for f in second if f.cookie in added}
    assert {m.cookie for m in deletes} == {f.cookie for f in first if f.cookie in removed
                                           and (f.table, f.priority, f.match) not in replaced}
    assert all(m.cookie_mask == 2 ** 64 - 1 for m in deletes)


def test_reconnect_reads_the_switch_and_flushes_nothing(service, store):
    build(service, 'vxlan')
    inv = inventory(store)
    desired = compile_host(inv, inv.hosts['hv1'])
    dp = FakeDatapath(1)
    rec = Reconciler()                        # a restarted controller: empty memory
    rec.start_sync(dp)
    stats = [FlowStat(f.cookie, f.table, f.priority, dp.ofproto_parser.OFPMatch(**dict(f.match)))
             for f in desired]
    stale = FlowStat(0x0200000000000bad, P.L2_LOOKUP, 5, dp.ofproto_parser.OFPMatch(reg5=9))
    assert not rec.on_flow_stats(dp, stats[:3], more=True)
    assert rec.on_flow_stats(dp, stats[3:] + [stale], more=False)
    dp.sent.clear()
    assert rec.apply(dp, desired) == 1                    # only the stale flow goes
    (mod,) = dp.flow_mods()
    assert mod.command == dp.ofproto.OFPFC_DELETE and mod.cookie == stale.cookie
    assert mod.cookie_mask == 2 ** 64 - 1 and mod.table_id == P.L2_LOOKUP


def test_a_read_started_again_ignores_the_replies_of_the_earlier_one(service, store):
    """A table read restarted (a replica that stepped down and back, a refused
    bundle) while the earlier read's replies are still on their way: the
    earlier request's last reply must not end the new read with only what came
    before it, which made the reconcile send every flow it left out again
    (277,092 flow mods at a 1,000-hypervisor restart, bench.scale)."""
    build(service, 'vxlan')
    inv = inventory(store)
    desired = compile_host(inv, inv.hosts['hv1'])
    stats = [FlowStat(f.cookie, f.table, f.priority, dp_match(f)) for f in desired]
    dp = FakeDatapath(1)
    rec = Reconciler()
    rec.start_sync(dp)
    first = dp.sent[-1].xid
    assert not rec.on_flow_stats(dp, stats[:3], True, first)
    rec.start_sync(dp)                                     # read again
    second = dp.sent[-1].xid
    assert second != first
    assert not rec.on_flow_stats(dp, stats[3:5], True, second)
    assert not rec.on_flow_stats(dp, stats[5:], False, first)     # the earlier one ends
    assert not rec.is_synced(1)
    assert not rec.on_flow_stats(dp, stats[:3], True, second)
    assert rec.on_flow_stats(dp, stats[5:], False, second)
    dp.sent.clear()
    assert rec.apply(dp, desired) == 0 and dp.sent == []   # it holds them all: nothing sent


def dp_match(f):
    return FakeDatapath(0).ofproto_parser.OFPMatch(**dict(f.match))


def test_encoder_matches_ryu_byte_for_byte(service, store):
    """Every flow the compilers make (VLAN, VXLAN, ARP responder, firewall with
    port ranges, prefixes, remote groups and conjunctions), encoded from cached
    parts, is exactly Ryu's own encoding of it."""
    vlan_net = build(service, 'vlan')
    vxlan_net = service.create_network({'name': 'x', 'kind': 'vxlan'})
    add_port(service, vxlan_net, 5, 'hv1', ofport=5)
    add_port(service, vxlan_net, 6, 'hv3', ofport=6)
    SecurityGroups(service).create_group({'name': 'client', 'zone': 'app', 'rules': [
        {'direction': 'egress', 'protocol': 'udp', 'remote_ip_prefix': '10.9.0.0/16'}]})
    SecurityGroups(service).create_group({'name': 'web', 'rules': [
        {'direction': 'ingress', 'protocol': 'tcp', 'port_range_min': 8000,
         'port_range_max': 8015, 'remote_group_id': 'client'},
        {'direction': 'ingress', 'protocol': 'icmp', 'remote_zone': 'app'}]})
    ports = {p.device: p for p in store.list('port')}
    service.update_port(ports['tapvm1'].id, {'security_groups': ['web']})
    service.update_port(ports['tapvm5'].id, {'security_groups': ['client', 'web']})
    inv = inventory(store)
    flows = [f for h in inv.hosts.values() for f in compile_host(inv, h)]
    assert {a[0] for f in flows for a in f.actions} >= {
        'output', 'set_field', 'push_vlan', 'pop_vlan', 'move', 'resubmit', 'goto', 'ct',
        'conjunction'}
    dp, encoder = FakeDatapath(1), Encoder()
    for f in flows:
        ryu = flow_mod(dp, f)
        ryu.set_xid(0)
        ryu.serialize()
        assert encoder.add(dp, f) == bytes(ryu.buf), to_ofctl(f)
    assert vlan_net.kind == 'vlan'


@pytest.mark.parametrize('match', [
    {P.REG_FROM_REMOTE: 1, P.REG_NETWORK: 7, 'eth_dst': '02:00:00:00:00:01'},
    {P.REG_NETWORK: 7, P.REG_FROM_REMOTE: 1, 'in_port': 3, 'eth_type': 0x800,
     'ipv4_src': ('10.9.0.0', '255.255.0.0')},
    {'vlan_vid': 0x1000 | 10, 'eth_dst': 'ff:ff:ff:ff:ff:ff', 'in_port': 2}])
def test_encoder_orders_match_fields_as_ryu_does(match):
    """Fields of one OXM class keep their given order (Ryu sorts stably), a
    mask and a cached field value encode as Ryu's OFPMatch encodes them."""
    from controller.compile.flows import flow
    dp, encoder = FakeDatapath(1), Encoder()
    for f in (flow('core', 3, 100, match, [('output', 1)]),
              flow('core', 4, 200, dict(reversed(list(match.items()))), [('output', 2)])):
        ryu = flow_mod(dp, f)
        ryu.set_xid(0)
        ryu.serialize()
        assert encoder.add(dp, f) == bytes(ryu.buf), to_ofctl(f)


def test_delete_names_one_flow_by_its_whole_cookie(service, store):
    build(service, 'vxlan')
    inv = inventory(store)
    f = compile_host(inv, inv.hosts['hv1'])[-1]
    dp = FakeDatapath(1)
    raw = Encoder().delete(dp, f)
    dp.send(raw)
    (msg,) = dp.sent
    assert isinstance(msg, Raw) and msg.msg_type == dp.ofproto.OFPT_FLOW_MOD
    view = FlowModView(raw)
    assert (view.command, view.cookie, view.cookie_mask, view.table_id) == (
        dp.ofproto.OFPFC_DELETE, f.cookie, 2 ** 64 - 1, f.table)
    assert raw[48:56] == bytes([0, 1, 0, 4, 0, 0, 0, 0])      # an empty match


def test_unchanged_pieces_are_reused_across_snapshots(service, store):
    """A move rebuilds only what it changes on a remote host (the moved MAC's
    entry, the flood list); everything else is the very same Flow objects, so
    their cookies and encodings are not computed again."""
    net = build(service, 'vxlan')
    add_port(service, net, 3, 'hv3', ofport=1)
    before = compile_host(inventory(store), store.get('host', 'hv1'))
    service.bind('hv3', {'tapvm2': 5})                    # vm2: hv2 -> hv3
    after = compile_host(inventory(store), store.get('host', 'hv1'))
    kept = {id(f) for f in before} & {id(f) for f in after}
    changed = [f for f in after if id(f) not in kept]
    assert len(kept) == len(after) - 2 and len(changed) == 2
    entry = next(f for f in changed if f.priority == prio(P.VXLAN_L2, 'remote_mac'))
    assert ('set_field', 'tun_ipv4_dst', '172.16.1.13') in entry.actions
    flood = next(f for f in changed if f.priority == prio(P.VXLAN_L2, 'flood'))
    assert ('set_field', 'tun_ipv4_dst', '172.16.1.12') not in flood.actions


def _tunnel_targets(flows, mac):
    """{tun_dst...} of the L2 entry for ``mac`` (exactly one expected)."""
    (entry,) = [f for f in l2(flows) if ('eth_dst', mac) in f.match
                and f.priority == prio(P.VXLAN_L2, 'remote_mac')]
    return {a[2] for a in entry.actions if a[:2] == ('set_field', 'tun_ipv4_dst')}


@pytest.mark.parametrize('live', [False, True])
def test_a_planned_migration_programs_the_destination_ahead(service, store, live):
    """Plain or live, a planned move reserves a port number on the destination,
    which then enforces the port's rules there. The other hosts send to both the
    source and the destination, which delivers those copies to the reserved
    number only (nothing is plugged there yet: they drop) and sends its own
    VMs' frames to the source: no host needs an update when the device appears."""
    net = build(service, 'vxlan')                        # vm1 on hv1, vm2 on hv2
    port = next(p for p in store.list('port') if p.device == 'tapvm1')
    body = {'host': 'hv3', 'live': True} if live else {'host': 'hv3'}
    moved = service.migrate_port(port.id, body)
    ofport = moved.migrating_ofport
    assert moved.migrating_to == 'hv3' and ofport in service.MIGRATION_OFPORTS
    inv = inventory(store)
    dest = compile_host(inv, inv.hosts['hv3'])
    assert {f.table for f in dest if ('in_port', ofport) in f.match} == {
        P.CLASSIFY, P.PORT_SECURITY, P.EGRESS_ACL}
    (to_reserved,) = [f for f in l2(dest) if ('set_field', P.REG_OUT_PORT, ofport) in f.actions]
    assert (to_reserved.table, to_reserved.priority) == (P.VXLAN_L2, prio(P.VXLAN_L2, 'arriving'))
    assert (P.REG_FROM_REMOTE, 1) in to_reserved.match    # copies from the tunnel only
    assert _tunnel_targets(dest, port.mac) == {'172.16.1.11'}           # its own VMs
    hv2 = compile_host(inv, inv.hosts['hv2'])
    assert _tunnel_targets(hv2, port.mac) == {'172.16.1.11', '172.16.1.13'}
    assert mappings(inv, net)['hv2'][port.mac] == '172.16.1.11, 172.16.1.13'
    service.bind('hv3', {port.device: ofport})            # it appears there: switch-over
    now = service.get_port(port.id)
    assert (now.bound_host, now.ofport, now.migrating_to, now.migrating_ofport) == (
        'hv3', ofport, '', 0)
    inv = inventory(store)
    assert _tunnel_targets(compile_host(inv, inv.hosts['hv2']), port.mac) == {'172.16.1.13'}
    assert not [f for f in compile_host(inv, inv.hosts['hv3'])
                if (f.table, f.priority) == (P.VXLAN_L2, prio(P.VXLAN_L2, 'arriving'))]


def test_a_planned_migration_on_a_vlan_network_keeps_one_path(service, store):
    """On a VLAN the ToR delivers by MAC: the others keep their one tagged entry,
    and the destination gets no tunnel copies to deliver."""
    build(service, 'vlan')
    port = next(p for p in store.list('port') if p.device == 'tapvm1')
    inv = inventory(store)
    before = l2(compile_host(inv, inv.hosts['hv2']))
    service.migrate_port(port.id, {'host': 'hv3'})
    inv = inventory(store)
    assert {f.cookie for f in l2(compile_host(inv, inv.hosts['hv2']))} == \
        {f.cookie for f in before}
    assert not [f for f in compile_host(inv, inv.hosts['hv3'])
                if (f.table, f.priority) == (P.VXLAN_L2, prio(P.VXLAN_L2, 'arriving'))]


def test_at_most_reads_at_once_tables_are_read_and_the_others_wait_their_turn(monkeypatch):
    """A replica taking hundreds of switches over reads their tables a few at
    a time: 333 reads at once decoded 333 x 200 flows in each turn of the
    event loop and stalled it (3 replicas, 1,000 hypervisors, bench.scale).
    A read ended, dropped, or unanswered for READ_STALE_SECONDS frees its place."""
    import controller.switch.reconciler as reconciler
    now = [1000.0]
    monkeypatch.setattr(reconciler, 'READS_AT_ONCE', 2)
    monkeypatch.setattr(reconciler.time, 'monotonic', lambda: now[0])
    rec = Reconciler()
    dps = [FakeDatapath(d) for d in range(1, 6)]
    for dp in dps:
        rec.start_sync(dp)
    asked = [dp.id for dp in dps if dp.sent]
    assert asked == [1, 2]
    assert rec.on_flow_stats(dps[0], [], False, dps[0].sent[-1].xid)     # 1 read: 3 starts
    assert [dp.id for dp in dps if dp.sent] == [1, 2, 3]
    rec.forget(2)                                                        # 2 gone: 4 starts
    assert [dp.id for dp in dps if dp.sent] == [1, 2, 3, 4]
    rec.start_sync(dps[2])                  # read 3 again: it waits behind 5
    assert len(dps[2].sent) == 1 and dps[4].sent
    now[0] += reconciler.READ_STALE_SECONDS             # 4 and 5 never answer
    rec.start_sync(dps[1])
    assert len(dps[2].sent) == 2 and len(dps[1].sent) == 2
    assert not any(rec.is_synced(d) for d in (2, 3, 4, 5))
