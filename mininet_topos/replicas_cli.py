"""CLI commands for a data center run with several controller replicas
(``vnetsec-dc --controllers N``): who masters which switch, and stopping or
starting a replica to watch the failover."""
import signal

from mininet.log import output

SIGNALS = {'kill': signal.SIGKILL, 'term': signal.SIGTERM, 'stop': signal.SIGSTOP,
           'cont': signal.SIGCONT}


class ReplicaCommands:
    def _replicas(self):
        replicas = getattr(self.dc, 'replicas', None)
        if replicas is None:
            output('this run has one controller (start with --controllers N)\n')
            self.failed = True
        return replicas

    def do_controllers(self, line):
        """controllers shows the replicas (running or not, lease age) and each switch's master.

        Read from every running replica; a switch's master and generation are
        the claim in etcd (the generation is sent in the master's role request)."""
        replicas = self._replicas()
        if replicas is None:
            return
        statuses = replicas.statuses()
        running = replicas.running()
        first = statuses[min(statuses)] if statuses else {}
        known = first.get('replicas', {})
        for n, c in enumerate(replicas.controllers, 1):
            name = 'c%d' % n
            info = known.get(name)
            state = ('running' if n in statuses else 'not answering' if n in running
                     else 'frozen' if n in replicas.frozen else 'stopped')
            output('  %s  %-13s api %s  %s\n' % (
                name, state, c.client.url,
                'lease age %.1f s, %d switches connected' % (info['lease_age'] or 0,
                                                             info['switches'])
                if info else 'no lease'))
        names = {'%016x' % sw.dpid_int: sw.name for sw in self.dc.switches()}
        for dpid, s in sorted(first.get('switches', {}).items(),
                              key=lambda item: names.get(item[0], item[0])):
            output('  %-6s master %-4s generation %s\n'
                   % (names.get(dpid, dpid), s.get('master') or '-', s.get('generation', '-')))

    def do_kill_controller(self, line):
        """kill-controller N [kill|term|stop|cont]: stop replica N (default kill -9;
        stop freezes it with SIGSTOP, cont resumes it)."""
        replicas = self._replicas()
        args = line.split()
        if replicas is None:
            return
        if not args or not args[0].isdigit() or args[1:] not in ([], *([s] for s in SIGNALS)):
            output('usage: kill-controller N [kill|term|stop|cont]\n')
            self.failed = True
            return
        try:
            replicas.kill(int(args[0]), SIGNALS[args[1] if args[1:] else 'kill'])
        except ValueError as e:
            output('%s\n' % e)
            self.failed = True

    def do_start_controller(self, line):
        """start-controller N: start replica N again (it rejoins and takes its share)."""
        replicas = self._replicas()
        if replicas is None:
            return
        if not line.strip().isdigit():
            output('usage: start-controller N\n')
            self.failed = True
            return
        try:
            replicas.start_one(int(line))
        except (ValueError, RuntimeError) as e:
            output('%s\n' % e)
            self.failed = True

    def onecmd(self, line):
        """Commands are named with dashes (kill-controller); Python's cmd wants
        identifiers."""
        first, _, rest = line.strip().partition(' ')
        if first in ('kill-controller', 'start-controller'):
            line = first.replace('-', '_') + ' ' + rest
        return super().onecmd(line)
