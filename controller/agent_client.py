"""Asks a hypervisor's agent (``agent.server``) what only that machine knows:
the conntrack entries of one zone. Green under Ryu (eventlet patches sockets)."""
import http.client
import json

TIMEOUT = 2.0


class AgentError(Exception):
    """The agent could not be asked, or refused (its message says why)."""


def conntrack(address, zone, token, timeout=TIMEOUT):
    """The entries of conntrack zone ``zone`` on the hypervisor whose agent
    answers at ``address`` ('IP:port')."""
    host, _, port = address.rpartition(':')
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
