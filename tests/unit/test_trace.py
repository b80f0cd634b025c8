"""The trace simulator on compiled flows, no switch: verdicts and the words of
each step for VXLAN and VLAN, ARP (answered locally / flooded), rules by
address and by zone, established connections, and bad requests."""
import pytest
import webob

from controller.api.v1 import Api
from controller.api.rest import Running
from controller.compile.host import ALL
from controller.features.security_groups import SecurityGroups
from controller.state.inventory import Inventory
from controller.state.model import ValidationError
from controller.state.schemas import TraceRequest
from controller.api.trace import trace
from controller.cli.show import trace as trace_text
from controller.cli.words import UsageError, trace_body
from tests.unit.conftest import add_hv, add_port


@pytest.fixture
def dc(service):
    """hv1: vm1 (app), vm2 (web) on VXLAN, vm4 (app) on VLAN; hv2: vm3 (db) on
    VXLAN, vm5 (db) on VLAN."""
    for i in (1, 2):
        add_hv(service, 'hv%d' % i, i)
        service.update_host('hv%d' % i, {'uplinks': {'tor': i}})
    blue = service.create_network({'name': 'blue', 'kind': 'vxlan', 'segmentation_id': 5000})
    red = service.create_network({'name': 'red', 'kind': 'vlan', 'segmentation_id': 100})
    groups = SecurityGroups(service)
    groups.create_group({'name': 'app', 'zone': 'app', 'rules': [{'direction': 'egress'}]})
    groups.create_group({'name': 'web', 'rules': [
        {'direction': 'egress'},
        {'direction': 'ingress', 'protocol': 'tcp', 'port_range_min': 22,
         'remote_ip_prefix': '10.0.0.0/24'}]})
    groups.create_group({'name': 'db', 'rules': [
        {'direction': 'ingress', 'protocol': 'tcp', 'port_range_min': 5432,
         'remote_zone': 'app'}]})
    where = {1: ('hv1', blue, 'app'), 2: ('hv1', blue, 'web'), 3: ('hv2', blue, 'db'),
             4: ('hv1', red, 'app'), 5: ('hv2', red, 'db')}
    ofports = {'hv1': 0, 'hv2': 0}
    for k, (host, net, group) in where.items():
        ofports[host] += 1
        port = add_port(service, net, k, host, ofport=ofports[host])
        service.update_port(port.id, {'name': 'vm%d' % k, 'security_groups': [group]})
    return service


class AllFeatures(Running):
    def features(self):
        return ALL


def run(service, **request):
    return trace(Inventory.from_store(service.store), ALL, TraceRequest(**request))


def says(answer):
    return '\n'.join(s['says'] for s in answer['steps'])


def test_vxlan_allowed_by_a_zone_rule_names_rule_vni_and_vtep(dc):
    got = run(dc, source='vm1', destination='vm3', protocol='tcp', port=5432)
    assert got['verdict'] == 'allowed' and got['delivered_to'] == ['vm3']
    text = says(got)
    assert 'VXLAN VNI 5000 from hv1 to hv2 (VTEP 172.16.1.12)' in text
    assert 'group db (ingress tcp 5432 from zone app)' in text
    assert 'group app (egress any)' in text
    assert [s['host'] for s in got['steps']][0] == 'hv1' and got['steps'][-1]['host'] == 'hv2'


def test_vxlan_dropped_says_which_groups_and_what_they_allow(dc):
    got = run(dc, source='vm1', destination='vm3', protocol='tcp', port=22)
    assert got['verdict'] == 'dropped'
    assert got['summary'].startswith("vm3's ingress: dropped: no rule of groups [db] allows "
                                     "tcp/22 from 10.0.0.1")
    assert 'allows ingress tcp 5432 from zone app' in got['summary']


def test_rule_by_address_on_the_same_hypervisor(dc):
    assert run(dc, source='vm1', destination='vm2', port=22)['verdict'] == 'allowed'
    got = run(dc, source='vm1', destination='vm2', protocol='udp', port=22)
    assert got['verdict'] == 'dropped'
    assert all(s['host'] == 'hv1' for s in got['steps'])


def test_arp_on_vxlan_is_answered_locally(dc):
    got = run(dc, source='vm1', destination='vm3', protocol='arp')
    assert got['verdict'] == 'answered'
    assert got['summary'] == 'ARP for 10.0.0.3 answered with 02:00:00:00:00:03 on hv1'
    unknown = run(dc, source='vm1', address='10.0.0.99', protocol='arp')
    assert unknown['verdict'] == 'dropped' and 'no port of network' in unknown['summary']


def test_vlan_arp_is_flooded_over_the_uplink_and_tcp_follows_rules(dc):
    got = run(dc, source='vm4', destination='vm5', protocol='arp')
    assert got['verdict'] == 'allowed' and 'vm5' in got['delivered_to']
    assert 'VLAN 100 from hv1 over the ToR(s) to hv2' in says(got)
    assert run(dc, source='vm4', destination='vm5', port=5432)['verdict'] == 'allowed'
    assert run(dc, source='vm4', destination='vm5', port=80)['verdict'] == 'dropped'


def test_established_packets_pass_by_the_rule_that_admitted_them(dc):
    got = run(dc, source='vm1', destination='vm3', port=5432, state='established')
    assert got['verdict'] == 'allowed'
    assert "vm3's ingress: established connection of rule" in says(got)
    assert run(dc, source='vm1', destination='vm3', port=22,
               state='established')['verdict'] == 'dropped'


def test_port_security_off_passes_everything(dc):
    vm3 = next(p for p in dc.store.list('port') if p.name == 'vm3')
    dc.update_port(vm3.id, {'port_security_enabled': False})
    got = run(dc, source='vm1', destination='vm3', port=22)
    assert got['verdict'] == 'allowed'
    assert 'no firewall on this vNIC' in says(got)


@pytest.mark.parametrize('request_, field', [
    ({'source': 'nope', 'destination': 'vm3'}, 'source'),
    ({'source': 'vm1', 'destination': 'nope'}, 'destination'),
    ({'source': 'vm1'}, 'destination'),
    ({'source': 'vm1', 'destination': 'vm3', 'protocol': 'tcp'}, 'port'),
    ({'source': 'vm1', 'address': '10.9.9.9', 'protocol': 'tcp', 'port': 1}, 'address'),
])
def test_bad_requests_name_the_field(dc, request_, field):
    with pytest.raises(ValidationError) as e:
        run(dc, **request_)
    assert e.value.field == field


def test_the_api_answers_a_trace_to_a_reader(dc):
    api = Api(dc, token='admin', reader_token='reader', running=AllFeatures())
    req = webob.Request.blank('/v1/trace', method='POST', json={
        'source': 'vm1', 'destination': 'vm3', 'protocol': 'tcp', 'port': 5432})
    req.headers['Authorization'] = 'Bearer reader'
    resp = req.get_response(api)
    assert resp.status_int == 200 and resp.json['verdict'] == 'allowed'
    req = webob.Request.blank('/v1/trace', method='POST', json={'source': 'vm1',
                                                                'protocol': 'ftp'})
    req.headers['Authorization'] = 'Bearer reader'
    resp = req.get_response(api)
    assert resp.status_int == 400 and resp.json['error']['field'] == 'protocol'


@pytest.mark.parametrize('line, body', [
    ('vm1 vm3 tcp 22', {'source': 'vm1', 'destination': 'vm3', 'protocol': 'tcp', 'port': 22,
                        'state': 'new'}),
    ('vm1 10.0.0.9 arp', {'source': 'vm1', 'address': '10.0.0.9', 'protocol': 'arp',
                          'state': 'new'}),
    ('vm1 vm3 established', {'source': 'vm1', 'destination': 'vm3', 'protocol': 'icmp',
                             'state': 'established'}),
])
def test_cli_words_make_the_request(line, body):
    assert trace_body(line.split()) == body


@pytest.mark.parametrize('line', ['vm1', 'vm1 vm3 tcp', 'vm1 vm3 ftp', 'vm1 vm3 icmp 3'])
def test_cli_rejects_what_it_cannot_send(line):
    with pytest.raises(UsageError):
        trace_body(line.split())


def test_cli_prints_the_verdict_then_the_steps(dc):
    text = trace_text(run(dc, source='vm1', destination='vm3', protocol='tcp', port=22))
    assert text.startswith("DROPPED: vm3's ingress: dropped: no rule of groups [db]")
    assert '\n  hv2  vxlan_in       VNI 5000 -> network blue (vxlan 5000)\n' in text


def test_established_traffic_after_its_rule_is_removed_is_dropped(dc):
    """A connection lives only while the rule that let it in exists (ct_mark):
    the trace of established traffic says so once the rule is gone."""
    groups = SecurityGroups(dc)
    before = run(dc, source='vm1', destination='vm3', protocol='tcp', port=5432,
                 state='established')
    assert before['verdict'] == 'allowed'
    db = dc.get_group('db')
    groups.delete_rule('db', db.rules[0]['id'])
    after = run(dc, source='vm1', destination='vm3', protocol='tcp', port=5432,
                state='established')
    assert after['verdict'] == 'dropped'
    assert "vm3's ingress: dropped" in says(after)


def test_the_first_step_after_classify_is_anti_spoofing(dc):
    got = run(dc, source='vm1', destination='vm3', protocol='tcp', port=5432)
    assert "anti-spoofing: the source addresses are vm1's own" in says(got)
