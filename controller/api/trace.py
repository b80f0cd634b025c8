"""``POST /v1/trace``: would this packet from this VM get there, and why not?

Answered from the controller's own compiled flows, with no switch asked: the
packet is run through the source hypervisor's pipeline
(:mod:`controller.compile.pipeline_sim`), followed through the VXLAN tunnel or the VLAN
uplink to the hypervisor behind it, and each table's decision is put in
vnetsec's words (:mod:`controller.compile.explain`). ``state: established`` runs the
same packet once as new (committing what the rules allow) and answers for the
packet after it.
"""
import ipaddress

from controller import addresses
from controller import constants as C
from controller.compile import pipeline as P
from controller.api import responses
from controller.state import schemas
from controller import protocols
from controller.api.rest import route
from controller.compile.host import compile_host
from controller.compile.explain import Words, priority_name
from controller.compile.flows import to_ofctl
from controller.state.inventory import Inventory
from controller.state.model import ValidationError
from controller.compile.pipeline_sim import Conntrack, Switch, run

BROADCAST = 'ff:ff:ff:ff:ff:ff'
MAX_HOPS = 8
L4 = {'tcp': 6, 'udp': 17, 'sctp': 132}
CARRIED = ('eth_src', 'eth_dst', 'eth_type', 'ipv4_src', 'ipv4_dst', 'ip_proto', 'tcp_dst',
           'udp_dst', 'sctp_dst', 'tcp_src', 'udp_src', 'sctp_src', 'icmpv4_type',
           'icmpv4_code', 'arp_op', 'arp_spa', 'arp_tpa', 'arp_sha', 'arp_tha',
           'ipv6_src', 'ipv6_dst', 'icmpv6_type', 'icmpv6_code', 'ipv6_nd_target',
           'ipv6_nd_sll', 'ipv6_nd_tll')
ECHO = {4: ('icmpv4_type', 'icmpv4_code', C.ICMP, 8), 6: ('icmpv6_type', 'icmpv6_code',
                                                          C.ICMPV6, 128)}


def find_port(inv, ident, field_name):
    for port in inv.ports.values():
        if ident in (port.id, port.name):
            return port
    raise ValidationError(field_name, 'no port named %r' % ident, 404)


def pair_holder(inv, network_id, address):
    """The first port (by id) of the network whose allowed address pairs hold
    ``address``: where a packet to a VIP goes (the trace cannot know which
    holder answered ARP or ND for it last)."""
    ip = ipaddress.ip_address(address)
    return next((p for p in inv.network_ports(network_id) if any(
        ip in ipaddress.ip_network(pair['ip_address']) for pair in p.allowed_address_pairs)),
        None)


def _ips(port, version):
    return addresses.v4(port.ips) if version == 4 else addresses.v6(port.ips)


def build_packet(inv, request):
    """(source port, destination port or None, packet fields) of a request."""
    version = 6 if request.protocol == 'nd' or ':' in request.address + request.source_address \
        else request.ip_version
    if request.protocol == 'arp':
        version = 4
    if request.source_address and addresses.version(request.source_address) != version:
        raise ValidationError('source_address', '%s is not an IPv%d address, as the packet'
                              % (request.source_address, version), 409)
    src = find_port(inv, request.source, 'source')
    if not src.bound_host or src.bound_host not in inv.hosts:
        raise ValidationError('source', '%s is not plugged in anywhere' % src.name, 409)
    if not (request.source_address or _ips(src, version)):
        raise ValidationError('source', '%s has no IPv%d address' % (src.name, version), 409)
    dst = None
    if request.destination:
        dst = find_port(inv, request.destination, 'destination')
        if not _ips(dst, version):
            raise ValidationError('destination', '%s has no IPv%d address'
                                  % (dst.name, version), 409)
        dst_ip = _ips(dst, version)[0]
    elif request.address:
        dst_ip = addresses.canonical(request.address)
        dst = next((p for p in inv.ports.values()
                    if p.network_id == src.network_id and dst_ip in p.ips), None) \
            or pair_holder(inv, src.network_id, dst_ip)
    else:
        raise ValidationError('destination', 'name a destination VM or an address')
    source_ip = addresses.canonical(request.source_address) if request.source_address \
        else _ips(src, version)[0]
    packet = {'in_port': src.ofport, 'eth_src': src.mac}
    if request.protocol == 'arp':
        return src, dst, dict(packet, eth_dst=BROADCAST, eth_type=C.ARP, arp_op=C.ARP_REQUEST,
                              arp_spa=source_ip, arp_sha=src.mac, arp_tpa=dst_ip,
                              arp_tha='00:00:00:00:00:00')
    if request.protocol == 'nd':
        group, mac = addresses.solicited_node(dst_ip)
        return src, dst, dict(packet, eth_dst=mac, eth_type=C.IPV6, ipv6_src=source_ip,
                              ipv6_dst=group, ip_proto=C.ICMPV6, icmpv6_type=C.ND_NS,
                              icmpv6_code=0, ipv6_nd_target=dst_ip, ipv6_nd_sll=src.mac)
    if dst is None:
        raise ValidationError('address', 'no port of network %s has %s: only ARP or ND can '
                              'be traced to it' % (src.network_id, dst_ip), 404)
    if version == 6:
        packet.update(eth_dst=dst.mac, eth_type=C.IPV6, ipv6_src=source_ip, ipv6_dst=dst_ip)
    else:
        packet.update(eth_dst=dst.mac, eth_type=C.IPV4, ipv4_src=source_ip, ipv4_dst=dst_ip)
    if request.protocol == 'icmp':
        type_field, code_field, proto, echo = ECHO[version]
        return src, dst, dict(packet, ip_proto=proto, **{type_field: echo, code_field: 0})
    proto = L4.get(request.protocol) or protocols.number(request.protocol)
    packet['ip_proto'] = proto
    if proto in protocols.PORT_FIELDS:
        field = protocols.PORT_FIELDS[proto]
        if request.port is None:
            raise ValidationError('port', '%s needs a destination port' % request.protocol)
        packet[field] = request.port
        packet[field.replace('_dst', '_src')] = request.source_port
    return src, dst, packet


def trace(inv, features, request):
    """The verdict and the path, step by step (see :func:`_follow`)."""
    src, dst, packet = build_packet(inv, request)
    words = Words(inv, features)
    switches = {}
    conntrack = Conntrack()
    if request.state == 'established':     # the new packet commits what rules allow
        _follow(inv, features, words, switches, src, packet, conntrack)
        conntrack.established = True
    path = _follow(inv, features, words, switches, src, packet, conntrack)
    return _logged(inv, _verdict(request, src, dst, path), src, dst, packet)


def _logged(inv, answer, src, dst, packet):
    """A drop whose flow sends the packet to the controller is logged: the
    answer says by which logs, with the recent records of such packets
    (:func:`controller.features.log_sink.pointer`, imported late: a feature's)."""
    dropped = next((s for s in reversed(answer['steps']) if 'dropped' in s['says']), None)
    if answer['verdict'] != 'dropped' or not dropped or 'CONTROLLER' not in (
            dropped['flow'] or ''):
        return answer
    from controller.features.log_sink import pointer
    port = src if dropped['table_name'] == 'egress_acl' else dst
    port_field = protocols.PORT_FIELDS.get(packet.get('ip_proto'))
    logged = pointer(inv, port, {
        'protocol': answer['protocol'], 'src': packet.get('ipv4_src'),
        'dst': packet.get('ipv4_dst'), 'dport': packet.get(port_field)})
    if logged:
        answer['logged'] = logged
        answer['summary'] += '; logged by %s' % ', '.join(
            log['name'] or log['id'] for log in logged['logs'])
    return answer


def _follow(inv, features, words, switches, src, packet, conntrack):
    """Run ``packet`` from ``src``'s hypervisor, then wherever it is sent."""
    path = {'steps': [], 'delivered': [], 'answered': None}
    todo = [(src.bound_host, packet, None)]
    hops = 0
    while todo and hops < MAX_HOPS:
        host, pkt, how = todo.pop(0)
        hops += 1
        if host not in switches:
            switches[host] = Switch(compile_host(inv, inv.hosts[host], features))
        conntrack.at = host
        if how:
            path['steps'].append({'host': host, 'table': None, 'table_name': 'wire',
                                  'priority': None, 'flow': None, 'says': how})
        steps, outputs = run(switches[host], pkt, conntrack)
        for table, flow, seen in steps:
            path['steps'].append({
                'host': host, 'table': table, 'table_name': P.table(table).name,
                'priority': priority_name(table, flow.priority) if flow else None,
                'flow': to_ofctl(flow) if flow else None,
                'says': words.says(host, table, flow, seen)})
        for port, out in outputs:
            todo += _next_hops(inv, words, host, port, out, pkt, path)
    return path


def _carried(pkt):
    return {k: v for k, v in pkt.items() if k in CARRIED}


def _next_hops(inv, words, host, port, out, sent, path):
    """Where an output goes: a vNIC here (delivered), the sender itself (an ARP
    answer), the tunnel (to the VTEP's hypervisor) or the uplink (to the
    hypervisors of the VLAN network that hold the destination MAC)."""
    if port == P.TUNNEL_OFPORT:
        target = next((h for h in inv.hypervisors() if h.vtep_ip == out.get('tun_ipv4_dst')),
                      None)
        if target is None:
            return []
        return [(target.name, dict(_carried(out), in_port=P.TUNNEL_OFPORT,
                                   tunnel_id=out['tunnel_id']),
                 'VXLAN VNI %d from %s to %s (VTEP %s)' % (out['tunnel_id'], host, target.name,
                                                           target.vtep_ip))]
    if port == P.UPLINK_OFPORT:
        vid = out.get('vlan_vid', 0) & 0xfff
        network = next((n for n in inv.networks.values()
                        if n.kind == 'vlan' and n.segmentation_id == vid), None)
        if network is None:
            return []
        holders = [h for h in inv.hosts_of_network(network.id) if h != host]
        if out['eth_dst'] != BROADCAST:
            holders = [p.bound_host for p in inv.bound_ports(network.id)
                       if p.mac == out['eth_dst'] and p.bound_host != host]
        return [(h, dict(_carried(out), in_port=P.UPLINK_OFPORT, vlan_vid=0x1000 | vid),
                 'VLAN %d from %s over the ToR(s) to %s' % (vid, host, h))
                for h in sorted(holders)]
    port_obj = words.port_at(host, port)
    if port == sent.get('in_port') and out.get('arp_op') == C.ARP_REPLY:
        path['answered'] = {'host': host, 'mac': out['arp_sha'], 'ip': out['arp_spa'],
                            'what': 'ARP'}
    elif port == sent.get('in_port') and out.get('icmpv6_type') == C.ND_NA:
        path['answered'] = {'host': host, 'mac': out['ipv6_nd_tll'],
                            'ip': out['ipv6_nd_target'], 'what': 'neighbor solicitation'}
    elif port_obj is not None:
        path['delivered'].append(port_obj.name)
    return []


def _verdict(request, src, dst, path):
    steps = path['steps']
    dropped = next((s for s in reversed(steps) if 'dropped' in s['says']), None)
    if path['answered']:
        verdict = 'answered'
        summary = '%s for %s answered with %s on %s' % (
            path['answered']['what'], path['answered']['ip'], path['answered']['mac'],
            path['answered']['host'])
    elif dst is not None and dst.name in path['delivered']:
        verdict = 'allowed'
        summary = 'delivered to %s' % dst.name
    else:
        verdict = 'dropped'
        summary = dropped['says'] if dropped else 'not delivered'
    return {'source': src.name, 'destination': dst.name if dst else None,
            'protocol': request.protocol, 'state': request.state, 'verdict': verdict,
            'summary': summary, 'delivered_to': sorted(set(path['delivered'])),
            'steps': steps}


@route('POST', '/v1/trace', body=schemas.TraceRequest, returns=responses.TraceOut,
       errors=(404, 409))
def trace_packet(api, body):
    """Would this packet get there? The verdict and the path, step by step,
    simulated on the controller's compiled flows (a read: no switch asked)."""
    request = schemas.parse(schemas.TraceRequest, body)
    return 200, trace(Inventory.from_store(api.store), api.running.features(), request)
