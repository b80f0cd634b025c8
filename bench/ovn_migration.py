"""VM moves and port binding in the OVN lab (``bench.ovn_lab``), done the way
vnetsec's testbed does them (``mininet_topos.migration``), so the two compare.

- ``move``: OVN's plain move. The hypervisor end of the VM's veth moves into
  the destination's namespace and is plugged there with its ``iface-id``; OVN
  gets no notice beforehand (like vnetsec's unplanned move; OVN has no other
  plain one).
- ``live_move``: OVN's live-migration mode. The port's ``requested-chassis``
  names both chassis with ``activation-strategy=rarp``; the VM gets a second
  vNIC plugged at the destination, its hypervisor end down (the VM is paused
  there) until OVN has installed it. The switch-over is the VM resuming: that
  end comes up, the old vNIC goes, and the VM announces itself by RARP as QEMU
  does, which OVN takes as activation; after the switch-over the port's
  options are cleared again (the destination alone holds it).
- ``bind``: logical ports created beforehand, then their vNICs plugged; timed
  until every port is up and every hypervisor has caught up (``--wait=hv``).
"""
import subprocess
import time

from bench.ovn_lab import Vnic, lsp_args, vm_ip, vm_mac
from mininet_topos import probe


def move(lab, vm, dest):
    """Returns timestamps 'moving' (the switch-over begins), 'appeared' (the
    vNIC plugged at the destination) and 'installed' (OVN's flows for it there)."""
    vnic = lab.vnics[vm]
    source = vnic.hv
    src_ns, dst_ns = lab.netns(source), lab.netns(dest)   # opened before the clock
    try:
        index = src_ns.link_lookup(ifname=vnic.hv_end)[0]
        marks = {'moving': time.time()}
        src_ns.link('set', index=index, net_ns_fd=lab.ns(dest))
        dst_ns.link('set', index=dst_ns.link_lookup(ifname=vnic.hv_end)[0], state='up')
        lab.plug(dest, vnic.hv_end, vm)
        marks['appeared'] = time.time()
        lab.vsctl(source, '--if-exists', 'del-port', 'br-int', vnic.hv_end)
    finally:
        src_ns.close()
        dst_ns.close()
    vnic.hv = dest
    marks['installed'] = installed_at(lab, dest, vnic.hv_end)
    return marks


def installed_at(lab, hv, device):
    """When ovn-controller on ``hv`` had installed the flows of ``device``
    (its ``ovn-installed-ts``, in seconds)."""
    lab.vsctl(hv, 'wait-until', 'Interface', device, 'external_ids:ovn-installed=true')
    return int(lab.vsctl(hv, 'get', 'Interface', device,
                         'external_ids:ovn-installed-ts').strip().strip('"')) / 1000


def live_move(lab, vm, dest):
    """Returns timestamps 'moving' (the VM resumes at the destination) and
    'appeared' (its first RARP is on its way)."""
    old = lab.vnics[vm]
    source = old.hv
    lab.nbctl('--wait=hv', 'lsp-set-options', vm, 'requested-chassis=%s,%s' % (source, dest),
              'activation-strategy=rarp')
    other = '1' if old.vm_end.endswith('0') else '0'
    new = Vnic(dest, '%sp%s' % (vm, other), 'eth' + other, old.k)
    lab.veth(vm, new, up=False)
    lab.plug(dest, new.hv_end, vm)
    installed_at(lab, dest, new.hv_end)
    _carry_arp_cache(lab, vm, old.vm_end, new.vm_end)
    rarp = subprocess.Popen(['ip', 'netns', 'exec', lab.ns(vm), 'python3', probe.__file__,
                             'rarp', new.vm_end, new.mac],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        if rarp.stdout.readline().strip() != 'ready':
            raise RuntimeError('the RARP sender in %s did not start' % vm)
        vm_ns, dst_ns = lab.netns(vm), lab.netns(dest)
        try:
            dest_index = dst_ns.link_lookup(ifname=new.hv_end)[0]
            old_index = vm_ns.link_lookup(ifname=old.vm_end)[0]
            marks = {'moving': time.time()}
            dst_ns.link('set', index=dest_index, state='up')
            vm_ns.link('del', index=old_index)      # its old vNIC (and tap) go
            rarp.stdin.write('go\n')
            rarp.stdin.flush()
            marks['appeared'] = time.time()
        finally:
            vm_ns.close()
            dst_ns.close()
        rarp.wait(timeout=10)
    finally:
        if rarp.poll() is None:
            rarp.kill()
            rarp.wait()
    lab.vnics[vm] = new
    lab.vsctl(source, '--if-exists', 'del-port', 'br-int', old.hv_end)
    # after the migration the CMS lets the port go to the destination alone;
    # here it names no chassis at all, as before, for the plain moves that follow
    lab.nbctl('--wait=hv', 'lsp-set-options', vm)
    return marks


def _carry_arp_cache(lab, vm, old, new):
    """A migrating guest keeps its ARP cache; the emulation's second vNIC starts
    with an empty one: copy it over."""
    for entry in lab.sh(vm, 'ip', '-4', 'neigh', 'show', 'dev', old).splitlines():
        fields = entry.split()
        if len(fields) > 2 and fields[1] == 'lladdr':
            lab.sh(vm, 'ip', 'neigh', 'replace', fields[0], 'lladdr', fields[2], 'dev', new,
                   'nud', 'stale')


def create_ports(lab, names, first_k):
    """Logical ports (addresses, port security, the port group) for vNICs
    ``names``, numbered from ``first_k``, in one transaction; returns once every
    hypervisor has caught up."""
    args = []
    for k, name in enumerate(names, first_k):
        args += lsp_args(name, vm_mac(k), vm_ip(k))
    lab.nbctl('--wait=hv', *args)


def bind(lab, hv, names):
    """Plug vNICs ``names`` (dummy veths: no VM behind them) into ``hv`` with
    their iface-ids in one transaction; returns the seconds from plugging until
    every one is up and every hypervisor has caught up."""
    path = '%s/veths.batch' % lab.dir(hv)
    with open(path, 'w') as f:
        f.write(''.join('link add %s type veth peer name %sp\nlink set %s up\n' % (n, n, n)
                        for n in names))
    lab.sh(hv, 'ip', '-batch', path)
    plug = []
    until_up = []
    for name in names:
        plug += ['--', 'add-port', 'br-int', name, '--', 'set', 'interface', name,
                 'external_ids:iface-id=%s' % name]
        until_up += ['--', 'wait-until', 'Logical_Switch_Port', name, 'up=true']
    t0 = time.time()
    lab.vsctl(hv, *plug)
    lab.nbctl('--wait=hv', *until_up[1:])
    return time.time() - t0
