"""The stall watchdog (controller/switch/stall_watchdog.py): its decision on a
fake clock, the real OS thread against a blocked heartbeat, and the liveness
socket it silences and reopens."""
import os
import signal
import subprocess
import sys
import threading
import time

from controller.constants import STALL_SECONDS
from controller.switch.liveness import Liveness
from controller.switch.stall_watchdog import Detector, StallWatchdog, install_test_stall


def spawn(fn, *args):
    threading.Thread(target=fn, args=args, daemon=True).start()


def test_late_heartbeats_under_the_threshold_never_fire_and_the_worst_gap_is_kept():
    d = Detector(now=100.0, stall=0.5)
    for now in (100.1, 100.5, 100.99, 101.4):
        assert not d.check(now)
        assert not d.beat(now)
    assert not d.check(101.89)
    assert abs(d.worst - 0.49) < 1e-9
    assert d.stalls == 0 and d.state == 'running'


def test_a_stall_fires_once_and_the_loop_resumes_only_after_the_watchdog_acted():
    d = Detector(now=0.0, stall=0.5)
    assert not d.check(0.5)
    assert d.check(0.51)
    assert not d.check(0.6) and not d.check(3.0)    # once per stall
    assert not d.beat(3.1)                          # still acting: not yet resumed
    d.acted()
    assert d.beat(3.2)                              # resumed, once
    assert not d.beat(3.3) and d.state == 'running'
    assert d.stalls == 1 and abs(d.worst - 3.1) < 1e-9
    assert d.check(3.9) and d.stalls == 2           # a new stall is a new step-down


def test_the_os_thread_sees_a_blocked_heartbeat_and_the_heartbeat_resumes():
    gate, calls = threading.Event(), []
    gate.set()

    def sleep(seconds):
        time.sleep(seconds)
        gate.wait()                                 # cleared: the "loop" is stalled
    watchdog = StallWatchdog(spawn, sleep, lambda: calls.append(('stall', time.monotonic())),
                             lambda took: calls.append(('resume', took)))
    watchdog.start()
    time.sleep(0.3)
    assert calls == []
    gate.clear()
    blocked = time.monotonic()
    time.sleep(STALL_SECONDS + 0.3)
    assert [c for c, _ in calls] == ['stall']
    assert STALL_SECONDS <= calls[0][1] - blocked + 0.1 < STALL_SECONDS + 0.2
    gate.set()
    time.sleep(0.3)
    assert [c for c, _ in calls] == ['stall', 'resume']
    assert calls[1][1] >= STALL_SECONDS + 0.3
    assert watchdog.status()['loop_stalls'] == 1


FROZEN = ('import threading, time\n'
          'from controller.switch.stall_watchdog import StallWatchdog\n'
          'def spawn(fn, *a): threading.Thread(target=fn, args=a, daemon=True).start()\n'
          'StallWatchdog(spawn, time.sleep, lambda: print("stall", flush=True),\n'
          '              lambda took: print("resume %.1f" % took, flush=True)).start()\n'
          'print("up", flush=True)\n'
          'time.sleep(60)\n')


def test_a_process_frozen_whole_steps_down_once_when_it_runs_again():
    """SIGSTOP freezes the watchdog's thread too: whichever of it and the
    heartbeat runs first sees the gap, and the stall is acted on once."""
    proc = subprocess.Popen([sys.executable, '-c', FROZEN], stdout=subprocess.PIPE, text=True,
                            cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
    try:
        assert proc.stdout.readline() == 'up\n'
        time.sleep(0.3)
        proc.send_signal(signal.SIGSTOP)
        time.sleep(1.0)
        proc.send_signal(signal.SIGCONT)
        assert proc.stdout.readline() == 'stall\n'
        took = float(proc.stdout.readline().split()[1])
        assert 1.0 <= took < 3.0        # the whole freeze (a loaded machine wakes it late)
        time.sleep(0.5)
    finally:
        proc.kill()
        assert proc.stdout.read() == ''         # once
        proc.wait()


def test_a_silenced_replica_looks_dead_to_its_peers_and_not_them_to_it():
    dead, seen = [], threading.Event()

    def on_dead(name, lease):
        dead.append((name, lease))
        seen.set()
    stalled = Liveness('127.0.0.1', spawn, on_dead)
    peer = Liveness('127.0.0.1', spawn, on_dead)
    peer.watch({'stalled': (stalled.address, 7)})
    stalled.watch({'peer': (peer.address, 8)})
    time.sleep(0.2)
    old = stalled.address
    threading.Thread(target=stalled.silence).start()    # from another OS thread
    assert seen.wait(1)
    time.sleep(0.2)
    assert dead == [('stalled', 7)]                     # the peer is not taken for dead
    stalled.reopen()                                    # the loop turns again
    assert stalled.address != old
    seen.clear()
    peer.watch({'stalled': (stalled.address, 9)})       # its new record, new lease
    time.sleep(0.3)
    assert not seen.is_set()


def test_the_test_stall_signal_is_installed_only_when_asked():
    before = signal.getsignal(signal.SIGUSR2)
    install_test_stall({})
    assert signal.getsignal(signal.SIGUSR2) is before
    try:
        install_test_stall({'VNETSEC_TEST_STALL_SIGNAL': 'USR2',
                            'VNETSEC_TEST_STALL_SECONDS': '0.2'})
        started = time.monotonic()
        os.kill(os.getpid(), signal.SIGUSR2)
        assert time.monotonic() - started >= 0.2
    finally:
        signal.signal(signal.SIGUSR2, before)
