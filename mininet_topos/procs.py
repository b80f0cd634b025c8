"""Processes known by PID *and* start time (from /proc), so that a PID the
kernel has since given to another process is never signalled."""
import contextlib
import os
import signal
import sys
import threading
import time


def start_time(pid):
    """The process's start time (clock ticks after boot), None if it is gone or
    a zombie."""
    try:
        with open('/proc/%d/stat' % pid) as f:
            fields = f.read().rsplit(')', 1)[1].split()
    except (OSError, IndexError):
        return None
    return None if fields[0] == 'Z' else int(fields[19])


def boot_id():
    with open('/proc/sys/kernel/random/boot_id') as f:
        return f.read().strip()


def cmdline(pid):
    """The command line as one string ('' if the process is gone)."""
    try:
        with open('/proc/%d/cmdline' % pid, 'rb') as f:
            return f.read().replace(b'\0', b' ').decode(errors='replace').strip()
    except OSError:
        return ''


def terminate(procs, wait=3.0):
    """Stop the processes {pid: start time}: SIGTERM, then SIGKILL to those
    still running after ``wait`` seconds; returns once they are gone (or 1 s
    after SIGKILL) with the PIDs signalled. A PID is signalled only while it
    still has its start time."""
    def still(pid):
        return procs[pid] is not None and start_time(pid) == procs[pid]

    def wait_gone(seconds):
        deadline = time.time() + seconds
        while time.time() < deadline and any(still(pid) for pid in signalled):
            time.sleep(0.05)

    signalled = [pid for pid in procs if still(pid) and _signal(pid, signal.SIGTERM)]
    wait_gone(wait)
    for pid in signalled:
        if still(pid):
            _signal(pid, signal.SIGKILL)
    wait_gone(1.0)
    return signalled


def _signal(pid, sig):
    try:
        os.kill(pid, sig)
        return True
    except ProcessLookupError:
        return False


def _exit(signum, frame):
    sys.exit(128 + signum)


def exit_on_sigterm():
    """Make SIGTERM raise ``SystemExit(143)`` in the main thread, as Ctrl-C raises
    KeyboardInterrupt, so that the ``with`` blocks and ``finally`` clauses of
    whatever the process built tear it down (the default action would end the
    process on the spot and leave its runs behind). Returns the handler it
    replaced, or None when it changed nothing: outside the main thread, or
    when a handler other than the default is in place (the caller's own, or
    this one)."""
    if threading.current_thread() is not threading.main_thread() \
            or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return None
    return signal.signal(signal.SIGTERM, _exit)


@contextlib.contextmanager
def signals_deferred(signals=(signal.SIGTERM, signal.SIGALRM)):
    """``signals`` arriving inside the block are held until its end (a teardown
    is not cut short half-way by a kill or a time limit), then handled as they
    would have been. Ctrl-C is not held: a hand at the keyboard still can."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held = []
    previous = {s: signal.signal(s, lambda signum, frame: held.append((signum, frame)))
                for s in signals}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        for signum, frame in held:
            if callable(previous[signum]):
                previous[signum](signum, frame)
            elif previous[signum] == signal.SIG_DFL:
                os.kill(os.getpid(), signum)
