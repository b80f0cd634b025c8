"""A small client of the controller's REST API over the standard library: JSON
in and out, the bearer token, the API's errors as :class:`ApiError`."""
import json
import ssl
import urllib.error
import urllib.request


class ApiError(Exception):
    """The API refused or failed a request; ``field`` names what was wrong."""

    def __init__(self, status, body):
        err = body.get('error', {}) if isinstance(body, dict) else {}
        self.status, self.body, self.field = status, body, err.get('field')
        super().__init__('%s (%sHTTP %s)' % (err.get('message', body), 'field %s, ' % self.field
                                             if self.field else '', status))


class Client:
    """``cafile``: the CA that signed an HTTPS API's certificate (else the system's)."""

    def __init__(self, url, token='', cafile=None):
        self.url = url.rstrip('/')
        self.token = token
        self.context = (ssl.create_default_context(cafile=cafile)
                        if cafile and self.url.startswith('https') else None)

    def _request(self, path, data=None, method='GET'):
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header('Content-Type', 'application/json')
        if self.token:
            req.add_header('Authorization', 'Bearer ' + self.token)
        return req

    def call(self, method, path, body=None, timeout=10, wait=False):
        """``wait``: a write answers once its switches confirm it (?wait=applied)."""
        data = json.dumps(body).encode() if body is not None else None
        path += '?wait=applied' if wait else ''
        try:
            with urllib.request.urlopen(self._request(path, data, method), timeout=timeout,
                                        context=self.context) as resp:
                raw = resp.read()
                return json.loads(raw) if raw else None
        except urllib.error.HTTPError as e:
            raw = e.read()
            try:
                body = json.loads(raw) if raw else {}
            except ValueError:
                body = raw.decode(errors='replace')
            raise ApiError(e.code, body) from None

    def get(self, path):
        return self.call('GET', path)

    def text(self, path, timeout=10):
        """A GET whose answer is not JSON (``/metrics``), as text."""
        with urllib.request.urlopen(self._request(path), timeout=timeout,
                                    context=self.context) as resp:
            return resp.read().decode()

    def post(self, path, body, wait=False):
        return self.call('POST', path, body, wait=wait)
