"""Measurements on a running data center, shared by the integration tests."""
import re
import subprocess
import time


def ip_of(vm):
    return vm.IP()


def reachability(dc, vms=None):
    """Every VM pings every other (one probe each, all sources in parallel);
    returns the set of (src, dst) names that got a reply."""
    vms = vms or dc.net.hosts
    for src in vms:
        targets = ' '.join('%s:%s' % (d.name, ip_of(d)) for d in vms if d is not src)
        src.sendCmd('for t in %s; do n=${t%%%%:*}; ip=${t#*:}; '
                    '( ping -c2 -i0.2 -W1 -q $ip >/dev/null && echo OK $n ) & done; wait'
                    % targets)
    ok = set()
    for src in vms:
        for line in src.waitOutput().splitlines():
            if line.startswith('OK '):
                ok.add((src.name, line.split()[1]))
    return ok


def expected_pairs(dc, same_segment):
    vms = dc.net.hosts
    return {(a.name, b.name) for a in vms for b in vms if a is not b and same_segment(a, b)}


def flow_cookies(switch, bridge='br-int'):
    out = switch.ovs.ofctl('dump-flows %s --no-stats' % bridge)
    return sorted(re.findall(r'cookie=(0x[0-9a-f]+)', out))


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
    out = subprocess.run(['ps', '-eo', 'pid=,args='], capture_output=True, text=True).stdout
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
