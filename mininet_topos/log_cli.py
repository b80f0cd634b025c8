"""The CLI's firewall log command ``log``: thin calls of ``/v1/logs`` (the API
checks everything; its error is what the user sees)."""
from mininet.log import output

from mininet_topos.client import ApiError

USAGE = '''\
log                     list the logs: event, what they cover, file
log create [ACCEPT|DROP|ALL] [group GROUP] [port VM] [file NAME] [name NAME]
                        log a group's, a VM's or (neither) every VM's connections:
                        ACCEPT (a connection a rule admitted), DROP (refused), ALL
log show LOG [N]        its last N records (default 20), one line each
log delete LOG
LOG is a name or an id. Examples:
  log create DROP group web file web-drops.log name web-drops
  log show web-drops
'''
WORDS = {'group': 'security_group', 'port': 'port', 'file': 'file', 'name': 'name'}


class UsageError(Exception):
    pass


def create_body(words):
    """'DROP group web file x.log' -> the body of POST /v1/logs."""
    words, body = list(words), {}
    if words and words[0].upper() in ('ACCEPT', 'DROP', 'ALL'):
        body['event'] = words.pop(0).upper()
    while words:
        key = words.pop(0)
        if key not in WORDS or not words:
            raise UsageError('usage: log create [ACCEPT|DROP|ALL] [group GROUP] [port VM] '
                             '[file NAME] [name NAME]')
        body[WORDS[key]] = words.pop(0)
    return body


def record_text(r):
    """One record as a line: time, where, verdict, the 5-tuple, the rule."""
    if r['verdict'] == 'SUPPRESSED':
        return '%s %-4s SUPPRESSED %d packets (the switch\'s log_rate)' % (
            r['time'][11:23], r['hypervisor'], r['suppressed'])
    ports = lambda ip, port: ip if port is None else '%s:%s' % (ip, port)
    return '%s %-4s %-4s %-7s %-6s %-4s %s -> %s  %s' % (
        r['time'][11:23], r['hypervisor'], r['vm'], r['direction'], r['verdict'],
        r['protocol'], ports(r['src'], r['sport']), ports(r['dst'], r['dport']),
        r['rule'] if r['rule'] == 'no rule' else 'rule %s of %s' % (r['rule'][:6], r['group']))


class LogCommands:
    """Mixed into the vnetsec CLI (needs ``self.dc`` and ``self.failed``)."""

    def do_log(self, line):
        """log [create|show|delete] ...: firewall logs and what they recorded.

        `help log` shows every form."""
        words = line.split()
        try:
            if not words:
                self._log_list()
            elif words[0] == 'create':
                log = self.dc.client.call('POST', '/v1/logs?wait=applied',
                                          create_body(words[1:]))
                output('created log %s (id %s): %s%s\n' % (
                    log['name'] or '-', log['id'], log['event'],
                    ', file ' + log['path'] if log['path'] else ''))
            elif words[0] == 'show' and len(words) in (2, 3):
                count = int(words[2]) if len(words) == 3 and words[2].isdigit() else 20
                log = self.dc.client.get('/v1/logs/%s' % words[1])
                for record in self.dc.client.get('/v1/logs/%s/events'
                                                 % log['id'])['events'][-count:]:
                    output(record_text(record) + '\n')
            elif words[0] == 'delete' and len(words) == 2:
                log = self.dc.client.get('/v1/logs/%s' % words[1])
                self.dc.client.call('DELETE', '/v1/logs/%s?wait=applied' % log['id'])
                output('deleted log %s\n' % words[1])
            else:
                raise UsageError(USAGE)
        except (UsageError, ApiError) as e:
            output('%s\n' % str(e).rstrip())
            self.failed = True

    def help_log(self):
        output(USAGE)

    def _log_list(self):
        ports = {p['id']: p['name'] for p in self.dc.client.get('/v1/ports')}
        groups = {g['id']: g['name'] for g in self.dc.client.get('/v1/security-groups')}
        for log in self.dc.client.get('/v1/logs'):
            what = ' '.join(filter(None, [
                'group %s' % groups.get(log['group_id'], log['group_id'])
                if log['group_id'] else '',
                'port %s' % ports.get(log['port_id'], log['port_id']) if log['port_id'] else
                ''])) or 'every port'
            output('%-12s %-6s %-24s %s%s\n' % (log['name'] or log['id'][:12], log['event'],
                                               what, log['path'] or '(no file)',
                                               '' if log['enabled'] else ' (disabled)'))
