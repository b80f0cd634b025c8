"""FlowMods as bytes for the reconciler: byte for byte what Ryu encodes, from
parts encoded once (:class:`Encoder`); Ryu's own steps (:func:`flow_mod`,
:func:`ryu_field`, :func:`ryu_action`) are the reference the tests hold it to.
Through the datapath objects Ryu hands over only, so it imports no ``ryu``."""
import struct

from controller.compile.actions import encode as to_actions
from controller.switch import oxm

ALL_ONES_64 = 2 ** 64 - 1


def to_match(parser, match_items):
    return parser.OFPMatch(**dict(match_items))


def flow_mod(dp, f):
    """Ryu's FlowMod that adds ``f`` (the reference :class:`Encoder` must match)."""
    ofp, parser = dp.ofproto, dp.ofproto_parser
    actions, goto_table = to_actions(dp, f.actions)
    inst = []
    if actions:
        inst.append(parser.OFPInstructionActions(ofp.OFPIT_APPLY_ACTIONS, actions))
    if goto_table is not None:
        inst.append(parser.OFPInstructionGotoTable(goto_table))
    return parser.OFPFlowMod(dp, cookie=f.cookie, table_id=f.table, command=ofp.OFPFC_ADD,
                             priority=f.priority, match=to_match(parser, f.match),
                             instructions=inst)


def _serialized(msg):
    msg.set_xid(0)
    msg.serialize()
    return bytes(msg.buf)


def ryu_field(ofp, name, value):
    """(OXM sort key, TLV bytes) of one match field, the steps Ryu's OFPMatch
    takes for it (normalized, to Ryu's own form and back, serialized)."""
    n, v, m = ofp.oxm_from_user(*ofp.oxm_normalize_user(name, value))
    n2, v2, m2 = ofp.oxm_from_user(*ofp.oxm_to_user(n, v, m))
    buf = bytearray()
    ofp.oxm_serialize(n2, v2, m2, buf, 0)
    return (n[0] if isinstance(n, tuple) else n), bytes(buf)


def ryu_action(dp, a):
    """One action as Ryu serializes it."""
    (action,), _ = to_actions(dp, [a])
    buf = bytearray()
    action.serialize(buf, 0)
    # Ryu leaves a Nicira action's padding to whatever follows it
    return bytes(buf.ljust(action.len, b'\0'))


class Encoder:
    """FlowMods as bytes, byte for byte what Ryu encodes, but assembled from
    parts Ryu encoded once: the FlowMod's fixed fields, each match field with
    its value (a TLV) and each action. A flow new to the controller (a new
    vNIC's, a host's flood list after a move) costs a few concatenations and at
    most the encoding of each field value never seen (its MAC, its address:
    :mod:`controller.switch.oxm`, Ryu for the values that does not take)
    instead of a whole Ryu encoding. A delete is a template with the cookie and
    table filled in: non-strict DELETE by the full cookie, which names exactly
    one flow (the cookie hashes table, priority, match, actions)."""

    LIMIT = 200_000     # cached parts per kind before starting afresh

    def __init__(self):
        self._flows, self._prefixes, self._actions, self._fields = {}, {}, {}, {}
        self._delete = self._head = None

    def add(self, dp, f):
        return self._cache(self._flows, f, lambda: self._assemble(dp, f))

    def delete(self, dp, f):
        if self._delete is None:
            ofp, parser = dp.ofproto, dp.ofproto_parser
            self._delete = _serialized(parser.OFPFlowMod(
                dp, cookie_mask=ALL_ONES_64, command=ofp.OFPFC_DELETE,
                out_port=ofp.OFPP_ANY, out_group=ofp.OFPG_ANY, match=parser.OFPMatch()))
        t = self._delete
        return t[:8] + struct.pack('!Q', f.cookie) + t[16:24] + bytes((f.table,)) + t[25:]

    def _prefix(self, dp, f):
        """Ryu's ADD FlowMod of (table, priority, match) without instructions:
        its fixed fields from one template, its match as Ryu's OFPMatch
        serializes it (fields ordered by OXM type, stable; padded to 8)."""
        ofp, parser = dp.ofproto, dp.ofproto_parser
        if self._head is None:
            self._head = _serialized(parser.OFPFlowMod(dp, command=ofp.OFPFC_ADD,
                                                       match=parser.OFPMatch()))[:48]
        fields = sorted((self._cache(self._fields, item, lambda: self._field(dp, *item))
                         for item in f.match), key=lambda field: field[0])
        tlvs = b''.join(tlv for _, tlv in fields)
        match = struct.pack('!HH', ofp.OFPMT_OXM, 4 + len(tlvs)) + tlvs
        match += bytes(-len(match) % 8)
        head = self._head
        return (head[:2] + struct.pack('!H', 48 + len(match)) + head[4:24]
                + bytes((f.table,)) + head[25:30] + struct.pack('!H', f.priority) + head[32:]
                + match)

    @staticmethod
    def _field(dp, name, value):
        """(OXM sort key, TLV bytes) of one match field (:mod:`controller.switch.oxm`,
        else Ryu's own steps)."""
        return oxm.match_field(dp.ofproto, name, value) or ryu_field(dp.ofproto, name, value)

    def _assemble(self, dp, f):
        ofp = dp.ofproto
        prefix = self._cache(self._prefixes, (f.table, f.priority, f.match),
                             lambda: self._prefix(dp, f))
        applied = b''.join(self._cache(self._actions, a, lambda: self._action(dp, a))
                           for a in f.actions if a[0] != 'goto')
        inst = b''
        if applied:
            inst = struct.pack(ofp.OFP_INSTRUCTION_ACTIONS_PACK_STR, ofp.OFPIT_APPLY_ACTIONS,
                               ofp.OFP_INSTRUCTION_ACTIONS_SIZE + len(applied)) + applied
        for a in f.actions:
            if a[0] == 'goto':
                inst += struct.pack(ofp.OFP_INSTRUCTION_GOTO_TABLE_PACK_STR,
                                    ofp.OFPIT_GOTO_TABLE, ofp.OFP_INSTRUCTION_GOTO_TABLE_SIZE,
                                    a[1])
        return (prefix[:2] + struct.pack('!H', len(prefix) + len(inst)) + prefix[4:8]
                + struct.pack('!Q', f.cookie) + prefix[16:] + inst)

    @staticmethod
    def _action(dp, a):
        return (a[0] == 'set_field' and oxm.set_field(dp.ofproto, *a[1:])) or ryu_action(dp, a)

    def _cache(self, cache, key, build):
        value = cache.get(key)
        if value is None:
            if len(cache) > self.LIMIT:
                cache.clear()
            value = cache[key] = build()
        return value
