"""A switch's flows as pieces, so that a change recompiles only what it touches.

A piece is the flows of one feature about one thing on one switch, keyed
``(owner, what, subject...)``:

    (owner, 'host')              what depends on the host alone (table-misses...)
    (owner, 'port', port id)     a vNIC's own flows (bound or arriving here)
    (owner, 'net', network id)   a network's flows on the host (floods, dispatch)
    (owner, 'remote', net, port) the entry for a port of the network bound elsewhere
    (owner, 'arp', network id)   the network's ARP responder
    (owner, 'clause1', address)  the firewall's remote-group clause for one address
    (owner, 'all')               a feature compiling no pieces: all its flows

A change names *scopes* per host (:mod:`controller.dirty`): ``('port', id)``,
``('net', id)`` (every piece about the network), ``('remote', net, port)`` (that
entry and the network's own flows), ``('arp', net)``, ``('clause1', address)``,
``('clause1-all',)``; ``None`` is the whole host. Compiling a host's scopes
returns every piece in them; a piece in a scope that no longer exists comes
back empty. The union of a host's pieces is :func:`controller.compile.compile_host`
(the property test holds them to it).
"""
from controller import pipeline as P
from controller.compile import table_misses
from controller.features import switching
from controller.flows import flow, goto, reuse


class Want:
    """The scopes to compile on one host, asked the way compilers need."""

    def __init__(self, scopes=None):
        self.all = scopes is None
        self.ports, self.nets, self.arps, self.ips = set(), set(), set(), set()
        self.remote = {}            # network id -> port ids
        self.clause1_all = self.all
        for scope in scopes or ():
            kind = scope[0]
            if kind == 'port':
                self.ports.add(scope[1])
            elif kind == 'net':
                self.nets.add(scope[1])
            elif kind == 'remote':
                self.remote.setdefault(scope[1], set()).add(scope[2])
            elif kind == 'arp':
                self.arps.add(scope[1])
            elif kind == 'clause1':
                self.ips.add(scope[1])
            elif kind == 'clause1-all':
                self.clause1_all = True
            else:
                raise ValueError('unknown scope %r' % (scope,))

    def port(self, port_id):
        return self.all or port_id in self.ports

    def network(self, network_id):
        """Every piece about the network."""
        return self.all or network_id in self.nets

    def network_flows(self, network_id):
        return self.network(network_id) or network_id in self.remote

    def remote_ports(self, network_id):
        """The port ids whose remote entries to compile; None: all of them."""
        return None if self.network(network_id) else self.remote.get(network_id, ())

    def arp(self, network_id):
        return self.network(network_id) or network_id in self.arps

    def clause1(self, address):
        return self.clause1_all or address in self.ips


def buckets(key):
    """The scopes a piece is found by (see :meth:`DesiredFlows.keys_in`)."""
    what = key[1]
    if what == 'port':
        return (('port', key[2]),)
    if what == 'net':
        return (('net', key[2]), ('net-flows', key[2]))
    if what == 'remote':
        return (('net', key[2]), ('remote', key[2], key[3]))
    if what == 'arp':
        return (('net', key[2]), ('arp', key[2]))
    if what == 'clause1':
        return (('clause1-all',), ('clause1', key[2]))
    return (('opaque',),) if what == 'all' else ()


def scope_buckets(scope):
    if scope[0] == 'remote':
        return (scope, ('net-flows', scope[1]))
    return (scope,)


def compile_pieces(inv, host, features, scopes=None):
    """{piece key: flows} of ``host`` for ``scopes`` (None: all of them)."""
    want = Want(scopes)
    if host.role == 'tor':
        return tor_pieces(inv, host, features, want)
    kinds = {k: t for f in features for k, t in f.kinds.items()}
    ports = {p: t for f in features for p, t in f.ports.items()}
    out = core_pieces(inv, host, want, kinds, ports)
    for feature in features:
        if feature.pieces is not None:
            out.update(feature.pieces(inv, host, want))
        else:               # a feature without pieces: all of it, whatever the scope
            out[(feature.name, 'all')] = tuple(feature.compile(inv, host))
    return out


def tor_pieces(inv, tor, features, want):
    """The pieces of a ToR: what depends on its uplinks alone (compiled whole
    only), and each feature's (by network where it says so)."""
    out = {}
    if want.all:
        out[('base', 'host')] = table_misses('tor')
        out[('core', 'host')] = tuple(switching.compile_tor(inv, tor))
    for feature in features:
        if feature.tor_pieces is not None:
            out.update(feature.tor_pieces(inv, tor, want))
        elif feature.compile_tor:       # in no pieces: all of it, whatever the scope
            out[(feature.name, 'all')] = tuple(feature.compile_tor(inv, tor))
    return out


def core_pieces(inv, host, want, kinds, ports):
    """The pieces of :func:`controller.features.switching.compile_hypervisor`."""
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
            flows = switching._vnic(network, port)
            out[('core', 'port', port.id)] = tuple(
                f for f in flows if f.table != P.L2_LOOKUP) if arriving else flows
    for network in networks_here(inv, host, want.network_flows):
        if network.kind in kinds:
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


def networks_here(inv, host, wanted, kind=None):
    """The networks on the host (of ``kind``) for which ``wanted(id)``."""
    return [inv.networks[n] for n in inv.networks_on(host.name, kind) if wanted(n)]
