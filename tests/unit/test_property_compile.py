"""Whatever the model accepts, the compilers compile and Ryu encodes.

Hypothesis draws request bodies from the very JSON schemas the API publishes
(hosts, networks, security groups with rules, stateful or not, ports, their
allowed address pairs), sends them through the
service as the API would, binds the accepted ports at drawn port numbers, and
then compiles every switch and encodes every flow with Ryu's OpenFlow 1.4
encoder (the fake datapath decodes each message back, checking its length).
"""
import json

import pydantic
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema

from controller.state import host_schemas, schemas
from controller.compile.host import compile_host
from controller.state.inventory import Inventory
from controller.state.model import ValidationError
from controller.switch.reconciler import Reconciler
from controller.state.service import Service
from controller.state.store import SqliteStore
from controller.features.security_groups import SecurityGroups
from tests.unit.fakes import FakeDatapath


def bodies(schema, **fixed):
    return from_schema(pydantic.TypeAdapter(schema).json_schema()).map(
        lambda body: dict(body, **fixed))


def model_checked(schema, **fixed):
    """Bodies drawn from the schema's properties, kept when the model itself takes
    them. hypothesis-jsonschema meets a rule's cross-field conditions (allOf of
    if/then/not) only by rejection: about 10 s an example for a group with rules,
    against 0.15 s here (the model's check is those same conditions)."""
    published = pydantic.TypeAdapter(schema).json_schema()
    published.pop('allOf', None)
    check = pydantic.TypeAdapter(schema)

    def accepted_by_model(body):
        try:
            check.validate_json(json.dumps(body))
            return True
        except pydantic.ValidationError:
            return False
    return from_schema(published).map(lambda body: dict(body, **fixed)).filter(
        accepted_by_model)


def with_rules(rules):
    """Groups drawn from GroupCreate's schema but for their rules, drawn by ``rules``."""
    published = pydantic.TypeAdapter(schemas.GroupCreate).json_schema()
    published['properties'].pop('rules')
    published.pop('$defs', None)
    return st.builds(lambda body, drawn: dict(body, rules=drawn), from_schema(published),
                     st.lists(rules, max_size=4))


hypervisors = st.lists(bodies(host_schemas.HostCreate, role='hypervisor', uplinks={}),
                       min_size=1, max_size=3)
tors = st.lists(bodies(host_schemas.HostCreate, role='tor'), max_size=1)
networks = st.lists(bodies(schemas.NetworkCreate), min_size=1, max_size=2)
groups = st.lists(with_rules(model_checked(schemas.RuleCreate)), max_size=2)
ports = st.lists(st.tuples(bodies(schemas.PortCreate), st.integers(0, 9),
                           st.integers(1, schemas.OFPORT_MAX)), min_size=1, max_size=4)
# allowed address pairs that parse: an address or a prefix, the port's MAC or another
# (either IP version: an IPv6 pair is admitted by IPv6 and its Neighbor Advertisements)
pairs = st.lists(st.one_of(st.tuples(st.ip_addresses(v=4), st.integers(0, 32)),
                           st.tuples(st.ip_addresses(v=6), st.integers(0, 128))).flatmap(
    lambda pair: st.sampled_from([None, '02:00:00:00:ee:01']).map(lambda mac: pair + (mac,))),
    max_size=3)


def accepted(create, items):
    out = []
    for body in items:
        try:
            out.append(create(body))
        except ValidationError:
            pass                                  # refused: nothing stored, nothing compiled
    return out


# dual stack: ports with IPv6 addresses beside IPv4 (unique-local, global, any text
# form) and groups with IPv6 rules, which the schemas' patterns alone rarely draw
v6_addresses = st.ip_addresses(v=6).map(str)
dual_ports = st.lists(st.tuples(
    bodies(schemas.PortCreate).flatmap(lambda body: st.lists(v6_addresses, max_size=3).map(
        lambda extra: dict(body, ips=list(body.get('ips') or []) + extra))),
    st.integers(0, 9), st.integers(1, schemas.OFPORT_MAX)), min_size=1, max_size=4)
v6_rules = model_checked(schemas.RuleCreate, ethertype='IPv6')
dual_groups = st.lists(with_rules(v6_rules), max_size=2)


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(hypervisors, tors, networks, dual_groups, dual_ports, pairs)
def test_dual_stack_records_compile_and_encode(hvs, tor_list, nets, group_list, port_list,
                                               pair_list):
    test_accepted_records_compile_and_encode.hypothesis.inner_test(
        hvs, tor_list, nets, group_list, port_list, pair_list)


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(hypervisors, tors, networks, groups, ports, pairs)
def test_accepted_records_compile_and_encode(hvs, tor_list, nets, group_list, port_list,
                                             pair_list):
    service = Service(SqliteStore(), vlan_pool='100-4094', vni_pool='5000-16777215')
    hosts = accepted(service.create_host, hvs + tor_list)
    nets = accepted(service.create_network, nets)
    made = accepted(SecurityGroups(service).create_group, group_list)
    hypervisor_names = [h.name for h in hosts if h.role == 'hypervisor']
    for i, (body, pick, ofport) in enumerate(port_list):
        if not nets:
            break
        body = dict(body, network_id=nets[pick % len(nets)].id, device='tap%d' % i)
        if made:
            body['security_groups'] = [made[pick % len(made)].id]
        if pick % 2:
            body['allowed_address_pairs'] = [
                dict({'ip_address': '%s/%d' % (ip, length)},
                     **({'mac_address': mac} if mac else {})) for ip, length, mac in pair_list]
        for port in accepted(service.create_port, [body]):
            if hypervisor_names:
                service.bind(hypervisor_names[pick % len(hypervisor_names)],
                             {port.device: ofport + i})
    inv = Inventory.from_store(service.store)
    assert not inv.unusable                      # every accepted host can be compiled
    for host in inv.hosts.values():
        flows = compile_host(inv, host)
        dp = FakeDatapath(host.dpid)
        reconciler = Reconciler()
        reconciler.start_sync(dp)
        reconciler.on_flow_stats(dp, [], more=False)
        reconciler.apply(dp, flows)              # Ryu encodes; the fake decodes
        assert len(dp.flow_mods()) == len({f.cookie for f in flows})
