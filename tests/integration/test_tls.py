"""``vnetsec-dc --tls`` on a real data center: every switch reaches the
controller over mutual TLS and the VMs reach each other within their network;
a switch with a certificate of another CA is refused; a plain OpenFlow hello to
the TLS port gets no OpenFlow reply; the run's secrets are private."""
import glob
import http.client
import json
import os
import ssl
import stat
import time

import pytest

from mininet_topos.datacenter import DataCenter
from mininet_topos.migration import migrate
from mininet_topos.nodes import TorSwitch
from mininet_topos.tls import LabCA
from tests.integration.helpers import (expected_pairs, is_openflow_hello, listening_tcp,
                                       openflow_reply, reachability)

STRANGER_DPID = 0x7099


@pytest.fixture(scope='module')
def dc():
    with DataCenter(racks=2, hypervisors=1, vms=2, networks='vlan:10,vxlan:5000',
                    tls=True) as running:
        yield running


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_vms_reach_each_other_within_their_network(dc):
    network = dc.topo.network_of_vm
    assert reachability(dc) == expected_pairs(dc, lambda a, b: network[a.name] ==
                                              network[b.name])


def test_run_directory_config_and_keys_are_private(dc):
    assert mode(dc.rundir) == 0o700
    assert mode(dc.controller.config_path) == 0o600
    keys = glob.glob(dc.rundir + '/pki/*.key')
    names = {os.path.basename(k)[:-len('.key')] for k in keys}
    assert names >= {'ca', 'controller'} | {s.name for s in dc.switches()}
    assert {mode(k) for k in keys} == {0o600}


def test_controller_listens_for_tls_only(dc):
    assert listening_tcp(dc.controller.pid) == {
        dc.ofp_address, ('127.0.0.1', int(dc.api_url.rsplit(':', 1)[1]))}
    assert openflow_reply(dc.ofp_address) == b''                     # plain TCP hello
    # the same address answers a switch with a certificate of the lab CA
    assert is_openflow_hello(openflow_reply(dc.ofp_address,
                                            tls=dc.ca.credentials('probe')))


def agent_get(address, token, tls):
    """(status, body) of GET /v1/conntrack?zone=1 at an agent over HTTPS with the
    client credentials ``tls`` (key, cert, CA); None if the handshake failed."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.load_verify_locations(tls[2])
    if tls[0]:
        context.load_cert_chain(tls[1], tls[0])
    host, _, port = address.rpartition(':')
    conn = http.client.HTTPSConnection(host, int(port), timeout=3, context=context)
    try:
        conn.request('GET', '/v1/conntrack?zone=1', headers={'Authorization': 'Bearer ' + token})
        reply = conn.getresponse()
        return reply.status, json.loads(reply.read())
    except (OSError, ssl.SSLError, http.client.HTTPException):
        return None
    finally:
        conn.close()


def test_agents_speak_mutual_tls_and_take_only_their_own_token(dc):
    c = dc.client
    address = c.get('/v1/hosts/hv1')['agent']
    own = c.get('/v1/hosts/hv1/agent-credential')['token']
    other = c.get('/v1/hosts/hv2/agent-credential')['token']
    lab = dc.ca.credentials('probe-agent')
    assert agent_get(address, own, lab)[0] == 200
    assert agent_get(address, dc.token, lab)[0] == 401       # the API's admin token
    assert agent_get(address, other, lab)[0] == 401          # another host's token
    key, cert, _ = LabCA(dc.rundir + '/foreign-agent').credentials('stranger')
    assert agent_get(address, own, (key, cert, lab[2])) is None    # another CA's cert
    assert agent_get(address, own, (None, None, lab[2])) is None   # no client cert
    host, _, port = address.rpartition(':')
    plain = http.client.HTTPConnection(host, int(port), timeout=3)
    with pytest.raises((OSError, http.client.HTTPException)):
        plain.request('GET', '/v1/health', headers={'Authorization': 'Bearer ' + own})
        plain.getresponse().read()


def test_a_move_reads_the_source_agent_over_tls(dc):
    """The controller's own HTTPS client: a planned move's carry reads hv1's agent
    (a 'sessions' event is told only once the read succeeded)."""
    before = len([e for e in dc.client.get('/v1/events') if e.get('event') == 'sessions'])
    migrate(dc, 'vm1', 'hv2')
    deadline = time.time() + 10
    while time.time() < deadline:
        carried = [e for e in dc.client.get('/v1/events') if e.get('event') == 'sessions']
        if len(carried) > before and carried[-1]['port'] == 'vm1':
            break
        time.sleep(0.2)
    assert len(carried) > before and carried[-1]['port'] == 'vm1'


def test_switch_with_another_cas_certificate_is_refused(dc):
    """An OVS bridge whose certificate another CA signed (it trusts the lab CA,
    so only the controller can refuse it) never connects; the same bridge with a
    certificate of the lab CA does, so the refusal is the certificate's doing."""
    key, cert, _ = LabCA(dc.rundir + '/foreign').credentials('stranger')
    stranger = dc.net.addSwitch(
        'tor99', cls=TorSwitch, rack=99, dpid='%x' % STRANGER_DPID, rundir=dc.rundir,
        controller_target='ssl:%s:%d' % dc.ofp_address, mgmt_ip='%s.99/24' % dc.mgmt_prefix,
        tls=(key, cert, dc.ca.cert))
    mgmt = dc.net[dc.mgmt_name]
    dc.net.addLink(stranger, mgmt, intfName1='mgmt0')
    mgmt.start([])                     # enslaves the new link to the management bridge
    stranger.start([])
    refusal = 'OpenFlow TLS handshake from %s.99' % dc.mgmt_prefix
    deadline = time.time() + 10
    while time.time() < deadline and refusal not in controller_log(dc):
        assert '%016x' % STRANGER_DPID not in dc.client.get('/v1/status')['switches']
        time.sleep(0.2)
    log = controller_log(dc)
    assert refusal in log and 'certificate verify failed' in log, log[-2000:]
    for _ in range(15):                # it keeps trying (every second); never gets in
        assert '%016x' % STRANGER_DPID not in dc.client.get('/v1/status')['switches']
        time.sleep(0.2)
    assert not stranger.connected()

    stranger.ovs.vsctl('set-ssl %s %s %s' % dc.ca.credentials('tor99'))
    deadline = time.time() + 10
    while time.time() < deadline and not stranger.connected():
        time.sleep(0.2)
    assert '%016x' % STRANGER_DPID in dc.client.get('/v1/status')['switches']


def controller_log(dc):
    with open(dc.controller.log_path) as f:
        return f.read()

