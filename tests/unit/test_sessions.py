"""Sessions that move with the VM (controller/sessions.py): the flows recording
them, reading the records back, and their admissions at a destination."""
import struct

from controller import pipeline as P
from controller import sessions
from controller.compile import compile_host
from controller.features import firewall
from controller.features.security_groups import SecurityGroups
from controller.flows import to_ofctl
from controller.inventory import Inventory
from controller.model import changed
from controller.reconciler import Reconciler
from controller.session_carrier import carries
from controller.ryu_facade import parser
from tests.unit.conftest import add_hv, add_port
from tests.unit.fakes import FakeDatapath, FlowStat


def reader(service):
    """vm1 (ofport 1) in a group allowing all egress and ICMP ingress."""
    net = service.create_network({'name': 'n', 'kind': 'vxlan'})
    add_hv(service, 'hv1', 1)
    group = SecurityGroups(service).create_group({'name': 'reader', 'rules': [
        {'direction': 'egress'}, {'direction': 'ingress', 'protocol': 'icmp'}]})
    port = add_port(service, net, 1, 'hv1', ofport=1)
    port = service.update_port(port.id, {'security_groups': ['reader']})
    return net, group, port


def hv1_flows(service, **kwargs):
    inv = Inventory.from_store(service.store)
    return [f for f in firewall.compile_firewall(inv, inv.hosts['hv1'], **kwargs)]


def test_commits_record_and_established_packets_refresh(service):
    _, group, _ = reader(service)
    egress_mark = firewall.rule_mark(group.rules[0])
    flows = hv1_flows(service)
    commit = next(f for f in flows if f.table == P.EGRESS_ACL
                  and f.priority == P.priority(P.EGRESS_ACL, 'rule'))
    assert commit.actions == (('ct', True, 1, None, egress_mark),
                              ('set_field', 'reg3', egress_mark),
                              ('resubmit', P.SESSION_RECORD), ('goto', P.ARP_RESPONDER))
    established = [f for f in flows if f.table in (P.EGRESS_ACL, P.INGRESS_ACL)
                   and f.priority == P.priority(f.table, 'established')
                   and dict(f.match)['ct_mark'] == egress_mark]
    assert len(established) == 4 and all(('resubmit', P.SESSIONS) in f.actions
                                         for f in established)
    # what the VM accepts (ICMP) needs no record: its "egress any" re-admits any
    # session it speaks in first, and the remote's packets are admitted as new
    ingress_mark = firewall.rule_mark(group.rules[1])
    unrecorded = [f for f in flows if f.table == P.INGRESS_ACL and (
        f.priority == P.priority(P.INGRESS_ACL, 'rule')
        or dict(f.match).get('ct_mark') == ingress_mark)]
    assert unrecorded and not [f for f in unrecorded if ('resubmit', P.SESSION_RECORD)
                               in f.actions or ('resubmit', P.SESSIONS) in f.actions]
    record = [f for f in flows if f.table == P.SESSION_RECORD]
    assert len(record) == 8                 # 2 directions x (tcp, udp, icmp, other)
    assert all(P.check(f) == '' for f in flows)


def test_what_a_vm_accepts_is_recorded_when_its_own_packets_would_not_pass(service):
    net = service.create_network({'name': 'n', 'kind': 'vxlan'})
    add_hv(service, 'hv1', 1)
    group = SecurityGroups(service).create_group({'name': 'server', 'rules': [
        {'direction': 'ingress', 'protocol': 'udp', 'port_range_min': 53},
        {'direction': 'egress', 'protocol': 'tcp', 'remote_ip_prefix': '10.9.0.0/16'}]})
    port = add_port(service, net, 1, 'hv1', ofport=1)
    service.update_port(port.id, {'security_groups': ['server']})
    flows = hv1_flows(service)
    mark = firewall.rule_mark(group.rules[0])
    commit = next(f for f in flows if f.table == P.INGRESS_ACL
                  and f.priority == P.priority(P.INGRESS_ACL, 'rule'))
    assert ('set_field', 'reg3', mark | sessions.INGRESS_BIT) in commit.actions
    # neither direction admits anything: the egress rule's connections are recorded too
    assert any(('resubmit', P.SESSION_RECORD) in f.actions for f in flows
               if f.table == P.EGRESS_ACL)


def test_nothing_is_recorded_where_both_directions_admit_anything(service):
    net = service.create_network({'name': 'n', 'kind': 'vxlan'})
    add_hv(service, 'hv1', 1)
    SecurityGroups(service).create_group({'name': 'open', 'rules': [
        {'direction': 'ingress'}, {'direction': 'egress', 'remote_ip_prefix': '0.0.0.0/0'}]})
    port = add_port(service, net, 1, 'hv1', ofport=1)
    service.update_port(port.id, {'security_groups': ['open']})
    assert not [f for f in hv1_flows(service) for a in f.actions if a[0] == 'resubmit']


def test_the_record_table_learns_both_directions_with_conntracks_timeouts():
    tcp = next(f for f in sessions.record_flows() if dict(f.match).get('ip_proto') == 6
               and dict(f.match)['reg3'] == (0, sessions.INGRESS_BIT))
    text = to_ofctl(tcp)
    assert ('learn(table=71,idle_timeout=65535,fin_idle_timeout=30,priority=10,'
            'cookie=0x601000000000000,dl_type=0x800,NXM_NX_REG5[],NXM_NX_REG3[0..30],'
            'nw_proto=0x6,NXM_OF_IP_SRC[],NXM_OF_IP_DST[],NXM_OF_TCP_SRC[],NXM_OF_TCP_DST[])'
            in text)
    assert ('cookie=0x603000000000000,dl_type=0x800,NXM_NX_REG5[],NXM_NX_REG3[0..30],'
            'nw_proto=0x6,NXM_OF_IP_SRC[]=NXM_OF_IP_DST[],NXM_OF_IP_DST[]=NXM_OF_IP_SRC[],'
            'NXM_OF_TCP_SRC[]=NXM_OF_TCP_DST[],NXM_OF_TCP_DST[]=NXM_OF_TCP_SRC[])' in text)
    udp = next(f for f in sessions.record_flows() if dict(f.match).get('ip_proto') == 17)
    assert 'idle_timeout=60,' in to_ofctl(udp) and 'fin_idle' not in to_ofctl(udp)


def test_without_carry_sessions_the_firewall_is_todays(service):
    reader(service)
    flows = hv1_flows(service, carry_sessions=False)
    assert not [f for f in flows if f.table == P.SESSION_RECORD]
    assert not [a for f in flows for a in f.actions if a[0] == 'resubmit'
                or a[:2] == ('set_field', 'reg3')]
    inv = Inventory.from_store(service.store)
    with_feature = compile_host(inv, inv.hosts['hv1'], (firewall.WITHOUT_SESSIONS,))
    assert {f.cookie for f in with_feature if f.owner == 'firewall'} == {
        f.cookie for f in flows}


def record(cookie_kind, mark, nid, proto, src, dst, sport=0, dport=0, ingress=False):
    """A flow-stats entry as the switch reports a learned record."""
    fields = dict(eth_type=0x800, reg5=nid, reg3=(mark, 0x7fffffff), ip_proto=proto,
                  ipv4_src=src, ipv4_dst=dst)
    if proto == 6:
        fields.update(tcp_src=sport, tcp_dst=dport)
    return FlowStat(sessions.cookie(cookie_kind), P.SESSIONS, 10, parser.OFPMatch(**fields))


def test_records_read_back_belong_to_the_vm_while_its_rule_exists(service):
    net, group, port = reader(service)
    mark = firewall.rule_mark(group.rules[0])
    stats = [
        record(sessions.RECORD_EGRESS, mark, net.nid, 6, '10.0.0.1', '10.0.0.3', 40000, 9000),
        record(sessions.RECORD_REVERSED, mark, net.nid, 6, '10.0.0.3', '10.0.0.1', 9000,
               40000),
        record(sessions.RECORD_INGRESS, 77, net.nid, 1, '10.0.0.9', '10.0.0.1'),   # rule gone
        record(sessions.RECORD_EGRESS, mark, net.nid, 17, '10.0.0.2', '10.0.0.3'),  # not vm1
        record(sessions.RECORD_EGRESS, mark, net.nid + 1, 17, '10.0.0.1', '10.0.0.3'),
        FlowStat(sessions.cookie(sessions.CARRIED), P.EGRESS_ACL, 80, parser.OFPMatch()),
    ]
    found = sessions.parse(stats)
    assert len(found) == 4
    marks = {firewall.rule_mark(r) for r in group.rules}
    mine = sessions.of_port(found, port, net.nid, marks)
    assert mine == [sessions.Session('egress', mark, net.nid, 6, '10.0.0.1', '10.0.0.3',
                                     40000, 9000)]
    assert sessions.records_of(stats, mine) == stats[:2]


def test_a_session_is_admitted_both_ways_at_the_destination_port():
    s = sessions.Session('egress', 1234, 1, 6, '10.0.0.1', '10.0.0.3', 40000, 9000)
    egress, ingress = sessions.carried_flows(s, 2000)
    new = (sessions.CT_TRK | sessions.CT_NEW, sessions.CT_TRK | sessions.CT_NEW
           | sessions.CT_INV)
    assert dict(egress.match) == {'in_port': 2000, 'ct_zone': 2000, 'ct_state': new,
                                  'eth_type': 0x800, 'ip_proto': 6, 'ipv4_src': '10.0.0.1',
                                  'ipv4_dst': '10.0.0.3', 'tcp_src': 40000, 'tcp_dst': 9000}
    assert egress.actions == (('ct', True, 2000, None, 1234), ('set_field', 'reg3', 1234),
                              ('resubmit', P.SESSION_RECORD), ('goto', P.ARP_RESPONDER))
    assert dict(ingress.match)['reg7'] == 2000
    assert (dict(ingress.match)['ipv4_src'], dict(ingress.match)['tcp_src']) == ('10.0.0.3',
                                                                                  9000)
    assert ingress.actions[1] == ('set_field', 'reg3', 1234 | sessions.INGRESS_BIT)
    assert {f.priority for f in (egress, ingress)} == {80}
    # a session the VM accepted (ingress): the VM is the destination of its record
    accepted = sessions.Session('ingress', 5, 1, 17, '10.0.0.3', '10.0.0.1', 5353, 7070)
    out, _ = sessions.carried_flows(accepted, 7)
    assert (dict(out.match)['ipv4_src'], dict(out.match)['udp_src']) == ('10.0.0.1', 7070)


def test_admissions_go_out_with_a_hard_timeout_in_the_unmanaged_cookie_space():
    dp, written = FakeDatapath(), []
    dp.send = written.append                # the bytes as they leave, in one write
    s = sessions.Session('egress', 1234, 1, 17, '10.0.0.1', '10.0.0.3', 40000, 9001)
    c = sessions.cookie(sessions.CARRIED)
    Reconciler().add_unmanaged(dp, sessions.carried_flows(s, 2000), c, hard_timeout=30)
    (buf,) = written
    offset, seen = 0, []
    while offset < len(buf):
        length = struct.unpack('!H', buf[offset + 2:offset + 4])[0]
        cookie, _, table, command, idle, hard = struct.unpack(
            '!QQBBHH', buf[offset + 8:offset + 30])
        seen.append((cookie, table, command, idle, hard))
        offset += length
    assert seen == [(c, P.EGRESS_ACL, 0, 0, 30), (c, P.INGRESS_ACL, 0, 0, 30)]
    assert c >> P.COOKIE_OWNER_SHIFT in P.UNMANAGED


def test_the_reconciler_leaves_learned_and_carried_flows_alone():
    dp, reconciler = FakeDatapath(), Reconciler()
    reconciler.start_sync(dp)
    ours = FlowStat(0x0400000000000001, P.EGRESS_ACL, 70, None)
    learned = FlowStat(sessions.cookie(sessions.RECORD_EGRESS), P.SESSIONS, 10, None)
    carried = FlowStat(sessions.cookie(sessions.CARRIED), P.INGRESS_ACL, 80, None)
    assert reconciler.on_flow_stats(dp, [ours, learned, carried], more=False)
    assert set(reconciler.installed[dp.id]) == {ours.cookie}
    removed, _ = reconciler.diff(dp.id, [])
    assert [f.cookie for f in removed] == [ours.cookie]


def test_carried_when_a_move_is_announced_and_whenever_the_vnic_shows_up_elsewhere(service):
    _, _, port = reader(service)
    left = {}
    planned = changed(port, migrating_to='hv3', migrating_ofport=2000)
    assert carries(port, planned, left) == [(port.id, 'hv1', 'hv3', 2000, False)]
    arrived = changed(planned, bound_host='hv3', ofport=2000, migrating_to='',
                      migrating_ofport=0)
    assert carries(planned, arrived, left) == [(port.id, 'hv1', 'hv3', 2000, True)]
    # unplanned, its vNIC gone from hv3 a while before it appears on hv2
    gone = changed(arrived, bound_host='', ofport=0)
    assert carries(arrived, gone, left) == [] and left == {port.id: 'hv3'}
    assert carries(gone, changed(gone, bound_host='hv2', ofport=7), left) == [
        (port.id, 'hv3', 'hv2', 7, True)]
    assert left == {}
    assert carries(arrived, changed(arrived, name='renamed'), left) == []
    assert carries(arrived, None, left) == []
