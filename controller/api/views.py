"""Derived, read-only views of the state for users (REST and CLI), computed by
the same compiler code that programs the switches."""
import re

from controller.compile import switching
from controller.state.model import to_dict


def _device_order(port):
    """tapvm2 before tapvm10: names compared with their numbers as numbers."""
    return [int(part) if part.isdigit() else part for part in re.split(r'(\d+)', port.device)]


def host_view(inv, host):
    from controller.features.vlan import allowed_vlans    # the VLAN app's view, when asked
    out = to_dict(host)
    if host.role == 'hypervisor':
        out['vlans'] = inv.vlans_on(host.name)
        out['ports'] = [{'id': p.id, 'device': p.device, 'ofport': p.ofport,
                         'network': inv.networks[p.network_id].name,
                         'kind': inv.networks[p.network_id].kind,
                         'segmentation_id': inv.networks[p.network_id].segmentation_id,
                         'vlan': inv.networks[p.network_id].segmentation_id
                         if inv.networks[p.network_id].kind == 'vlan' else None}
                        for p in sorted(inv.local_ports(host.name), key=_device_order)]
        tor_sw = next((t for t in inv.tors() if 'hv:' + host.name in t.uplinks), None)
        if tor_sw:
            port = tor_sw.uplinks['hv:' + host.name]
            out['tor'] = {'name': tor_sw.name, 'port': port,
                          'allowed_vlans': allowed_vlans(inv, tor_sw).get(port, [])}
    else:
        allowed = allowed_vlans(inv, host)
        out['allowed_vlans'] = {name: allowed.get(port, [])
                                for name, port in sorted(host.uplinks.items())}
    return out


def mappings(inv, network):
    """Per hypervisor holding the network: {mac: vtep_ip} of the remote ports, the
    same entries the VXLAN and VLAN features install ('source, destination'
    while a planned migration sends to both)."""
    out = {}
    for host_name in inv.hosts_of_network(network.id):
        host = inv.hosts[host_name]
        out[host_name] = {mac: ', '.join(vteps) for mac, vteps in
                          switching.remote_ports(inv, host, network)}
    return out


def safe_host_view(inv, host):
    """The host's view, or its record and why the view failed: one odd record
    never makes the whole list fail."""
    if host.name in inv.unusable:
        return dict(to_dict(host), error='cannot be used: ' + inv.unusable[host.name])
    try:
        return host_view(inv, host)
    except Exception as e:                     # noqa: BLE001 - reported in the answer
        return dict(to_dict(host), error='cannot be shown: %s: %s' % (type(e).__name__, e))
