"""One step of a trace in vnetsec's words: what the flow a table picked means
(which vNIC, network, VTEP, security group rule), from the table's declaration
(:mod:`controller.compile.pipeline`) and the inventory.

The words of a table belong to the feature owning it (``Feature.words``:
table name -> explain function); the core's own tables are explained here.
An explain function ``(words, host, priority name, flow, packet)`` answers a
sentence, or None for the plain "on to the next table" / "dropped".
"""
from controller.compile import pipeline as P


def priority_name(table, priority):
    if priority == P.MISS:
        return 'miss'
    names = {v: k for k, v in P.table(table).priorities.items()}
    return names.get(priority, str(priority))


class Words:
    """Explains steps against one inventory snapshot, in the words of the
    core and of the loaded ``features``."""

    def __init__(self, inv, features=()):
        self.inv = inv
        self._explain = dict(CORE_WORDS)
        for feature in features:
            self._explain.update(feature.words)
        self._memo = {}

    def memo(self, key, build):
        """What a feature's words compute once per snapshot (the firewall's
        rules by mark)."""
        if key not in self._memo:
            self._memo[key] = build()
        return self._memo[key]

    def port_at(self, host, ofport):
        return next((p for p in self.inv.ports.values()
                     if (p.bound_host, p.ofport) == (host, ofport)
                     or (p.migrating_to, p.migrating_ofport) == (host, ofport)), None)

    def network(self, nid):
        return next((n for n in self.inv.networks.values() if n.nid == nid), None)

    def vm(self, port):
        return port.name if port is not None else 'an unknown vNIC'

    def sender(self, host, packet):
        """The name of the vNIC a packet came in from."""
        return self.vm(self.port_at(host, packet.get('in_port')))

    def net(self, packet):
        """The packet's network (reg5), in words."""
        net = self.network(packet.get(P.REG_NETWORK, 0))
        return '%s (%s %d)' % (net.name, net.kind, net.segmentation_id) if net else '?'

    def says(self, host, table, flow, packet):
        """What the flow ``flow`` of ``table`` on ``host`` does to ``packet``."""
        if flow is None:
            return 'dropped: no flow matches'
        name = priority_name(table, flow.priority)
        explain = self._explain.get(P.table(table).name)
        text = explain(self, host, name, flow, packet) if explain else None
        if text:
            return text
        if not flow.actions:
            return 'dropped (%s)' % name
        goto = next((a[1] for a in flow.actions if a[0] == 'goto'), None)
        return 'on to %s' % P.table(goto).name if goto is not None else 'on (%s)' % name


def _classify(words, host, name, flow, packet):
    if name == 'vnic':
        port = words.port_at(host, packet['in_port'])
        net = words.inv.networks.get(port.network_id) if port else None
        return 'from %s, into network %s' % (words.vm(port), net.name if net else '?')
    if name == 'feature_port':
        return {P.TUNNEL_OFPORT: 'from the VXLAN tunnel',
                P.UPLINK_OFPORT: 'from the VLAN uplink'}.get(packet['in_port'])
    return 'dropped: not from a known vNIC or the tunnel/uplink'


def _l2_lookup(words, host, name, flow, packet):
    if name == 'local_mac':
        port = words.port_at(host, dict(flow_regs(flow)).get(P.REG_OUT_PORT))
        return '%s is %s on %s' % (packet['eth_dst'], words.vm(port), host)
    if name == 'network':
        return '%s is not on %s: network %s' % (packet['eth_dst'], host, words.net(packet))
    return 'dropped: no network'


def _output(words, host, name, flow, packet):
    if name == 'vnic':
        return 'delivered to %s' % words.vm(words.port_at(host, packet[P.REG_OUT_PORT]))
    return 'dropped: no such vNIC here'


CORE_WORDS = {'classify': _classify, 'l2_lookup': _l2_lookup, 'output': _output}


def flow_regs(flow):
    """The registers a flow sets ((name, value) pairs)."""
    return [(a[1], a[2]) for a in flow.actions
            if a[0] == 'set_field' and a[1].startswith('reg')]
