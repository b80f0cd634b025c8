"""The operator's command ``vnetsec`` against the REST API served over real HTTP
in this process (no switch): every resource's commands, tables and ``-f json``
(the API's own answer), the token's sources, and an exit code per kind of
failure, each with the API's message naming the field."""
import json
import re
import threading
import wsgiref.simple_server

import pytest

import controller.api.trace  # noqa: F401  (registers POST /v1/trace, as the controller does)
from controller.api.rest import Running
from controller.api.v1 import Api
from controller.cli import main
from controller.compile.host import ALL
from tests.unit.conftest import add_hv

TOKEN, READER = 'admin-secret', 'reader-secret'


class Switches(Running):
    """A controller in a cluster of two with one switch in sync and one not, a
    few events, and every feature (the trace)."""
    answer = {'switches': {'0000000000000001': {'host': 'hv1', 'synced': True, 'failing': None,
                                                'master': 'c1', 'generation': 3},
                           '0000000000000002': {'host': 'hv2', 'synced': False,
                                                'failing': 'bundle refused',
                                                'master': 'c1', 'generation': 3}},
              'idle': True, 'replica': 'c1', 'lease_ttl': 2,
              'replicas': {'c1': {'api': 'http://127.0.0.1:8081', 'lease_age': 0.4,
                                  'switches': 2},
                           'c2': {'api': 'http://127.0.0.1:8082', 'lease_age': 1.2,
                                  'switches': 2}}}

    def __init__(self):
        self.answer = json.loads(json.dumps(self.answer))      # a test's own copy

    def status(self):
        return json.loads(json.dumps(self.answer))

    def features(self):
        return ALL

    def recent_events(self):
        return [{'time': 1700000000.25 + n, 'event': 'port', 'host': 'hv1',
                 'device': 'tap%d' % n} for n in range(5)]


class Quiet(wsgiref.simple_server.WSGIRequestHandler):
    def log_message(self, *args):
        pass


def serve(app):
    server = wsgiref.simple_server.make_server('127.0.0.1', 0, app, handler_class=Quiet)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    return server


@pytest.fixture
def running():
    return Switches()


@pytest.fixture
def api(service, running):
    server = serve(Api(service, token=TOKEN, reader_token=READER, running=running))
    yield 'http://127.0.0.1:%d' % server.server_port
    server.shutdown()
    server.server_close()


@pytest.fixture
def vnetsec(api, capsys):
    """Runs the command as a shell would: (exit code, stdout, stderr)."""
    def run(line, env=None, json_out=False):
        code = main.main(line.split(), dict({'VNETSEC_API': api, 'VNETSEC_TOKEN': TOKEN},
                                            **(env or {})))
        out, err = capsys.readouterr()
        return code, (json.loads(out) if json_out else out), err
    return run


def get(api, path, token=TOKEN):
    return main.Client(api, token).get(path)


def test_network_create_list_show_delete(vnetsec, api):
    code, out, _ = vnetsec('network create blue --kind vlan --segmentation-id 101')
    assert code == 0 and out.startswith('created network blue (vlan 101, id ')
    code, nets, _ = vnetsec('network list -f json', json_out=True)
    assert code == 0 and nets == get(api, '/v1/networks')
    assert re.search(r'^blue +vlan +101 +%s$' % nets[0]['id'], vnetsec('network')[1], re.M)
    assert vnetsec('-f json network show blue', json_out=True)[1] == nets[0]
    assert 'segmentation_id:  101\n' in vnetsec('network show %s' % nets[0]['id'])[1]
    assert vnetsec('network delete blue') == (0, 'deleted network blue\n', '')
    assert get(api, '/v1/networks') == []


def test_ports_by_name_device_or_id(vnetsec, api, service):
    vnetsec('network create blue')
    vnetsec('sg create web')
    code, out, err = vnetsec('port create blue --mac 02:00:00:00:00:01 --device tap1 '
                             '--name vm1 --ip 10.0.0.1 --host hv1 --group web')
    assert code == 0 and out.startswith('created port vm1 (device tap1, id '), err
    port = get(api, '/v1/ports')[0]
    assert port['ips'] == ['10.0.0.1'] and port['host'] == 'hv1'
    assert vnetsec('port show tap1 -f json', json_out=True)[1] == port
    listing = vnetsec('port list --network blue')[1]
    assert re.search(r'^vm1 +tap1 +blue +02:00:00:00:00:01 +10.0.0.1 +hv1 \(requested\) +web '
                     r'+%s$' % port['id'], listing, re.M), listing
    assert vnetsec('port list --network nowhere')[1].count('\n') == 1   # the headers
    assert vnetsec('port set vm1 --no-groups --port-security off')[0] == 0
    assert get(api, '/v1/ports/%s' % port['id'])['security_groups'] == []
    assert '(port security off)' in vnetsec('port')[1]
    assert vnetsec('port set vm1')[0] == main.USAGE
    assert vnetsec('port delete %s' % port['id']) == (0, 'deleted port vm1\n', '')
    assert get(api, '/v1/ports') == []


def test_groups_and_rules_in_the_words_that_show_them(vnetsec, api):
    vnetsec('network create blue')
    vnetsec('port create blue --mac 02:00:00:00:00:02 --device tap2 --name vm2')
    assert vnetsec('sg create web zone web description front end')[0] == 0
    assert get(api, '/v1/security-groups/web')['description'] == 'front end'
    code, out, _ = vnetsec('sg rule add web ingress tcp 80 from zone app')
    assert code == 0 and out.startswith('added to web: ingress tcp 80 from zone app (id ')
    assert vnetsec('sg add web ingress icmp 8 from 10.0.0.0/16')[0] == 0   # the short form
    assert vnetsec('sg port vm2 web') == (0, 'vm2: web\n', '')
    shown = vnetsec('sg show web')[1]
    assert shown.startswith('web (zone web, id ') and 'ports vm2' in shown
    assert re.search(r'^ +3 +ingress tcp 80 from zone app +0 +0 +\S+$', shown, re.M), shown
    assert re.search(r'^ +4 +ingress icmp 8 from 10.0.0.0/16 ', shown, re.M), shown
    assert re.search(r'^web +web +4 +vm2$', vnetsec('sg')[1], re.M)
    assert vnetsec('sg create fast --stateless')[0] == 0
    assert get(api, '/v1/security-groups/fast')['stateful'] is False
    assert ', stateless): ports -' in vnetsec('sg show fast')[1]
    code, out, _ = vnetsec('sg rule del web 3')
    assert code == 0 and out.startswith('removed from web: ingress tcp 80 from zone app')
    rules = get(api, '/v1/security-groups/web')['rules']
    assert [r['protocol'] for r in rules] == ['any', 'any', 'icmp']
    code, removed, _ = vnetsec('sg rule del web %s -f json' % rules[2]['id'], json_out=True)
    assert code == 0 and removed['id'] == rules[2]['id']
    assert vnetsec('sg port vm2 --none') == (0, 'vm2: (no group)\n', '')
    assert vnetsec('sg delete web') == (0, 'deleted web\n', '')


@pytest.mark.parametrize('line,code,message', [
    # the API refuses, naming the field; nothing changes
    ('sg rule add web ingress tcp 99999', main.REFUSED,
     'port_range_min must be in 1-65535 (field port_range_min, HTTP 400)'),
    ('sg rule add web sideways', main.REFUSED, '(field direction, HTTP 400)'),
    ('network create blue --kind vlan --segmentation-id 4095', main.REFUSED,
     '(field segmentation_id, HTTP 400)'),
    ('sg create web', main.REFUSED, '(field name, HTTP 409)'),
    ('sg rule add web ingress tcp 80 from group nope', main.NOT_FOUND,
     '(field remote_group_id, HTTP 404)'),
    ('network show nope', main.NOT_FOUND, 'HTTP 404'),
    ('sg port vm9 web', main.NOT_FOUND, "no port named 'vm9' (field port)"),
    ('sg rule del web 9', main.NOT_FOUND, "group web has no rule '9'"),
    # words the command cannot send
    ('sg rule add web ingress tcp http', main.USAGE, '(field port_range_min)'),
    ('sg rule', main.USAGE, 'usage: sg rule add GROUP'),
    ('trace vm1', main.USAGE, 'usage: trace VM'),
    ('network frobnicate', main.USAGE, "invalid choice: 'frobnicate'"),
    ('status --token secret', main.USAGE, 'unrecognized arguments: --token secret'),
    ('', main.USAGE, 'a command is needed'),
])
def test_each_failure_has_its_exit_code_and_says_why(vnetsec, api, line, code, message):
    vnetsec('sg create web')
    before = [get(api, path) for path in ('/v1/networks', '/v1/ports', '/v1/security-groups')]
    got, out, err = vnetsec(line)
    assert (got, out) == (code, ''), err
    assert err.startswith('error: ') and message in err, err
    assert [get(api, path) for path in ('/v1/networks', '/v1/ports',
                                        '/v1/security-groups')] == before


def test_the_token_comes_from_the_environment_or_a_file(vnetsec, tmp_path):
    key = tmp_path / 'token'
    key.write_text(TOKEN + '\n')
    assert vnetsec('network', env={'VNETSEC_TOKEN': ''})[0] == main.DENIED     # none
    assert vnetsec('network', env={'VNETSEC_TOKEN': 'wrong'})[0] == main.DENIED
    assert vnetsec('network', env={'VNETSEC_TOKEN': '', 'VNETSEC_API_TOKEN': TOKEN})[0] == 0
    assert vnetsec('network', env={'VNETSEC_TOKEN': '', 'VNETSEC_TOKEN_FILE': str(key)})[0] == 0
    assert vnetsec('--token-file %s network' % key, env={'VNETSEC_TOKEN': 'wrong'})[0] == 0
    code, _, err = vnetsec('--token-file %s network' % (tmp_path / 'none'))
    assert code == main.USAGE and 'cannot read the token file' in err
    code, _, err = vnetsec('network create blue', env={'VNETSEC_TOKEN': READER})  # reads only
    assert code == main.DENIED and 'HTTP 403' in err
    assert vnetsec('network', env={'VNETSEC_TOKEN': READER})[0] == 0


def test_an_api_that_is_not_there_or_fails(vnetsec):
    import socket
    with socket.socket() as s:          # a port nothing listens on
        s.bind(('127.0.0.1', 0))
        closed = 'http://127.0.0.1:%d' % s.getsockname()[1]
    code, _, err = vnetsec('status', env={'VNETSEC_API': closed})
    assert code == main.UNREACHABLE and 'cannot reach the controller API at %s' % closed in err

    def broken(environ, start_response):
        start_response('500 Internal Server Error', [('Content-Type', 'text/plain')])
        return [b'oops']
    server = serve(broken)
    try:
        code, _, err = vnetsec('--api http://127.0.0.1:%d status' % server.server_port)
    finally:
        server.shutdown()
        server.server_close()
    assert code == main.FAILED and 'oops (HTTP 500)' in err


def test_status_and_its_check(vnetsec, running):
    code, out, _ = vnetsec('status')
    assert code == 0 and out.startswith('store ok; idle (every change sent); apps ')
    assert re.search(r'^hv2 +0000000000000002 +no +c1 +bundle refused$', out, re.M), out
    assert vnetsec('status --check')[0] == 1          # hv2 is c1's and not in sync
    running.answer['switches']['0000000000000002'].update(master='c2', failing=None)
    out = vnetsec('status')[1]
    assert re.search(r'^hv2 +0000000000000002 +by c2 +c2 +-$', out, re.M), out
    assert vnetsec('status --check')[0] == 0          # hv2 is c2's to sync
    running.answer['idle'] = False
    assert vnetsec('status --check')[0] == 1
    assert vnetsec('-f json status', json_out=True)[1] == running.status()


def test_controllers_and_events(vnetsec, running):
    code, out, _ = vnetsec('controllers')
    assert code == 0 and out.startswith('asked c1; lease 2 s\n')
    assert re.search(r'^c2 +lease +http://127.0.0.1:8082 +1.2 +2$', out, re.M), out
    assert re.search(r'^hv1 +c1 +3$', out, re.M), out
    running.answer = {'switches': {}, 'idle': True}
    assert vnetsec('controllers')[1] == 'one controller (no cluster): it masters every switch\n'
    code, out, _ = vnetsec('events --last 2')
    assert code == 0 and out.splitlines()[1:] == [
        '22:13:23.250  port   host=hv1 device=tap3', '22:13:24.250  port   host=hv1 device=tap4']
    assert len(vnetsec('events -f json --last 0', json_out=True)[1]) == 5


def test_trace_and_its_expected_verdict(vnetsec, service):
    for n in (1, 2):
        add_hv(service, 'hv%d' % n, n)
    vnetsec('network create blue')
    vnetsec('sg create web')
    for n in (1, 2):
        vnetsec('port create blue --mac 02:00:00:00:00:0%d --device tap%d --name vm%d '
                '--ip 10.0.0.%d --host hv%d --group web' % (n, n, n, n, n))
        service.bind('hv%d' % n, {'tap%d' % n: n})
    code, out, _ = vnetsec("trace vm1 vm2 tcp 22")
    assert code == 0 and out.startswith("DROPPED: vm2's ingress: dropped: no rule of groups "
                                        "[web] allows tcp/22"), out
    assert vnetsec('trace vm1 vm2 tcp 22 --expect dropped')[0] == 0
    assert vnetsec('trace vm1 vm2 tcp 22 --expect allowed')[0] == 1
    vnetsec('sg rule add web ingress tcp 22 from group web')
    code, answer, _ = vnetsec('trace vm1 vm2 tcp 22 -f json --expect allowed', json_out=True)
    assert code == 0 and answer['verdict'] == 'allowed' and answer['delivered_to'] == ['vm2']


def test_help_lists_the_commands_and_the_exit_codes(vnetsec):
    code, out, _ = vnetsec('-h')
    assert code == 0 and 'exit codes: 0 done' in out
    for command in ('network', 'port', 'sg', 'trace', 'status', 'controllers', 'events'):
        assert '\n    %s ' % command in out
    code, out, _ = vnetsec('sg rule add -h')
    assert code == 0 and out.startswith('usage: vnetsec sg rule add ')


def test_the_lab_shell_runs_the_same_commands_and_waits_after_writes(api, monkeypatch):
    """The session's ``sg``/``trace``/``mappings`` are ``vnetsec``'s: same words,
    same tables; each write waits for the data center; a failure fails the batch."""
    from mininet_topos import operator_cli
    from mininet_topos.cli import VnetsecCLI
    printed, waits = [], []
    monkeypatch.setattr(operator_cli, 'output', printed.append)

    class Lab:
        client = main.Client(api, TOKEN)

        def wait_ready(self):
            waits.append(len(printed))
    with open('/dev/null') as nothing:
        cli = VnetsecCLI({}, dc=Lab(), stdin=nothing, script='/dev/null')
    cli.onecmd('sg create web zone web')
    cli.onecmd('sg add web ingress tcp 80 from zone app')
    cli.onecmd('sg rule add web ingress udp 53')
    cli.onecmd('sg show web -f json')
    assert not cli.failed and waits == [0, 1, 2]
    assert printed[1].startswith('added to web: ingress tcp 80 from zone app (id ')
    shown = json.loads(printed[3])
    assert shown == get(api, '/v1/security-groups/web')
    assert [r['protocol'] for r in shown['rules']] == ['any', 'any', 'tcp', 'udp']
    cli.onecmd("sg create 'unclosed")
    assert cli.failed and printed[-1].startswith('error: No closing quotation')
    cli.failed = False
    cli.onecmd('trace vm1')
    assert cli.failed and printed[-1].startswith('error: usage: trace VM')
    cli.failed = False
    cli.onecmd('mappings nowhere')
    assert cli.failed and 'HTTP 404' in printed[-1] and len(waits) == 3


def test_the_lab_knows_each_replicas_process():
    from controller.cli import show
    text = show.controllers(Switches.answer, {'c1': 'running', 'c2': 'frozen',
                                              'c3': 'stopped'})
    assert re.search(r'^c2 +frozen +http://127.0.0.1:8082 +1.2 +2$', text, re.M), text
    assert re.search(r'^c3 +stopped +- +- +-$', text, re.M), text
    assert show.controllers({'switches': {}}, {'c1': 'stopped'}).startswith(
        'asked -; lease - s\nREPLICA  STATE')
