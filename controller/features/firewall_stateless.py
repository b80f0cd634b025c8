"""Stateless security groups (Neutron's ``stateful: false``): a rule admits the
packets of its direction that it matches (egress: what the VM sends, ingress:
what it receives), with no conntrack, so replies need rules of their own; ARP
passes; anything else is dropped. A port's groups are all stateful or all
stateless (the service refuses a mix, as Neutron does), so a port's ACL is
either :func:`controller.features.firewall.acl` or :func:`acl` here.

Untracked packets carry no ``ct_mark``: a rule's flows set its mark in
``REG_RULE`` instead (nothing matches it), which names their rule to the
per-rule counters and the trace. Deleting a rule stops its packets at once
(there are no sessions).
"""
from controller.compile import pipeline as P
from controller.compile.flows import address_match, flow, goto, reuse, set_field
from controller.compile.pipeline import rule_mark
from controller.features import firewall_v6 as V6


def is_stateless(inv, port):
    groups = inv.groups_of(port)
    return bool(groups) and not groups[0].stateful


def rule_ids(inv):
    """Ids of the rules of the stateless groups (once per state)."""
    return inv.memo('stateless-rules', lambda: frozenset(
        r['id'] for g in inv.groups.values() if not g.stateful for r in g.rules))


def acl(port, direction, rules, protocol_matches):
    """One direction of a stateless vNIC: ``rules`` its groups' rules of that
    direction; ``protocol_matches(rule)``: a rule's protocol matches. The ND and
    MLD a host needs pass, as on a stateful vNIC."""
    if direction == 'egress':
        table, who, passed, remote = P.EGRESS_ACL, {'in_port': port.ofport}, \
            [goto(P.ARP_RESPONDER)], 'dst'
    else:
        table, who, passed, remote = P.INGRESS_ACL, {P.REG_OUT_PORT: port.ofport}, \
            [goto(P.OUTPUT)], 'src'
    flows = [flow('firewall', table, P.priority(table, 'arp'), dict(who, eth_type=P.ARP), passed),
             flow('firewall', table, P.priority(table, 'deny_other'), dict(who))] \
        + V6.nd_passes(table, who, passed)
    for rule in rules:
        family = V6.FAMILY[V6.ethertype(rule)]
        here = dict(who, eth_type=family['eth_type'])
        matches = protocol_matches(rule)
        if rule['remote_ip_prefix']:
            for m in matches:
                m[family[remote]] = address_match(rule['remote_ip_prefix'])
        admitted = [set_field(P.REG_RULE, rule_mark(rule))] + passed
        if not (rule['remote_group_id'] or rule['remote_zone']):
            flows += [flow('firewall', table, P.priority(table, 'stateless_rule'),
                           dict(here, **m), admitted) for m in matches]
            continue
        # a remote group: the conjunction of the bridge's clause-1 flows
        # (:func:`clause1_flow`, the members' addresses) and this vNIC's match
        conj_id = rule_mark(rule)
        prio = P.priority(table, 'stateless_remote')
        flows.append(flow('firewall', table, prio,
                          {'eth_type': family['eth_type'], 'conj_id': conj_id}, admitted))
        flows += [flow('firewall', table, prio, dict(here, **m),
                       [('conjunction', conj_id, 2, 2)]) for m in matches]
    return flows


def clause1_flow(table, field, address, marks):
    """Clause 1 of stateless rules naming a remote group: a member's address
    (or an address pair's prefix), untracked."""
    return reuse('firewall', ('stateless-clause1', table, field, address, tuple(sorted(marks))),
                 lambda: [flow('firewall', table, P.priority(table, 'stateless_remote'),
                               {'eth_type': V6.family_of(address)['eth_type'],
                                field: address_match(address)},
                               [('conjunction', c, 1, 2) for c in sorted(marks)])])[0]
