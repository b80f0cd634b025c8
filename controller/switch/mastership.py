"""Which replica masters which switch, when several share one etcd store.

Every switch connects to every replica; exactly one of them, its master,
programs it. Keys (under ``<prefix>cluster/``)::

    replicas/<name>   {"api": URL, "lease": ID, "switches": [dpid, ...], "live": host:port}
    masters/<dpid>    {"replica": name, "lease": ID}

Both are attached to the replica's etcd lease (``ttl`` seconds, renewed every
``ttl / 4``): a replica killed or frozen loses its keys when its lease expires,
and its switches are orphans the others claim. A replica *killed* is seen
dead within milliseconds by the others' failure detector
(:mod:`controller.switch.liveness`, at the record's ``live`` address), one
*frozen* when its heartbeat there has been silent for
``LIVENESS_SILENCE_SECONDS``: they revoke its lease at once (which deletes its
keys) and claim in a round run then, so failover does not wait for the lease. A claim is a create-if-absent
(compare-and-swap), so two replicas never both master a switch; the revision
that created the key is the claim's *generation*, monotonic across the cluster,
which the master sends in its OpenFlow ROLE_MASTER request: the switch then
refuses the former master's messages (its connection is demoted to slave, and
its own role requests are stale).

Balance: each replica publishes the switches it is connected to; a replica
claims orphans up to its fair share (switches / live replicas, rounded up),
beyond it only an orphan no replica under its share could take, and, while over
its share, gives up in one round what the replicas under their share and
connected to those switches can take (:func:`plan`, pure). A starting replica
claims nothing in its first round (it only says it is there, so that replicas
started together see each other and share from the start) and nothing beyond
its share during its first lease time.

A replica knows its lease lives until ``ttl`` after the last renewal it sent
that etcd acknowledged; past that (frozen, cut from etcd) it stops acting as a
master at once, before it even learns whether the lease expired; it lets its
switches go (slave, their tables forgotten) only once it learns the lease is
gone, since until then no other replica can claim them. One whose
event loop stalls (:mod:`controller.switch.stall_watchdog`) is fenced the
same way and looks dead to the others, who revoke its lease: at its next
round it finds the lease gone and comes back with a new one, as a slave.
"""
import logging
import socket
import time
import zlib
from collections import Counter

LOG = logging.getLogger(__name__)
ROUNDS_PER_TTL = 4


def plan(me, replicas, masters, greedy=True):
    """The switches ``me`` claims and gives up now: (claim, release), lists of dpids.

    ``replicas`` {name: set of dpids it is connected to} of the live replicas;
    ``masters`` {dpid: replica name} of the current claims; ``greedy``: also
    claim orphans beyond the share that no replica under its share could take
    (not while starting: the others may not have said yet what they reach)."""
    switches = set().union(*replicas.values()) if replicas else set()
    share = -(-len(switches) // max(1, len(replicas)))
    counts = Counter(r for r in masters.values() if r in replicas)

    def taker_for(dpid):        # another live replica under its share that reaches it
        return next((r for r, reach in sorted(replicas.items())
                     if r != me and dpid in reach and counts[r] < share), None)
    connected = replicas.get(me, set())
    # each replica tries the orphans in its own order: fewer lost races
    orphans = sorted((d for d in connected if d not in masters),
                     key=lambda d: zlib.crc32(('%s/%d' % (me, d)).encode()))
    claim, room = [], share - counts[me]
    for dpid in orphans:
        if room > 0:
            claim.append(dpid)
            room -= 1
        elif greedy and taker_for(dpid) is None:
            claim.append(dpid)
    # over the share: give up what the replicas under it can take, all in one round
    release, excess = [], counts[me] - share
    for dpid in sorted(d for d, r in masters.items() if r == me):
        if len(release) >= excess:
            break
        taker = taker_for(dpid)
        if taker is not None:
            release.append(dpid)
            counts[taker] += 1
    return claim, release


class SoleController:
    """One controller on its own store: it masters every switch, says nothing."""
    shared = False
    name = ''

    def is_master(self, dpid):
        return True

    def on_connect(self, dpid):
        return None

    def status(self):
        return {}


class Mastership:
    """A replica's side of the protocol; ``kv`` is a
    :class:`controller.switch.cluster_kv.ClusterKV` (a fake in unit tests)."""
    shared = True

    def __init__(self, kv, name='', ttl=2, api='', prefix='/vnetsec/', clock=time.monotonic):
        self.kv, self.ttl, self.api, self.clock = kv, ttl, api, clock
        self.name = name or '%s:%s' % (socket.gethostname(), api.rsplit(':', 1)[-1])
        self._replicas_key = prefix + 'cluster/replicas/'
        self._masters_key = prefix + 'cluster/masters/'
        self.lease = None
        self.valid_until = 0.0  # by our clock, our lease surely lives until then
        self.renewed_at = None
        self._published = None  # the switches our replica key names
        self.connected = set()  # dpids connected to this replica
        self.masters = {}       # dpid -> (replica, generation, mod_revision), as last read
        self.replicas = {}      # name -> {'api', 'lease_age'} of the live replicas
        self.mine = {}          # dpid -> generation of the switches we master
        self._told = {}         # dpid -> (role, generation) last asked of the switch
        self._told_at = {}      # dpid -> when, by our clock
        self.errors = 0         # rounds that failed to talk to etcd
        self.read_at = None     # when the claims were last read
        self.liveness = None    # our failure detector (controller.switch.liveness), if any
        self.watchdog = None    # our stall watchdog (controller.switch.stall_watchdog), if any
        self._dead = {}         # lease -> name: replicas it saw die, leases to revoke
        self.again = False      # a claim was lost to another replica: round again now
        self.started_at = None  # our first round: we claim after it (see plan)

    @property
    def interval(self):
        return self.ttl / ROUNDS_PER_TTL

    def pause(self, round_started):
        """Seconds until the next round: none if a claim was lost, else what is
        left of the interval since ``round_started``. The round's own time
        counts: waiting a whole interval after a round that a busy loop slowed
        to 0.86 s put renewals 1.39 s apart on a 2 s lease (3 replicas, 300
        simulated hypervisors, a loaded machine), and every lease lapsed."""
        if self.again:
            return 0.0
        return max(0.0, self.interval - (self.clock() - round_started))

    def is_master(self, dpid):
        return dpid in self.mine and self.clock() < self.valid_until

    def fence(self):
        """Our event loop stalled (called from the stall watchdog's OS thread:
        one attribute store): act as master of nothing until a round renews
        the lease, which then tells whether the peers revoked it."""
        self.valid_until = 0.0

    def resumed(self):
        """After a stall: the next round publishes our (new) liveness address."""
        self._published = None

    def suspect(self, name, lease):
        """The failure detector saw replica ``name`` die: its lease is revoked
        in the next round (the caller runs one at once)."""
        self._dead[lease] = name

    # ---- one round -------------------------------------------------------------
    def tick(self):
        """Renew the lease, read the cluster, claim and give up switches: the role
        requests to send now, [(dpid, 'master' | 'slave', generation)]."""
        now = self.clock()
        self.again = False
        starting = self.started_at is None
        try:
            self._renew(now)
            self._revoke_dead()
            self._read()
            if self._published != self.connected:
                self._publish()
            live = {name: set(r['switches']) for name, r in self.replicas.items()}
            live[self.name] = set(self.connected)
            if starting:
                self.started_at = now
            claim, release = ([], []) if starting else plan(
                self.name, live, {d: m[0] for d, m in self.masters.items()},
                greedy=now - self.started_at >= self.ttl)
            generations = self.kv.create_all(
                [(self._masters_key + '%016x' % dpid, {'replica': self.name, 'lease': self.lease})
                 for dpid in claim], self.lease) if claim else []
            for dpid, generation in zip(claim, generations):
                if generation is not None:
                    LOG.info('replica %s: master of switch %#x (generation %d)',
                             self.name, dpid, generation)
                    self.masters[dpid] = (self.name, generation, generation)
                else:
                    self.again = True
            deleted = self.kv.delete_all(
                [(self._masters_key + '%016x' % dpid, self.masters[dpid][2])
                 for dpid in release]) if release else []
            for dpid, done in zip(release, deleted):
                if done:
                    LOG.info('replica %s: gives switch %#x up (over its share)',
                             self.name, dpid)
                    del self.masters[dpid]
            mine = {d: m[1] for d, m in self.masters.items() if m[0] == self.name}
        except Exception as e:          # etcd unreachable, no quorum: keep what is valid
            self.errors += 1
            LOG.warning('replica %s: etcd round failed (%s: %s)', self.name,
                        type(e).__name__, e)
            mine = self.mine
        if self.clock() >= self.valid_until and mine:
            # not surely ours now (fenced, a late round, etcd unreachable):
            # is_master says no until a renewal; the switches are neither told
            # nor forgotten, since only a lapsed lease lets another replica
            # claim them (then _renew finds it so and we step down). Forgetting
            # them here made a 1,000-switch replica read every table again
            # after each stall, which stalled it again (bench.scale).
            LOG.warning('replica %s: lease not renewed in time: not acting as a master '
                        'until it is', self.name)
        self.mine = mine
        return self._roles()

    def _renew(self, now):
        if self.lease is not None:
            if self.kv.keepalive(self.lease) > 0:
                self.valid_until, self.renewed_at = now + self.ttl, now
                return
            LOG.warning('replica %s: lease %x expired: its switches went to others',
                        self.name, self.lease)
            self.mine = {}
        self.lease = self.kv.grant(self.ttl)
        self.valid_until, self.renewed_at = now + self.ttl, now
        self._published = None

    def _revoke_dead(self):
        """Revoke the leases of the replicas seen dead: etcd deletes their
        keys, so this round's read finds their switches orphaned."""
        while self._dead:
            lease, name = self._dead.popitem()
            try:
                self.kv.revoke(lease)
                LOG.warning('replica %s: replica %s died: its lease %x revoked',
                            self.name, name, lease)
            except Exception as e:      # already expired or revoked by another: fine
                LOG.info('replica %s: revoking lease %x of %s: %s', self.name, lease, name, e)

    def _read(self):
        replicas, masters = {}, {}
        for key, (value, created, modified) in self.kv.items(self._replicas_key).items():
            replicas[key] = dict(value)
        for key, (value, created, modified) in self.kv.items(self._masters_key).items():
            owner = value['replica']
            if owner == self.name and value.get('lease') != self.lease:
                # an earlier run of this replica (killed, restarted under its name):
                # not ours; the switch is claimed again once that lease expires
                owner += ' (earlier run)'
            masters[int(key, 16)] = (owner, created, modified)
        for name, info in replicas.items():
            if name == self.name:
                info['lease_age'] = round(self.clock() - self.renewed_at, 3)
            else:
                left = self.kv.time_to_live(info['lease'])
                info['lease_age'] = self.ttl - left if left >= 0 else None
        replicas.pop(self.name, None)
        self.replicas, self.masters = replicas, masters
        self.read_at = self.clock()
        if self.liveness is not None:
            self.liveness.watch({name: (r['live'], r['lease'])
                                 for name, r in replicas.items() if r.get('live')})

    def _publish(self):
        switches = sorted(self.connected)
        self.kv.put(self._replicas_key + self.name,
                    {'api': self.api, 'lease': self.lease, 'switches': switches,
                     'live': self.liveness and self.liveness.address}, self.lease)
        self._published = set(switches)

    def _roles(self):
        """Role requests for the connected switches whose role or generation changed."""
        out = []
        for dpid in sorted(self.connected):
            wanted = self._wanted(dpid)
            if wanted is not None and self._told.get(dpid) != wanted:
                self._told[dpid], self._told_at[dpid] = wanted, self.clock()
                out.append((dpid,) + wanted)
        return out

    def _wanted(self, dpid):
        if dpid in self.mine:
            return ('master', self.mine[dpid])
        if dpid in self.masters:        # a slave, at the master's generation
            return ('slave', self.masters[dpid][1])
        return None

    # ---- switch events ----------------------------------------------------------
    def on_connect(self, dpid):
        """A switch (re)connected: the role request to send it now, or None."""
        self.connected.add(dpid)
        self._told.pop(dpid, None)
        wanted = self._wanted(dpid)
        if wanted is not None:
            self._told[dpid], self._told_at[dpid] = wanted, self.clock()
            return (dpid,) + wanted
        return None

    def on_disconnect(self, dpid):
        self.connected.discard(dpid)
        self._told.pop(dpid, None)

    def demoted(self, dpid):
        """The switch says another controller is master now: stop at once."""
        if self.mine.pop(dpid, None) is not None:
            LOG.warning('replica %s: switch %#x has another master now', self.name, dpid)
        self._told.pop(dpid, None)

    def status(self):
        """Per switch its master and generation; the live replicas, lease ages."""
        replicas = {name: {'api': r.get('api'), 'lease_age': r.get('lease_age'),
                           'switches': len(r.get('switches', ()))}
                    for name, r in self.replicas.items()}
        replicas[self.name] = {'api': self.api, 'switches': len(self.connected),
                               'lease_age': (round(self.clock() - self.renewed_at, 3)
                                             if self.renewed_at is not None else None)}
        return {'replica': self.name, 'lease_ttl': self.ttl, 'replicas': replicas,
                'etcd_errors': self.errors,
                **(self.watchdog.status() if self.watchdog is not None else {}),
                **(self.liveness.status() if self.liveness is not None else {}),
                'claims_age': (round(self.clock() - self.read_at, 3)
                               if self.read_at is not None else None),
                'masters': {'%016x' % d: {'master': m[0], 'generation': m[1],
                                          'role': self._role(d)}
                            for d, m in self.masters.items()}}

    def _role(self, dpid):
        """The role we last asked of the switch, and how long ago: 'master 42, 1.5 s ago'."""
        if dpid not in self._told:
            return None
        return '%s %d, %.1f s ago' % (self._told[dpid] + (self.clock() - self._told_at[dpid],))


def send_role(dp, role, generation):
    """An OpenFlow role request: MASTER or SLAVE, at ``generation``."""
    ofp = dp.ofproto
    dp.send_msg(dp.ofproto_parser.OFPRoleRequest(
        dp, ofp.OFPCR_ROLE_MASTER if role == 'master' else ofp.OFPCR_ROLE_SLAVE, generation))


def for_store(store, conf):
    """A Mastership for a shared (etcd) store, else a SoleController."""
    endpoints = getattr(store, 'endpoints', None)
    if not endpoints:
        return SoleController()
    from controller.switch.cluster_kv import ClusterKV
    api = '%s://%s:%d' % ('https' if conf.api_cert else 'http', conf.api_host, conf.api_port)
    return Mastership(ClusterKV(endpoints, timeout=max(0.5, conf.lease_ttl / 2),
                                access=store.access),
                      conf.replica_name, conf.lease_ttl, api)


def refused_as_slave(ofp, err_type, code):
    """An OpenFlow error saying we are not (or no longer) the switch's master."""
    return (err_type == ofp.OFPET_ROLE_REQUEST_FAILED
            or (err_type == ofp.OFPET_BAD_REQUEST and code == ofp.OFPBRC_IS_SLAVE))
