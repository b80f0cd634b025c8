"""The command's tables: what each answer of the API looks like to a person
(``-f json`` prints the answer itself). Pure functions of the API's JSON."""
import time

from controller.protocols import rule_words


def _number(text):
    return text.replace('.', '', 1).isdigit()


def table(headers, rows, indent=''):
    """Columns two spaces apart, numbers right-aligned, no trailing blanks."""
    rows = [['-' if cell in (None, '') else str(cell) for cell in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]
    numeric = [any(_number(r[i]) for r in rows) and all(_number(r[i]) or r[i] == '-'
                                                        for r in rows)
               for i in range(len(headers))]

    def line(cells):
        text = '  '.join(c.rjust(w) if num else c.ljust(w)
                         for c, w, num in zip(cells, widths, numeric))
        return indent + text.rstrip() + '\n'
    return line(headers) + ''.join(line(r) for r in rows)


def record(data):
    """One object as 'key: value' lines (lists joined by spaces)."""
    width = max((len(k) for k in data), default=0)
    return ''.join('%-*s  %s\n' % (width + 1, key + ':', ' '.join(map(str, value))
                                   if isinstance(value, list) else value)
                   for key, value in data.items())


def networks(nets):
    return table(('NAME', 'KIND', 'SEGMENT', 'ID'), [
        (n['name'], n['kind'], n['segmentation_id'], n['id'])
        for n in sorted(nets, key=lambda n: n['name'])])


def ports(found, network_names, group_names):
    return table(('NAME', 'DEVICE', 'NETWORK', 'MAC', 'IPS', 'HOST', 'GROUPS', 'ID'), [
        (p['name'], p['device'], network_names.get(p['network_id'], p['network_id']), p['mac'],
         ' '.join(p['ips']), p['bound_host'] or (p['host'] and p['host'] + ' (requested)'),
         ' '.join(group_names.get(g, g) for g in p['security_groups'])
         if p['port_security_enabled'] else '(port security off)', p['id'])
        for p in sorted(found, key=lambda p: p['name'])])


def groups(found, members):
    """``members``: {group id: names of its ports}."""
    return table(('GROUP', 'ZONE', 'RULES', 'PORTS'), [
        (g['name'], g['zone'], len(g['rules']), ' '.join(sorted(members.get(g['id'], []))))
        for g in sorted(found, key=lambda g: g['name'])])


def group(found, members, group_names):
    """A group and its rules, numbered (``sg rule del GROUP N``), with their counters."""
    head = '%s (zone %s, id %s%s): ports %s\n' % (
        found['name'], found['zone'] or '-', found['id'],
        '' if found.get('stateful', True) else ', stateless',
        ' '.join(sorted(members.get(found['id'], []))) or '-')
    if found['description']:
        head += '  %s\n' % found['description']
    return head + table(('#', 'RULE', 'PACKETS', 'BYTES', 'ID'), [
        (n, rule_words(r, group_names), (r.get('stats') or {}).get('packets', 0),
         (r.get('stats') or {}).get('bytes', 0), r['id'])
        for n, r in enumerate(found['rules'], 1)], indent='  ')


def trace(answer):
    """The verdict first, then host, table and words per step; for a drop a
    firewall log records, the log and the last such packets it recorded."""
    lines = ['%s: %s' % (answer['verdict'].upper(), answer['summary'])]
    for step in answer['steps']:
        lines.append('  %-4s %-14s %s' % (step['host'], step['table_name'], step['says']))
    logged = answer.get('logged') or {}
    for log in logged.get('logs', ()):
        lines.append('logged by %s: `log show %s`%s' % (
            log['name'] or log['id'], log['name'] or log['id'],
            ', file ' + log['path'] if log['path'] else ''))
    lines += ['  seen: ' + log_record(r) for r in logged.get('records', ())]
    return '\n'.join(lines) + '\n'


def out_of_sync(answer):
    """Names of the switches the answering controller should have in sync and has
    not (in a cluster, a switch another replica masters is that one's to sync)."""
    mine = answer.get('replica')
    return sorted(s.get('host') or dpid for dpid, s in answer['switches'].items()
                  if not s['synced'] and s.get('master') in (None, mine))


def status(answer, health):
    """Health, whether changes wait to be sent, and each switch's sync."""
    head = 'store %s; %s; apps %s\n' % (
        health, 'idle (every change sent)' if answer['idle'] else 'busy (changes to send)',
        ', '.join(answer.get('apps', [])) or '-')
    mine = answer.get('replica')
    return head + table(('SWITCH', 'DPID', 'SYNCED', 'MASTER', 'FAILING'), [
        (s.get('host'), dpid, 'yes' if s['synced'] else 'no' if s.get('master') in (None, mine)
         else 'by ' + s['master'], s.get('master'), s.get('failing'))
        for dpid, s in sorted(answer['switches'].items(),
                              key=lambda item: item[1].get('host') or item[0])])


def controllers(answer, states=None):
    """The replicas (their lease age, switches) and each switch's master, from one
    replica's /v1/status; ``states``: {replica name: what its process is doing},
    where the caller knows (the lab)."""
    replicas, states = answer.get('replicas') or {}, states or {}
    if not replicas and not states:
        return 'one controller (no cluster): it masters every switch\n'
    head = 'asked %s; lease %s s\n' % (answer.get('replica') or '-',
                                       answer.get('lease_ttl', '-'))
    names = sorted(set(replicas) | set(states))
    rows = [(name, states.get(name, 'lease' if name in replicas else 'no lease'),
             (replicas.get(name) or {}).get('api'),
             '%.1f' % replicas[name]['lease_age']
             if (replicas.get(name) or {}).get('lease_age') is not None else None,
             (replicas.get(name) or {}).get('switches'))
            for name in names]
    return (head + table(('REPLICA', 'STATE', 'API', 'LEASE AGE', 'SWITCHES'), rows) + '\n'
            + table(('SWITCH', 'MASTER', 'GENERATION'), [
                (s.get('host') or dpid, s.get('master'), s.get('generation'))
                for dpid, s in sorted(answer['switches'].items(),
                                      key=lambda item: item[1].get('host') or item[0])]))


def events(found):
    """Time (UTC), kind, and the event's other fields as key=value."""
    return table(('TIME (UTC)', 'EVENT', 'DETAILS'), [
        (time.strftime('%H:%M:%S', time.gmtime(e['time'])) + '.%03d' % (e['time'] % 1 * 1000),
         e.get('event'), ' '.join('%s=%s' % (k, v) for k, v in e.items()
                                  if k not in ('time', 'event')))
        for e in found])


def mappings(answer):
    lines = ['%s %d' % (answer['kind'], answer['segmentation_id'])]
    for host, entries in sorted(answer['hosts'].items()):
        lines.append('  %s' % host)
        lines += ['      %s -> %s' % item for item in sorted(entries.items())]
    return '\n'.join(lines) + '\n'


def logs(found, group_names, port_names):
    """The firewall logs: what each covers, its event and file."""
    def covers(log):
        return ' '.join(filter(None, [
            'group ' + group_names.get(log['group_id'], log['group_id']) if log['group_id']
            else '', 'port ' + port_names.get(log['port_id'], log['port_id'])
            if log['port_id'] else ''])) or 'every port'
    return table(('NAME', 'EVENT', 'COVERS', 'FILE', 'ENABLED', 'ID'), [
        (log['name'], log['event'], covers(log), log['path'], 'yes' if log['enabled'] else
         'no', log['id']) for log in found])


def log_record(r):
    """One firewall log record as a line: time, where, verdict, 5-tuple, rule."""
    if r['verdict'] == 'SUPPRESSED':
        return '%s  %s  SUPPRESSED %d packets (the switch\'s log_rate)' % (
            r['time'][11:23], r['hypervisor'], r['suppressed'])

    def peer(ip, port):
        return ip if port is None else '%s:%s' % (ip, port)
    return '%s  %s  %s  %s  %s  %s %s -> %s  %s' % (
        r['time'][11:23], r['hypervisor'], r['vm'], r['direction'], r['verdict'],
        r['protocol'], peer(r['src'], r['sport']), peer(r['dst'], r['dport']),
        r['rule'] if r['rule'] == 'no rule' else 'rule %s of %s' % (r['rule'], r['group']))
