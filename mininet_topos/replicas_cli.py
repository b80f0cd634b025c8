"""CLI commands for a data center run with several controller replicas
(``vnetsec-dc --controllers N``): who masters which switch, and stopping or
starting a replica to watch the failover."""
import signal

from mininet.log import output

from controller.cli import show

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

        The operator's `vnetsec controllers`, read from the first running replica
        that answers, with what this run knows of each replica's process; a
        switch's master and generation are the claim in etcd."""
        replicas = self._replicas()
        if replicas is None:
            return
        statuses = replicas.statuses()
        running = replicas.running()
        states = {'c%d' % n: ('running' if n in statuses else 'not answering' if n in running
                              else 'frozen' if n in replicas.frozen else 'stopped')
                  for n in range(1, replicas.count + 1)}
        answer = statuses[min(statuses)] if statuses else {'switches': {}}
        output(show.controllers(answer, states))

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
