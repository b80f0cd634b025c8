"""Traffic probes run inside VM namespaces with the system Python (no netcat here).

  probe.py serve tcp|udp PORT            echo server (runs until killed)
  probe.py check tcp|udp IP PORT         prints OK or FAIL (1 s timeout)
  probe.py session IP PORT SECONDS       one TCP session sending a line every 0.1 s;
                                         prints how many seconds it stayed alive
  probe.py spray IP TCPPORT UDPPORT SECONDS   a TCP connect attempt and a UDP datagram
                                         every 20 ms (forbidden traffic, say)
  probe.py stream-serve tcp|udp PORT     once a client connects (TCP) or sends a
                                         datagram (UDP), pushes 100 bytes to it every
                                         50 ms (runs until killed)
  probe.py stream-read tcp|udp IP PORT SECONDS   connects (or says hello once) and
                                         only reads for SECONDS; prints the seconds
                                         the stream stayed alive and its longest silence
  probe.py connect-rate IP PORT SECONDS  opens and closes TCP connections one after the
                                         other for SECONDS; prints connections per second
  probe.py hold IP PORT N SECONDS        opens N TCP connections, prints 'open N' once
                                         they are, and holds them for SECONDS
  probe.py flood IP PORT SECONDS         UDP datagrams to PORT..PORT+999 as fast as this
                                         VM can send them for SECONDS (refused traffic
                                         at line rate, say); prints how many it sent
  probe.py wait-listening PORT...        returns once those TCP ports listen here
  probe.py raw-send PROTO IP COUNT       COUNT IPv4 packets of IP protocol PROTO (e.g. 47,
                                         GRE: the kernel need not know it) to IP
  probe.py raw-receive PROTO SECONDS     prints how many raw-send packets of PROTO
                                         arrived here within SECONDS
  probe.py garp IFACE MAC IP [COUNT]     COUNT (1) gratuitous ARP requests claiming IP for
                                         MAC, as keepalived sends for a VIP it takes over
  probe.py frame IFACE SMAC DMAC SIP DIP PORT COUNT   COUNT UDP datagrams to DIP:PORT
                                         in frames built whole (any source MAC and IP)
  probe.py tcp-flags IP PORT FLAGS COUNT COUNT lone TCP segments with FLAGS (e.g. A, FA,
                                         R, SA: of no connection) to IP:PORT
  probe.py rarp IFACE MAC                prints 'ready', then on a line from stdin
                                         announces MAC by RARP as QEMU does when a
                                         migrated VM resumes (at 0, 50 and 200 ms)
"""
import socket
import struct
import sys
import threading
import time


def _family(ip):
    return socket.AF_INET6 if ':' in ip else socket.AF_INET


def _bound(kind, port):
    """A socket on ``port`` for both IPv4 and IPv6 when the VM has IPv6 (dual
    stack: IPv4 peers arrive as ::ffff:a.b.c.d), else IPv4 only."""
    try:
        s = socket.socket(socket.AF_INET6, kind)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        address = '::'
    except OSError:
        s, address = socket.socket(socket.AF_INET, kind), '0.0.0.0'
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind((address, port))
    except OSError:          # IPv6 disabled on the VM's interfaces: '::' cannot be bound
        s.close()
        s = socket.socket(socket.AF_INET, kind)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(('0.0.0.0', port))
    return s


def serve(proto, port):
    if proto == 'udp':
        s = _bound(socket.SOCK_DGRAM, port)
        while True:
            data, addr = s.recvfrom(2048)
            s.sendto(data, addr)
    s = _bound(socket.SOCK_STREAM, port)
    s.listen(64)
    while True:
        conn, _ = s.accept()
        threading.Thread(target=echo, args=(conn,), daemon=True).start()


def echo(conn):
    with conn:
        while True:
            data = conn.recv(2048)
            if not data:
                return
            conn.sendall(data)


def check(proto, ip, port):
    try:
        if proto == 'udp':
            s = socket.socket(_family(ip), socket.SOCK_DGRAM)
            s.settimeout(1)
            s.sendto(b'ping', (ip, port))
            ok = s.recvfrom(64)[0] == b'ping'
        else:
            s = socket.create_connection((ip, port), timeout=1)
            s.sendall(b'ping')
            ok = s.recv(64) == b'ping'
    except OSError:
        ok = False
    print('OK' if ok else 'FAIL')


def session(ip, port, seconds):
    s = socket.create_connection((ip, port), timeout=2)
    s.settimeout(1)
    start = time.time()
    try:
        while time.time() - start < seconds:
            s.sendall(b'x')
            if s.recv(16) != b'x':
                break
            time.sleep(0.1)
    except OSError:
        pass
    print('%.1f' % (time.time() - start))


def spray(ip, tcp_port, udp_port, seconds):
    udp = socket.socket(_family(ip), socket.SOCK_DGRAM)
    end = time.time() + seconds
    while time.time() < end:
        udp.sendto(b'probe', (ip, udp_port))
        try:
            socket.create_connection((ip, tcp_port), timeout=0.02).close()
        except OSError:
            pass
        time.sleep(0.02)


STREAM_CHUNK, STREAM_EVERY = b's' * 100, 0.05


def stream_serve(proto, port):
    if proto == 'udp':
        s = _bound(socket.SOCK_DGRAM, port)
        while True:
            _, addr = s.recvfrom(2048)
            threading.Thread(target=_push, args=(lambda c, a=addr: s.sendto(c, a),),
                             daemon=True).start()
    s = _bound(socket.SOCK_STREAM, port)
    s.listen(64)
    while True:
        conn, _ = s.accept()
        threading.Thread(target=_push, args=(conn.sendall,), daemon=True).start()


def _push(send):
    try:
        while True:
            send(STREAM_CHUNK)
            time.sleep(STREAM_EVERY)
    except OSError:
        pass


def stream_read(proto, ip, port, seconds):
    """The client of stream-serve: it never sends after its first words."""
    if proto == 'udp':
        s = socket.socket(_family(ip), socket.SOCK_DGRAM)
        s.sendto(b'hello', (ip, port))
    else:
        s = socket.create_connection((ip, port), timeout=2)
    s.settimeout(0.2)
    start = last = time.time()
    longest = 0.0
    while time.time() - start < seconds:
        try:
            if not s.recv(4096):
                break
        except socket.timeout:
            continue
        except OSError:
            break
        now = time.time()
        longest, last = max(longest, now - last), now
    print('%.2f %.2f' % (last - start, max(longest, time.time() - last)))


def connect_rate(ip, port, seconds):
    start, done = time.time(), 0
    while time.time() - start < seconds:
        try:
            s = socket.create_connection((ip, port), timeout=1)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
            s.close()                       # RST: no TIME_WAIT piling up
            done += 1
        except OSError:
            pass
    print('%.1f' % (done / (time.time() - start)))


def hold(ip, port, n, seconds):
    socks = [socket.create_connection((ip, port), timeout=5) for _ in range(n)]
    print('open %d' % len(socks), flush=True)
    time.sleep(seconds)


RAW_MARK = b'vnetsec-probe'


def raw_send(proto, ip, count):
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, proto)
    for n in range(count):
        s.sendto(RAW_MARK + b' %d' % n, (ip, 0))
        time.sleep(0.05)


def raw_receive(proto, seconds):
    """A raw socket gets every packet of its protocol, with the IP header."""
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, proto)
    s.settimeout(0.1)
    end, got = time.time() + seconds, 0
    while time.time() < end:
        try:
            packet = s.recv(2048)
        except OSError:
            continue
        got += packet[(packet[0] & 0x0f) * 4:].startswith(RAW_MARK)
    print(got)


def flood(ip, port, seconds):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sent, end = 0, time.time() + seconds
    while time.time() < end:
        for i in range(200):
            try:
                s.sendto(b'flood', (ip, port + (sent + i) % 1000))
            except OSError:         # a full queue: try again
                pass
        sent += 200
    print(sent)


def wait_listening(ports, timeout=10):
    end = time.time() + timeout
    for port in ports:
        while time.time() < end:
            try:
                socket.create_connection(('127.0.0.1', port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)


def rarp(ifname, mac, delays_ms=(0, 50, 200)):
    raw = bytes.fromhex(mac.replace(':', ''))
    frame = (b'\xff' * 6 + raw + struct.pack('!H', 0x8035)
             + struct.pack('!HHBBH', 1, 0x0800, 6, 4, 3) + raw + bytes(4) + raw + bytes(4))
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((ifname, 0))
    print('ready', flush=True)
    sys.stdin.readline()
    start = time.time()
    for delay in delays_ms:
        time.sleep(max(0.0, start + delay / 1000 - time.time()))
        s.send(frame.ljust(60, b'\0'))


def garp(ifname, mac, ip, count=1):
    raw, addr = bytes.fromhex(mac.replace(':', '')), socket.inet_aton(ip)
    frame = (b'\xff' * 6 + raw + struct.pack('!H', 0x0806)
             + struct.pack('!HHBBH', 1, 0x0800, 6, 4, 1) + raw + addr + bytes(6) + addr)
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((ifname, 0))
    for n in range(count):
        s.send(frame.ljust(60, b'\0'))
        time.sleep(0.05)


def frame(ifname, smac, dmac, sip, dip, port, count):
    payload = RAW_MARK
    udp = struct.pack('!HHHH', 40000, port, 8 + len(payload), 0) + payload
    ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0,
                     socket.inet_aton(sip), socket.inet_aton(dip))
    ip = ip[:10] + struct.pack('!H', checksum(ip)) + ip[12:]
    head = bytes.fromhex(dmac.replace(':', '')) + bytes.fromhex(smac.replace(':', ''))
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((ifname, 0))
    for n in range(count):
        s.send(head + struct.pack('!H', 0x0800) + ip + udp)
        time.sleep(0.05)


def checksum(data):
    data += b'\0' * (len(data) % 2)
    total = sum(struct.unpack('!%dH' % (len(data) // 2), data))
    while total >> 16:
        total = (total & 0xffff) + (total >> 16)
    return ~total & 0xffff


def tcp_flags(ip, port, flags, count):
    bits = sum({'F': 1, 'S': 2, 'R': 4, 'P': 8, 'A': 16}[f] for f in flags)
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.connect((ip, port))
    source = probe.getsockname()[0]
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP)
    for n in range(count):
        header = struct.pack('!HHIIBBHHH', 40000 + n, port, 1000, 1000 if bits & 16 else 0,
                             5 << 4, bits, 1024, 0, 0)
        pseudo = socket.inet_aton(source) + socket.inet_aton(ip) + struct.pack(
            '!BBH', 0, socket.IPPROTO_TCP, len(header))
        header = header[:16] + struct.pack('!H', checksum(pseudo + header)) + header[18:]
        s.sendto(header, (ip, 0))
        time.sleep(0.05)


if __name__ == '__main__':
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == 'serve':
        serve(args[0], int(args[1]))
    elif cmd == 'check':
        check(args[0], args[1], int(args[2]))
    elif cmd == 'session':
        session(args[0], int(args[1]), float(args[2]))
    elif cmd == 'spray':
        spray(args[0], int(args[1]), int(args[2]), float(args[3]))
    elif cmd == 'raw-send':
        raw_send(int(args[0]), args[1], int(args[2]))
    elif cmd == 'raw-receive':
        raw_receive(int(args[0]), float(args[1]))
    elif cmd == 'stream-serve':
        stream_serve(args[0], int(args[1]))
    elif cmd == 'stream-read':
        stream_read(args[0], args[1], int(args[2]), float(args[3]))
    elif cmd == 'connect-rate':
        connect_rate(args[0], int(args[1]), float(args[2]))
    elif cmd == 'hold':
        hold(args[0], int(args[1]), int(args[2]), float(args[3]))
    elif cmd == 'rarp':
        rarp(args[0], args[1])
    elif cmd == 'garp':
        garp(args[0], args[1], args[2], int(args[3]) if len(args) > 3 else 1)
    elif cmd == 'frame':
        frame(*args[:5], int(args[5]), int(args[6]))
    elif cmd == 'tcp-flags':
        tcp_flags(args[0], int(args[1]), args[2], int(args[3]))
    elif cmd == 'flood':
        flood(args[0], int(args[1]), float(args[2]))
    else:
        wait_listening([int(a) for a in args])
