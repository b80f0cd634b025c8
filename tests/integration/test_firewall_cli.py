"""The CLI's firewall command ``sg`` on a real data center (vm1 on hv1, vm2 on
hv2, one VXLAN network): each form, checked by its effect on tcp/80 from vm1 to
a server on vm2."""
import re
import time

import pytest

from mininet_topos import probe
from mininet_topos.cli import VnetsecCLI
from mininet_topos.datacenter import DataCenter

PROBE = probe.__file__


@pytest.fixture(scope='module')
def dc():
    with DataCenter(racks=1, hypervisors=2, vms=1) as running:
        running.node('vm2').cmd('python3 %s serve tcp 80 &' % PROBE)
        running.node('vm2').cmd('python3 %s wait-listening 80' % PROBE)
        yield running


@pytest.fixture
def sg(dc, caplog):
    """Runs one ``sg`` command line as a session would; returns its output."""
    with open('/dev/null') as nothing:
        cli = VnetsecCLI(dc.net, dc=dc, stdin=nothing, script='/dev/null')

    def run(args, ok=True):
        cli.failed = False
        caplog.clear()
        cli.onecmd('sg ' + args)
        out = ''.join(r.getMessage() for r in caplog.records if r.name == 'mininet')
        assert cli.failed != ok, out
        return out
    return run


@pytest.fixture(scope='module')
def groups(dc):
    """vm1 in "client" (zone app), vm2 in "web" (zone web): both send anything,
    web admits nothing yet."""
    c = dc.client
    c.post('/v1/security-groups', {'name': 'client', 'zone': 'app',
                                   'rules': [{'direction': 'egress'}]})
    c.post('/v1/security-groups', {'name': 'web', 'zone': 'web',
                                   'rules': [{'direction': 'egress'}]})
    for vm, group in (('vm1', 'client'), ('vm2', 'web')):
        port = next(p for p in c.get('/v1/ports') if p['name'] == vm)
        c.call('PATCH', '/v1/ports/%s' % port['id'], {'security_groups': [group]})
    dc.wait_ready()


def tcp80_open(dc):
    return dc.node('vm1').cmd('python3 %s check tcp %s 80'
                              % (PROBE, dc.node('vm2').IP())).strip() == 'OK'


def test_create_port_and_delete(dc, sg):
    assert tcp80_open(dc)                            # both in "default"
    assert 'created closed' in sg('create closed zone quiet')
    assert sg('port vm2 closed') == 'vm2: closed\n'
    assert not tcp80_open(dc)                        # a new group admits nothing (egress only)
    assert dc.client.get('/v1/security-groups/closed')['zone'] == 'quiet'
    assert sg('port vm2 default') == 'vm2: default\n'
    assert tcp80_open(dc)
    assert sg('port vm2 --none') == 'vm2: (no group)\n'
    assert not tcp80_open(dc)                        # no group at all: sealed
    assert sg('port vm2 default') == 'vm2: default\n'
    assert sg('delete closed') == 'deleted closed\n'
    assert all(g['name'] != 'closed' for g in dc.client.get('/v1/security-groups'))


@pytest.mark.parametrize('remote', ['', 'from 10.0.0.0/16', 'from group client',
                                    'from zone app'])
def test_add_opens_tcp_80_and_del_closes_it(dc, sg, groups, remote):
    assert not tcp80_open(dc)
    out = sg('add web ingress tcp 80 ' + remote)
    assert out.startswith('added to web: ingress tcp 80 %s' % remote), out
    assert tcp80_open(dc)
    assert sg('del web 2').startswith('removed from web: ingress tcp 80')
    assert not tcp80_open(dc)


def test_a_rule_for_another_zone_opens_nothing(dc, sg, groups):
    sg('add web ingress tcp 80 from zone db')
    try:
        assert not tcp80_open(dc)
    finally:
        sg('del web 2')


def test_show_and_list_count_and_name_members(dc, sg, groups):
    rule_id = sg('add web ingress tcp 80 from zone app').split('(id ')[1].rstrip(')\n')
    try:
        for _ in range(3):
            assert tcp80_open(dc)
        deadline = time.time() + 5                   # OVS refreshes counters ~1/s
        while True:
            line = next(ln for ln in sg('show web').splitlines() if rule_id in ln)
            packets = int(re.split(r'\s{2,}', line.strip())[2])
            if packets >= 6 or time.time() > deadline:
                break
            time.sleep(0.3)
        assert packets >= 6, line
        assert ' 2  ingress tcp 80 from zone app' in line
    finally:
        sg('del web %s' % rule_id)
    listing = sg('')
    assert re.search(r'^web +web +1 +vm2$', listing, re.M), listing
    assert re.search(r'^client +app +1 +vm1$', listing, re.M), listing


@pytest.mark.parametrize('args,error', [
    ('add web ingress tcp 99999', 'port_range_min must be in 1-65535 '
                                  '(field port_range_min, HTTP 400)'),
    ('add web sideways', 'direction must be "ingress" or "egress" (field direction'),
    ('add web ingress tcp 80 from group nope', "(field remote_group_id, HTTP 404)"),
    ('port vm2 nope', "(field security_groups, HTTP 404)"),
    ('port vm9 web', "no port named 'vm9' (field port)"),
])
def test_bad_commands_say_the_apis_error_and_change_nothing(dc, sg, groups, args, error):
    before = dc.client.get('/v1/security-groups/web')['rules']
    out = sg(args, ok=False)
    assert out.startswith('error: ') and error in out, out
    assert [r['id'] for r in dc.client.get('/v1/security-groups/web')['rules']] == \
        [r['id'] for r in before]
    assert not tcp80_open(dc)
