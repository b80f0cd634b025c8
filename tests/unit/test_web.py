"""The web view's page and snapshot through the API, no server: the page needs
no token and fetches nothing from outside, the snapshot needs one and holds
what the page draws."""
import re

import webob

from controller.api.v1 import Api
from tests.unit.conftest import add_hv, add_port


def get(api, path, token='secret'):
    req = webob.Request.blank(path)
    if token:
        req.headers['Authorization'] = 'Bearer ' + token
    return req.get_response(api)


def test_the_page_is_public_and_self_contained(service):
    resp = get(Api(service, token='secret'), '/ui', token=None)
    assert resp.status_int == 200 and resp.content_type == 'text/html'
    html = resp.text
    assert '/v1/view' in html and '/v1/trace' in html
    assert not re.search(r'(src|href)="(https?:)?//', html)     # nothing from outside


def test_the_snapshot_needs_a_token_and_holds_what_the_page_draws(service):
    api = Api(service, token='secret')
    assert get(api, '/v1/view', token=None).status_int == 401
    add_hv(service, 'hv1', 1)
    net = service.create_network({'name': 'blue', 'kind': 'vxlan'})
    add_port(service, net, 1, 'hv1', ofport=1)
    view = get(api, '/v1/view').json
    assert [h['name'] for h in view['hosts']] == ['hv1']
    assert view['hosts'][0]['connected'] is False
    assert view['networks'][0]['hosts'] == ['hv1']
    assert view['networks'][0]['vteps'] == ['172.16.1.11']
    assert view['ports'][0]['host'] == 'hv1'
    rule = view['groups'][0]['rules'][0]
    assert rule['stats'] == {'packets': 0, 'bytes': 0}
