"""The piece-level reconcile against the full one, over random changes.

Hypothesis draws sequences of changes (ports created, bound (one or two in one
write, as a switch's port list binds them), moved, migrated,
unbound, deleted, their addresses, address pairs, port security and groups
(stateful or stateless) changed; rules added and removed; groups, networks and
hypervisors created). After each change the core
reconciles with fake datapaths, and each switch must then hold exactly the
flows a full compile of the whole state gives (:func:`compile_host`, the
reference), through flow mods that are exactly the difference between what it
held and that: nothing sent for a piece that did not change.
"""
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from controller.compile.host import ALL, compile_host
from controller.core import Core
from controller.features.security_groups import SecurityGroups
from controller.state.inventory import Inventory
from controller.state.model import ValidationError
from controller.ryu_facade import CONF
from tests.unit.fakes import FakeDatapath

TOR = 0x7001
HOSTS = ['hv1', 'hv2', 'hv3', 'hv4']
ports = st.integers(0, 5)
host = st.sampled_from(HOSTS[:3])
change = st.one_of(
    st.tuples(st.just('create'), ports, st.integers(0, 2), st.sampled_from(HOSTS + ['']),
              st.integers(0, 3)),
    st.tuples(st.just('bind'), ports, host, st.integers(1, 5)),
    st.tuples(st.just('bind2'), ports, ports, host),       # two in one write (a port list)
    st.tuples(st.just('unbind'), ports),
    st.tuples(st.just('migrate'), ports, host),
    st.tuples(st.just('delete'), ports),
    st.tuples(st.just('ips'), ports, st.integers(1, 3)),
    st.tuples(st.just('groups'), ports, st.integers(0, 3)),
    st.tuples(st.just('pairs'), ports, st.integers(0, 3)),
    st.tuples(st.just('security'), ports, st.booleans()),
    st.tuples(st.just('rule'), st.integers(0, 3), st.sampled_from(['ingress', 'egress']),
              st.integers(0, 5)),
    st.tuples(st.just('unrule'), st.integers(0, 3)),
    st.tuples(st.just('zone'), st.integers(0, 2), st.sampled_from(['', 'web', 'db'])),
    st.tuples(st.just('network'),),
    st.tuples(st.just('host'),),
)


@pytest.fixture
def app(tmp_path_factory):
    def make():
        CONF([], project='vnetsec-test', default_config_files=[])
        CONF.set_override('db_path', str(tmp_path_factory.mktemp('db') / 'db'),
                          group='vnetsec')
        CONF.set_override('api_token', 'test', group='vnetsec')
        core = Core()
        for feature in ALL:
            core.register(feature)
        return core
    yield make
    CONF.clear_override('db_path', group='vnetsec')
    CONF.clear_override('api_token', group='vnetsec')


def connect(core, dpid):
    dp = FakeDatapath(dpid)
    core.ofctrl.datapaths[dpid] = dp
    core.ofctrl.reconciler.start_sync(dp)
    core.ofctrl.reconciler.on_flow_stats(dp, [], more=False)
    return dp


class World:
    """A small data center: hv1..hv3 in two racks with a ToR each, a VLAN and a
    VXLAN network, four groups (the third naming the second as remote, the
    last stateless, naming it too), four ports bound."""

    def __init__(self, core):
        self.core, self.service = core, core.service
        self.groups = SecurityGroups(self.service)
        for i, name in enumerate(HOSTS[:3], 1):
            self.add_host(name, i)
        for rack in (1, 2):
            self.service.create_host({'name': 'tor%d' % rack, 'dpid': TOR + rack,
                                      'role': 'tor', 'rack': rack,
                                      'uplinks': {'hv:hv%d' % i: i for i in (1, 2, 3)
                                                  if (i + 1) // 2 == rack}
                                      | {'rack:%d' % (3 - rack): 50}})
            connect(core, TOR + rack)
        self.nets = [self.service.create_network({'name': 'n%d' % k, 'kind': kind})
                     for k, kind in enumerate(['vlan', 'vxlan'])]
        g0 = self.groups.create_group({'name': 'g0', 'zone': 'web'})
        g1 = self.groups.create_group({'name': 'g1', 'rules': [
            {'direction': 'ingress', 'remote_group_id': g0.id, 'protocol': 'tcp',
             'port_range_min': 80, 'port_range_max': 81}]})
        g3 = self.groups.create_group({'name': 'g3', 'stateful': False, 'rules': [
            {'direction': 'egress', 'protocol': 'udp'},
            {'direction': 'ingress', 'remote_group_id': g0.id, 'protocol': 'udp',
             'port_range_min': 53}]})
        self.group_ids = ['default', g0.id, g1.id, g3.id]
        self.ports = {}
        for k in range(4):                  # a few to start with: most changes act
            self.do(('create', k, k % 2, HOSTS[k % 3], k % 3))
        core.engine.reconcile()

    def add_host(self, name, i):
        self.service.create_host({'name': name, 'dpid': i, 'rack': (i + 1) // 2,
                                  'vtep_ip': '172.16.0.%d' % i})
        connect(self.core, i)

    def port(self, k):
        ident = self.ports.get(k)
        return self.service.store.get('port', ident) if ident else None

    def do(self, step):
        kind, args = step[0], step[1:]
        port = self.port(args[0]) if args and kind not in ('rule', 'unrule', 'zone') else None
        if kind == 'create' and port is None:
            k, net, where, group = args
            body = {'network_id': self.nets[min(net, len(self.nets) - 1)].id,
                    'mac': '02:00:00:00:00:%02x' % (k + 1),
                    'ips': ['10.9.%d.1' % k] + (['fd00:9:%d::1' % k] if k % 2 else []),
                    'device': 'tap%d' % k, 'security_groups': [self.group_ids[group]]}
            self.ports[k] = self.service.create_port(body).id
            if self.service.store.get('host', where) is not None:
                self.service.bind(where, {'tap%d' % k: k + 1})
        elif kind == 'bind' and port is not None:
            self.service.bind(args[1], {port.device: args[2] * 10 + args[0]})
        elif kind == 'bind2' and port is not None and self.port(args[1]) is not None:
            other = self.port(args[1])
            self.service.bind(args[2], {port.device: 30 + args[0], other.device: 30 + args[1]})
        elif kind == 'unbind' and port is not None and port.bound_host:
            self.service.unbind(port.bound_host, devices={port.device})
        elif kind == 'migrate' and port is not None:
            self.service.migrate_port(port.id, {'host': args[1]})
        elif kind == 'delete' and port is not None:
            self.service.delete_port(port.id)
            del self.ports[args[0]]
        elif kind == 'ips' and port is not None:
            # dual stack on odd addresses: an IPv6 address comes and goes
            self.service.update_port(port.id, {'ips': ['10.9.%d.%d' % (args[0], args[1])] + (
                ['fd00:9:%d::%x' % (args[0], args[1])] if args[1] % 2 else [])})
        elif kind == 'groups' and port is not None:
            self.service.update_port(port.id, {'security_groups': [self.group_ids[args[1]]]})
        elif kind == 'pairs' and port is not None:
            # a VIP several ports share (their own MAC), a prefix from a MAC of its own
            # (IPv4 and IPv6 alike)
            pairs = [{'ip_address': '10.9.99.1'}, {'ip_address': 'fd00:9:99::1'},
                     {'ip_address': '10.9.5%d.0/24' % args[0],
                      'mac_address': '02:00:00:00:ee:%02x' % args[0]},
                     {'ip_address': 'fd00:9:5%d::/64' % args[0],
                      'mac_address': '02:00:00:00:ee:%02x' % args[0]}]
            self.service.update_port(port.id, {'allowed_address_pairs': [
                [], pairs[:2], pairs[2:], pairs][args[1]]})
        elif kind == 'security' and port is not None:
            self.service.update_port(port.id, {
                'port_security_enabled': True, 'security_groups': ['default']} if args[1]
                else {'port_security_enabled': False, 'security_groups': [],
                      'allowed_address_pairs': []})
        elif kind == 'rule':
            group, direction, remote = args
            rule = {'direction': direction, 'protocol': 'tcp', 'port_range_min': 22 + remote,
                    'port_range_max': 22 + remote, 'ethertype': ('IPv4', 'IPv6')[remote % 2]}
            if remote < 3:
                rule['remote_group_id'] = self.group_ids[remote]
            elif remote < 5:                        # a zone, as a remote
                rule['remote_zone'] = ('web', 'db')[remote - 3]
            self.groups.add_rule(self.group_ids[group], rule)
        elif kind == 'unrule':
            rules = self.service.get_group(self.group_ids[args[0]]).rules
            if rules:
                self.groups.delete_rule(self.group_ids[args[0]], rules[0]['id'])
        elif kind == 'zone':
            self.groups.update_group(self.group_ids[args[0]], {'zone': args[1]})
        elif kind == 'network' and len(self.nets) < 3:
            self.nets.append(self.service.create_network({'name': 'n2', 'kind': 'vxlan'}))
        elif kind == 'host' and 'hv4' not in [h.name for h in self.service.store.list('host')]:
            self.add_host('hv4', 4)


def check_step(core, before):
    """Every switch holds what a full compile gives, through exactly the delta."""
    inv = Inventory.from_store(core.store)
    for dpid, dp in core.ofctrl.datapaths.items():
        host = inv.host_by_dpid(dpid)
        reference = {f.cookie: f for f in compile_host(inv, host, core.engine.features)}
        installed = core.ofctrl.reconciler.installed[dpid]
        assert set(installed) == set(reference), host.name
        assert set(core.ofctrl.desired[dpid].flows) == set(reference), host.name
        old = before.get(dpid, {})
        mods = dp.flow_mods()
        adds = {m.cookie for m in mods if m.command == dp.ofproto.OFPFC_ADD}
        deletes = {m.cookie for m in mods if m.command == dp.ofproto.OFPFC_DELETE}
        assert len(mods) == len(adds) + len(deletes), 'a flow mod sent twice'
        assert adds == set(reference) - set(old), host.name
        gone = set(old) - set(reference)
        replaced = {(f.table, f.priority, f.match) for f in reference.values()}
        assert deletes == {c for c in gone
                           if (old[c].table, old[c].priority, old[c].match) not in replaced}
        dp.sent.clear()


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(steps=st.lists(change, min_size=1, max_size=16))
def test_each_change_sends_exactly_what_a_full_recompile_would(app, steps):
    core = app()
    world = World(core)
    for dp in core.ofctrl.datapaths.values():
        dp.sent.clear()
    for step in steps:
        before = {dpid: dict(core.ofctrl.reconciler.installed[dpid]) for dpid in core.ofctrl.datapaths}
        try:
            world.do(step)
        except ValidationError:
            pass                            # refused: nothing changed
        core.engine.reconcile()
        check_step(core, before)
