"""SIGTERM tears down as Ctrl-C does (procs.exit_on_sigterm, installed by
nodes.Run while a run is up), and a teardown is not cut short by a kill or a
time limit (procs.signals_deferred). Each case runs in a child process."""
import os
import subprocess
import sys

REPO = os.path.join(os.path.dirname(__file__), '..', '..')


def child(code):
    out = subprocess.run([sys.executable, '-c', code], cwd=REPO, capture_output=True,
                         text=True, timeout=30)
    return out.returncode, out.stdout


def test_sigterm_unwinds_a_run_and_the_default_comes_back_after_it():
    code, out = child('''
import os, signal
from mininet_topos.nodes import Run

class Fake(Run):
    def start(self):
        print('started', signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL)
        return self
    def stop(self):
        print('stopped', flush=True)

with Fake():
    pass
print('after', signal.getsignal(signal.SIGTERM) is signal.SIG_DFL, flush=True)
with Fake():
    os.kill(os.getpid(), signal.SIGTERM)
    signal.pause()
print('not reached')
''')
    assert code == 143, out
    assert out.split('\n') == ['started True', 'stopped', 'after True', 'started True',
                               'stopped', '']


def test_a_sigterm_during_a_teardown_waits_for_its_end():
    code, out = child('''
import os, signal, time
from mininet_topos.procs import exit_on_sigterm, signals_deferred
exit_on_sigterm()
try:
    with signals_deferred():
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.2)
        print('teardown finished', flush=True)
    print('not reached')
finally:
    print('unwound', flush=True)
''')
    assert code == 143 and out == 'teardown finished\nunwound\n', out


def test_a_handler_of_the_process_is_left_in_place():
    code, out = child('''
import signal
from mininet_topos.procs import exit_on_sigterm
signal.signal(signal.SIGTERM, signal.SIG_IGN)
print(exit_on_sigterm(), signal.getsignal(signal.SIGTERM) is signal.SIG_IGN)
''')
    assert code == 0 and out == 'None True\n', out
