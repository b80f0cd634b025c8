"""Measurements on a running data center, shared by the integration tests."""
import json
import os
import re
import socket
import ssl
import struct
import subprocess
import sys
import time

from controller.compile import pipeline
from mininet_topos import probe
from mininet_topos.client import ApiError
from mininet_topos.pings import ping_matrix

VNETSEC = os.path.join(os.path.dirname(sys.executable), 'vnetsec')   # the console script


def vnetsec(line, env, timeout=60):
    """Run the operator's command as a shell would: (exit code, its output (decoded
    when -f json answered), its errors). ``env``: the whole environment."""
    assert os.access(VNETSEC, os.X_OK), 'no console script %s: run scripts/setup.sh' % VNETSEC
    done = subprocess.run([VNETSEC] + line.split(), env=env, capture_output=True, text=True,
                          timeout=timeout)
    out = done.stdout
    if '-f json' in line and done.returncode == 0:
        out = json.loads(out)
    return done.returncode, out, done.stderr


def ip_of(vm):
    return vm.IP()


def check(dc, src, dst, proto, port, address=None):
    """Does a ``proto`` (tcp, udp) connection from VM ``src`` to ``dst``:``port``
    (at ``address(dst)``, its IPv4 address by default) get through
    (mininet_topos/probe.py)?"""
    target = (address or ip_of)(dc.node(dst))
    return dc.node(src).cmd('python3 %s check %s %s %d' % (probe.__file__, proto, target,
                                                           port)).strip() == 'OK'


def pings(dc, src, dst):
    return ' 0% packet loss' in dc.node(src).cmd('ping -c1 -W1 %s' % dc.node(dst).IP())


def ip6_of(vm):
    return vm.params['ip6']


def reachability(dc, vms=None, address=ip_of):
    """Every VM pings every other (one probe each, all sources in parallel) at
    ``address(vm)``; returns the set of (src, dst) names that got a reply."""
    return ping_matrix(vms or dc.net.hosts, address)


def expected_pairs(dc, same_segment):
    vms = dc.net.hosts
    return {(a.name, b.name) for a in vms for b in vms if a is not b and same_segment(a, b)}


def flow_cookies(switch, bridge='br-int'):
    """The cookies of the controller's flows on a switch (carried sessions,
    which come and go with moves, left out)."""
    out = switch.ovs.ofctl('dump-flows %s --no-stats' % bridge)
    return sorted(c for c in re.findall(r'^\s*cookie=(0x[0-9a-f]+)', out, re.M)
                  if int(c, 16) >> pipeline.COOKIE_OWNER_SHIFT not in pipeline.UNMANAGED)


def port_of(dc, vm):
    """VM ``vm``'s port as ``/v1`` shows it."""
    return next(p for p in dc.client.get('/v1/ports') if p['name'] == vm)


def patch(dc, vm, body):
    """PATCH VM ``vm``'s port, then wait until the switches have it."""
    out = dc.client.call('PATCH', '/v1/ports/%s' % port_of(dc, vm)['id'], body)
    dc.wait_ready()
    return out


def group(dc, name, rules, stateful=True):
    """A security group ``name`` made afresh (an earlier one of that name deleted)."""
    try:
        dc.client.call('DELETE', '/v1/security-groups/%s' % name)
    except ApiError:
        pass
    return dc.client.post('/v1/security-groups', {'name': name, 'rules': rules,
                                                  'stateful': stateful})


def holder_seen_by(dc, client, address):
    """The MAC VM ``client``'s neighbour table (ARP or ND) has for ``address`` ('' if none)."""
    out = dc.node(client).cmd('ip neigh show %s' % address).split()
    return out[out.index('lladdr') + 1] if 'lladdr' in out else ''


def reach_vip(dc, client, address, seconds=3.0):
    """Seconds until the client's ping to ``address`` is answered (None: never)."""
    start = time.time()
    while time.time() - start < seconds:
        if ' 0% packet loss' in dc.node(client).cmd('ping -c1 -W0.1 %s' % address):
            return time.time() - start
    return None


def conntrack(dc, hv, vm):
    """The conntrack entries in the zone of VM ``vm``'s port (its ofport) on ``hv``."""
    zone = port_of(dc, vm)['ofport']
    return [line for line in dc.node(hv).ovs.appctl(
        'dpctl/dump-conntrack zone=%d' % zone).splitlines() if line.strip()]


def flush_conntrack(dc):
    for hv in dc.hypervisors():
        hv.ovs.appctl('dpctl/flush-conntrack')


def capture(node, intf, bpf, seconds, count=200):
    """Start tcpdump in ``node`` for a while; returns a function giving its text."""
    out = '/tmp/vnetsec-cap-%s-%s-%d.txt' % (node.name, intf, int(time.time() * 1000))
    node.cmd('timeout %d tcpdump -lnnei %s -c %d %s > %s 2>/dev/null &'
             % (seconds, intf, count, bpf, out))
    time.sleep(0.5)

    def result():
        deadline = time.time() + seconds + 2
        while time.time() < deadline and node.cmd('jobs -r').strip():
            time.sleep(0.1)
        with open(out) as f:
            text = f.read()
        subprocess.run(['rm', '-f', out])
        return text
    return result


def processes_mentioning(text):
    out = subprocess.run(['ps', '-ww', '-eo', 'pid=,args='], capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if text in line and 'ps -eo' not in line]


def root_links(prefix):
    out = subprocess.run(['ip', '-o', 'link'], capture_output=True, text=True).stdout
    return [line.split(': ')[1].split('@')[0] for line in out.splitlines()
            if line.split(': ')[1].startswith(prefix)]


def running(pids, wait=3.0):
    """The PIDs still running (zombies awaiting their reaper do not count)."""
    deadline = time.time() + wait
    while True:
        alive = []
        for pid in pids:
            try:
                with open('/proc/%d/stat' % pid) as f:
                    if f.read().rsplit(')', 1)[1].split()[0] != 'Z':
                        alive.append(pid)
            except OSError:
                pass
        if not alive or time.time() > deadline:
            return alive
        time.sleep(0.1)


def listening_tcp(pid):
    """(address, port) of every TCP socket (IPv4 and IPv6) process ``pid``
    listens on: its socket inodes matched against its namespace's /proc/net/tcp*."""
    inodes = set()
    for fd in os.listdir('/proc/%d/fd' % pid):
        try:
            target = os.readlink('/proc/%d/fd/%s' % (pid, fd))
        except OSError:
            continue
        if target.startswith('socket:['):
            inodes.add(target[8:-1])
    found = set()
    for table, family in (('tcp', socket.AF_INET), ('tcp6', socket.AF_INET6)):
        with open('/proc/%d/net/%s' % (pid, table)) as f:
            next(f)
            for line in f:
                fields = line.split()
                (address, port), state, inode = fields[1].split(':'), fields[3], fields[9]
                if state == '0A' and inode in inodes:          # 0A: LISTEN
                    raw = b''.join(struct.pack('<I', int(address[i:i + 8], 16))
                                   for i in range(0, len(address), 8))
                    found.add((socket.inet_ntop(family, raw), int(port, 16)))
    return found


OFPT_HELLO_1_4 = struct.pack('!BBHI', 5, 0, 8, 1)


def openflow_reply(address, tls=None, timeout=3):
    """Send an OpenFlow 1.4 HELLO to ``address`` (plain TCP, or TLS with the
    client ``tls`` = (key, certificate, CA certificate); key None: no client
    certificate) and return the bytes that came back: b'' if the connection was
    refused, reset, closed or silent."""
    try:
        with socket.create_connection(address, timeout=timeout) as sock:
            if tls:
                context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                context.check_hostname = False      # lab certificates name no host
                context.load_verify_locations(tls[2])
                if tls[0]:
                    context.load_cert_chain(tls[1], tls[0])
                sock = context.wrap_socket(sock)
            sock.sendall(OFPT_HELLO_1_4)
            return sock.recv(1024)
    except (OSError, ssl.SSLError):
        return b''


def is_openflow_hello(data):
    return len(data) >= 8 and data[1] == 0 and struct.unpack('!H', data[2:4])[0] >= 8
