"""One step of a trace in vnetsec's words: what the flow a table picked means
(which vNIC, network, VTEP, security group rule), from the table's declaration
(:mod:`controller.pipeline`) and the inventory."""
from controller import pipeline as P
from controller import protocols
from controller.features.firewall import rule_mark
from controller.protocols import rule_words



def priority_name(table, priority):
    if priority == P.MISS:
        return 'miss'
    names = {v: k for k, v in P.table(table).priorities.items()}
    return names.get(priority, str(priority))


class Words:
    """Explains steps against one inventory snapshot."""

    def __init__(self, inv):
        self.inv = inv
        self.rules = {}                 # mark -> (group, rule)
        self.group_names = {g.id: g.name for g in inv.groups.values()}
        for g in inv.groups.values():
            for r in g.rules:
                self.rules[rule_mark(r)] = (g, r)

    def port_at(self, host, ofport):
        return next((p for p in self.inv.ports.values()
                     if (p.bound_host, p.ofport) == (host, ofport)
                     or (p.migrating_to, p.migrating_ofport) == (host, ofport)), None)

    def network(self, nid):
        return next((n for n in self.inv.networks.values() if n.nid == nid), None)

    def rule(self, mark):
        """{'group', 'rule', 'text'} of the rule with that mark, or None."""
        found = self.rules.get(mark)
        if found is None:
            return None
        group, rule = found
        return {'group': group.name, 'rule': rule['id'],
                'text': rule_words(rule, self.group_names)}

    def vm(self, port):
        return port.name if port is not None else 'an unknown vNIC'

    def says(self, host, table, flow, packet):
        """What the flow ``flow`` of ``table`` on ``host`` does to ``packet``."""
        if flow is None:
            return 'dropped: no flow matches'
        name = priority_name(table, flow.priority)
        explain = getattr(self, '_' + P.table(table).name, None)
        text = explain(host, name, flow, packet) if explain else None
        if text:
            return text
        if not flow.actions:
            return 'dropped (%s)' % name
        goto = next((a[1] for a in flow.actions if a[0] == 'goto'), None)
        return 'on to %s' % P.table(goto).name if goto is not None else 'on (%s)' % name

    def _ports(self, host, packet):
        return self.vm(self.port_at(host, packet.get('in_port')))

    def _net(self, packet):
        net = self.network(packet.get(P.REG_NETWORK, 0))
        return '%s (%s %d)' % (net.name, net.kind, net.segmentation_id) if net else '?'

    def _classify(self, host, name, flow, packet):
        if name == 'vnic':
            port = self.port_at(host, packet['in_port'])
            net = self.inv.networks.get(port.network_id) if port else None
            return 'from %s, into network %s' % (self.vm(port), net.name if net else '?')
        if name == 'feature_port':
            return {P.TUNNEL_OFPORT: 'from the VXLAN tunnel',
                    P.UPLINK_OFPORT: 'from the VLAN uplink'}.get(packet['in_port'])
        return 'dropped: not from a known vNIC or the tunnel/uplink'

    def _vxlan_in(self, host, name, flow, packet):
        if name == 'miss':
            return 'dropped: VNI %s is not a network here' % packet.get('tunnel_id')
        return 'VNI %d -> network %s' % (packet['tunnel_id'],
                                         self._net(dict(flow_regs(flow))))

    def _vlan_in(self, host, name, flow, packet):
        if name == 'miss':
            return 'dropped: VLAN %d is not a network here' % (packet['vlan_vid'] & 0xfff)
        return 'VLAN %d -> network %s' % (packet['vlan_vid'] & 0xfff,
                                          self._net(dict(flow_regs(flow))))

    def _port_security(self, host, name, flow, packet):
        who = self._ports(host, packet)
        if name == 'own_address':
            return "anti-spoofing: the source addresses are %s's own" % who
        if name == 'spoofed':
            return "dropped by anti-spoofing: %s may send only from its own MAC and IPs" % who
        return None

    def _acl(self, host, name, flow, packet, direction):
        port = (self.port_at(host, packet.get('in_port')) if direction == 'egress'
                else self.port_at(host, packet.get(P.REG_OUT_PORT)))
        who = "%s's %s" % (self.vm(port), direction)
        mark = next((a[4] for a in flow.actions if a[0] == 'ct' and a[1]), None)
        if mark is not None:
            rule = self.rule(mark) or {'group': '?', 'rule': '?', 'text': '?'}
            return '%s: new connection allowed by rule %s of group %s (%s)' % (
                who, rule['rule'], rule['group'], rule['text'])
        if name == 'established':
            rule = self.rule(dict(flow.match).get('ct_mark')) or {'rule': '?', 'group': '?'}
            return '%s: established connection of rule %s (group %s) passes' % (
                who, rule['rule'], rule['group'])
        if name == 'track':
            return '%s: connection tracking (zone %d)' % (who, dict(flow.match).get(
                'in_port', packet.get(P.REG_OUT_PORT)))
        if name == 'arp':
            return '%s: ARP passes' % who
        if name == 'invalid':
            return '%s: dropped: invalid connection state' % who
        if name == 'deny_other':
            return '%s: dropped: neither IPv4 nor ARP' % who
        if name == 'deny_ip':
            return '%s: dropped: %s' % (who, self.why_denied(port, direction, packet))
        if name == 'miss':
            return '%s: no firewall on this vNIC (port security off)' % who
        return None

    def _egress_acl(self, host, name, flow, packet):
        return self._acl(host, name, flow, packet, 'egress')

    def _ingress_acl(self, host, name, flow, packet):
        return self._acl(host, name, flow, packet, 'ingress')

    def why_denied(self, port, direction, packet):
        groups = self.inv.groups_of(port) if port is not None else []
        proto = packet.get('ip_proto')
        what = {6: 'tcp', 17: 'udp', 132: 'sctp', 1: 'icmp'}.get(proto, 'protocol %s' % proto)
        dst = packet.get(protocols.PORT_FIELDS.get(proto, ''), None)
        what += '/%d' % dst if dst is not None else ''
        peer = packet['ipv4_dst'] if direction == 'egress' else packet['ipv4_src']
        text = 'no rule of groups [%s] allows %s %s %s' % (
            ', '.join(g.name for g in groups), what,
            'to' if direction == 'egress' else 'from', peer)
        others = ['rule %s allows %s' % (r['id'], rule_words(r, self.group_names))
                  for g in groups for r in g.rules if r['direction'] == direction]
        return text + ('; ' + '; '.join(others) if others else '')

    def _arp_responder(self, host, name, flow, packet):
        if name == 'known_address':
            mac = next(a[2] for a in flow.actions if a[:2] == ('set_field', 'eth_src'))
            return 'ARP for %s answered on %s: %s' % (packet.get('arp_tpa'), host, mac)
        if name == 'unknown_address':
            return 'dropped: no port of network %s has %s (ARP is answered locally)' % (
                self._net(packet), packet.get('arp_tpa'))
        return None

    def _l2_lookup(self, host, name, flow, packet):
        if name == 'local_mac':
            port = self.port_at(host, dict(flow_regs(flow)).get(P.REG_OUT_PORT))
            return '%s is %s on %s' % (packet['eth_dst'], self.vm(port), host)
        if name == 'network':
            return '%s is not on %s: network %s' % (packet['eth_dst'], host,
                                                    self._net(packet))
        return 'dropped: no network'

    def _remote(self, flow, packet):
        vteps = [a[2] for a in flow.actions if a[:2] == ('set_field', 'tun_ipv4_dst')]
        vni = next((a[2] for a in flow.actions if a[:2] == ('set_field', 'tunnel_id')), None)
        hosts = [h.name for h in self.inv.hosts.values() if h.vtep_ip in vteps]
        return vteps, vni, hosts

    def _vxlan_l2(self, host, name, flow, packet):
        vteps, vni, hosts = self._remote(flow, packet)
        if name == 'remote_mac':
            return '%s -> VXLAN %s to %s (VTEP %s)' % (packet['eth_dst'], vni,
                                                      ', '.join(hosts), ', '.join(vteps))
        if name == 'flood':
            return 'broadcast: to the local vNICs of %s%s' % (
                self._net(packet), ' and VXLAN %s to %s' % (vni, ', '.join(hosts))
                if hosts else '')
        if name == 'arriving':
            return '%s is arriving here (planned migration)' % packet['eth_dst']
        return 'dropped: %s is unknown in network %s' % (packet['eth_dst'], self._net(packet))

    def _vlan_l2(self, host, name, flow, packet):
        vid = next((a[2] & 0xfff for a in flow.actions if a[:2] == ('set_field', 'vlan_vid')),
                   None)
        if name == 'unicast' and vid:
            return '%s is not on %s -> the uplink, VLAN %s (the ToR forwards it)' % (
                packet['eth_dst'], host, vid)
        if name == 'unicast':
            return 'dropped: %s is not on %s and network %s has no port elsewhere' % (
                packet['eth_dst'], host, self._net(packet))
        if name == 'flood':
            return 'broadcast: to the local vNICs of %s%s' % (
                self._net(packet), ' and the uplink, VLAN %s' % vid if vid else '')
        return 'dropped: %s is unknown in network %s' % (packet['eth_dst'], self._net(packet))

    def _output(self, host, name, flow, packet):
        if name == 'vnic':
            return 'delivered to %s' % self.vm(self.port_at(host, packet[P.REG_OUT_PORT]))
        return 'dropped: no such vNIC here'


def flow_regs(flow):
    """The registers a flow sets ((name, value) pairs)."""
    return [(a[1], a[2]) for a in flow.actions
            if a[0] == 'set_field' and a[1].startswith('reg')]
