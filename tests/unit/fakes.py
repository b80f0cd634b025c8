"""A fake datapath: real Ryu OpenFlow 1.4 encoding, no switch.

The reconciler writes each bundle as raw bytes with one ``send``; the fake
decodes them: bundle control messages with Ryu's own parser, and the FlowMods
inside bundle-adds field by field (Ryu parses no controller-to-switch FlowMod)."""
import struct

from controller.ryu_facade import ofproto, parser, wire


class FlowModView:
    """The fixed fields of a FlowMod, read from its bytes."""

    def __init__(self, raw):
        (self.cookie, self.cookie_mask, self.table_id, self.command, _idle, _hard,
         self.priority, _buffer, _out_port, _out_group, _flags,
         _importance) = struct.unpack('!QQBBHHHIIIHH', raw[8:48])
        self.xid = struct.unpack('!I', raw[4:8])[0]


class Raw:
    def __init__(self, msg_type, xid):
        self.msg_type, self.xid = msg_type, xid


class BundleAdd:
    def __init__(self, xid, bundle_id, message):
        self.xid, self.bundle_id, self.message = xid, bundle_id, message


class FakeDatapath:
    def __init__(self, dpid=1):
        self.id = dpid
        self.ofproto, self.ofproto_parser = ofproto, parser
        self.sent = []            # decoded messages, in order
        self.xid = 0

    def set_xid(self, msg):
        self.xid += 1
        msg.set_xid(self.xid)
        return self.xid

    def send_msg(self, msg):
        if msg.xid is None:                 # as Ryu's Datapath.send_msg
            self.set_xid(msg)
        msg.serialize()
        self.send(bytes(msg.buf))

    def send(self, buf):
        offset = 0
        while offset < len(buf):
            _version, msg_type, length, xid = wire.header(buf[offset:])
            raw = buf[offset:offset + length]
            assert len(raw) == length, 'truncated message'
            if msg_type == ofproto.OFPT_BUNDLE_ADD_MESSAGE:
                bundle_id, _flags = struct.unpack(ofproto.OFP_BUNDLE_ADD_MSG_0_PACK_STR,
                                                  raw[8:16])
                inner = raw[16:]
                assert wire.header(inner)[2] == len(inner), 'inner length'
                self.sent.append(BundleAdd(xid, bundle_id, FlowModView(inner)))
            elif msg_type == ofproto.OFPT_BUNDLE_CONTROL:
                self.sent.append(wire.msg(self, *wire.header(raw), raw))
            else:                       # requests Ryu cannot parse back: type and xid
                self.sent.append(Raw(msg_type, xid))
            offset += length

    def flow_mods(self):
        out = []
        for m in self.sent:
            if isinstance(m, BundleAdd):
                assert m.message.xid == m.xid, 'inner xid must equal the bundle add xid'
                out.append(m.message)
        return out


class FlowStat:
    """What a flow-stats reply entry looks like to the reconciler."""

    def __init__(self, cookie, table_id, priority, match):
        self.cookie, self.table_id, self.priority, self.match = (cookie, table_id,
                                                                 priority, match)
