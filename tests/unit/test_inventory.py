"""The inventory's counts and per-host lists follow changes one record at a
time, and say what a rebuild from the same records would."""
from dataclasses import replace

from controller.state.inventory import Inventory
from controller.state.model import Host, Network, Port, SecurityGroup


def port(i, groups=('g',), host='hv1', ips=None, network='n1'):
    return Port(id='p%d' % i, name='p%d' % i, network_id=network, mac='02:00:00:00:00:%02x' % i,
                ips=list(ips if ips is not None else ['10.0.0.%d' % i]), device='t%d' % i,
                security_groups=list(groups), bound_host=host, ofport=i)


def hv(name, dpid, **fields):
    return Host(name, dpid, vtep_ip='172.16.0.%d' % dpid, **fields)


def inventory(ports):
    return Inventory(hosts=[hv('hv1', 1), hv('hv2', 2), hv('hv3', 3)],
                     networks=[Network('n1', 'n1', 'vlan', 10, 1),
                               Network('n2', 'n2', 'vlan', 11, 2)],
                     ports=ports, groups=[SecurityGroup('g', 'g'), SecurityGroup('h', 'h')])


def same_as_rebuilt(inv):
    fresh = Inventory(list(inv.hosts.values()), list(inv.networks.values()),
                      list(inv.ports.values()), list(inv.groups.values()))
    for groups in (('g',), ('h',), ('g', 'h')):
        assert inv.members(groups) == fresh.members(groups)
        assert set(inv.member_set(groups)) == set(fresh.member_set(groups))
    for g in ('g', 'h'):
        assert set(inv.group_hosts(g)) == set(fresh.group_hosts(g))
    for h in ('hv1', 'hv2', 'hv3'):
        assert inv.local_ports(h) == fresh.local_ports(h)
        assert inv.networks_on(h) == fresh.networks_on(h)
    assert inv.hypervisors() and not inv.unusable


def test_group_members_and_hosts_are_counted_port_by_port():
    inv = inventory([port(1), port(2, host='hv2'), port(3, groups=('h',))])
    assert inv.members(('g',)) == ['10.0.0.1', '10.0.0.2']
    assert set(inv.group_hosts('g')) == {'hv1', 'hv2'}
    p1, p2 = inv.ports['p1'], inv.ports['p2']
    # the same address in another network, in the same group: counted twice
    twin = port(4, host='hv3', ips=['10.0.0.1'], network='n2')
    inv.apply([('port', 'p4', None, twin)])
    inv.apply([('port', 'p1', p1, None)])
    assert '10.0.0.1' in inv.member_set(('g',))
    same_as_rebuilt(inv)
    inv.apply([('port', 'p4', twin, replace(twin, ips=['10.0.0.9'], security_groups=['h']))])
    assert '10.0.0.1' not in inv.member_set(('g',))
    assert set(inv.group_hosts('g')) == {'hv2'}
    same_as_rebuilt(inv)
    inv.apply([('port', 'p2', p2, replace(p2, bound_host='', migrating_to='hv3'))])
    assert set(inv.group_hosts('g')) == {'hv3'}
    same_as_rebuilt(inv)


def test_a_hosts_lists_are_kept_until_its_ports_or_the_hosts_and_networks_change():
    inv = inventory([port(1), port(2, host='hv2')])
    on_hv2 = inv.local_ports('hv2')
    inv.apply([('port', 'p3', None, port(3))])              # bound on hv1
    assert inv.local_ports('hv2') is on_hv2                 # hv2's list kept
    assert [p.id for p in inv.local_ports('hv1')] == ['p1', 'p3']
    inv.apply([('network', 'n3', None, Network('n3', 'n3', 'vlan', 12, 3))])
    assert inv.local_ports('hv2') is not on_hv2             # rebuilt, equal
    assert inv.local_ports('hv2') == on_hv2
    on_hv2 = inv.local_ports('hv2')
    inv.apply([('host', 'hv2', hv('hv2', 2), hv('hv2', 2, role='tor'))])
    assert inv.local_ports('hv2') == []                     # no longer a hypervisor
    same_as_rebuilt(inv)


def _hosts_having_walked(inv, network_id):
    """What hosts_having answers, by its definition: a walk over the network's ports."""
    ports = inv.network_ports(network_id)
    return ({p.bound_host for p in ports if inv.is_bound(p)}
            | {inv.arriving_host(p) for p in ports} - {''})


def test_the_hosts_a_network_is_on_follow_binds_moves_and_host_changes():
    p1, p2 = port(1), port(2, host='hv2', network='n2')
    inv = inventory([p1, p2])
    steps = [
        ('port', 'p3', None, port(3, host='hv2')),                       # bound on hv2
        ('port', 'p1', p1, replace(p1, migrating_to='hv3', migrating_ofport=7)),   # arriving
        ('port', 'p3', port(3, host='hv2'), replace(port(3, host='hv2'), ofport=0)),  # unbound
        ('host', 'hv3', hv('hv3', 3), hv('hv3', 3, role='tor')),        # no hypervisor now
        ('host', 'hv3', hv('hv3', 3, role='tor'), hv('hv3', 3)),
        ('port', 'p1', replace(p1, migrating_to='hv3', migrating_ofport=7),
         replace(p1, bound_host='hv3', ofport=7)),                      # the move done
        ('port', 'p2', p2, replace(p2, network_id='n1')),               # another network
        ('network', 'n1', inv.networks['n1'], None),                    # network gone
    ]
    seen = []
    for change in steps:
        inv.apply([change])
        for network_id in ('n1', 'n2'):
            assert inv.hosts_having(network_id) == _hosts_having_walked(inv, network_id)
        seen.append(sorted(inv.hosts_having('n1')))
    assert seen == [['hv1', 'hv2'], ['hv1', 'hv2', 'hv3'], ['hv1', 'hv3'], ['hv1'],
                    ['hv1', 'hv3'], ['hv3'], ['hv2', 'hv3'], []]
