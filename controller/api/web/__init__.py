"""The live web view: one static page (``index.html``, no build step, nothing
fetched from outside) and the snapshot it polls (``GET /v1/view``).

The page itself holds no state, so it is served without a token, like the
OpenAPI document; everything it shows comes from ``/v1/view`` and
``/v1/trace``, which need the reader or admin token. The page takes the token
from its URL's fragment (``/ui#token=...``: a fragment never reaches a server
or its logs) and sends it as ``Authorization: Bearer``.
"""
import os

from controller.state.model import to_dict
from controller.protocols import rule_words

PAGE = os.path.join(os.path.dirname(__file__), 'index.html')
EVENTS = 30         # recent events the view shows
DENIALS = 10        # recent denials per VM the view shows


def page():
    with open(PAGE, 'rb') as f:
        return f.read()


def denials(loaded):
    """{VM: its last refused connections, newest last} as the firewall's logs
    recorded them (DROP logs; the firewall's log sink, imported late: a
    feature's), or {} without the firewall app."""
    if 'firewall' not in loaded:
        return {}
    from controller.features import log_sink
    sink = log_sink.running()
    out = {}
    for record in sink.recent_denials() if sink else ():
        out.setdefault(record['vm'], []).append(record)
    return {vm: records[-DENIALS:] for vm, records in out.items()}


def snapshot(inv, status, counters, events, denied=None):
    """Everything the page draws, in one answer: racks of hosts with their sync
    state, VMs with their network, networks with the VTEPs they span, groups
    with each rule's counters (as last read in the background), recent events,
    each VM's recent denials (``denied``, from :func:`denials`)."""
    synced = {s['host']: s for s in status['switches'].values() if s['host']}
    hosts = []
    for host in sorted(inv.hosts.values(), key=lambda h: (h.rack, h.role != 'tor', h.name)):
        state = synced.get(host.name)
        hosts.append({'name': host.name, 'role': host.role, 'rack': host.rack,
                      'vtep_ip': host.vtep_ip, 'connected': state is not None,
                      'synced': bool(state and state['synced']),
                      'failing': state['failing'] if state else None})
    networks = []
    for net in sorted(inv.networks.values(), key=lambda n: n.name):
        spans = sorted(inv.hosts_of_network(net.id))
        networks.append({'id': net.id, 'name': net.name, 'kind': net.kind,
                         'segmentation_id': net.segmentation_id,
                         'hosts': spans, 'vteps': [inv.hosts[h].vtep_ip for h in spans]})
    ports = [{'name': p.name, 'id': p.id, 'network_id': p.network_id, 'ips': p.ips,
              'mac': p.mac, 'host': p.bound_host, 'migrating_to': p.migrating_to,
              'groups': [inv.groups[g].name for g in p.security_groups if g in inv.groups]}
             for p in sorted(inv.ports.values(), key=lambda p: p.name)]
    names = {g.id: g.name for g in inv.groups.values()}
    groups = [dict(to_dict(g), rules=[dict(r, text=rule_words(r, names),
                                           stats=counters.get(r['id'],
                                                              {'packets': 0, 'bytes': 0}))
                                      for r in g.rules])
              for g in sorted(inv.groups.values(), key=lambda g: g.name)]
    return {'hosts': hosts, 'networks': networks, 'ports': ports, 'groups': groups,
            'idle': status.get('idle', True), 'events': events[-EVENTS:],
            'denials': denied or {}}
