"""The operator's command ``vnetsec`` (the installed console script, run as a
shell runs it) against a real data center (vm1 on hv1, vm2 on hv2, one VXLAN
network, a server on vm2's tcp/80): groups and a rule made with it, and tcp/80
from vm1 follows each change the moment ``--wait`` returns; the trace agrees;
the rule's counters count the connections; a refused rule changes nothing and
exits 3; the token comes from a file, never from the command line."""
import os
import time

import pytest

from mininet_topos import probe
from mininet_topos.datacenter import DataCenter
from tests.integration import helpers
from tests.integration.helpers import check


@pytest.fixture(scope='module')
def dc():
    with DataCenter(racks=1, hypervisors=2, vms=1) as running:
        running.node('vm2').cmd('python3 %s serve tcp 80 &' % probe.__file__)
        running.node('vm2').cmd('python3 %s wait-listening 80' % probe.__file__)
        yield running


@pytest.fixture(scope='module')
def vnetsec(dc, tmp_path_factory):
    """Runs ``vnetsec ARGS`` with the API and a token file in its environment."""
    token_file = str(tmp_path_factory.mktemp('operator') / 'token')
    with open(os.open(token_file, os.O_WRONLY | os.O_CREAT, 0o600), 'w') as f:
        f.write(dc.token + '\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith('VNETSEC_')}
    env.update(VNETSEC_API=dc.api_url, VNETSEC_TOKEN_FILE=token_file)

    return lambda line: helpers.vnetsec(line, env)


def tcp80_open(dc):
    return check(dc, 'vm1', 'vm2', 'tcp', 80)


def test_groups_and_a_rule_made_with_vnetsec_decide_the_traffic(dc, vnetsec):
    assert vnetsec('status --check')[0] == 0, vnetsec('status')
    assert tcp80_open(dc)                               # both in "default"
    assert vnetsec('sg create client zone app')[0] == 0
    assert vnetsec('sg create web zone web')[0] == 0
    assert vnetsec('--wait sg port vm1 client') == (0, 'vm1: client\n', '')
    assert vnetsec('sg port vm2 web --wait') == (0, 'vm2: web\n', '')
    assert not tcp80_open(dc)                           # web admits nothing yet
    assert vnetsec('trace vm1 vm2 tcp 80 --expect dropped')[0] == 0

    code, out, err = vnetsec('--wait sg rule add web ingress tcp 80 from zone app')
    assert code == 0 and out.startswith('added to web: ingress tcp 80 from zone app'), err
    t0 = time.time()
    assert tcp80_open(dc)                               # at once: --wait returned
    took = time.time() - t0
    code, out, _ = vnetsec('trace vm1 vm2 tcp 80 --expect allowed')
    assert code == 0 and 'allowed by rule' in out, out
    for _ in range(2):
        assert tcp80_open(dc)
    deadline = time.time() + 5                          # OVS refreshes counters ~1/s
    while True:
        rule = vnetsec('sg show web -f json')[1]['rules'][-1]
        if rule['stats']['packets'] >= 9 or time.time() > deadline:   # 3 connections
            break
        time.sleep(0.3)
    assert rule['protocol'] == 'tcp' and rule['stats']['packets'] >= 9, rule

    # refused by the API: exit 3, its message names the field; nothing changes
    code, out, err = vnetsec('--wait sg rule add web ingress tcp 99999')
    assert (code, out) == (3, '') and '(field port_range_min, HTTP 400)' in err, err
    assert len(vnetsec('sg show web -f json')[1]['rules']) == 3      # two egress, one added

    assert vnetsec('--wait sg rule del web 3')[0] == 0
    assert not tcp80_open(dc)
    assert vnetsec('trace vm1 vm2 tcp 80 --expect dropped')[0] == 0
    for vm in ('vm1', 'vm2'):                           # default admits its own members
        assert vnetsec('--wait sg port %s default' % vm)[0] == 0
    assert tcp80_open(dc)
    print('operator command: the tcp/80 check run as `vnetsec --wait sg rule add` returned '
          'got through (%.2f s, the probe)' % took)


def test_reads_match_the_api_and_the_lab(dc, vnetsec):
    code, ports, _ = vnetsec('port list -f json')
    assert code == 0 and ports == dc.client.get('/v1/ports')
    listing = vnetsec('port')[1]
    assert {line.split()[0] for line in listing.splitlines()[1:]} == {'vm1', 'vm2'}
    code, out, _ = vnetsec('status')
    assert code == 0 and out.startswith('store ok;') and out.count(' yes ') == 3, out
    assert vnetsec('controllers')[1] == 'one controller (no cluster): it masters every switch\n'
    code, out, _ = vnetsec('events --last 0')
    assert code == 0 and {'connect', 'commit'} <= {line.split()[1] for line in
                                                   out.splitlines()[1:]}, out
    code, _, err = vnetsec('network show nowhere')
    assert code == 4 and 'HTTP 404' in err
