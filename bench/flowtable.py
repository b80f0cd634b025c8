"""A switch's flow table as Open vSwitch keeps it, for the switch simulator
(:mod:`bench.ofsim`): OpenFlow 1.4 FlowMods decoded with a small struct parser
(a dozen fields; Ryu's parser would cost the simulator more than the controller
it measures), checked the way OVS refuses them, applied all or nothing.

A flow is keyed by (table, priority, match): an ADD of the same key replaces
it. The match is kept as its raw OXM fields, so flow-stats replies hand back
the bytes the controller sent.
"""
import struct

# OpenFlow 1.4 numbers (spec section 7); the simulator needs only these
OFPFC_ADD, OFPFC_MODIFY, OFPFC_MODIFY_STRICT, OFPFC_DELETE, OFPFC_DELETE_STRICT = range(5)
OFPTT_ALL = 0xff
OFPET_BAD_REQUEST, OFPET_BAD_INSTRUCTION, OFPET_BAD_MATCH = 1, 3, 4
OFPET_FLOW_MOD_FAILED, OFPET_BUNDLE_FAILED = 5, 17
OFPBRC_BAD_LEN, OFPBRC_BAD_TYPE = 6, 1
OFPBMC_BAD_TYPE, OFPBMC_BAD_LEN, OFPBMC_BAD_FIELD, OFPBMC_BAD_PREREQ = 0, 1, 6, 9
OFPBMC_DUP_FIELD = 10
OFPBIC_UNKNOWN_INST, OFPBIC_BAD_TABLE_ID, OFPBIC_BAD_LEN = 0, 2, 7
OFPFMFC_TABLE_FULL, OFPFMFC_BAD_TABLE_ID, OFPFMFC_BAD_COMMAND = 1, 2, 6

FLOW_MOD = struct.Struct('!QQBBHHHIIIHH')           # after the 8-byte header: 40 bytes
OXM_CLASSES = {0x0000, 0x0001, 0x8000, 0xffff}     # NXM0, NXM1, OpenFlow basic, experimenter
INSTRUCTIONS = {1, 2, 3, 4, 5, 6}                  # goto, metadata, write/apply/clear, meter
# OpenFlow basic fields that need another field first (OVS: OFPBMC_BAD_PREREQ)
ETH_TYPE, IP_PROTO = 5, 10
_IP = {b'\x08\x00', b'\x86\xdd'}
PREREQ = {10: (ETH_TYPE, _IP), 11: (ETH_TYPE, {b'\x08\x00'}), 12: (ETH_TYPE, {b'\x08\x00'}),
          13: (IP_PROTO, {b'\x06'}), 14: (IP_PROTO, {b'\x06'}),
          15: (IP_PROTO, {b'\x11'}), 16: (IP_PROTO, {b'\x11'}),
          17: (IP_PROTO, {b'\x84'}), 18: (IP_PROTO, {b'\x84'}),
          19: (IP_PROTO, {b'\x01'}), 20: (IP_PROTO, {b'\x01'}),
          21: (ETH_TYPE, {b'\x08\x06'}), 22: (ETH_TYPE, {b'\x08\x06'}),
          23: (ETH_TYPE, {b'\x08\x06'}), 24: (ETH_TYPE, {b'\x08\x06'}),
          25: (ETH_TYPE, {b'\x08\x06'})}


class OfError(Exception):
    """What the switch answers with an OFPT_ERROR: (type, code)."""

    def __init__(self, err_type, code, why=''):
        super().__init__('%d/%d %s' % (err_type, code, why))
        self.type, self.code = err_type, code


class FlowMod:
    __slots__ = ('cookie', 'cookie_mask', 'table', 'command', 'priority', 'match',
                 'instructions')


def oxm_fields(match):
    """{(class, field): value bytes (with mask)} of raw OXM TLVs; OfError when
    they are malformed, unknown or repeated."""
    fields, i = {}, 0
    while i < len(match):
        if i + 4 > len(match):
            raise OfError(OFPET_BAD_MATCH, OFPBMC_BAD_LEN, 'truncated OXM header')
        cls, fh, length = struct.unpack_from('!HBB', match, i)
        if cls not in OXM_CLASSES:
            raise OfError(OFPET_BAD_MATCH, OFPBMC_BAD_FIELD, 'OXM class %#x' % cls)
        if i + 4 + length > len(match):
            raise OfError(OFPET_BAD_MATCH, OFPBMC_BAD_LEN, 'OXM field overruns the match')
        key = (cls, fh >> 1)
        if cls == 0xffff:                       # experimenter: its id is part of the key
            key += (match[i + 4:i + 8],)
        if key in fields:
            raise OfError(OFPET_BAD_MATCH, OFPBMC_DUP_FIELD, 'field %s twice' % (key,))
        fields[key] = match[i + 4:i + 4 + length]
        i += 4 + length
    for (cls, field, *_), _value in fields.items():
        need = PREREQ.get(field) if cls == 0x8000 else None
        if need and fields.get((0x8000, need[0]), b'')[:len(next(iter(need[1])))] \
                not in need[1]:
            raise OfError(OFPET_BAD_MATCH, OFPBMC_BAD_PREREQ,
                          'OXM field %d needs field %d first' % (field, need[0]))
    return fields


def check_instructions(table, data):
    i = 0
    while i < len(data):
        if i + 4 > len(data):
            raise OfError(OFPET_BAD_INSTRUCTION, OFPBIC_BAD_LEN, 'truncated instruction')
        kind, length = struct.unpack_from('!HH', data, i)
        if kind not in INSTRUCTIONS:
            raise OfError(OFPET_BAD_INSTRUCTION, OFPBIC_UNKNOWN_INST, 'instruction %d' % kind)
        if length < 8 or i + length > len(data):
            raise OfError(OFPET_BAD_INSTRUCTION, OFPBIC_BAD_LEN, 'instruction length')
        if kind == 1 and data[i + 4] <= table:  # OVS: goto only to a later table
            raise OfError(OFPET_BAD_INSTRUCTION, OFPBIC_BAD_TABLE_ID,
                          'goto table %d from table %d' % (data[i + 4], table))
        i += length


_CHECKED = {}     # (table, match, instructions) already found valid: skip the checks


def parse_flow_mod(msg, n_tables=254):
    """A FlowMod (the whole message, header included) decoded and checked."""
    if len(msg) < 56:
        raise OfError(OFPET_BAD_REQUEST, OFPBRC_BAD_LEN, 'FlowMod shorter than 56 bytes')
    fm = FlowMod()
    (fm.cookie, fm.cookie_mask, fm.table, fm.command, _idle, _hard, fm.priority, _buf,
     _out_port, _out_group, _flags, _imp) = FLOW_MOD.unpack_from(msg, 8)
    match_type, match_len = struct.unpack_from('!HH', msg, 48)
    if match_type != 1 or match_len < 4:
        raise OfError(OFPET_BAD_MATCH, OFPBMC_BAD_TYPE, 'match type %d' % match_type)
    end = 48 + match_len
    if end > len(msg):
        raise OfError(OFPET_BAD_MATCH, OFPBMC_BAD_LEN, 'match overruns the message')
    fm.match = bytes(msg[52:end])
    fm.instructions = bytes(msg[(end + 7) // 8 * 8:])
    if fm.command > OFPFC_DELETE_STRICT:
        raise OfError(OFPET_FLOW_MOD_FAILED, OFPFMFC_BAD_COMMAND, 'command %d' % fm.command)
    if fm.table >= n_tables and not (fm.table == OFPTT_ALL and fm.command >= OFPFC_DELETE):
        raise OfError(OFPET_FLOW_MOD_FAILED, OFPFMFC_BAD_TABLE_ID, 'table %d' % fm.table)
    key = (fm.table, fm.match, fm.instructions)
    if key not in _CHECKED:
        oxm_fields(fm.match)
        if fm.command < OFPFC_DELETE:
            check_instructions(fm.table, fm.instructions)
        if len(_CHECKED) > 500_000:
            _CHECKED.clear()
        _CHECKED[key] = True
    return fm


class FlowTable:
    """{(table, priority, match): (cookie, instructions)} with a cookie index,
    at most ``limit`` flows (beyond: OFPFMFC_TABLE_FULL, as OVS's per-table
    ``flow_limit``)."""

    def __init__(self, limit=1_000_000):
        self.flows = {}
        self.by_cookie = {}
        self.limit = limit

    def __len__(self):
        return len(self.flows)

    def cookies(self):
        return {entry[0] for entry in self.flows.values()}

    def _put(self, key, entry, undo):
        old = self.flows.get(key)
        undo.append((key, old))
        if old is not None:
            self._unindex(key, old[0])
        elif len(self.flows) >= self.limit:
            raise OfError(OFPET_FLOW_MOD_FAILED, OFPFMFC_TABLE_FULL,
                          'table full (%d flows)' % self.limit)
        self.flows[key] = entry
        self.by_cookie.setdefault(entry[0], set()).add(key)

    def _remove(self, key, undo):
        old = self.flows.pop(key)
        undo.append((key, old))
        self._unindex(key, old[0])

    def _unindex(self, key, cookie):
        keys = self.by_cookie[cookie]
        keys.discard(key)
        if not keys:
            del self.by_cookie[cookie]

    def selected(self, table, cookie, mask, match, out_all_tables=True):
        """Keys of the flows a non-strict request selects: cookie under mask,
        table (or all), and every field of ``match`` present in the flow's."""
        if mask == 0xffffffffffffffff:
            keys = list(self.by_cookie.get(cookie, ()))
        else:
            keys = [k for k, e in self.flows.items() if e[0] & mask == cookie & mask]
        if table != OFPTT_ALL:
            keys = [k for k in keys if k[0] == table]
        if match:
            wanted = oxm_fields(match).items()
            keys = [k for k in keys if wanted <= oxm_fields(k[2]).items()]
        return keys

    def apply_one(self, fm, undo):
        if fm.command == OFPFC_ADD:
            self._put((fm.table, fm.priority, fm.match), (fm.cookie, fm.instructions), undo)
        elif fm.command in (OFPFC_DELETE, OFPFC_MODIFY):
            keys = self.selected(fm.table, fm.cookie, fm.cookie_mask, fm.match)
            for key in keys:
                if fm.command == OFPFC_DELETE:
                    self._remove(key, undo)
                else:
                    self._put(key, (self.flows[key][0], fm.instructions), undo)
        else:                                           # strict: exactly that key
            key = (fm.table, fm.priority, fm.match)
            entry = self.flows.get(key)
            if entry is not None and entry[0] & fm.cookie_mask == fm.cookie & fm.cookie_mask:
                if fm.command == OFPFC_DELETE_STRICT:
                    self._remove(key, undo)
                else:
                    self._put(key, (entry[0], fm.instructions), undo)

    def apply(self, mods):
        """Apply every FlowMod or none: on an error the table is as before and
        the error names the index of the FlowMod that failed."""
        undo = []
        for i, fm in enumerate(mods):
            try:
                self.apply_one(fm, undo)
            except OfError as e:
                self.rollback(undo)
                e.index = i
                raise
        return len(mods)

    def rollback(self, undo):
        for key, old in reversed(undo):
            current = self.flows.pop(key, None)
            if current is not None:
                self._unindex(key, current[0])
            if old is not None:
                self.flows[key] = old
                self.by_cookie.setdefault(old[0], set()).add(key)

    def stats_entries(self, table, cookie, mask, match):
        """ofp_flow_stats records (OpenFlow 1.4, counters zero) of the selected flows."""
        out = []
        for key in self.selected(table, cookie, mask, match):
            t, priority, oxm = key
            entry_cookie, instructions = self.flows[key]
            match_len = 4 + len(oxm)
            padded = (match_len + 7) // 8 * 8
            body = (struct.pack('!HH', 1, match_len) + oxm + bytes(padded - match_len)
                    + instructions)
            out.append(struct.pack('!HBxIIHHHHHxxQQQ', 48 + len(body), t, 0, 0, priority,
                                   0, 0, 0, 0, entry_cookie, 0, 0) + body)
        return out
