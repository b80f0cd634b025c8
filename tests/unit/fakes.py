"""A fake datapath: real Ryu OpenFlow 1.4 encoding, no switch.

The reconciler numbers each message with ``set_xid``, serializes it, then writes
the whole bundle with one ``send``; the fake records the message objects and
checks the bytes written are exactly those messages."""
from controller.ryu_facade import ofproto, parser, wire


class FakeDatapath:
    def __init__(self, dpid=1):
        self.id = dpid
        self.ofproto, self.ofproto_parser = ofproto, parser
        self.sent = []            # message objects, in order
        self.pending = []         # numbered but not yet written
        self.xid = 0

    def set_xid(self, msg):
        self.xid += 1
        msg.set_xid(self.xid)
        self.pending.append(msg)

    def send_msg(self, msg):
        self.set_xid(msg)
        msg.serialize()
        self.send(bytes(msg.buf))

    def send(self, buf):
        assert buf == b''.join(bytes(m.buf) for m in self.pending)
        offset = 0
        for msg in self.pending:                  # the framing is sound
            _version, _type, length, xid = wire.header(buf[offset:])
            assert xid == msg.xid and length == len(msg.buf)
            offset += length
        self.sent += self.pending
        self.pending = []

    def flow_mods(self):
        out = []
        for m in self.sent:
            inner = getattr(m, 'message', None)
            if isinstance(inner, parser.OFPFlowMod):
                assert inner.xid == m.xid, 'inner xid must equal the bundle add xid'
                out.append(inner)
            elif isinstance(m, parser.OFPFlowMod):
                out.append(m)
        return out


class FlowStat:
    """What a flow-stats reply entry looks like to the reconciler."""

    def __init__(self, cookie, table_id, priority, match):
        self.cookie, self.table_id, self.priority, self.match = (cookie, table_id,
                                                                 priority, match)
