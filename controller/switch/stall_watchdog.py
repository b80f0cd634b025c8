"""A replica whose event loop stalls looks dead to its peers within
``STALL_SECONDS``, so they take its switches over as they would a killed
replica's (:mod:`controller.switch.liveness`) instead of waiting for its lease.

A green thread on the event loop stamps a heartbeat every ``HEARTBEAT_SECONDS``;
a real OS thread (eventlet's original ``threading``, which the stalled loop does
not stop: the GIL is handed over every few milliseconds) looks at it. When the
heartbeat is older than ``STALL_SECONDS`` the OS thread calls ``on_stall`` (the
caller fences its mastership and shuts its liveness sockets down: plain
syscalls, no green lock, no logging from that thread); when the loop turns
again, the heartbeat calls ``on_resume`` on the loop (the caller reopens its
liveness socket and runs a mastership round, which finds the lease revoked and
comes back as a slave with a new one).

A process frozen whole (SIGSTOP, a paused VM, a C call that holds the GIL)
freezes this thread too: its peers see its liveness heartbeat fall silent and
revoke its lease. When it runs again, whichever of the loop's heartbeat and
this thread looks first sees the gap and fences it (:meth:`Detector.check` is
atomic: once). What it may send a switch before that is refused: the new
master's ROLE_MASTER (a higher generation) made OVS demote its connection.
"""
import logging
import os
import signal

from eventlet import patcher

from controller.constants import HEARTBEAT_SECONDS, STALL_SECONDS

_threading = patcher.original('threading')
_time = patcher.original('time')
LOG = logging.getLogger(__name__)
TEST_SIGNAL = 'VNETSEC_TEST_STALL_SIGNAL'      # tests only: see install_test_stall


class Detector:
    """The decision, on the clock it is given (pure; unit-tested with a fake
    one). ``state``: 'running', 'stalled' (the OS thread is acting), 'silenced'
    (it has acted; the next heartbeat resumes). The OS thread moves it only
    from 'running', the heartbeat only from 'silenced': they never race."""

    def __init__(self, now, stall=STALL_SECONDS):
        self.stall, self.beat_at, self.state = stall, now, 'running'
        self.worst = 0.0        # the longest gap between heartbeats seen
        self.stalls = 0
        self.stalled_since = None   # the last heartbeat before the latest stall
        self._lock = _threading.Lock()    # the loop and the OS thread may both check

    def beat(self, now):
        """The loop turned: True when it comes back from a stall acted on."""
        self.worst = max(self.worst, now - self.beat_at)
        self.beat_at = now
        if self.state == 'silenced':
            self.state = 'running'
            return True
        return False

    def check(self, now):
        """True once, when the loop has stalled: to the watchdog thread, or to
        the loop itself when the whole process was frozen."""
        with self._lock:
            if self.state == 'running' and now - self.beat_at > self.stall:
                self.state, self.stalled_since = 'stalled', self.beat_at
                self.stalls += 1
                return True
            return False

    def acted(self):
        self.state = 'silenced'


class StallWatchdog:
    """``spawn``/``sleep``: the event loop's (hub.spawn, hub.sleep);
    ``on_stall()`` runs on the OS thread, ``on_resume(stalled_for)`` on the loop."""

    def __init__(self, spawn, sleep, on_stall, on_resume, stall=STALL_SECONDS):
        self._spawn, self._sleep = spawn, sleep
        self._on_stall, self._on_resume = on_stall, on_resume
        self.detector = Detector(_time.monotonic(), stall)

    def start(self):
        install_test_stall()
        self._spawn(self._heartbeat)
        _threading.Thread(target=self._watch, name='stall-watchdog', daemon=True).start()
        return self

    def _heartbeat(self):
        while True:
            # one reading for both: a process frozen between them would otherwise
            # stamp the beat after the freeze, and neither thread would see it
            now = _time.monotonic()
            if self.detector.check(now):        # frozen: the loop sees it first
                self._stalled()
            if self.detector.beat(now):
                try:            # never end the heartbeat: that would be a stall forever
                    self._on_resume(_time.monotonic() - self.detector.stalled_since)
                except Exception:
                    LOG.exception('coming back after an event-loop stall')
            self._sleep(HEARTBEAT_SECONDS)

    def _watch(self):
        while True:
            _time.sleep(HEARTBEAT_SECONDS / 2)
            if self.detector.check(_time.monotonic()):
                self._stalled()

    def _stalled(self):
        try:
            self._on_stall()
        except Exception:       # no logging here (green locks): the lease remains
            pass
        self.detector.acted()

    def status(self):
        return {'loop_gap_max': round(self.detector.worst, 3),
                'loop_stalls': self.detector.stalls}


def watch_replica(mastership, woken, spawn, sleep):
    """A replica's watchdog: a stall fences its mastership and silences its
    liveness socket, so its peers take its switches; once its loop turns again it
    reopens the socket and ``woken`` asks for a mastership round at once."""
    liveness = mastership.liveness

    def stalled():                          # on the watchdog's OS thread
        mastership.fence()
        if liveness is not None:
            liveness.silence()

    def resumed(seconds):
        LOG.warning('replica %s: event loop stalled for %.2f s: stepped down, '
                    'coming back as a slave', mastership.name, seconds)
        if liveness is not None:
            liveness.reopen()
        mastership.resumed()
        woken.set()
    return StallWatchdog(spawn, sleep, stalled, resumed).start()


def install_test_stall(environ=os.environ):
    """Tests only (tests/integration/test_replicas.py): with
    ``VNETSEC_TEST_STALL_SIGNAL=USR2`` in the environment, that signal stalls
    the event loop for ``VNETSEC_TEST_STALL_SECONDS`` in Python code, as a long
    computation would. Nothing is installed otherwise."""
    name = environ.get(TEST_SIGNAL)
    if not name:
        return
    seconds = float(environ.get('VNETSEC_TEST_STALL_SECONDS', '2'))

    def stall(signum, frame):
        end = _time.monotonic() + seconds
        while _time.monotonic() < end:
            pass
    signal.signal(getattr(signal, 'SIG' + name), stall)
