"""A switch's flows as pieces, so that a change recompiles only what it touches.

A piece is the flows of one feature about one thing on one switch, keyed
``(owner, what, subject...)``:

    (owner, 'host')              what depends on the host alone (table-misses...)
    (owner, 'port', port id)     a vNIC's own flows (bound or arriving here)
    (owner, 'net', network id)   a network's flows on the host (floods, dispatch)
    (owner, 'remote', net, port) the entry for a port of the network bound elsewhere
    (owner, 'arp', network id)   the network's ARP responder
    (owner, what, subject)       a feature's own kind of piece (the firewall's
                                 ('firewall', 'clause1', address): its remote-group
                                 clause for one address)

A change names *scopes* per host (:mod:`controller.compile.dirty`): ``('port', id)``,
``('net', id)`` (every piece about the network), ``('remote', net, port)`` (that
entry and the network's own flows), ``('arp', net)``, and of a feature's own
kind ``(what, subject)`` or ``(what,)``, every piece of that kind (the
firewall's ``('clause1', address)``, ``('clause1',)``); ``None`` is the whole
host. Compiling a host's scopes
returns every piece in them; a piece in a scope that no longer exists comes
back empty. A feature compiles its flows only in pieces: a host's whole compile
(:func:`controller.compile.host.compile_host`) is the union of all its pieces, so the
incremental and the full compile are one code (the property test holds the
pieces a change marks to that union).
"""
from controller.compile import switching


class Want:
    """The scopes to compile on one host, asked the way compilers need: the
    shared vocabulary (a port, a network, one remote entry, a network's
    addresses) and each feature's own kinds of piece (``(what, subject)``, or
    ``(what,)`` for every piece of that kind), which only its feature reads."""

    def __init__(self, scopes=None):
        self.all = scopes is None
        self.ports, self.nets, self.arps = set(), set(), set()
        self.remote = {}            # network id -> port ids
        self.own = {}               # a feature's kind of piece -> subjects (None: all)
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
            elif len(scope) == 1:
                self.own[kind] = None
            elif self.own.setdefault(kind, set()) is not None:
                self.own[kind].add(scope[1] if len(scope) == 2 else scope[1:])

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

    def subjects(self, what):
        """The subjects of a feature's own pieces ``(owner, what, subject)`` to
        compile: None (every one), or a set (maybe empty)."""
        return None if self.all else self.own.get(what, frozenset())


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
    if what == 'host':
        return ()               # compiled whole only
    return ((what,), (what,) + key[2:])     # a feature's own: all of its kind, or this one


def scope_buckets(scope):
    if scope[0] == 'remote':
        return (scope, ('net-flows', scope[1]))
    return (scope,)


def compile_pieces(inv, host, features, scopes=None):
    """{piece key: flows} of ``host`` for ``scopes`` (None: all of them): the
    core's pieces and each loaded feature's."""
    want = Want(scopes)
    if host.role == 'tor':
        out = switching.tor_pieces(inv, host, want)
        for feature in features:
            if feature.tor_pieces is not None:
                out.update(feature.tor_pieces(inv, host, want))
        return out
    kinds = {k: t for f in features for k, t in f.kinds.items()}
    ports = {p: t for f in features for p, t in f.ports.items()}
    out = switching.pieces(inv, host, want, kinds, ports)
    for feature in features:
        out.update(feature.pieces(inv, host, want))
    return out
