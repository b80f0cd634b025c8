"""Streams a VM only reads, across its migration: what survives a move (used by
tests/integration/test_sessions_move.py and bench.sessions).

The reader VM connects (TCP) or says hello once (UDP) to a server VM that then
pushes 100 bytes every 50 ms; the reader never sends again, so only the firewall
state the move carried can let the server's packets in (see probe.py)."""
import os
import time

from mininet_topos import probe
from mininet_topos.migration import migrate

PROBE = probe.__file__
PORTS = {'tcp': 9000, 'udp': 9001}
SERVER_RULES = [{'direction': 'egress'}, {'direction': 'ingress', 'protocol': 'icmp'},
                {'direction': 'ingress', 'protocol': 'tcp', 'port_range_min': PORTS['tcp']},
                {'direction': 'ingress', 'protocol': 'udp', 'port_range_min': PORTS['udp']}]
READER_RULES = [{'direction': 'egress'}, {'direction': 'ingress', 'protocol': 'icmp'}]


def serve(server):
    """Start the TCP and UDP stream servers in ``server``."""
    for proto, port in PORTS.items():
        server.cmd('python3 %s stream-serve %s %d &' % (PROBE, proto, port))
    server.cmd('python3 %s wait-listening %d' % (PROBE, PORTS['tcp']))


def across_move(dc, vm, server, dest, seconds=8, move_at=2.0, live=False, planned=True,
                prober=None, also=None, address=lambda node: node.IP()):
    """``vm`` reads ``server``'s TCP and UDP streams for ``seconds`` and moves to
    ``dest`` ``move_at`` seconds in; ``prober`` (a VM name), if given, sprays
    forbidden TCP (9090) and UDP (7070) at it throughout; ``also()`` runs after
    the move; ``address(node)``: the VMs' addresses used (IPv6: their ``ip6``).
    Returns ({proto: (seconds alive, longest silence)}, the forbidden packets
    that reached ``vm``)."""
    reader, source = dc.node(vm), dc.node(server)
    out = '%s/streams-%s-%%s.txt' % (dc.rundir, vm)
    capture = out % 'forbidden'
    if prober:
        reader.cmd('tcpdump -lnni any "dst host %s and (tcp dst port 9090 or udp dst port '
                   '7070)" > %s 2>/dev/null &' % (address(reader), capture))
        dc.node(prober).cmd('python3 %s spray %s 9090 7070 %d &'
                            % (PROBE, address(reader), seconds + 1))
    readers = [reader.cmd('python3 %s stream-read %s %s %d %d > %s & echo $!'
                          % (PROBE, proto, address(source), port, seconds, out % proto)
                          ).split()[-1]
               for proto, port in PORTS.items()]
    started = time.time() + 10      # the clock starts once the TCP reader is connected
    while time.time() < started and not reader.cmd(
            "ss -Htn state established '( dport = :%d )'" % PORTS['tcp']).strip():
        time.sleep(0.05)
    time.sleep(move_at)
    migrate(dc, vm, dest, live=live, planned=planned)
    dc.wait_ready()
    if also:
        also()
    reader.cmd('wait %s' % ' '.join(readers))
    result, forbidden = {}, []
    for proto in PORTS:
        with open(out % proto) as f:
            alive, silence = (float(x) for x in f.read().split())
        os.remove(out % proto)
        result[proto] = (alive, silence)
    if prober:
        dc.node(prober).cmd('wait')
        time.sleep(0.5)
        reader.cmd('kill %tcpdump; wait %tcpdump')
        with open(capture) as f:
            forbidden = [line for line in f if line.strip()]
        os.remove(capture)
    return result, forbidden


def survived(result, seconds=8):
    """The streams alive to the end (within half a second)."""
    return [proto for proto, (alive, _) in sorted(result.items()) if alive >= seconds - 0.5]
