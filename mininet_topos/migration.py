"""VM migration in the emulated data center, done with pyroute2 as a hypervisor
would.

- plain: ``POST /v1/ports/{id}/migrate {"host"}`` makes the controller program
  the destination for the vNIC at the port number it returns (rules enforced,
  traffic still to the source); the destination's br-int gets the port at that
  number before the device exists (as a compute node plugs a VIF before it
  starts the VM); then the hypervisor end of the VM's veth, named after the
  port's device, moves into the destination hypervisor's namespace, where OVS
  opens it at once; the controller notices the device there.
- unplanned: the same move without the API call (the vNIC is plugged wherever
  OVS numbers it); the controller notices the device there and rebinds it.
- live (like OVN's requested-chassis + activation): ``POST /v1/ports/{id}/migrate
  {"host", "live": true}`` makes the controller program the destination for the
  vNIC at the port number it returns (rules enforced, traffic still to the
  source). The testbed gives the VM a second vNIC whose hypervisor end is
  plugged there at that number but kept down (the VM is "paused" there). The
  switch-over is the VM resuming: the destination end comes up, which the
  controller takes as activation, and the VM's old vNIC goes away.
"""
import time

from mininet.link import Intf
from pyroute2 import NetNS

from mininet_topos.nodes import VM_MTU, enable_ipv6


def _netns(node):
    return NetNS('/proc/%d/ns/net' % node.pid, flags=0)


def vnic_ends(vm):
    """(VM-side Intf, hypervisor-side Intf) of the VM's current vNIC."""
    intf = vm.defaultIntf()
    link = intf.link
    return intf, (link.intf2 if link.intf1 is intf else link.intf1)


def migrate(dc, vm_name, dest_name, live=False, announce=True, planned=True, ready=None):
    """Move ``vm_name``'s vNIC to hypervisor ``dest_name`` (``planned``: told to
    the controller first; ``live`` implies it). ``ready()``, if given, runs once
    a planned move's destination is programmed, just before the switch-over.
    Returns timestamps: 'start', 'moving' (the switch-over begins), 'appeared',
    'done'."""
    vm, dest = dc.node(vm_name), dc.node(dest_name)
    vm_intf, tap = vnic_ends(vm)
    source, device = tap.node, tap.name
    if source is dest:
        raise ValueError('%s already runs on %s' % (vm_name, dest_name))
    port = next(p for p in dc.client.get('/v1/ports') if p['device'] == device)
    marks = {'start': time.time()}
    if live:
        _live(dc, vm, vm_intf, source, dest, port, marks, ready)
    else:
        plugged = False
        if planned:      # the destination is programmed for the number it returns
            ofport = dc.client.post('/v1/ports/%s/migrate' % port['id'],
                                    {'host': dest.name})['migrating_ofport']
            dc.wait_ready()
            # plugged there before the device exists, as a compute node plugs a
            # VIF before it starts the VM: OVS opens it the moment it appears
            dest.ovs.vsctl('--may-exist add-port br-int %s -- set interface %s '
                           'ofport_request=%d 2>/dev/null' % (device, device, ofport))
            plugged = True
            if ready:
                ready()
        move_vnic(tap, dest, marks=marks, plugged=plugged)
    if announce:      # the VM announces itself from its new place (gratuitous ARP)
        vm.cmd('arping -q -U -c1 -I %s %s' % (vm.defaultIntf(), vm.IP()))
    marks['done'] = time.time()
    return marks


def move_vnic(tap, dest, bridge='br-int', marks=None, plugged=False):
    """Move a vNIC's hypervisor end (Mininet ``Intf`` ``tap``) into ``dest``'s
    namespace and plug it into ``bridge`` there (unless ``plugged`` there
    already); unplug it at the source."""
    marks = {} if marks is None else marks
    source = tap.node
    src_ns, dst_ns = _netns(source), _netns(dest)        # opened before the clock starts
    try:
        index = src_ns.link_lookup(ifname=tap.name)[0]
        marks['moving'] = time.time()
        src_ns.link('set', index=index, net_ns_pid=dest.pid)
        dst_ns.link('set', index=dst_ns.link_lookup(ifname=tap.name)[0], state='up')
        if not plugged:
            dest.ovs.vsctl('--may-exist add-port %s %s' % (bridge, tap.name))
        marks['appeared'] = time.time()
        source.ovs.vsctl('--if-exists del-port %s %s' % (bridge, tap.name))
    finally:
        src_ns.close()
        dst_ns.close()
    port = source.ports.pop(tap)                         # Mininet's bookkeeping
    source.intfs.pop(port)
    source.nameToIntf.pop(tap.name)
    tap.node = dest
    dest.addIntf(tap, port=dest.newPort(), moveIntfFn=lambda *a, **k: True)
    return marks


def _live(dc, vm, old, source, dest, port, marks, ready):
    device, mac, ip = port['device'], port['mac'], vm.IP()
    port = dc.client.post('/v1/ports/%s/migrate' % port['id'],
                          {'host': dest.name, 'live': True})
    dc.wait_ready()                                    # the destination is programmed
    new_name = next(name for name in ('%s-eth%d' % (vm.name, k) for k in range(1, 99))
                    if name != old.name and name not in vm.nameToIntf)
    vm_ns, dst_ns = _netns(vm), _netns(dest)
    try:
        vm_ns.link('add', ifname=new_name, kind='veth', address=mac, mtu=VM_MTU,
                   peer={'ifname': device, 'net_ns_pid': dest.pid})
        new_index = vm_ns.link_lookup(ifname=new_name)[0]
        vm_ns.addr('add', index=new_index, address=ip, prefixlen=16)
        vm_ns.link('set', index=new_index, state='up')
        vm.cmd('ethtool -K %s tx off >/dev/null 2>&1' % new_name)
        if vm.params.get('ip6'):                       # dual stack: the same addresses
            enable_ipv6(vm, vm.params['ip6'], new_name)
        dest.ovs.vsctl('add-port br-int %s -- set interface %s ofport_request=%d'
                       % (device, device, port['migrating_ofport']))
        dc.wait_ready()
        _carry_arp_cache(vm, old.name, new_name)
        if ready:
            ready()
        dest_index = dst_ns.link_lookup(ifname=device)[0]
        old_index = vm_ns.link_lookup(ifname=old.name)[0]
        marks['moving'] = time.time()                  # the VM resumes on dest
        dst_ns.link('set', index=dest_index, state='up')
        vm_ns.link('del', index=old_index)             # its old vNIC (and tap) go
        marks['appeared'] = time.time()
        source.ovs.vsctl('--if-exists del-port br-int %s' % device)
    finally:
        vm_ns.close()
        dst_ns.close()
    _replace_in_mininet(vm, old, new_name, ip, dest, device)


def _carry_arp_cache(vm, old, new):
    """A migrating guest keeps its ARP and neighbour caches (to it, its NIC
    stays the same); the emulation's second vNIC starts with empty ones: copy
    them over."""
    shown = vm.cmd('ip -4 neigh show dev %s; ip -6 neigh show dev %s' % (old, old))
    entries = [line.split() for line in shown.splitlines()]
    vm.cmd('; '.join('ip neigh replace %s lladdr %s dev %s nud stale' % (e[0], e[2], new)
                     for e in entries if len(e) > 2 and e[1] == 'lladdr') or 'true')


def _replace_in_mininet(vm, old, new_name, ip, dest, device):
    """Mininet's bookkeeping: the VM's vNIC is now ``new_name`` <-> ``device``."""
    old_tap = old.link.intf2 if old.link.intf1 is old else old.link.intf1
    for node, intf in ((vm, old), (old_tap.node, old_tap)):
        node.intfs.pop(node.ports.pop(intf))
        node.nameToIntf.pop(intf.name)
    keep = dict(up=False, moveIntfFn=lambda *a, **k: True)   # configured already
    new = Intf(new_name, node=vm, **keep)
    new.ip, new.prefixLen, new.mac = ip, 16, old.mac
    tap = Intf(device, node=dest, **keep)
    new.link = tap.link = old.link
    old.link.intf1, old.link.intf2 = new, tap
