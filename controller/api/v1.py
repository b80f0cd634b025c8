"""The REST API (``/v1``): vnetsec's resources over the service (the framework
under it: :mod:`controller.api.rest`; the OpenAPI document: :mod:`controller.api.openapi`)."""
from controller.api import responses, views, web
from controller.state import host_schemas, schemas
from controller.state import model
from controller.switch import agent_client
from controller.compile.flows import to_ofctl
from controller.state.inventory import Inventory
from controller.api.metrics import CONTENT_TYPE
from controller.state.model import ValidationError
from controller.api.openapi import openapi_document
from controller.api.rest import RestApp, route


class Api(RestApp):
    """The application: the framework's dispatch with the routes below (and
    those the features and the trace register)."""

    @route('GET', '/v1/hosts', returns=list[responses.HostOut])
    def list_hosts(self, _):
        """Every switch: hypervisors with their VLANs and vNICs, ToRs with the VLANs
        allowed per port."""
        inv = Inventory.from_store(self.store)
        return 200, [views.safe_host_view(inv, h) for h in self.store.list('host')]

    @route('POST', '/v1/hosts', write=True, body=host_schemas.HostCreate, ok=201,
           returns=responses.HostOut, errors=(409,))
    def create_host(self, body):
        """Register a switch (409 if its name or dpid is taken)."""
        return 201, model.to_dict(self.service.create_host(body))

    @route('GET', '/v1/hosts/([^/]+)', returns=responses.HostOut, errors=(404,))
    def get_host(self, _, name):
        host = self.service.get_host(name)
        return 200, views.safe_host_view(Inventory.from_store(self.store), host)

    @route('GET', '/v1/hosts/([^/]+)/flows', returns=responses.HostFlows, errors=(404, 409))
    def host_flows(self, _, name):
        """The flows the controller wants on a switch (what it compiled for the
        loaded apps), each with its cookie, in ovs-ofctl syntax."""
        host = self.service.get_host(name)
        return 200, {'host': host.name, 'flows': [
            {'cookie': '%#x' % f.cookie, 'table': f.table, 'priority': f.priority,
             'owner': f.owner, 'ofctl': to_ofctl(f)} for f in self.running.desired_flows(host)]}

    @route('GET', '/v1/hosts/([^/]+)/agent-credential', returns=responses.AgentCredential,
           errors=(404,), admin=True)
    def agent_credential(self, _, name):
        """The token the host's hypervisor agent accepts from the controllers: its
        own, good for nothing else (not this API, not another host's agent); for
        the orchestrator that installs the agent. Admin token only."""
        host = self.service.get_host(name)
        return 200, {'host': host.name,
                     'token': agent_client.agent_token(self.agent_secret, host.name)}

    @route('PATCH', '/v1/hosts/([^/]+)', write=True, body=host_schemas.HostPatch,
           returns=responses.HostOut, errors=(404, 409))
    def update_host(self, body, name):
        """Change a switch's dpid, rack, VTEP or uplinks; its role only while no
        port is bound there."""
        return 200, model.to_dict(self.service.update_host(name, body))

    @route('DELETE', '/v1/hosts/([^/]+)', write=True, ok=204, errors=(404, 409))
    def delete_host(self, _, name):
        """Forget a switch (409 while ports are bound or arriving there)."""
        self.service.delete_host(name)
        return 204, None

    # ---- networks ------------------------------------------------------------
    @route('GET', '/v1/networks', returns=list[responses.NetworkOut])
    def list_networks(self, _):
        return 200, [model.to_dict(n) for n in self.store.list('network')]

    @route('POST', '/v1/networks', write=True, body=schemas.NetworkCreate, ok=201,
           returns=responses.NetworkOut, errors=(409,))
    def create_network(self, body):
        """Create a VLAN or VXLAN network (its segmentation id allocated if absent)."""
        return 201, model.to_dict(self.service.create_network(body))

    @route('GET', '/v1/networks/([^/]+)', returns=responses.NetworkOut, errors=(404,))
    def get_network(self, _, ident):
        return 200, model.to_dict(self.service.get_network(ident))

    @route('DELETE', '/v1/networks/([^/]+)', write=True, ok=204, errors=(404, 409))
    def delete_network(self, _, ident):
        self.service.delete_network(ident)
        return 204, None

    @route('GET', '/v1/networks/([^/]+)/mappings', returns=responses.Mappings, errors=(404,))
    def network_mappings(self, _, ident):
        """Per hypervisor holding the network: MAC -> VTEP of the remote ports."""
        network = self.service.get_network(ident)
        return 200, {'network': network.id, 'kind': network.kind,
                     'segmentation_id': network.segmentation_id,
                     'hosts': views.mappings(Inventory.from_store(self.store), network)}

    # ---- ports ---------------------------------------------------------------
    @route('GET', '/v1/ports', returns=list[responses.PortOut])
    def list_ports(self, _):
        return 200, [model.to_dict(p) for p in self.store.list('port')]

    @route('POST', '/v1/ports', write=True, body=schemas.PortCreate | schemas.PortBulk,
           ok=201, returns=responses.PortOut | list[responses.PortOut], errors=(404, 409))
    def create_port(self, body):
        """Create a port, or several at once with {"ports": [...]} (all or none)."""
        if isinstance(body, dict) and list(body) == ['ports']:
            ports = body['ports']
            if not isinstance(ports, list) or not 1 <= len(ports) <= schemas.MAX_BULK:
                raise ValidationError('ports', 'ports must be a list of 1-%d port objects'
                                      % schemas.MAX_BULK)
            return 201, [model.to_dict(p) for p in self.service.create_ports(ports)]
        return 201, model.to_dict(self.service.create_port(body))

    @route('GET', '/v1/ports/([^/]+)', returns=responses.PortOut, errors=(404,))
    def get_port(self, _, ident):
        return 200, model.to_dict(self.service.get_port(ident))

    @route('PATCH', '/v1/ports/([^/]+)', write=True, body=schemas.PortPatch,
           returns=responses.PortOut, errors=(404, 409))
    def update_port(self, body, ident):
        """Change a port's name, addresses, requested host, groups or port security."""
        return 200, model.to_dict(self.service.update_port(ident, body))

    @route('POST', '/v1/ports/([^/]+)/migrate', write=True, body=schemas.Migrate,
           returns=responses.PortOut, errors=(404, 409))
    def migrate_port(self, body, ident):
        """Planned migration: {"host": "hv3", "live": false}. The destination is
        programmed before the VM arrives, for a device at "migrating_ofport"."""
        return 200, model.to_dict(self.service.migrate_port(ident, body))

    @route('DELETE', '/v1/ports/([^/]+)', write=True, ok=204, errors=(404,))
    def delete_port(self, _, ident):
        self.service.delete_port(ident)
        return 204, None

    @route('GET', '/v1/status', returns=responses.Status)
    def get_status(self, _):
        """Connected switches, whether each holds its desired flows (or why not),
        and whether the controller has changes still to send."""
        return 200, self.running.status()

    @route('GET', '/v1/events', returns=list[dict])
    def get_events(self, _):
        """Recent switch events with their times: vNICs appearing and leaving
        (port) and switches confirming flow changes (commit)."""
        return 200, self.running.recent_events()

    @route('GET', '/v1/view', returns=responses.View)
    def live_view(self, _):
        """What the web view draws: hosts by rack with their sync state, VMs,
        networks and the VTEPs they span, groups with rule counters, events."""
        running = self.running
        return 200, web.snapshot(Inventory.from_store(self.store), running.status(),
                                 running.rule_stats(cached=True), running.recent_events(),
                                 web.denials(running.loaded()))

    @route('GET', '/ui', returns=str, public=True, media='text/html; charset=utf-8')
    def web_page(self, _):
        """The live web view (no token: the page holds no state; open it as
        /ui#token=TOKEN and it reads /v1/view with that token)."""
        return 200, web.page()

    @route('GET', '/metrics', returns=str, media=CONTENT_TYPE)
    def get_metrics(self, _):
        """Prometheus metrics (text exposition format; docs/metrics.md)."""
        return 200, self.metrics.text()

    @route('GET', '/healthz', returns=responses.Health, errors=(503,), public=True)
    def healthz(self, _):
        """Liveness, for container healthchecks (no token: it answers only
        {"status": "ok"}, or 503 while the store cannot be reached)."""
        if not self.healthy():
            raise ValidationError(None, 'the store is unavailable', 503)
        return 200, {'status': 'ok'}

    @route('GET', '/v1/openapi.json', returns=dict, public=True)
    def openapi(self, _):
        """This document (no token needed: it holds no state)."""
        return 200, openapi_document(self.running.loaded())
