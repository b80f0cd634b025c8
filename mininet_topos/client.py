"""A small client of the controller's REST API: the testbed's orchestrator side
(it registers hypervisors and vNICs, as Nova does with Neutron)."""
import json
import urllib.error
import urllib.request


class ApiError(Exception):
    def __init__(self, status, body):
        err = body.get('error', {}) if isinstance(body, dict) else {}
        self.status, self.body, self.field = status, body, err.get('field')
        super().__init__('%s (%sHTTP %s)' % (err.get('message', body), 'field %s, ' % self.field
                                             if self.field else '', status))


class Client:
    def __init__(self, url, token=''):
        self.url = url.rstrip('/')
        self.token = token

    def call(self, method, path, body=None, timeout=10, wait=False):
        """``wait``: a write answers once its switches confirm it (?wait=applied)."""
        data = json.dumps(body).encode() if body is not None else None
        path += '?wait=applied' if wait else ''
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header('Content-Type', 'application/json')
        if self.token:
            req.add_header('Authorization', 'Bearer ' + self.token)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                raw = resp.read()
                return json.loads(raw) if raw else None
        except urllib.error.HTTPError as e:
            raw = e.read()
            raise ApiError(e.code, json.loads(raw) if raw else {}) from None

    def get(self, path):
        return self.call('GET', path)

    def text(self, path, timeout=10):
        """A GET whose answer is not JSON (``/metrics``), as text."""
        req = urllib.request.Request(self.url + path)
        if self.token:
            req.add_header('Authorization', 'Bearer ' + self.token)
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.read().decode()

    def post(self, path, body, wait=False):
        return self.call('POST', path, body, wait=wait)

    def register_host(self, name, dpid, **fields):
        """Create the host, or bring an existing one up to date (a switch that
        starts again registers again, as a compute node does)."""
        try:
            return self.post('/v1/hosts', dict(name=name, dpid=dpid, **fields))
        except ApiError as e:
            if e.status != 409 or e.field != 'name':
                raise
        return self.call('PATCH', '/v1/hosts/%s' % name, dict(dpid=dpid, **fields))

    def ensure_network(self, name, kind, segmentation_id=None):
        for net in self.get('/v1/networks'):
            if net['name'] == name:
                return net
        body = {'name': name, 'kind': kind}
        if segmentation_id is not None:
            body['segmentation_id'] = segmentation_id
        return self.post('/v1/networks', body)

    def ensure_port(self, **fields):
        for port in self.get('/v1/ports'):
            if port['device'] == fields['device']:
                return port
        return self.post('/v1/ports', fields)
