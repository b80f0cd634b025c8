"""The testbed's orchestrator side of the REST API: it registers hypervisors and
vNICs, as Nova does with Neutron (the HTTP client itself is the operator
command's, :mod:`controller.cli.client`)."""
from controller.cli import client
from controller.cli.client import ApiError

__all__ = ['ApiError', 'Client']


class Client(client.Client):
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
