"""Agents with their own credential (issue 28): each hypervisor's agent accepts
only its own token (an HMAC of its name under the agent secret), which the
API gives to the admin token alone and itself refuses; with TLS the agent
accepts only clients whose certificate its CA signed."""
import threading

import pytest

from agent import server
from controller.switch import agent_client
from controller.api.v1 import Api
from mininet_topos.tls import LabCA
from tests.unit.conftest import add_hv
from tests.unit.test_api import call


@pytest.fixture
def api(service):
    add_hv(service, 'hv1', 1)
    add_hv(service, 'hv2', 2)
    return Api(service, token='admin-secret', reader_token='reader-secret')


def test_each_host_has_its_own_token_that_reveals_no_secret():
    secret = agent_client.agent_secret('', 'admin-secret')
    one, two = (agent_client.agent_token(secret, h) for h in ('hv1', 'hv2'))
    assert one != two and 'admin-secret' not in (secret, one, two)
    assert agent_client.agent_secret('configured', 'admin-secret') == 'configured'


def test_the_credential_is_for_the_admin_token_only(api):
    status, body = call(api, 'GET', '/v1/hosts/hv1/agent-credential', token='admin-secret')
    secret = agent_client.agent_secret('', 'admin-secret')
    assert status == 200 and body == {'host': 'hv1',
                                      'token': agent_client.agent_token(secret, 'hv1')}
    status, body = call(api, 'GET', '/v1/hosts/hv1/agent-credential', token='reader-secret')
    assert status == 403 and body['error']['field'] == 'Authorization'
    assert call(api, 'GET', '/v1/hosts/hv1/agent-credential', token=None)[0] == 401
    status, body = call(api, 'GET', '/v1/hosts/nowhere/agent-credential',
                        token='admin-secret')
    assert status == 404


def test_an_agents_credential_opens_nothing_in_the_api(api):
    token = call(api, 'GET', '/v1/hosts/hv1/agent-credential', token='admin-secret')[1]['token']
    assert call(api, 'GET', '/v1/ports', token=token)[0] == 401
    status, body = call(api, 'POST', '/v1/networks', {'name': 'x', 'kind': 'vlan'},
                        token=token)
    assert status == 401 and call(api, 'GET', '/v1/networks', token='admin-secret')[1] == []


def test_the_openapi_document_lists_403_for_the_credential(api):
    doc = call(api, 'GET', '/v1/openapi.json', token=None)[1]
    op = doc['paths']['/v1/hosts/{id}/agent-credential']['get']
    assert {'401', '403', '404'} <= set(op['responses'])


@pytest.fixture
def tls_agent(tmp_path):
    """An agent on loopback serving HTTPS with a lab CA's certificate, token 'own'."""
    ca = LabCA(str(tmp_path / 'lab'))
    key, cert, ca_cert = ca.credentials('hv1')
    httpd = server.TlsServer(('127.0.0.1', 0), server.handler_class('/nonexistent.ctl', 'own'),
                             server.server_tls(cert, key, ca_cert))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield '127.0.0.1:%d' % httpd.server_address[1], ca, tmp_path
    httpd.shutdown()


def health(address, token, tls):
    """What GET /v1/conntrack answers (the fake ovs-ctl makes it a 503 from
    Open vSwitch once in), or the AgentError's text."""
    try:
        agent_client.conntrack(address, 1, token, tls=tls)
    except agent_client.AgentError as e:
        return str(e)
    return 'ok'


def test_the_agent_takes_only_clients_its_ca_signed_and_only_its_token(tls_agent):
    address, ca, tmp = tls_agent
    ours = agent_client.tls_context(*ca.credentials('controller'))
    assert '503' in health(address, 'own', ours)             # past TLS and the token
    assert '401' in health(address, 'admin-secret', ours)    # e.g. the API's token
    foreign = LabCA(str(tmp / 'foreign'))
    key, cert, _ = foreign.credentials('controller')
    theirs = agent_client.tls_context(key, cert, ca.cert)
    assert '401' not in health(address, 'own', theirs) and \
        '503' not in health(address, 'own', theirs)          # refused at the handshake
    assert 'answered' not in health(address, 'own', None)    # plain HTTP: no answer
