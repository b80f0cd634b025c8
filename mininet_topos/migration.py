"""VM migration in the emulated data center: the testbed moves a VM's vNIC (the
hypervisor end of its veth, named after the port's device) into the destination
hypervisor's namespace with pyroute2 and plugs it there, as a hypervisor would
after copying the VM's memory.

- plain: the vNIC leaves the source, then is plugged on the destination; the
  controller notices it there and rebinds it (this is also what an unplanned
  move looks like);
- live: first ``POST /v1/ports/{id}/migrate {"host", "live": true}``; the
  controller programs the destination for the vNIC at the port number it returns
  (rules enforced, no traffic yet) and the testbed pre-creates that OVS port, so
  the switch-over is just the vNIC arriving.
"""
import time

from pyroute2 import NetNS


def _netns(node):
    return NetNS('/proc/%d/ns/net' % node.pid, flags=0)


def migrate(dc, vm_name, dest_name, live=False, announce=True):
    """Move ``vm_name``'s vNIC to hypervisor ``dest_name``. Returns timestamps:
    {'start', 'appeared' (plugged on the destination), 'done'}."""
    vm, dest = dc.node(vm_name), dc.node(dest_name)
    tap = vm.defaultIntf().link
    tap = tap.intf2 if tap.intf1.node is vm else tap.intf1
    source, device = tap.node, tap.name
    if source is dest:
        raise ValueError('%s already runs on %s' % (vm_name, dest_name))
    port = next(p for p in dc.client.get('/v1/ports') if p['device'] == device)
    src_ns, dst_ns = _netns(source), _netns(dest)        # opened before the clock starts
    try:
        index = src_ns.link_lookup(ifname=device)[0]
        marks = {'start': time.time()}
        if live:
            port = dc.client.post('/v1/ports/%s/migrate' % port['id'],
                                  {'host': dest_name, 'live': True})
            dc.wait_ready()
            dest.ovs.vsctl('add-port br-int %s -- set interface %s ofport_request=%d'
                           % (device, device, port['migrating_ofport']))
        marks['moving'] = time.time()
        src_ns.link('set', index=index, net_ns_pid=dest.pid)
        dst_ns.link('set', index=dst_ns.link_lookup(ifname=device)[0], state='up')
        if not live:
            dest.ovs.vsctl('--may-exist add-port br-int %s' % device)
        marks['appeared'] = time.time()
        source.ovs.vsctl('--if-exists del-port br-int %s' % device)
    finally:
        src_ns.close()
        dst_ns.close()
    _move_in_mininet(tap, source, dest)
    if announce:      # the VM announces itself from its new place (gratuitous ARP)
        vm.cmd('arping -q -U -c1 -I %s %s' % (vm.defaultIntf(), vm.IP()))
    marks['done'] = time.time()
    return marks


def _move_in_mininet(intf, source, dest):
    """Keep Mininet's bookkeeping true: the interface now belongs to ``dest``."""
    port = source.ports.pop(intf)
    source.intfs.pop(port)
    source.nameToIntf.pop(intf.name)
    intf.node = dest
    dest.addIntf(intf, port=dest.newPort(), moveIntfFn=lambda *a, **k: True)
