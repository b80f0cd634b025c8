"""Hand-made IPv6 frames sent from inside a VM with the system Python (no scapy
here): what an attacking VM would send, and the same from a VM entitled to.

  ndprobe.py IFACE KIND SRC_MAC DST_MAC SRC_IP DST_IP [TARGET] [EXT] [COUNT]

KIND: ra (a router advertisement with the prefix 2001:db8:bad::/64), na (a
neighbor advertisement for TARGET, its link-layer option SRC_MAC), ns (a
neighbor solicitation for TARGET), echo (an ICMPv6 echo request). EXT: none,
hbh (a Hop-by-Hop options header in front of the ICMPv6) or frag (an atomic
fragment header in front of it). Sends COUNT (default 3) copies, 0.1 s apart.
"""
import socket
import struct
import sys
import time

try:
    from mininet_topos.probe import checksum
except ImportError:         # run as a script inside a VM: its own folder is on the path
    from probe import checksum

ICMPV6, HOP_BY_HOP, FRAGMENT = 58, 0, 44
TYPES = {'ra': 134, 'na': 136, 'ns': 135, 'echo': 128}
BAD_PREFIX = '2001:db8:bad::'


def _ip6(text):
    return socket.inet_pton(socket.AF_INET6, text)


def _mac(text):
    return bytes.fromhex(text.replace(':', ''))


def icmpv6(kind, src, dst, src_mac, target):
    if kind == 'ra':
        body = struct.pack('!BBHII', 64, 0, 1800, 0, 0) + struct.pack(
            '!BBBBIII', 3, 4, 64, 0xc0, 86400, 14400, 0) + _ip6(BAD_PREFIX)
    elif kind == 'na':
        body = struct.pack('!I', 0x20000000) + _ip6(target) + struct.pack(
            '!BB', 2, 1) + _mac(src_mac)
    elif kind == 'ns':
        body = struct.pack('!I', 0) + _ip6(target) + struct.pack('!BB', 1, 1) + _mac(src_mac)
    else:
        body = struct.pack('!HH', 0x7e57, 1) + b'ndprobe' * 4
    message = struct.pack('!BBH', TYPES[kind], 0, 0) + body
    pseudo = _ip6(src) + _ip6(dst) + struct.pack('!I3xB', len(message), ICMPV6)
    return message[:2] + struct.pack('!H', checksum(pseudo + message)) + message[4:]


def frame(kind, src_mac, dst_mac, src, dst, target='', ext='none'):
    payload = icmpv6(kind, src, dst, src_mac, target or dst)
    first = ICMPV6
    if ext == 'hbh':        # PadN filling the 8 bytes
        payload = struct.pack('!BB', ICMPV6, 0) + bytes([1, 4, 0, 0, 0, 0]) + payload
        first = HOP_BY_HOP
    elif ext == 'frag':     # offset 0, no more fragments: an atomic fragment
        payload = struct.pack('!BBHI', ICMPV6, 0, 0, 0x5eed) + payload
        first = FRAGMENT
    header = struct.pack('!IHBB', 6 << 28, len(payload), first, 255) + _ip6(src) + _ip6(dst)
    return _mac(dst_mac) + _mac(src_mac) + struct.pack('!H', 0x86dd) + header + payload


def main(argv):
    iface, kind, src_mac, dst_mac, src, dst = argv[:6]
    target = argv[6] if len(argv) > 6 and argv[6] != '-' else ''
    ext = argv[7] if len(argv) > 7 else 'none'
    count = int(argv[8]) if len(argv) > 8 else 3
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((iface, 0))
    data = frame(kind, src_mac, dst_mac, src, dst, target, ext)
    for _ in range(count):
        s.send(data)
        time.sleep(0.1)
    print('sent %d' % count)


if __name__ == '__main__':
    main(sys.argv[1:])
