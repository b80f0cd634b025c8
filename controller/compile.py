"""The flows of one switch: the union of what the loaded features compile.

Pure: ``(inventory, host, features) -> [Flow]``. Every declared table gets its
table-miss (owner ``base``), the core its own flows (vNICs, delivery, the
dispatch to each network kind's table and each feature's fixed port), and each
loaded feature its flows. Features not loaded add nothing, not even a cookie.
"""
from controller import pipeline as P
from controller.features import firewall, switching, vlan, vxlan
from controller.flows import flow, goto, reuse

ALL = (vlan.FEATURE, vxlan.FEATURE, firewall.FEATURE)


def table_misses(switch):
    return reuse('base', ('misses', switch), lambda: [
        flow('base', t.number, P.MISS, actions=[goto(t.miss)] if t.miss is not None else [])
        for t in P.tables(switch)])


def compile_host(inv, host, features=ALL):
    if host.role == 'tor':
        flows = list(table_misses('tor')) + switching.compile_tor(inv, host)
        for feature in features:
            if feature.compile_tor:
                flows += feature.compile_tor(inv, host)
        return flows
    kinds = {k: t for f in features for k, t in f.kinds.items()}
    ports = {p: t for f in features for p, t in f.ports.items()}
    flows = list(table_misses('hypervisor')) + switching.compile_hypervisor(inv, host, kinds,
                                                                             ports)
    for feature in features:
        flows += feature.compile(inv, host)
    return flows
