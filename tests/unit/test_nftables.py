"""Security-group rules rendered for a firewall VM (mininet_topos.nftables)."""
import pytest

from controller.state.model import ValidationError
from mininet_topos.nftables import direction_rules, ruleset

GROUPS = {
    'web': {'members': ['10.0.0.2', '10.0.0.1'], 'rules': [
        {'direction': 'ingress', 'protocol': 'tcp', 'port_range_min': 80},
        {'direction': 'ingress', 'protocol': 'tcp', 'port_range_min': 8000,
         'port_range_max': 8080, 'remote_group_id': 'admin'},
        {'direction': 'ingress', 'protocol': 'icmp', 'remote_ip_prefix': '10.9.0.0/16'},
        {'direction': 'egress', 'protocol': 'udp'}]},
    'admin': {'members': ['10.0.0.9'], 'rules': [{'direction': 'egress'}]},
    'empty': {'members': [], 'rules': [{'direction': 'egress'}]},
}


def test_ingress_rules_match_the_members_as_destination():
    assert direction_rules(GROUPS, 'ingress') == [
        ('ip daddr { 10.0.0.1, 10.0.0.2 } tcp dport 80', 'web'),
        ('ip daddr { 10.0.0.1, 10.0.0.2 } ip saddr { 10.0.0.9 } tcp dport 8000-8080', 'web'),
        ('ip daddr { 10.0.0.1, 10.0.0.2 } ip saddr 10.9.0.0/16 ip protocol icmp', 'web')]


def test_egress_rules_match_the_members_as_source_and_skip_empty_groups():
    assert direction_rules(GROUPS, 'egress') == [
        ('ip saddr { 10.0.0.9 }', 'admin'),
        ('ip saddr { 10.0.0.1, 10.0.0.2 } ip protocol udp', 'web')]


def test_ruleset_is_default_deny_and_needs_both_egress_and_ingress():
    text = ruleset(GROUPS)
    forward = text[text.index('chain forward'):text.index('chain egress')]
    assert 'policy drop;' in forward
    assert forward.index('established,related') < forward.index('jump egress') \
        < forward.index('jump ingress')
    egress = text[text.index('chain egress'):text.index('chain ingress')]
    # outsiders are not restricted on their side; members need an egress rule
    assert 'ip saddr != { 10.0.0.1, 10.0.0.2, 10.0.0.9 } return' in egress
    assert egress.strip().splitlines()[-2].strip() == 'counter drop comment "denied"'
    ingress = text[text.index('chain ingress'):text.index('chain input')]
    assert 'tcp dport 80 counter accept comment "web"' in ingress


def test_a_rule_naming_an_unknown_group_is_refused():
    with pytest.raises(ValueError, match='nosuch'):
        ruleset({'g': {'members': ['10.0.0.1'], 'rules': [
            {'direction': 'ingress', 'remote_group_id': 'nosuch'}]}})


def test_rules_are_checked_like_the_controller_checks_them():
    with pytest.raises(ValidationError) as err:
        ruleset({'g': {'members': ['10.0.0.1'], 'rules': [
            {'direction': 'ingress', 'protocol': 'gre', 'port_range_min': 22}]}})
    assert err.value.field == 'port_range_min'
