"""Reaching a secured etcd (controller/state/etcd_http.py, Access): a login once, the
token sent with every call, a new login when etcd refuses the token (expired,
or older than an auth change), none at all without a user."""
import pytest

from controller.state.etcd_http import Access, Endpoint, TokenRefused


class FakeEtcd(Endpoint):
    """An endpoint whose calls are answered here, as etcd's gateway would."""

    def __init__(self, access):
        super().__init__('127.0.0.1', 2379, access=access)
        self.calls, self.valid, self.logins = [], set(), 0

    def call(self, path, body, headers):
        self.calls.append((path, headers.get('Authorization')))
        if path == 'auth/authenticate':
            if body != {'name': 'vnetsec', 'password': 'pw'}:
                raise RuntimeError('authentication failed')
            self.logins += 1
            self.valid = {'token%d' % self.logins}
            return {'token': 'token%d' % self.logins}
        if self.access.user and headers.get('Authorization') not in self.valid:
            raise TokenRefused('{"error": "etcdserver: invalid auth token"}')
        return {'kvs': []}


def test_a_login_once_then_again_when_etcd_refuses_the_token():
    etcd = FakeEtcd(Access(user='vnetsec', password='pw'))
    assert etcd.post('kv/range', {}) == etcd.post('kv/range', {}) == {'kvs': []}
    assert etcd.calls == [('auth/authenticate', None), ('kv/range', 'token1'),
                          ('kv/range', 'token1')]
    etcd.valid = set()                          # the token expired
    assert etcd.post('kv/range', {}) == {'kvs': []}
    assert etcd.calls[3:] == [('kv/range', 'token1'), ('auth/authenticate', None),
                              ('kv/range', 'token2')]


def test_a_wrong_password_is_an_error_not_a_loop():
    etcd = FakeEtcd(Access(user='vnetsec', password='wrong'))
    with pytest.raises(RuntimeError, match='authentication failed'):
        etcd.post('kv/range', {})
    assert etcd.calls == [('auth/authenticate', None)]


def test_no_user_no_login_no_token():
    etcd = FakeEtcd(Access())
    assert etcd.post('kv/range', {}) == {'kvs': []}
    assert etcd.calls == [('kv/range', None)] and etcd.access.scheme == 'http'
