"""The interactive session's pieces that need no data center: the API port
probe (TIME_WAIT is not "in use", a listener is) and the words of the firewall
command turned into REST bodies and back."""
import socket

import pytest

from mininet_topos.datacenter import _free_port
from controller.protocols import rule_words
from controller.cli.words import UsageError, rule_body


def _time_wait_port():
    """A port whose only socket left is a server-side connection in TIME_WAIT
    (the server closed first, as the controller's HTTP server does)."""
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(('127.0.0.1', 0))
    server.listen(1)
    port = server.getsockname()[1]
    client = socket.create_connection(('127.0.0.1', port))
    conn, _ = server.accept()
    conn.close()
    client.recv(1)                         # sees the FIN
    client.close()
    server.close()
    return port


def test_a_port_in_time_wait_is_free():
    port = _time_wait_port()
    with socket.socket() as plain, pytest.raises(OSError):
        plain.bind(('127.0.0.1', port))    # what the old probe did: "in use"
    assert _free_port(port, 'the controller API', required=True) == port


def test_a_listening_port_is_in_use_and_named():
    with socket.socket() as server:
        server.bind(('127.0.0.1', 0))
        server.listen(1)
        port = server.getsockname()[1]
        other = _free_port(port, 'the controller API')
        assert other != port
        with pytest.raises(RuntimeError) as err:
            _free_port(port, 'the controller API', required=True)
    assert 'the controller API port %d is in use by python' % port in str(err.value)


@pytest.mark.parametrize('words,body', [
    ('egress', {'direction': 'egress'}),
    ('ingress tcp 80', {'direction': 'ingress', 'protocol': 'tcp', 'port_range_min': 80}),
    ('ingress udp 5000-5010 from 10.0.0.0/16',
     {'direction': 'ingress', 'protocol': 'udp', 'port_range_min': 5000,
      'port_range_max': 5010, 'remote_ip_prefix': '10.0.0.0/16'}),
    ('ingress icmp from group client',
     {'direction': 'ingress', 'protocol': 'icmp', 'remote_group_id': 'client'}),
    ('egress to zone db', {'direction': 'egress', 'remote_zone': 'db'}),
    ('sideways', {'direction': 'sideways'}),            # the API says what is wrong
])
def test_rule_words_to_body(words, body):
    assert rule_body(words.split()) == body


@pytest.mark.parametrize('words,message', [
    ('', 'direction is required: ingress or egress (field direction)'),
    ('ingress tcp http', "ports must be PORT, MIN-MAX or (icmp) TYPE/CODE, not 'http' (field port_range_min)"),
    ('ingress tcp 80 from', "after the ports: from|to PREFIX"),
    ('ingress tcp 80 from host x', "a remote is PREFIX, group GROUP or zone ZONE"),
])
def test_bad_rule_words_say_what_is_wrong(words, message):
    with pytest.raises(UsageError) as err:
        rule_body(words.split())
    assert message in str(err.value)


def test_a_rule_is_shown_as_the_words_that_add_it():
    rule = {'direction': 'ingress', 'protocol': 'tcp', 'port_range_min': 80,
            'port_range_max': 80, 'remote_ip_prefix': '', 'remote_group_id': 'g1',
            'remote_zone': ''}
    assert rule_words(rule, {'g1': 'client'}) == 'ingress tcp 80 from group client'
    assert rule_body(rule_words(rule, {}).split()) == {
        'direction': 'ingress', 'protocol': 'tcp', 'port_range_min': 80,
        'remote_group_id': 'g1'}


def test_help_lists_vnetsecs_commands_first_one_line_each():
    import io
    from mininet_topos.cli import OWN_COMMANDS, VnetsecCLI
    with open('/dev/null') as nothing:
        cli = VnetsecCLI({}, stdin=nothing, script='/dev/null')
    cli.stdout = io.StringIO()
    cli.do_help('')
    lines = cli.stdout.getvalue().splitlines()
    assert lines[0].startswith('vnetsec commands')
    assert [line.split()[0] for line in lines[1:1 + len(OWN_COMMANDS)]] == list(OWN_COMMANDS)
    assert lines[1 + len(OWN_COMMANDS)] == 'Mininet commands:'
    assert 'sg' not in ' '.join(lines[2 + len(OWN_COMMANDS):]).split()
