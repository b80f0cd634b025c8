"""Asks a hypervisor's agent (``agent.server``) what only that machine knows:
the conntrack entries of one zone. Green under Ryu (eventlet patches sockets).

Each agent accepts one credential, its own: ``agent_token(secret, host)``, an
HMAC of the host's name under the controllers' agent secret. So an agent never
holds anything that can call the API or ask another hypervisor's agent; the
orchestrator installing an agent gets its token from
``GET /v1/hosts/{name}/agent-credential`` (admin token only). With
``agent_tls`` the controller also speaks TLS to the agents, presenting its
OpenFlow certificate and accepting only agents whose certificate the same CA
signed."""
import hashlib
import hmac
import http.client
import json
import ssl

TIMEOUT = 2.0


class AgentError(Exception):
    """The agent could not be asked, or refused (its message says why)."""


def agent_secret(configured, api_token):
    """The controllers' agent secret: the configured one, else derived from the
    API token that replicas share (one-way: an agent's token never reveals it)."""
    return configured or hmac.new(api_token.encode(), b'vnetsec agent secret',
                                  hashlib.sha256).hexdigest()


def agent_token(secret, host_name):
    """The token ``host_name``'s agent accepts, and no other agent does."""
    return hmac.new(secret.encode(), b'agent:' + host_name.encode(),
                    hashlib.sha256).hexdigest()


def tls_context(key, cert, ca):
    """A client context: our certificate, and only agents that ``ca`` signed."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.check_hostname = False      # agents are named by address, not by host name
    context.load_verify_locations(ca)
    context.load_cert_chain(cert, key)
    return context


def conntrack(address, zone, token, timeout=TIMEOUT, tls=None):
    """The entries of conntrack zone ``zone`` on the hypervisor whose agent
    answers at ``address`` ('IP:port'); ``tls``: an SSL context (HTTPS)."""
    host, _, port = address.rpartition(':')
    if tls is not None:
        conn = http.client.HTTPSConnection(host, int(port), timeout=timeout, context=tls)
    else:
        conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        conn.request('GET', '/v1/conntrack?zone=%d' % zone,
                     headers={'Authorization': 'Bearer ' + token})
        reply = conn.getresponse()
        body = reply.read()
    except (OSError, http.client.HTTPException) as e:
        raise AgentError('agent %s: %s' % (address, e)) from None
    finally:
        conn.close()
    try:
        data = json.loads(body)
    except ValueError:
        raise AgentError('agent %s answered %d, not JSON' % (address, reply.status)) from None
    if reply.status != 200:
        raise AgentError('agent %s answered %d: %s' % (address, reply.status, data.get('error')))
    return data['entries']
