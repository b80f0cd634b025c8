"""The flows of one switch: the union of the pieces the loaded features compile.

Pure: ``(inventory, host, features) -> [Flow]``. Every declared table gets its
table-miss (owner ``base``), the core its own flows (vNICs, delivery, the
dispatch to each network kind's table and each feature's fixed port), and each
loaded feature its flows, all as pieces (:mod:`controller.compile.pieces`): a host's
whole compile is all of its pieces, so a feature has one compiler. Features not
loaded add nothing, not even a cookie.
"""
from controller.compile.pieces import Want, compile_pieces


def shipped():
    """The three features vnetsec ships, imported when first asked for (tests
    and benchmarks load them all; a controller compiles what its apps
    registered, and imports no other feature)."""
    from controller.features import firewall, vlan, vxlan
    return (vlan.FEATURE, vxlan.FEATURE, firewall.FEATURE)


def __getattr__(name):
    if name == 'ALL':                   # compile.ALL: shipped(), imported when asked
        return shipped()
    raise AttributeError(name)


def compile_host(inv, host, features=None):
    """Every flow of ``host`` (``features``: the loaded ones; None: :func:`shipped`)."""
    return union(compile_pieces(inv, host, shipped() if features is None else features)
                 .values())


def feature_flows(inv, host, feature):
    """One feature's flows on a hypervisor: the union of its pieces."""
    return union(feature.pieces(inv, host, Want()).values())


def union(pieces):
    """The flows of ``pieces``, each once (two vNICs share a rule's commit flow)."""
    out = {}
    for flows in pieces:
        for f in flows:
            out.setdefault(f.cookie, f)
    return list(out.values())
