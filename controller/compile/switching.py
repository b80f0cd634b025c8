"""The core's own flows on every switch, whatever features are loaded.

On a hypervisor: each bound vNIC is classified into its network (reg5) and is
where frames to its MAC are delivered (reg7, then the output table, through the
ingress ACL table when a firewall is loaded); a frame for any other MAC goes to
the L2 table of its network's kind (VLAN, VXLAN), and traffic from a feature's
fixed port (the tunnel, the uplink) to that feature's first table. On a ToR:
untagged frames are the underlay (VTEP to VTEP): NORMAL, never across racks.

A vNIC migrating here (planned) is classified and can be delivered to at its
reserved port number before it arrives; frames reach it there only through the
kind's "arriving" flows.
"""
from controller.compile import pipeline as P
from controller.compile.flows import flow, goto, output, resubmit, reuse, set_field
from controller.state.inventory import placed
from controller.state.model import port_macs

BROADCAST = ('01:00:00:00:00:00', '01:00:00:00:00:00')


def table_misses(switch):
    """Every declared table's table-miss (owner ``base``): what exists whatever
    features are loaded."""
    declared = tuple((t.number, t.miss) for t in P.tables(switch))
    return reuse('base', ('misses', switch, declared), lambda: [
        flow('base', number, P.MISS, actions=[goto(miss)] if miss is not None else [])
        for number, miss in declared])


def pieces(inv, host, want, kinds, ports):
    """The core's pieces of a hypervisor (see :mod:`controller.compile.pieces`): the
    table-misses and each feature's fixed port (``('base'|'core', 'host')``),
    each vNIC bound or arriving here (``('core', 'port', id)``) and each
    network here (``('core', 'net', id)``: the dispatch to its kind's table).
    ``kinds``: network kind -> its L2 table; ``ports``: fixed ofport -> the
    table that takes its traffic (from the loaded features)."""
    out = {}
    if want.all:
        entry = tuple(sorted(ports.items()))
        out[('base', 'host')] = table_misses('hypervisor')
        out[('core', 'host')] = reuse('core', ('feature-ports', entry), lambda: [
            flow('core', P.CLASSIFY, P.priority(P.CLASSIFY, 'feature_port'),
                 {'in_port': ofport}, [goto(table)]) for ofport, table in entry])
    for port, arriving in here(inv, host, want):
        network = inv.networks[port.network_id]
        if network.kind in kinds:
            flows = _vnic(network, port)
            out[('core', 'port', port.id)] = tuple(
                f for f in flows if f.table != P.L2_LOOKUP) if arriving else flows
    for network_id in inv.networks_on(host.name):
        network = inv.networks[network_id]
        if network.kind in kinds and want.network_flows(network_id):
            out[('core', 'net', network.id)] = reuse(
                'core', ('to-kind', network.nid, kinds[network.kind]), lambda: [flow(
                    'core', P.L2_LOOKUP, P.priority(P.L2_LOOKUP, 'network'),
                    {P.REG_NETWORK: network.nid}, [goto(kinds[network.kind])])])
    return out


def here(inv, host, want):
    """[(port, arriving?)] of the wanted vNICs bound on, or arriving at, the host."""
    local = [(p, False) for p in inv.local_ports(host.name)]
    arriving = [(p, True) for p in inv.arriving_ports(host.name)]
    return [(p, a) for p, a in local + arriving if want.port(p.id)]


def deliver(ofport):
    """Actions that hand a frame to the local vNIC at ``ofport`` (its ingress
    rules first): reg7, then the ingress ACL table, which goes on to output."""
    return [set_field(P.REG_OUT_PORT, ofport)]


def _vnic(network, port):
    """Its classification, delivery to each MAC it sends from (its own, its
    address pairs'), its output."""
    macs = tuple(port_macs(port))
    return reuse('core', ('vnic', network.nid, port.ofport, macs), lambda: [
        flow('core', P.CLASSIFY, P.priority(P.CLASSIFY, 'vnic'), {'in_port': port.ofport},
             [set_field(P.REG_NETWORK, network.nid), goto(P.PORT_SECURITY)])] + [
        flow('core', P.L2_LOOKUP, P.priority(P.L2_LOOKUP, 'local_mac'),
             {P.REG_NETWORK: network.nid, 'eth_dst': mac},
             deliver(port.ofport) + [goto(P.INGRESS_ACL)]) for mac in macs] + [
        flow('core', P.OUTPUT, P.priority(P.OUTPUT, 'vnic'), {P.REG_OUT_PORT: port.ofport},
             [output(port.ofport)]),
    ])


def local_copies(inv, host, network):
    """Actions copying a flooded frame to every local vNIC of the network (each
    through its ingress rules): what a kind's flood flow starts with."""
    out = []
    for port in inv.local_ports(host.name):
        if port.network_id == network.id:
            out += deliver(port.ofport) + [resubmit(P.INGRESS_ACL)]
    return out


def remote_ports(inv, host, network):
    """[(mac, VTEP addresses)] of the network's ports bound on other hypervisors:
    the entries ``host`` needs. A port in a planned migration on VXLAN is sent
    to both its source and its destination VTEP (as OVN does for a port bound to
    two chassis): when it appears at the destination, no other host needs an
    update before its traffic flows there; the destination itself keeps sending
    to the source until then. Computed once per snapshot and network."""
    return [(mac, vteps) for _, macs, vteps in remote_entries(inv, host, network)
            for mac in macs]


def remote_entries(inv, host, network, port_ids=None):
    """[(port id, its MACs, VTEP addresses)]: :func:`remote_ports` by the port
    the entries are about (only those of ``port_ids`` if given)."""
    entries = remote_by_port(inv, network)
    ids = entries if port_ids is None else [i for i in port_ids if i in entries]
    return [(i, macs, to_source if host.name == arriving else both)
            for i in ids for where, arriving, macs, both, to_source in (entries[i],)
            if where != host.name]


def remote_by_port(inv, network):
    """{port id: (its host, the host it arrives at, its MACs (its own, its
    address pairs'), both VTEPs, source VTEP)} of the network's bound ports,
    once per state and network."""
    return inv.memo(('remote-ports', network.id), lambda: _remote_ports(inv, network))


def _remote_ports(inv, network):
    out = {}
    for port in inv.bound_ports(network.id):
        source = (inv.hosts[port.bound_host].vtep_ip,)
        arriving = inv.arriving_host(port) if network.kind == 'vxlan' else ''
        both = source + (inv.hosts[arriving].vtep_ip,) if arriving else source
        out[port.id] = (port.bound_host, arriving, tuple(port_macs(port)), both, source)
    return out


def tor_pieces(inv, tor, want):
    """The core's pieces of a ToR: its table-misses and its underlay (what
    depends on its uplinks alone: compiled only when the ToR is compiled whole)."""
    if not want.all:
        return {}
    trunks = sorted(p for n, p in tor.uplinks.items() if n.startswith('rack:'))
    return {('base', 'host'): table_misses('tor'),
            ('core', 'host'): reuse('core', ('tor-underlay', tuple(trunks)), lambda: [
                flow('core', P.TOR_CLASSIFY, P.priority(P.TOR_CLASSIFY, 'underlay', 'tor'),
                     {'vlan_vid': 0}, [output('normal')])] + [
                flow('core', P.TOR_CLASSIFY, P.priority(P.TOR_CLASSIFY, 'trunk_underlay',
                                                        'tor'),
                     {'in_port': port, 'vlan_vid': 0}) for port in trunks])}


# ---- change rules (see controller.compile.dirty) ---------------------------------------
def _port_changed(inv, change, marks):
    """A port bound, moved, changed or deleted: its own pieces (every feature's
    ``('port', id)``) and its networks' on the hosts it is or was on."""
    _, _, old, new = change
    records = [r for r in (old, new) if r is not None]
    networks = {r.network_id for r in records}
    for name in set().union(*map(placed, records)):
        marks.add(name, ('port', records[0].id))
        for network_id in networks:
            marks.add(name, ('net', network_id))


def _network_changed(inv, change, marks):
    """A network changed: the hosts of its ports, whole, and the ToRs."""
    for port in inv.network_ports_any(change[1]):
        for name in placed(port):
            marks.add(name, None)
    marks.add_tors(None)


def _host_changed(inv, change, marks):
    """A host joined, changed or left: that host whole, the ToRs (their
    uplinks), and each port naming it as if it changed (its entries elsewhere)."""
    for record in change[2:]:
        if record is not None:
            marks.add(record.name, None)
            for port in inv.ports_named_by(record.name):
                marks.change(inv, ('port', port.id, port, port))
    marks.add_tors(None)


def _subnet_changed(inv, change, out):
    """No flow depends on a subnet (/v2.0's address ranges: ports carry their addresses)."""


CHANGES = {'port': _port_changed, 'network': _network_changed, 'host': _host_changed,
           'subnet': _subnet_changed}
