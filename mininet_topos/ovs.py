"""A private Open vSwitch (ovsdb-server + userspace ovs-vswitchd) inside one
Mininet node's network namespace, with its own rundir.

There is no OVS kernel module here, and only one userspace ovs-vswitchd fits in
a namespace, so every emulated switch runs its own pair of daemons. They are
stopped by the PIDs in their pidfiles, never by name.
"""
import os

from mininet_topos.procs import cmdline, start_time, terminate

SCHEMA = '/usr/share/openvswitch/vswitch.ovsschema'


class PrivateOvs:
    def __init__(self, node, rundir, vswitchd_options=''):
        self.node = node
        self.dir = rundir
        self.vswitchd_options = vswitchd_options    # more ovs-vswitchd arguments

    def _env(self):
        return 'OVS_RUNDIR={0} OVS_DBDIR={0} OVS_LOGDIR={0}'.format(self.dir)

    def start(self):
        d = self.dir
        os.makedirs(d, exist_ok=True)
        self.node.cmd('rm -f {0}/conf.db; ovsdb-tool create {0}/conf.db {1}'.format(d, SCHEMA))
        self.node.cmd('env {env} ovsdb-server {d}/conf.db --remote=punix:{d}/db.sock '
                      '--pidfile={d}/ovsdb-server.pid --unixctl={d}/ovsdb-server.ctl '
                      '--log-file={d}/ovsdb-server.log -vconsole:off --detach --no-chdir'
                      .format(env=self._env(), d=d))
        self.vsctl('--no-wait init')
        self.node.cmd('env {env} ovs-vswitchd unix:{d}/db.sock --pidfile={d}/ovs-vswitchd.pid '
                      '--unixctl={d}/ovs-vswitchd.ctl --log-file={d}/ovs-vswitchd.log '
                      '-vconsole:off --detach --no-chdir {more}'
                      .format(env=self._env(), d=d, more=self.vswitchd_options))
        if not self.pids():
            raise RuntimeError('Open vSwitch did not start in %s (see %s)' % (self.node, d))

    def vsctl(self, args):
        return self.node.cmd('ovs-vsctl --timeout=10 --db=unix:%s/db.sock %s' % (self.dir, args))

    def ofctl(self, args):
        return self.node.cmd('ovs-ofctl -O OpenFlow14 %s' % self._target(args))

    def _target(self, args):
        # ovs-ofctl reaches a bridge by its mgmt socket in our rundir
        head, _, rest = args.partition(' ')
        bridge, _, rest = rest.partition(' ')
        return '%s unix:%s/%s.mgmt %s' % (head, self.dir, bridge, rest)

    def appctl(self, args):
        return self.node.cmd('ovs-appctl -t %s/ovs-vswitchd.ctl %s' % (self.dir, args))

    def pids(self):
        out = []
        for daemon in ('ovs-vswitchd', 'ovsdb-server'):
            try:
                with open('%s/%s.pid' % (self.dir, daemon)) as f:
                    out.append(int(f.read().strip()))
            except (OSError, ValueError):
                pass
        return out

    def stop(self):
        """Stop our two daemons by PID (only if the PID still runs our rundir)."""
        terminate({p: start_time(p) for p in self.pids() if self.dir + '/' in cmdline(p)})
