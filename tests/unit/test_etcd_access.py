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


class StartingEtcd(FakeEtcd):
    """A cluster whose first member turns authentication on a moment after the
    controllers start (the compose deployment)."""

    def __init__(self, access, off_for):
        super().__init__(access)
        self.off_for = off_for

    def call(self, path, body, headers):
        if path == 'auth/authenticate' and self.off_for:
            self.off_for -= 1
            self.calls.append((path, None))
            raise RuntimeError('{"error":"etcdserver: authentication is not enabled",'
                               '"code":9}')
        return super().call(path, body, headers)


def test_a_login_waits_for_etcd_to_turn_authentication_on(monkeypatch):
    monkeypatch.setattr('controller.state.etcd_http.time.sleep', lambda s: None)
    etcd = StartingEtcd(Access(user='vnetsec', password='pw'), off_for=3)
    assert etcd.post('kv/range', {}) == {'kvs': []}
    assert [c[0] for c in etcd.calls] == ['auth/authenticate'] * 4 + ['kv/range']


def test_authentication_that_never_comes_is_an_error():
    etcd = StartingEtcd(Access(user='vnetsec', password='pw'), off_for=10 ** 6)
    with pytest.raises(RuntimeError, match='authentication is not enabled'):
        etcd.access.log_in(etcd, wait=0)
