"""Mastership of switches among replicas (controller/switch/mastership.py), on an
in-memory etcd with leases, revisions and expiry driven by a fake clock."""
import struct

from controller.switch.mastership import Mastership, SoleController, plan, send_role
from controller.ryu_facade import ofproto
from tests.unit.fakes import FakeDatapath


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


class FakeEtcd:
    """Keys with create/mod revisions, leases that expire by the clock (as the
    etcd leader expires them: keys attached to a lapsed lease are deleted)."""

    def __init__(self, clock):
        self.clock, self.revision = clock, 0
        self.keys = {}          # key -> (value, create_revision, mod_revision, lease)
        self.leases = {}        # id -> (ttl, expires at)
        self.down = False

    def _check(self):
        if self.down:
            raise ConnectionError('etcd unreachable')
        for lease, (_ttl, expires) in list(self.leases.items()):
            if self.clock() >= expires:
                del self.leases[lease]
                self.revision += 1
                self.keys = {k: v for k, v in self.keys.items() if v[3] != lease}

    def grant(self, ttl):
        self._check()
        lease = len(self.leases) + 1000 + self.revision
        self.leases[lease] = (ttl, self.clock() + ttl)
        return lease

    def keepalive(self, lease):
        self._check()
        if lease not in self.leases:
            return 0
        ttl = self.leases[lease][0]
        self.leases[lease] = (ttl, self.clock() + ttl)
        return ttl

    def time_to_live(self, lease):
        self._check()
        return int(self.leases[lease][1] - self.clock()) if lease in self.leases else -1

    def items(self, prefix):
        self._check()
        return {k[len(prefix):]: v[:3] for k, v in self.keys.items() if k.startswith(prefix)}

    def put(self, key, value, lease):
        self._check()
        self.revision += 1
        created = self.keys[key][1] if key in self.keys else self.revision
        self.keys[key] = (value, created, self.revision, lease)

    def create(self, key, value, lease):
        self._check()
        if key in self.keys:
            return None
        self.put(key, value, lease)
        return self.revision

    def create_all(self, items, lease):
        return [self.create(key, value, lease) for key, value in items]

    def revoke(self, lease):
        self._check()
        if lease not in self.leases:
            raise KeyError('etcdserver: requested lease not found')
        self.leases[lease] = (0, self.clock())      # expired now: _check deletes its keys
        self._check()

    def delete(self, key, mod_revision):
        self._check()
        if key not in self.keys or self.keys[key][2] != mod_revision:
            return False
        self.revision += 1
        del self.keys[key]
        return True

    def delete_all(self, items):
        return [self.delete(key, mod_revision) for key, mod_revision in items]


SWITCHES = set(range(1, 7))


def cluster(names, switches=SWITCHES):
    clock = Clock()
    etcd = FakeEtcd(clock)
    replicas = {}
    for name in names:
        replicas[name] = Mastership(etcd, name, ttl=2, api='http://x', clock=clock)
        for dpid in switches:
            replicas[name].on_connect(dpid)
    return clock, etcd, replicas


def rounds(clock, replicas, n=6, names=None):
    requests = {}
    for _ in range(n):
        for name, r in replicas.items():
            if names is None or name in names:
                requests.setdefault(name, []).extend(r.tick())
        clock.now += 0.5
    return requests


def masters(replicas, names=None):
    """dpid -> the replicas that believe they master it."""
    out = {}
    for name, r in replicas.items():
        if names is None or name in names:
            for dpid in SWITCHES:
                if r.is_master(dpid):
                    out.setdefault(dpid, []).append(name)
    return out


def test_plan_claims_the_fair_share_of_orphans_and_no_more():
    live = {'a': SWITCHES, 'b': SWITCHES, 'c': SWITCHES}
    claim, release = plan('a', live, {})
    assert len(claim) == 2 and release == []
    claim, release = plan('a', live, {1: 'a', 2: 'a'})
    assert claim == [] and release == []


def test_plan_gives_up_in_one_round_what_the_replicas_under_share_can_take():
    owned = {d: 'a' for d in SWITCHES}
    assert plan('a', {'a': SWITCHES, 'b': SWITCHES}, owned) == ([], [1, 2, 3])
    # three replicas: b and c each take 2, a keeps its 2
    assert plan('a', {'a': SWITCHES, 'b': SWITCHES, 'c': SWITCHES}, owned) == ([], [1, 2, 3, 4])
    # c reaches only switches 5 and 6: b takes 1 and 2, c 5 and 6
    assert plan('a', {'a': SWITCHES, 'b': SWITCHES, 'c': {5, 6}}, owned) == ([], [1, 2, 5, 6])
    # b cannot reach switch 1..6: nobody could take them, a keeps all
    assert plan('a', {'a': SWITCHES, 'b': set()}, owned) == ([], [])


def test_plan_not_greedy_claims_nothing_beyond_its_share():
    claim, _ = plan('a', {'a': {1, 2, 3, 4}, 'b': {1, 2}}, {1: 'a', 2: 'a', 3: 'b'},
                    greedy=False)
    assert claim == []


def test_replicas_started_together_share_from_their_first_claims():
    """A replica's first round only publishes it: none of three replicas
    started in the same round claims more than its share, so none programs
    switches it will give up."""
    clock, _etcd, replicas = cluster('abc')
    first = rounds(clock, replicas, n=1)
    assert all(r.mine == {} for r in replicas.values())
    assert first == {name: [] for name in 'abc'}
    claimed = {}
    for _ in range(3):
        rounds(clock, replicas, n=1)
        for name, r in replicas.items():
            claimed[name] = max(claimed.get(name, 0), len(r.mine))
    assert claimed == {'a': 2, 'b': 2, 'c': 2}


def test_a_lone_replica_claims_everything_in_its_second_round():
    clock, _etcd, replicas = cluster('a')
    rounds(clock, replicas, n=2)
    assert set(replicas['a'].mine) == SWITCHES


def test_plan_takes_an_orphan_beyond_its_share_when_nobody_else_can():
    live = {'a': {1, 2, 3}, 'b': {1, 2}}
    claim, _ = plan('a', live, {1: 'a', 2: 'b'})
    assert claim == [3]          # share is 2, a has 1: room anyway
    claim, _ = plan('a', {'a': {1, 2, 3, 4}, 'b': {1, 2}}, {1: 'a', 2: 'a', 3: 'b'})
    assert claim == [4]          # a is at its share, b cannot reach 4


def test_three_replicas_share_six_switches_each_with_exactly_one_master():
    clock, _etcd, replicas = cluster('abc')
    requests = rounds(clock, replicas)
    owners = masters(replicas)
    assert sorted(owners) == sorted(SWITCHES)
    assert all(len(o) == 1 for o in owners.values())
    counts = {name: sum(1 for o in owners.values() if o == [name]) for name in 'abc'}
    assert counts == {'a': 2, 'b': 2, 'c': 2}
    # last asked of each switch: MASTER by its owner, SLAVE by the others, at one generation
    for dpid, (owner,) in owners.items():
        last = {name: [(role, gen) for d, role, gen in reqs if d == dpid][-1]
                for name, reqs in requests.items()}
        generation = replicas[owner].mine[dpid]
        assert last == {name: ('master' if name == owner else 'slave', generation)
                        for name in 'abc'}


def test_a_replica_that_joins_late_gets_its_share_from_the_first():
    clock, _etcd, replicas = cluster('ab')
    rounds(clock, replicas, names={'a'})
    assert masters(replicas) == {d: ['a'] for d in SWITCHES}
    rounds(clock, replicas, n=4)        # b says it is there, a gives up 3, b takes them
    owners = masters(replicas)
    assert sorted(o[0] for o in owners.values()).count('b') == 3
    assert all(len(o) == 1 for o in owners.values())


def test_a_dead_replicas_switches_get_new_masters_with_newer_generations():
    clock, etcd, replicas = cluster('abc')
    rounds(clock, replicas)
    lost = [d for d, o in masters(replicas).items() if o == ['a']]
    old = {d: replicas['a'].mine[d] for d in lost}
    start = clock.now
    # a is killed: b and c go on; a's lease expires after ttl
    while not all(d in masters(replicas, 'bc') for d in lost):
        rounds(clock, replicas, n=1, names={'b', 'c'})
        assert clock.now - start < 2 + 1.0         # lease time plus two rounds
    for d in lost:
        (new_master,) = masters(replicas, 'bc')[d]
        assert replicas[new_master].mine[d] > old[d]
    assert sorted(len(r.mine) for n, r in replicas.items() if n != 'a') == [3, 3]


def test_a_killed_replica_seen_dead_is_revoked_and_its_switches_taken_at_once():
    clock, etcd, replicas = cluster('abc')
    rounds(clock, replicas)
    a = replicas.pop('a')
    lost = {d for d in SWITCHES if a.is_master(d)}
    assert lost
    for r in replicas.values():             # both detectors see a's connection close
        r.suspect('a', a.lease)
    for r in replicas.values():             # a round each, at once: no time passes
        r.tick()
    while any(r.again for r in replicas.values()):     # a claim lost to the other
        for r in replicas.values():
            if r.again:
                r.tick()
    owners = masters(replicas)
    assert set(owners) == SWITCHES and all(len(o) == 1 for o in owners.values())
    assert sorted(len(r.mine) for r in replicas.values()) == [3, 3]
    assert a.lease not in etcd.leases and 'a' not in replicas['b'].replicas


def test_a_lost_claim_asks_for_another_round_at_once():
    clock, etcd, replicas = cluster('b')
    b = replicas['b']
    b.tick()                    # its first round only announces it (see plan)
    etcd.create('/vnetsec/cluster/masters/%016x' % 1, {'replica': 'a', 'lease': 1}, None)
    etcd.items = lambda prefix, items=etcd.items: {        # b read before a claimed 1
        k: v for k, v in items(prefix).items() if k != '%016x' % 1}
    b.tick()
    assert b.again and not b.is_master(1) and b.is_master(2)
    del etcd.items
    b.tick()
    assert not b.again


def test_the_next_round_comes_an_interval_after_the_last_began_not_after_it_ended():
    """A round slowed by a busy loop does not push the lease's renewal later."""
    clock, etcd, replicas = cluster('a')
    a = replicas['a']
    started = clock.now
    a.tick()
    assert a.pause(started) == a.interval == 0.5
    clock.now += 0.3                                   # the round took 0.3 s
    assert abs(a.pause(started) - 0.2) < 1e-9
    clock.now += 0.9                                   # ... or longer than the interval
    assert a.pause(started) == 0.0


def test_a_frozen_replica_stops_mastering_by_its_own_clock_and_steps_down_on_waking():
    clock, etcd, replicas = cluster('ab')
    rounds(clock, replicas)
    a = replicas['a']
    held = set(a.mine)
    assert held and all(a.is_master(d) for d in held)
    clock.now += 2.5              # SIGSTOP: a renews nothing meanwhile
    assert not any(a.is_master(d) for d in held)     # before it talks to etcd at all
    rounds(clock, replicas, n=3, names={'b'})        # b takes them over
    requests = a.tick()                              # a wakes up
    assert a.mine == {}
    assert {d for d, role, _ in requests if role == 'slave'} >= held
    rounds(clock, replicas, n=8)
    owners = masters(replicas)
    assert all(len(o) == 1 for o in owners.values()) and len(owners) == 6


def test_a_stalled_replica_fenced_and_revoked_comes_back_as_a_slave_with_a_new_lease():
    clock, etcd, replicas = cluster('ab')
    rounds(clock, replicas)
    a, b = replicas['a'], replicas['b']
    held, old_lease = set(a.mine), a.lease
    assert held
    clock.now += 0.6                # a's loop stalls; well within its lease
    a.fence()                       # its watchdog's OS thread: at once
    assert not any(a.is_master(d) for d in held)
    b.suspect('a', old_lease)       # b saw a's liveness connection end
    b.tick()
    while b.again:
        b.tick()
    assert all(b.is_master(d) for d in held)
    a.resumed()                     # a's loop turns: a round at once
    requests = a.tick()
    assert a.mine == {} and a.lease != old_lease
    assert {d for d, role, _ in requests if role == 'slave'} >= held
    assert etcd.items('/vnetsec/cluster/replicas/')['a'][0]['lease'] == a.lease
    rounds(clock, replicas, n=8)    # and takes its share again
    assert sorted(len(r.mine) for r in replicas.values()) == [3, 3]


def test_a_fenced_replica_whose_lease_still_lives_keeps_its_switches():
    clock, etcd, replicas = cluster('a')
    a = replicas['a']
    rounds(clock, replicas)         # its first round only announces it
    assert a.is_master(1)
    a.fence()
    assert not a.is_master(1)
    a.resumed()
    assert a.tick() == [] and a.is_master(1)     # nobody took them: nothing to tell


def test_etcd_unreachable_keeps_mastership_only_while_the_lease_surely_lives():
    clock, etcd, replicas = cluster('a')
    rounds(clock, replicas, n=2)
    a = replicas['a']
    etcd.down = True
    clock.now += 0.5
    a.tick()
    assert a.is_master(1)                 # renewed 1 s ago: still ours
    clock.now += 2
    assert a.tick() == []                 # not surely ours: it stops, tells nothing
    assert not a.is_master(1)
    assert a.errors == 2
    old_lease, generation = a.lease, a.mine[1]
    etcd.down = False                     # back, its lease expired meanwhile
    rounds(clock, replicas, n=2)
    assert a.lease != old_lease and a.is_master(1)
    assert a.mine[1] > generation         # claimed again, at a new generation


def test_a_replica_fenced_during_its_round_stops_mastering_but_forgets_nothing():
    """A replica fenced during a round (its loop stalled while the round waited
    for etcd) is not master until the next renewal, but tells its switches
    nothing and keeps them: its lease lived, so no other replica could claim
    them, and the next round goes on where it stopped (forgetting them made a
    replica of 1,000 switches read every table again after each stall, which
    stalled it again)."""
    clock, etcd, replicas = cluster('a')
    rounds(clock, replicas, n=2)
    a = replicas['a']
    held = dict(a.mine)
    assert held and all(a.is_master(d) for d in held)
    items = etcd.items

    def slow_read(prefix):              # the watchdog fences it while the round waits
        a.fence()
        return items(prefix)
    etcd.items = slow_read
    assert a.tick() == [] and a.mine == held
    assert not any(a.is_master(d) for d in held)
    etcd.items = items
    assert a.tick() == []               # renewed: nothing to tell, nothing to read again
    assert a.mine == held and all(a.is_master(d) for d in held)


def test_status_names_masters_generations_and_lease_ages():
    clock, _etcd, replicas = cluster('ab')
    rounds(clock, replicas)
    status = replicas['a'].status()
    assert set(status['replicas']) == {'a', 'b'}
    assert all(0 <= r['lease_age'] <= 2 for r in status['replicas'].values())
    assert {m['master'] for m in status['masters'].values()} == {'a', 'b'}
    assert len(status['masters']) == 6
    assert {m['role'].split(',')[0] for m in status['masters'].values()} == {
        '%s %d' % ('master' if m['master'] == 'a' else 'slave', m['generation'])
        for m in status['masters'].values()}


def test_sole_controller_masters_everything_and_sends_no_role():
    sole = SoleController()
    assert sole.is_master(42) and sole.on_connect(42) is None and not sole.shared


def test_role_request_carries_role_and_generation():
    dp = FakeDatapath(5)
    raw = []
    dp.send = raw.append            # the bytes as they would leave
    send_role(dp, 'master', 1234)
    send_role(dp, 'slave', 99)
    roles = []
    for buf in raw:
        assert buf[1] == ofproto.OFPT_ROLE_REQUEST
        role, generation = struct.unpack('!I4xQ', buf[8:24])
        roles.append((role, generation))
    assert roles == [(ofproto.OFPCR_ROLE_MASTER, 1234), (ofproto.OFPCR_ROLE_SLAVE, 99)]


def test_a_replica_restarted_under_its_name_does_not_take_its_earlier_runs_claims():
    clock, etcd, replicas = cluster('ab')
    rounds(clock, replicas)
    before = {d for d in SWITCHES if replicas['a'].is_master(d)}
    assert before
    # 'a' killed (its lease lives on for its ttl) and started again at once
    replicas['a'] = Mastership(etcd, 'a', ttl=2, api='http://x', clock=clock)
    for dpid in SWITCHES:
        replicas['a'].on_connect(dpid)
    replicas['a'].tick()
    assert not any(replicas['a'].is_master(d) for d in before)   # not its claims
    rounds(clock, replicas, n=8)                                  # the old lease expires
    assert all(len(names) == 1 for names in masters(replicas).values())
    assert set(masters(replicas)) == SWITCHES
