"""The OVN lab of the benchmarks (``bench.ovn_lab``, Debian's OVN): one
hypervisor pair comes up, its VMs ping each other through Geneve tunnels that
cross the routed underlay, a switch that dies is reported and restarted, and
the lab tears down leaving nothing of its own;
a lab whose process was killed is removed by ``vnetsec-dc --cleanup`` from its
run record."""
import os
import signal
import subprocess
import sys

import pytest

from bench.ovn_lab import OvnLab, require_ovn
from tests.integration.helpers import processes_mentioning, root_links, running

VNETSEC_DC = os.path.join(os.path.dirname(sys.executable), 'vnetsec-dc')
INSIDE_NAMES = {'u1', 'u2', 'up0', 'br-phy', 'br-int', 'vm1p0', 'vm2p0', 'genev_sys_6081'}


@pytest.fixture(autouse=True)
def ovn_installed():
    try:
        require_ovn()
    except RuntimeError as e:
        pytest.skip(str(e))


def footprint(rundir):
    """What of a lab exists, found without its record: its namespaces (by
    name), the processes naming its directory or inside those namespaces, its
    directory."""
    prefix = 'vnetsec-%s-' % os.path.basename(rundir)
    namespaces = sorted(line.split()[0] for line in subprocess.run(
        ['ip', 'netns', 'list'], capture_output=True, text=True).stdout.splitlines()
        if line.startswith(prefix))
    pids = {int(line.split()[0]) for line in processes_mentioning(rundir + '/')}
    for ns in namespaces:
        pids |= set(map(int, subprocess.run(['ip', 'netns', 'pids', ns], capture_output=True,
                                            text=True).stdout.split()))
    return {'processes': sorted(pids), 'namespaces': namespaces,
            'files': os.path.exists(rundir)}


NOTHING = {'processes': [], 'namespaces': [], 'files': False}


def rx_packets(lab, node, intf):
    return int(lab.sh(node, 'cat', '/sys/class/net/%s/statistics/rx_packets' % intf))


def test_a_hypervisor_pair_pings_across_the_routed_underlay_and_leaves_nothing():
    root_before = set(root_links(''))
    with OvnLab(hypervisors=2) as lab:
        up = footprint(lab.rundir)
        assert [ns.rsplit('-', 1)[1] for ns in up['namespaces']] == sorted(
            ['central', 'router', 'hv1', 'hv2', 'vm1', 'vm2'])
        daemons = processes_mentioning(lab.rundir + '/')
        assert len(daemons) == 9, daemons     # NB, SB, northd; 2 x (ovsdb, vswitchd, ovn-ctl)
        assert lab.vnics['vm1'].hv == 'hv1' and lab.vnics['vm2'].hv == 'hv2'
        before = {u: rx_packets(lab, 'router', u) for u in ('u1', 'u2')}
        out = lab.sh('vm1', 'ping', '-c3', '-i0.2', '-W1', lab.vnics['vm2'].ip, check=False)
        assert ' 0% packet loss' in out, out
        # each request went up hv1's uplink and each reply up hv2's: the router carried them
        assert all(rx_packets(lab, 'router', u) - before[u] >= 3 for u in before)
        assert lab.crashes == [] and lab.check_switches() == []
        # a switch that dies (as OVS 3.1's conntrack can abort) is reported and restarted
        with open(lab.dir('hv2') + '/ovs-vswitchd.pid') as f:
            os.kill(int(f.read()), signal.SIGKILL)
        assert running([int(open(lab.dir('hv2') + '/ovs-vswitchd.pid').read())]) == []
        assert lab.check_switches() == ['hv2'] and [hv for hv, _ in lab.crashes] == ['hv2']
        out = lab.sh('vm1', 'ping', '-c3', '-i0.2', '-W1', lab.vnics['vm2'].ip, check=False)
        assert ' 0% packet loss' in out, out
    assert running(up['processes']) == []
    assert footprint(lab.rundir) == NOTHING
    assert not (set(root_links('')) - root_before) & INSIDE_NAMES


def test_a_killed_lab_is_removed_by_the_cleanup():
    code = ('import time; from bench.ovn_lab import OvnLab; lab = OvnLab(2).start(); '
            'print(lab.rundir, flush=True); time.sleep(600)')
    proc = subprocess.Popen([sys.executable, '-c', code], stdout=subprocess.PIPE, text=True)
    try:
        rundir = proc.stdout.readline().strip()
        assert rundir.startswith('/tmp/vnetsec/ovn-'), rundir
    finally:
        proc.send_signal(signal.SIGKILL)           # no teardown runs
        proc.wait()
        proc.stdout.close()
    left = footprint(rundir)
    assert len(left['namespaces']) == 6 and len(left['processes']) >= 9 and left['files']
    done = subprocess.run([VNETSEC_DC, '--cleanup', os.path.basename(rundir)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert 'removed directory %s' % rundir in done.stdout
    assert running(left['processes']) == []
    assert footprint(rundir) == NOTHING
