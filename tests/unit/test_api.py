"""The REST API through webob, no server: JSON errors naming the field, auth on
writes, no state change on bad input, the OpenAPI document."""
import json

import pytest
import webob

from controller.api.v1 import Api


@pytest.fixture
def api(service):
    return Api(service, token='secret')


def call(api, method, path, body=None, token='secret'):
    req = webob.Request.blank(path, method=method)
    if body is not None:
        req.body = json.dumps(body).encode() if not isinstance(body, bytes) else body
        req.content_type = 'application/json'
    if token:
        req.headers['Authorization'] = 'Bearer ' + token
    resp = req.get_response(api)
    return resp.status_int, (resp.json if resp.body else None)


def test_create_list_get_delete_network(api):
    status, net = call(api, 'POST', '/v1/networks', {'name': 'blue', 'kind': 'vlan',
                                                     'segmentation_id': 10})
    assert status == 201 and net['segmentation_id'] == 10
    assert call(api, 'GET', '/v1/networks')[1] == [net]
    assert call(api, 'GET', '/v1/networks/%s' % net['id'])[1] == net
    assert call(api, 'DELETE', '/v1/networks/%s' % net['id'])[0] == 204
    assert call(api, 'GET', '/v1/networks/%s' % net['id'])[0] == 404


@pytest.mark.parametrize('body,field', [
    ({'name': 'x', 'kind': 'vlan', 'segmentation_id': 4095}, 'segmentation_id'),
    ({'name': 'x', 'kind': 'vlan', 'segmentation_id': 10}, 'segmentation_id'),  # duplicate
    (b'{not json', 'body'),
    ([1, 2], 'body'),
])
def test_bad_network_is_a_4xx_naming_the_field_and_changes_nothing(api, body, field):
    call(api, 'POST', '/v1/networks', {'name': 'blue', 'kind': 'vlan', 'segmentation_id': 10})
    before = call(api, 'GET', '/v1/networks')[1]
    status, err = call(api, 'POST', '/v1/networks', body)
    assert 400 <= status < 500
    assert err['error']['field'] == field and err['error']['code'] == status
    assert err['error']['message']
    assert call(api, 'GET', '/v1/networks')[1] == before


def test_port_on_unknown_network(api):
    status, err = call(api, 'POST', '/v1/ports', {'network_id': 'nope', 'mac': '02:00:00:00:00:01',
                                                  'device': 'tap1'})
    assert status == 404 and err['error']['field'] == 'network_id'
    assert call(api, 'GET', '/v1/ports')[1] == []


def test_writes_and_reads_need_the_token(api):
    for token in (None, 'wrong'):
        status, err = call(api, 'POST', '/v1/networks', {'name': 'x'}, token=token)
        assert status == 401 and err['error']['field'] == 'Authorization'
        assert call(api, 'GET', '/v1/networks', token=token)[0] == 401
    assert call(api, 'GET', '/v1/networks')[1] == []


def test_port_patch_and_delete(api):
    _, net = call(api, 'POST', '/v1/networks', {'name': 'n', 'kind': 'vxlan'})
    _, port = call(api, 'POST', '/v1/ports', {'network_id': 'n', 'mac': '02:00:00:00:00:01',
                                              'ips': ['10.0.0.1'], 'device': 'tap1'})
    assert port['network_id'] == net['id']
    status, patched = call(api, 'PATCH', '/v1/ports/%s' % port['id'], {'ips': ['10.0.0.7']})
    assert status == 200 and patched['ips'] == ['10.0.0.7']
    status, err = call(api, 'PATCH', '/v1/ports/%s' % port['id'], {'mac': '02:00:00:00:00:09'})
    assert status == 400 and err['error']['field'] == 'mac'          # mac is immutable
    assert call(api, 'DELETE', '/v1/ports/%s' % port['id'])[0] == 204
    assert call(api, 'GET', '/v1/ports')[1] == []


def test_unknown_path_and_method(api):
    assert call(api, 'GET', '/v1/nothing')[0] == 404
    assert call(api, 'PUT', '/v1/networks')[0] == 405


def test_openapi_lists_every_route(api):
    status, doc = call(api, 'GET', '/v1/openapi.json')
    assert status == 200 and doc['openapi'].startswith('3.')
    assert {'get', 'post'} <= set(doc['paths']['/v1/networks'])
    assert {'get', 'patch', 'delete'} <= set(doc['paths']['/v1/ports/{id}'])
    assert doc['paths']['/v1/ports']['post']['security'] == [{'bearer': []}]


def test_bulk_port_create_is_all_or_nothing(api):
    call(api, 'POST', '/v1/networks', {'name': 'n', 'kind': 'vxlan'})
    good = [{'network_id': 'n', 'mac': '02:00:00:00:00:%02x' % i, 'device': 'tap%d' % i}
            for i in range(1, 4)]
    bad = good + [dict(good[0], device='tap9')]                # duplicate mac
    status, err = call(api, 'POST', '/v1/ports', {'ports': bad})
    assert status == 409 and err['error']['field'] == 'ports[3].mac'
    assert call(api, 'GET', '/v1/ports')[1] == []
    status, ports = call(api, 'POST', '/v1/ports', {'ports': good})
    assert status == 201 and [p['device'] for p in ports] == ['tap1', 'tap2', 'tap3']


def test_a_hosts_vnics_are_listed_in_name_order(api, service):
    from tests.unit.conftest import add_hv, add_port
    add_hv(service, 'hv1', 1)
    net = service.create_network({'name': 'n', 'kind': 'vxlan'})
    for k in (10, 2, 1, 11, 3, 20):             # ids are random: 1 chance in 720 alone
        add_port(service, net, k, 'hv1', ofport=30 - k)
    devices = [p['device'] for p in call(api, 'GET', '/v1/hosts/hv1')[1]['ports']]
    assert devices == ['tapvm%d' % k for k in (1, 2, 3, 10, 11, 20)]


def test_a_store_that_cannot_take_writes_answers_503_and_reads_still_work(api, service):
    from controller.state.store import StoreUnavailable

    def no_quorum():
        raise StoreUnavailable('etcd did not answer')
    service.store.transaction = no_quorum
    status, err = call(api, 'POST', '/v1/networks', {'name': 'blue', 'kind': 'vxlan'})
    assert status == 503 and err['error']['code'] == 503
    assert 'store' in err['error']['message'] and 'nothing was written' in err['error']['message']
    assert call(api, 'GET', '/v1/networks') == (200, [])


def test_a_write_sent_but_not_answered_is_not_called_unwritten(api, service):
    """etcd may still commit it when its quorum is back: the 503 says so."""
    from controller.state.store import StoreUnavailable

    def unanswered():
        error = StoreUnavailable('etcd did not answer')
        error.unconfirmed = True
        raise error
    service.store.transaction = unanswered
    status, err = call(api, 'POST', '/v1/networks', {'name': 'blue', 'kind': 'vxlan'})
    assert status == 503 and 'nothing was written' not in err['error']['message']
    assert 'may still be applied' in err['error']['message']


def test_healthz_needs_no_token_and_answers_only_liveness(service):
    api = Api(service, token='secret', reader_token='look')
    call(api, 'POST', '/v1/networks', {'name': 'blue', 'kind': 'vxlan'})
    for token in (None, 'wrong', 'look', 'secret'):
        req = webob.Request.blank('/healthz')
        if token:
            req.headers['Authorization'] = 'Bearer ' + token
        resp = req.get_response(api)
        assert resp.status_int == 200 and resp.json == {'status': 'ok'}, token
        assert resp.content_type == 'application/json'
        assert b'blue' not in resp.body and not set(resp.headers) - {
            'Content-Type', 'Content-Length'}
    assert call(api, 'POST', '/healthz', token=None)[0] == 405
    unreachable = Api(service, token='secret', healthy=lambda: False)
    status, err = call(unreachable, 'GET', '/healthz', token=None)
    assert status == 503 and err['error']['message'] == 'the store is unavailable'
    doc = call(api, 'GET', '/v1/openapi.json')[1]['paths']['/healthz']['get']
    assert 'security' not in doc and {'200', '503'} <= set(doc['responses'])
    assert '401' not in doc['responses']
