"""/metrics without a switch: the text parses, requests are counted by route and
status, reads need a token, and the core's state and events show in it."""
import webob
from prometheus_client.parser import text_string_to_metric_families

from controller.api.v1 import Api
from controller.core import Core
from controller.ryu_facade import ofproto, parser
from tests.unit.conftest import add_hv, add_port
from tests.unit.fakes import FakeDatapath
from tests.unit.test_app import app, connect  # noqa: F401  (the fixture)


def scrape(api, token='secret'):
    req = webob.Request.blank('/metrics')
    if token:
        req.headers['Authorization'] = 'Bearer ' + token
    return req.get_response(api)


def samples(text):
    """{(name, sorted label items): value} of every sample."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_metrics_need_a_token_unless_reads_are_open(service):
    assert scrape(Api(service, token='secret'), token=None).status_int == 401
    assert scrape(Api(service, token='secret', open_reads=True), token=None).status_int == 200


def test_requests_are_counted_by_route_and_status(service):
    api = Api(service, token='secret')
    for path in ('/v1/networks', '/v1/networks/nope', '/v1/nothing'):
        req = webob.Request.blank(path)
        req.headers['Authorization'] = 'Bearer secret'
        req.get_response(api)
    resp = scrape(api)
    assert resp.status_int == 200 and resp.content_type == 'text/plain'
    got = samples(resp.text)
    key = 'vnetsec_api_requests_total'
    assert got[(key, (('method', 'GET'), ('route', '/v1/networks'), ('status', '200')))] == 1
    assert got[(key, (('method', 'GET'), ('route', '/v1/networks/{id}'),
                      ('status', '404')))] == 1
    assert got[(key, (('method', 'GET'), ('route', 'unmatched'), ('status', '404')))] == 1


def test_the_openapi_document_declares_metrics_as_text(service):
    doc = Api(service, token='secret').openapi(None)[1]
    assert list(doc['paths']['/metrics']['get']['responses']['200']['content']) == \
        ['text/plain']


def test_switches_flows_rules_binds_and_commits_show(app):  # noqa: F811
    add_hv(app.service, 'hv1', 1)
    add_hv(app.service, 'hv2', 2)
    net = app.service.create_network({'name': 'n', 'kind': 'vxlan'})
    group = app.service.store.list('security_group')[0]
    add_port(app.service, net, 1, 'hv1', ofport=1)
    dps = {i: connect(app, i) for i in (1, 2)}
    app.engine.reconcile()
    got = samples(app.metrics.text().decode())
    assert got[('vnetsec_switches', (('state', 'connected'),))] == 2
    assert got[('vnetsec_port_binds_total', ())] == 1
    flows = got[('vnetsec_switch_flows', (('dpid', '%016x' % 1), ('switch', 'hv1')))]
    assert flows == len(app.ofctrl.reconciler.installed[1]) > 0
    for rule in group.rules:                     # default's: IPv4 and IPv6, each counted
        assert got[('vnetsec_rule_packets_total', (('direction', rule['direction']),
                                                   ('ethertype', rule['ethertype']),
                                                   ('group', group.name),
                                                   ('rule', rule['id'])))] == 0
    port = app.service.store.list('port')[0]
    app.service.migrate_port(port.id, {'host': 'hv2'})
    app.service.bind('hv2', {port.device: 2001})
    bundle = next(m for m in reversed(dps[1].sent) if hasattr(m, 'bundle_id'))
    reply = parser.OFPBundleCtrlMsg(FakeDatapath(1), bundle.bundle_id,
                                    ofproto.OFPBCT_COMMIT_REPLY, 0, [])
    Core._bundle_reply(app, type('Ev', (), {'msg': reply}))
    got = samples(app.metrics.text().decode())
    assert got[('vnetsec_migrations_total', (('mode', 'planned'),))] == 1
    assert got[('vnetsec_port_binds_total', ())] == 2
    assert got[('vnetsec_bundle_commit_latency_seconds_count', ())] == 1

