"""The lab shell's commands that are the operator's ``vnetsec`` commands
(:mod:`controller.cli`): the same words, the same calls, the same tables, run
with the data center's client, waiting for its switches after each write."""
import shlex

from mininet.log import output

from controller.cli import main
from controller.cli.verbs import Session


class OperatorCommands:
    """Mixed into the CLI; needs ``self.dc`` (its ``client``, ``wait_ready``)
    and ``self.failed``."""

    def vnetsec(self, command, line):
        """Run ``vnetsec COMMAND LINE`` against this run's controller; a non-zero
        exit fails the batch."""
        try:
            words = shlex.split(line)
        except ValueError as e:             # an unclosed quote
            output('error: %s\n' % e)
            self.failed = True
            return
        session = Session(self.dc.client, after_write=self.dc.wait_ready)
        if main.run([command] + words, session, output) != main.OK:
            self.failed = True

    def do_sg(self, line):
        """sg [list|show|create|delete|rule add|rule del|add|del|port] ...: security groups.

        The operator's `vnetsec sg` (`help sg` shows every form), e.g.
          sg create web zone web
          sg add web ingress tcp 80 from zone app
          sg show web
          sg port vm2 web"""
        self.vnetsec('sg', line)

    def help_sg(self):
        self.vnetsec('sg', '-h')

    def do_log(self, line):
        """log [list|show|create|delete] ...: firewall logs and what they recorded.

        The operator's `vnetsec log` (`help log` shows every form), e.g.
          log create DROP --group web --file web-drops.log --name web-drops
          log show web-drops"""
        self.vnetsec('log', line)

    def help_log(self):
        self.vnetsec('log', '-h')

    def do_trace(self, line):
        """trace VM VM|ADDRESS [tcp|udp|sctp PORT|icmp|arp] [established]: would it pass, and why.

        The controller simulates its own flows (no switch is asked) and says,
        step by step, which rule allowed the packet or why it was dropped."""
        self.vnetsec('trace', line)

    def do_mappings(self, line):
        """mappings NETWORK: per hypervisor, the MAC -> VTEP entries of a network."""
        self.vnetsec('network', 'mappings ' + line)
