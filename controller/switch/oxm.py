"""Match fields and set-field actions as bytes, byte for byte as Ryu encodes
them, for the values our flows hold: integers, and MAC, IPv4 and IPv6
addresses written canonically. Ryu turns each address into bytes through
netaddr, twice for a match field (its OFPMatch normalizes the value): about
16 us a field, paid by the :class:`~controller.switch.encoder.Encoder` for
every value it has not seen. Every replica pays that for each address its
switches name, and a network's addresses are named on switches several
replicas master (300 simulated hypervisors, 3 replicas: 34,000 values each
against 18,000 for its share). Any other value gives None: Ryu encodes it.
"""
import socket
import struct

_FAMILIES = {'IPv4Addr': socket.AF_INET, 'IPv6Addr': socket.AF_INET6}


def value_bytes(kind, value):
    """What Ryu's ``kind.from_user(value)`` gives, or None for a value left to Ryu."""
    name = getattr(kind, '__name__', type(kind).__name__)
    if name == 'IntDescr':
        if type(value) is int and 0 <= value < 1 << 8 * kind.size:
            return value.to_bytes(kind.size, 'big')
    elif type(value) is not str:
        return None
    elif name == 'MacAddr':
        if len(value) == 17 and value[2::3] == ':::::':
            try:
                raw = bytes.fromhex(value.replace(':', ''))
            except ValueError:
                return None
            return raw if len(raw) == 6 else None
    elif name in _FAMILIES:
        family = _FAMILIES[name]
        try:
            raw = socket.inet_pton(family, value)
        except OSError:
            return None
        return raw if socket.inet_ntop(family, raw) == value else None
    return None


def _tlv(ofp, name, value, mask=None):
    """(OXM number, TLV bytes), or None."""
    number, kind = ofp.oxm_get_field_info_by_name(name)
    raw = value_bytes(kind, value)
    if raw is None:
        return None
    if mask is not None:
        raw_mask = value_bytes(kind, mask)
        if raw_mask is None:
            return None
        raw, mask = bytes(a & b for a, b in zip(raw, raw_mask)), raw_mask
    buf = bytearray()
    ofp.oxm_serialize(number, raw, mask, buf, 0)
    return number, bytes(buf)


def match_field(ofp, name, value):
    """(OXM sort key, TLV) of a match field as Ryu's OFPMatch serializes it
    (a (value, mask) pair masked), or None."""
    if isinstance(value, tuple):
        if len(value) != 2:
            return None
        found = _tlv(ofp, name, *value)
    else:
        found = _tlv(ofp, name, value)
    if found is None:
        return None
    number, tlv = found
    return (number[0] if isinstance(number, tuple) else number), tlv


def set_field(ofp, name, value):
    """Ryu's OFPActionSetField(name=value), padded to 8 bytes, or None."""
    found = None if isinstance(value, tuple) else _tlv(ofp, name, value)
    if found is None:
        return None
    tlv = found[1]
    length = (4 + len(tlv) + 7) // 8 * 8
    return struct.pack('!HH', ofp.OFPAT_SET_FIELD, length) + tlv + bytes(length - 4 - len(tlv))
