"""Shared by the benchmarks: the switch's own limit as a reference.

The reference loads the very flows the controller compiled (same cookies, asked
of the controller's REST API in ovs-ofctl syntax: ``GET /v1/hosts/{name}/flows``)
straight into every bridge with ``ovs-ofctl --bundle add-flows``, all bridges in
parallel, as the controller does."""
import os
import re
import subprocess
import tempfile
import time

from controller.compile import pipeline as P


def cookies(switch):
    """The cookies of the controller's flows on a switch, without the
    unmanaged ones (carried sessions, which come and go with moves)."""
    out = switch.ovs.ofctl('dump-flows %s --no-stats' % switch.bridge)
    return {c for c in re.findall(r'^\s*cookie=(0x[0-9a-f]+)', out, re.M)
            if int(c, 16) >> P.COOKIE_OWNER_SHIFT not in P.UNMANAGED}


def compiled_flows(dc):
    """{switch: [{cookie, table, priority, owner, ofctl}]}, as the controller
    compiled them."""
    return {sw.name: dc.client.get('/v1/hosts/%s/flows' % sw.name)['flows']
            for sw in dc.switches()}


def cpu_seconds(pid):
    """CPU time (user + system) a process has used so far."""
    with open('/proc/%d/stat' % pid) as f:
        fields = f.read().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')


def wait_synced(dc, timeout=600):
    deadline = time.time() + timeout
    while time.time() < deadline:
        status = dc.client.get('/v1/status')
        if status['idle'] and all(s['synced'] for s in status['switches'].values()) and \
                len(status['switches']) == len(dc.switches()):
            return
        time.sleep(0.005)
    raise RuntimeError('not in sync after %ds' % timeout)


def reference_load(dc, flows_by_switch):
    """Empty every bridge, then time loading the same flows with ovs-ofctl
    --bundle into all bridges at once. Returns seconds."""
    files, procs = [], []
    for sw in dc.switches():
        fd, path = tempfile.mkstemp(prefix='vnetsec-ref-', suffix='.flows')
        with os.fdopen(fd, 'w') as f:
            f.write('\n'.join(fl['ofctl'] for fl in flows_by_switch[sw.name]) + '\n')
        files.append(path)
        sw.ovs.ofctl('del-flows %s' % sw.bridge)
    t0 = time.time()
    for sw, path in zip(dc.switches(), files):
        procs.append(subprocess.Popen(
            ['ovs-ofctl', '-O', 'OpenFlow14', '--bundle', 'add-flows',
             'unix:%s/%s.mgmt' % (sw.ovs.dir, sw.bridge), path]))
    codes = [p.wait() for p in procs]
    elapsed = time.time() - t0
    for path in files:
        os.remove(path)
    if any(codes):
        raise RuntimeError('ovs-ofctl failed: %s' % codes)
    return elapsed


def plug_dummy_vnics(hv, names):
    """Veth pairs in the hypervisor's namespace, one end plugged into br-int:
    vNICs without a VM behind them (for control-plane benchmarks)."""
    batch = ''.join('link add %s type veth peer name %sp\nlink set %s up\n' % (n, n, n)
                    for n in names)
    path = '%s/veths.batch' % hv.ovs.dir
    with open(path, 'w') as f:
        f.write(batch)
    hv.cmd('ip -batch %s' % path)
    hv.ovs.vsctl(' '.join('-- add-port br-int %s' % n for n in names))


def vlan_networks(dc, count):
    """The ids of ``count`` VLAN networks (VLAN 100, 101, ...)."""
    return [dc.client.ensure_network('bench%d' % v, 'vlan', 100 + v)['id']
            for v in range(count)]


def plug_vnics(dc, count, nets):
    """``count`` dummy vNICs plugged, spread over the hypervisors; returns the
    bodies of their ports (in ``nets``, all in ``default``), not yet created."""
    hvs = dc.hypervisors()
    names = ['b%d' % i for i in range(count)]
    for h, hv in enumerate(hvs):
        plug_dummy_vnics(hv, names[h::len(hvs)])
    wait_synced(dc)
    return [{'network_id': nets[(i // len(hvs)) % len(nets)], 'device': name,
             'mac': '02:aa:00:00:%02x:%02x' % (i >> 8, i & 0xff),
             'ips': ['10.1.%d.%d' % (i >> 8, i & 0xff)]} for i, name in enumerate(names)]


def probe_command(ip, count=2500):
    """The downtime probe of the migration benchmarks, the same for vnetsec and
    OVN: a ping every 2 ms with reply timestamps (``ping -i 0.01`` would send
    only ~60 a second here)."""
    return 'ping -i 0.002 -D -W 1 -c %d %s' % (count, ip)


def probe_figures(text):
    """{'lost': probes without a reply, 'dup': replies received twice (both
    vNICs up for an instant), 'gap': the longest time between replies, ms}
    from the output of ``probe_command``."""
    replies = re.findall(r'^\[([\d.]+)\] \d+ bytes from.*$', text, re.M)
    stamps = [float(t) for t in re.findall(r'^\[([\d.]+)\] \d+ bytes from(?!.*DUP!)',
                                           text, re.M)]
    sent = int(re.search(r'(\d+) packets transmitted', text).group(1))
    return {'lost': sent - len(stamps), 'dup': len(replies) - len(stamps),
            'gap': max(b - a for a, b in zip(stamps, stamps[1:])) * 1000}
