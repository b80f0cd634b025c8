"""POST /v1/trace against the switches' own ``ofproto/trace``: for every ordered
pair of VMs of a mixed VLAN/VXLAN data center with security groups (zones,
remote groups, an address rule, a vNIC without port security) and each of tcp
allowed, tcp denied, udp by zone, icmp by remote group and ARP, the verdict of
the controller's simulator equals what Open vSwitch does with the flows it
holds, hypervisor by hypervisor (the VXLAN tunnel and the VLAN uplink followed
as the simulator follows them)."""
import re
import statistics
import time

import pytest

from controller.compile import pipeline as P
from mininet_topos.datacenter import DataCenter

BROADCAST = 'ff:ff:ff:ff:ff:ff'
TUNNEL, UPLINK = P.TUNNEL_OFPORT, P.UPLINK_OFPORT
CASES = (('tcp', 8080), ('tcp', 9090), ('udp', 8080), ('icmp', None), ('arp', None))


@pytest.fixture(scope='module')
def dc():
    # hv1 (rack 1): vm1-vm4, hv2 (rack 2): vm5-vm8; odd VMs VLAN 10, even VXLAN 5000
    with DataCenter(racks=2, hypervisors=1, vms=4, networks='vlan:10,vxlan:5000') as running:
        c = running.client
        c.post('/v1/security-groups', {'name': 'client', 'zone': 'app',
                                       'rules': [{'direction': 'egress'}]})
        c.post('/v1/security-groups', {'name': 'web', 'rules': [
            {'direction': 'egress'},
            {'direction': 'ingress', 'protocol': 'tcp', 'port_range_min': 8080,
             'remote_ip_prefix': '10.0.0.0/16'},
            {'direction': 'ingress', 'protocol': 'udp', 'port_range_min': 8080,
             'remote_zone': 'app'},
            {'direction': 'ingress', 'protocol': 'icmp', 'remote_group_id': 'client'}]})
        ports = {p['name']: p for p in c.get('/v1/ports')}
        for vm, port in ports.items():
            body = {'security_groups': ['client' if vm in ('vm1', 'vm2', 'vm5') else 'web']}
            if vm == 'vm8':
                body['port_security_enabled'] = False
            c.call('PATCH', '/v1/ports/%s' % port['id'], body)
        running.wait_ready()
        yield running


def packet(src, dst, proto, port):
    addr = 'dl_src=%s,dl_dst=%s,nw_src=%s,nw_dst=%s' % (src['mac'], dst['mac'], src['ips'][0],
                                                        dst['ips'][0])
    if proto == 'arp':
        return 'arp,arp_op=1,dl_src=%s,dl_dst=%s,arp_spa=%s,arp_tpa=%s,arp_sha=%s' % (
            src['mac'], BROADCAST, src['ips'][0], dst['ips'][0], src['mac'])
    if proto == 'icmp':
        return 'icmp,icmp_type=8,icmp_code=0,' + addr
    return '%s,%s,%s_src=40000,%s_dst=%d' % (proto, addr, proto, proto, port)


def br_int_lines(text):
    """The action lines of the br-int sections of an ofproto/trace answer."""
    out, inside = [], False
    for line in text.splitlines():
        if line.startswith('bridge("'):
            inside = line.startswith('bridge("br-int")')
        elif inside:
            out.append(line.strip())
    return out


def ovs_verdict(dc, ports, src, dst, pkt):
    """What the switches do: 'answered' (an ARP reply back to the source),
    'allowed' (output to the destination's vNIC) or 'dropped'."""
    hosts = {h['name']: h for h in dc.client.get('/v1/hosts')}
    todo = [(src['bound_host'], 'in_port=%d,%s' % (src['ofport'], pkt))]
    seen, verdict = 0, 'dropped'
    while todo and seen < 8:
        host, spec = todo.pop(0)
        seen += 1
        text = dc.node(host).ovs.appctl("--timeout=10 ofproto/trace br-int '%s'" % spec)
        assert 'Datapath actions' in text, text
        lines = br_int_lines(text)
        tun_dst = vni = vid = None
        for i, line in enumerate(lines):
            if line.endswith('->tun_dst'):
                tun_dst = line.split(':', 1)[1].split('->')[0]
            elif line.endswith('->tun_id'):
                vni = int(line.split(':', 1)[1].split('->')[0], 0)
            elif line.endswith('->vlan_vid'):
                vid = int(line.split(':', 1)[1].split('->')[0], 0) & 0xfff
            elif line == 'IN_PORT':
                verdict = 'answered'
            elif re.fullmatch(r'output:\d+', line):
                port = int(line.split(':')[1])
                skipped = i + 1 < len(lines) and 'skipping output' in lines[i + 1]
                if port == TUNNEL:
                    target = next(n for n, h in hosts.items() if h['vtep_ip'] == tun_dst)
                    todo.append((target, 'in_port=%d,tun_id=%d,%s' % (TUNNEL, vni, pkt)))
                elif port == UPLINK:
                    for other in sorted(hosts):
                        if other != host and hosts[other]['role'] == 'hypervisor' and any(
                                p['bound_host'] == other and p['network_id'] ==
                                src['network_id'] for p in ports.values()):
                            todo.append((other, 'in_port=%d,dl_vlan=%d,%s' % (UPLINK, vid, pkt)))
                elif (host, port) == (dst['bound_host'], dst['ofport']) and not skipped \
                        and verdict != 'answered':
                    verdict = 'allowed'
    return verdict


def test_every_pair_agrees_with_ofproto_trace(dc):
    ports = {p['name']: p for p in dc.client.get('/v1/ports')}
    disagree, seconds, verdicts = [], [], {}
    for a in sorted(ports):
        for b in sorted(ports):
            if a == b:
                continue
            for proto, port in CASES:
                body = {'source': a, 'destination': b, 'protocol': proto}
                if port:
                    body['port'] = port
                t0 = time.perf_counter()
                ours = dc.client.post('/v1/trace', body)
                seconds.append(time.perf_counter() - t0)
                theirs = ovs_verdict(dc, ports, ports[a], ports[b],
                                     packet(ports[a], ports[b], proto, port))
                verdicts[ours['verdict']] = verdicts.get(ours['verdict'], 0) + 1
                if ours['verdict'] != theirs:
                    disagree.append((a, b, proto, port, ours['verdict'], theirs,
                                     ours['summary']))
    print('trace verdicts %s; API latency median %.1f ms, max %.1f ms over %d queries'
          % (verdicts, 1000 * statistics.median(seconds), 1000 * max(seconds), len(seconds)))
    assert not disagree, disagree[:10]
    assert set(verdicts) == {'allowed', 'dropped', 'answered'}
    for vm in ('vm1', 'vm2', 'vm3', 'vm4', 'vm5', 'vm6', 'vm7', 'vm8'):
        assert dc.node(vm).cmd('echo ok').strip() == 'ok'      # every switch still answers


def test_the_cli_prints_a_verdict(dc):
    from controller.cli.show import trace as trace_text
    from controller.cli.words import trace_body
    answer = dc.client.post('/v1/trace', trace_body('vm1 vm3 tcp 9090'.split()))
    text = trace_text(answer)
    assert text.startswith('DROPPED: ') and 'vm3\'s ingress' in text
