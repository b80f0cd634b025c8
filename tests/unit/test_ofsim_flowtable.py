"""The switch simulator's flow table (bench.flowtable, bench.ofsim): FlowMods as
Ryu encodes them, applied as Open vSwitch applies them; bundles all or none;
deletes by cookie; flow-stats replies Ryu decodes back to the same flows."""
import struct

import pytest

from bench import ofsim
from bench.flowtable import (OFPET_BAD_INSTRUCTION, OFPET_BAD_MATCH, OFPET_FLOW_MOD_FAILED,
                             OFPBIC_BAD_TABLE_ID, OFPBMC_BAD_PREREQ, OFPFMFC_TABLE_FULL,
                             FlowTable, OfError, parse_flow_mod)
from controller.ryu_facade import ofproto, parser, wire


class Dp:
    ofproto, ofproto_parser, id = ofproto, parser, 1

    def set_xid(self, msg):
        msg.set_xid(7)


def encoded(msg):
    msg.set_xid(7) if msg.xid is None else None
    msg.serialize()
    return bytes(msg.buf)


def add(cookie, table=0, priority=10, goto=None, **match):
    inst = [parser.OFPInstructionGotoTable(goto)] if goto is not None else [
        parser.OFPInstructionActions(ofproto.OFPIT_APPLY_ACTIONS,
                                     [parser.OFPActionOutput(cookie % 7 + 1)])]
    return encoded(parser.OFPFlowMod(Dp(), cookie=cookie, table_id=table, priority=priority,
                                     match=parser.OFPMatch(**match), instructions=inst))


def delete(cookie, mask=2 ** 64 - 1, table=ofproto.OFPTT_ALL):
    return encoded(parser.OFPFlowMod(Dp(), cookie=cookie, cookie_mask=mask, table_id=table,
                                     command=ofproto.OFPFC_DELETE, out_port=ofproto.OFPP_ANY,
                                     out_group=ofproto.OFPG_ANY, match=parser.OFPMatch()))


def apply(table, *messages):
    return table.apply([parse_flow_mod(m) for m in messages])


def test_add_replaces_the_same_table_priority_and_match():
    t = FlowTable()
    apply(t, add(1, in_port=1), add(2, in_port=2), add(3, in_port=1))
    assert t.cookies() == {2, 3} and len(t) == 2


def test_delete_by_whole_cookie_removes_exactly_that_flow():
    t = FlowTable()
    apply(t, add(0x10, in_port=1), add(0x11, in_port=2), add(0x12, table=3, in_port=2))
    apply(t, delete(0x11))
    assert t.cookies() == {0x10, 0x12}
    apply(t, delete(0x10, mask=0xf0))           # under a mask: every cookie 0x1?
    assert t.cookies() == set()


def test_a_bundle_is_all_or_nothing():
    t = FlowTable(limit=3)
    apply(t, add(1, in_port=1), add(2, in_port=2))
    before = dict(t.flows)
    with pytest.raises(OfError) as refused:
        apply(t, delete(1), add(5, in_port=5), add(6, in_port=6), add(7, in_port=7))
    assert (refused.value.type, refused.value.code) == (OFPET_FLOW_MOD_FAILED,
                                                        OFPFMFC_TABLE_FULL)
    assert refused.value.index == 3
    assert t.flows == before and t.cookies() == {1, 2}
    assert set(t.by_cookie) == {1, 2}


def test_what_ovs_refuses_is_refused():
    with pytest.raises(OfError) as prereq:           # an IPv4 match without eth_type
        parse_flow_mod(add(1, ipv4_src='10.0.0.1'))
    assert (prereq.value.type, prereq.value.code) == (OFPET_BAD_MATCH, OFPBMC_BAD_PREREQ)
    with pytest.raises(OfError) as backwards:        # goto an earlier table
        parse_flow_mod(add(1, table=5, goto=2))
    assert (backwards.value.type, backwards.value.code) == (OFPET_BAD_INSTRUCTION,
                                                            OFPBIC_BAD_TABLE_ID)
    parse_flow_mod(add(1, table=5, goto=6, eth_type=0x800, ipv4_src='10.0.0.1'))


def test_flow_stats_decode_back_to_the_same_flows():
    """The records the simulator answers, decoded by the controller's parser
    (cookie and table at once) and by Ryu's full one (match, instructions)."""
    t = FlowTable()
    apply(t, add(0xabc, table=2, priority=30, goto=4, in_port=3, eth_type=0x800,
                 ipv4_dst='10.1.2.3'), add(0xdef, table=4, in_port=9))
    sim = ofsim.Simulator(('127.0.0.1', 1), [{'dpid': 1}])
    sw = sim.switches[1]
    sw.table, sent = t, []
    sim.send = lambda _sw, data: sent.append(data)
    request = encoded(parser.OFPFlowStatsRequest(Dp(), 0, ofproto.OFPTT_ALL, ofproto.OFPP_ANY,
                                                 ofproto.OFPG_ANY, 0xabc, 2 ** 64 - 1,
                                                 parser.OFPMatch()))
    sim.handle(sw.conns[0], request)
    version, msg_type, length, xid = struct.unpack_from('!BBHI', sent[0])
    reply = wire.msg(Dp(), version, msg_type, length, xid, sent[0])
    (stat,) = reply.body
    assert (stat.cookie, stat.table_id, stat.priority) == (0xabc, 2, 30)
    assert dict(stat.match.items()) == {'in_port': 3, 'eth_type': 0x800,
                                        'ipv4_dst': '10.1.2.3'}
    assert stat.instructions[0].table_id == 4


def test_a_bundle_commits_through_the_wire_and_a_refused_one_applies_nothing():
    sim = ofsim.Simulator(('127.0.0.1', 1), [{'dpid': 1}], flow_limit=2)
    sw, sent = sim.switches[1], []
    sim.send = lambda _sw, data: sent.append(data)

    def bundle(bundle_id, *mods):
        for m in mods:
            sim.handle(sw.conns[0], struct.pack('!BBHIIHH', 5, 34, 16 + len(m), 1, bundle_id, 0, 3) + m)
        sim.handle(sw.conns[0], struct.pack('!BBHIIHH', 5, 33, 16, 2, bundle_id, 4, 3))
        return [struct.unpack_from('!BB', m)[1] for m in sent[-2:]]
    bundle(1, add(1, in_port=1))
    assert sent[-1][1] == 33 and struct.unpack_from('!H', sent[-1], 12)[0] == 5  # COMMIT_REPLY
    assert sw.table.cookies() == {1} and sw.commits == 1
    assert bundle(2, add(2, in_port=2), add(3, in_port=3)) == [1, 1]            # two errors
    assert sw.table.cookies() == {1} and sw.commits == 1


def test_a_long_flow_stats_reply_is_decoded_with_turns_of_the_event_loop(monkeypatch):
    """A table read back does not hold the event loop for all its records."""
    from controller import ryu_facade
    t = FlowTable()
    apply(t, *[add(0xabc, table=2, priority=i, in_port=i) for i in range(1, 501)])
    records = t.stats_entries(ofproto.OFPTT_ALL, 0, 0, b'')
    raw = ofsim.message(ofsim.MULTIPART_REPLY, 7, struct.pack('!HH4x', ofsim.MP_FLOW, 0)
                        + b''.join(records))
    turns = []
    monkeypatch.setattr(ryu_facade.hub, 'sleep', turns.append)
    monkeypatch.setattr(ryu_facade.FlowStatsHead, 'decoded', 0)
    reply = wire.msg(Dp(), *struct.unpack_from('!BBHI', raw), raw)
    assert len(reply.body) == 500 and turns == [0, 0]       # after records 200 and 400
    assert sorted(stat.priority for stat in reply.body) == list(range(1, 501))
