"""The action vocabulary of a Flow, declared once: for each kind of action
tuple, how Ryu encodes it (for the reconciler) and how ``ovs-ofctl`` prints it
(for docs, benchmarks and the CLI's dumps), side by side so the two never drift.

  ('output', port)              port: int, 'in_port', 'normal'
  ('set_field', field, value)   ('push_vlan',)  ('pop_vlan',)
  ('move', src, dst, n_bits)    ('resubmit', table)
  ('ct', commit, zone, table, mark)   table None: no recirculation;
                                mark: ct_mark to set on commit, or None;
                                zone: a number, or a register holding it
  ('conjunction', conj_id, clause, n_clauses)
  ('controller', max_len)       a copy to the controller (metered: a logged packet)
  ('goto', table)               an instruction, not an action: last
"""
NX_IN_PORT = 0xfff8     # resubmit's in_port is an OpenFlow 1.0 (16-bit) port number
OFCTL_FIELD = {'eth_dst': 'dl_dst', 'eth_src': 'dl_src', 'eth_type': 'dl_type',
               'tunnel_id': 'tun_id', 'tun_ipv4_dst': 'tun_dst', 'ipv4_src': 'nw_src',
               'ipv4_dst': 'nw_dst', 'ip_proto': 'nw_proto', 'ipv6_nd_target': 'nd_target',
               'ipv6_nd_tll': 'nd_tll', 'ipv6_nd_sll': 'nd_sll'}
_NXM = {'eth_src': 'NXM_OF_ETH_SRC', 'eth_dst': 'NXM_OF_ETH_DST',
        'arp_sha': 'NXM_NX_ARP_SHA', 'arp_tha': 'NXM_NX_ARP_THA',
        'arp_spa': 'NXM_OF_ARP_SPA', 'arp_tpa': 'NXM_OF_ARP_TPA',
        'reg6': 'NXM_NX_REG6', 'reg7': 'NXM_NX_REG7',
        'ipv6_src': 'NXM_NX_IPV6_SRC', 'ipv6_dst': 'NXM_NX_IPV6_DST',
        'ipv6_nd_tll': 'NXM_NX_ND_TLL'}


def value_text(value):
    if isinstance(value, tuple):
        return '%s/%s' % tuple(value_text(v) for v in value)
    return str(value)


def _nxm(name):
    return _NXM.get(name, name)


def _output(ofp, parser, a):
    port = {'in_port': ofp.OFPP_IN_PORT, 'normal': ofp.OFPP_NORMAL}.get(a[1], a[1])
    return parser.OFPActionOutput(port, 0xffff)


def _output_text(a):
    return {'in_port': 'IN_PORT', 'normal': 'NORMAL'}.get(a[1], 'output:%s' % a[1])


def _set_field_text(a):
    if a[1] == 'vlan_vid':
        return 'mod_vlan_vid:%d' % (a[2] & 0xfff)
    return 'set_field:%s->%s' % (value_text(a[2]), OFCTL_FIELD.get(a[1], a[1]))


def _ct(ofp, parser, a):
    _, commit, zone, table, mark = a
    inner = [parser.OFPActionSetField(ct_mark=mark)] if mark is not None else []
    from_reg = isinstance(zone, str)          # zone in a register's bits 0..15
    return parser.NXActionCT(flags=1 if commit else 0, zone_src=zone if from_reg else '',
                             zone_ofs_nbits=15 if from_reg else zone,
                             recirc_table=255 if table is None else table, alg=0,
                             actions=inner)


def _ct_text(a):
    _, commit, zone, table, mark = a
    parts = (['commit'] if commit else []) + [
        'zone=%s' % ('%s[0..15]' % _nxm(zone) if isinstance(zone, str) else zone)]
    if table is not None:
        parts.append('table=%d' % table)
    if mark is not None:
        parts.append('exec(set_field:%d->ct_mark)' % mark)
    return 'ct(%s)' % ','.join(parts)


# kind -> (encode(ofproto, parser, action) -> Ryu action, text(action) -> ovs-ofctl)
ACTIONS = {
    'output': (_output, _output_text),
    'set_field': (lambda ofp, parser, a: parser.OFPActionSetField(**{a[1]: a[2]}),
                  _set_field_text),
    'push_vlan': (lambda ofp, parser, a: parser.OFPActionPushVlan(0x8100),
                  lambda a: 'push_vlan:0x8100'),
    'pop_vlan': (lambda ofp, parser, a: parser.OFPActionPopVlan(), lambda a: 'pop_vlan'),
    'move': (lambda ofp, parser, a: parser.NXActionRegMove(src_field=a[1], dst_field=a[2],
                                                           n_bits=a[3]),
             lambda a: 'move:%s[0..%d]->%s[0..%d]' % (_nxm(a[1]), a[3] - 1, _nxm(a[2]),
                                                      a[3] - 1)),
    'resubmit': (lambda ofp, parser, a: parser.NXActionResubmitTable(in_port=NX_IN_PORT,
                                                                     table_id=a[1]),
                 lambda a: 'resubmit(,%d)' % a[1]),
    'ct': (_ct, _ct_text),
    'conjunction': (lambda ofp, parser, a: parser.NXActionConjunction(
        clause=a[2] - 1, n_clauses=a[3], id_=a[1]),
        lambda a: 'conjunction(%d,%d/%d)' % (a[1], a[2], a[3])),
    'controller': (lambda ofp, parser, a: parser.OFPActionOutput(ofp.OFPP_CONTROLLER, a[1]),
                   lambda a: 'CONTROLLER:%d' % a[1]),
    'goto': (None, lambda a: 'goto_table:%d' % a[1]),      # an instruction
}


def encode(dp, actions):
    """Our action tuples -> (Ryu's apply-actions list, goto table or None)."""
    out, goto_table = [], None
    for a in actions:
        if a[0] == 'goto':
            goto_table = a[1]
        elif a[0] in ACTIONS:
            out.append(ACTIONS[a[0]][0](dp.ofproto, dp.ofproto_parser, a))
        else:
            raise ValueError('unknown action %r' % (a,))
    return out, goto_table


def text(action):
    if action[0] not in ACTIONS:
        raise ValueError('unknown action %r' % (action,))
    return ACTIONS[action[0]][1](action)
