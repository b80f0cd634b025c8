"""An openstacksdk script against vnetsec's /v2.0, run as its own process by
tests/integration/test_neutron_clients.py (and usable by hand):

    python tests/integration/neutron_sdk_scenario.py create URL TOKEN HOST1 HOST2
    python tests/integration/neutron_sdk_scenario.py open URL TOKEN
    python tests/integration/neutron_sdk_scenario.py status URL TOKEN
    python tests/integration/neutron_sdk_scenario.py close URL TOKEN
    python tests/integration/neutron_sdk_scenario.py delete URL TOKEN

``create``: a VLAN network with a subnet, a group "sdk-web" admitting TCP 8080
from its own members, and two ports (one per host) in no group; prints them as
JSON. ``open`` puts both ports in "sdk-web"; ``status`` lists the ports; ``close`` deletes its TCP rule;
``delete`` removes everything it made. Configuration: keystoneauth's
``admin_token`` plugin (the endpoint and the vnetsec API token), no Keystone.
"""
import json
import sys

import openstack

NET, GROUP = 'sdk-net', 'sdk-web'


def connect(url, token):
    return openstack.connect(auth_type='admin_token', auth={'endpoint': url, 'token': token})


def create(conn, host1, host2):
    net = conn.network.create_network(name=NET, provider_network_type='vlan',
                                      provider_segmentation_id=31,
                                      provider_physical_network='physnet1')
    subnet = conn.network.create_subnet(network_id=net.id, name=NET + '-v4', ip_version=4,
                                        cidr='10.31.0.0/24', gateway_ip=None,
                                        allocation_pools=[{'start': '10.31.0.100',
                                                           'end': '10.31.0.199'}])
    group = conn.network.create_security_group(name=GROUP, description='web servers')
    conn.network.create_security_group_rule(
        security_group_id=group.id, direction='ingress', ethertype='IPv4', protocol='tcp',
        port_range_min=8080, port_range_max=8080, remote_group_id=group.id)
    ports = [conn.network.create_port(network_id=net.id, name='sdk-%s' % host,
                                      binding_host_id=host, security_group_ids=[],
                                      device_owner='compute:nova')
             for host in (host1, host2)]
    return {'network': net.id, 'subnet': subnet.id, 'group': group.id,
            'segment': conn.network.get_network(net.id).provider_segmentation_id,
            'ports': [{'id': p.id, 'mac': p.mac_address, 'ip': p.fixed_ips[0]['ip_address'],
                       'host': p.binding_host_id, 'status': p.status} for p in ports]}


def ports(conn):
    net = conn.network.find_network(NET)
    return list(conn.network.ports(network_id=net.id))


def open_group(conn):
    group = conn.network.find_security_group(GROUP)
    for port in ports(conn):
        conn.network.update_port(port, security_group_ids=[group.id])
    return status(conn)


def status(conn):
    return {'ports': [{'id': p.id, 'status': p.status, 'groups': p.security_group_ids}
                      for p in ports(conn)]}


def close_group(conn):
    group = conn.network.find_security_group(GROUP)
    rules = [r for r in conn.network.security_group_rules(security_group_id=group.id)
             if r.protocol == 'tcp']
    for rule in rules:
        conn.network.delete_security_group_rule(rule)
    return {'deleted': [r.id for r in rules]}


def delete(conn):
    for port in ports(conn):
        conn.network.delete_port(port)
    conn.network.delete_security_group(conn.network.find_security_group(GROUP))
    conn.network.delete_network(conn.network.find_network(NET))
    return {'networks': [n.name for n in conn.network.networks()],
            'groups': [g.name for g in conn.network.security_groups()]}


def main(argv):
    action, url, token = argv[:3]
    conn = connect(url, token)
    out = {'create': lambda: create(conn, *argv[3:5]), 'open': lambda: open_group(conn),
           'status': lambda: status(conn), 'close': lambda: close_group(conn), 'delete': lambda: delete(conn)}[action]()
    print(json.dumps(out))


if __name__ == '__main__':
    main(sys.argv[1:])
