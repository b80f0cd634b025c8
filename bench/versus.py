"""Any benchmark, run on a reference commit and on this checkout, one after the
other in the same invocation, its output printed under each name: the figures
from before a change beside the figures after it, measured the same day on the
same machine.

    sudo .venv/bin/python -m bench.versus [--bench-here] [--rounds N] REF bench.vlan_ports [args]

REF is checked out into a temporary git worktree and run with this checkout's
venv, its own code first on the path (PYTHONPATH), so its controller, data
center and benchmark are its own. ``--bench-here``: REF runs this checkout's
``bench/`` instead of its own (a benchmark newer than REF, measuring REF's code
the same way). ``--rounds N``: N rounds of before, after, after, before (each
run numbered), so that a machine getting slower or faster during the runs
weighs on both alike: on a shared machine one pair of runs can differ by more
than the change measured. The worktree is removed afterwards.
"""
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(source, module, args, python=sys.executable):
    env = dict(os.environ, PYTHONPATH=source)
    done = subprocess.run([python, '-m', module] + args, cwd=source, env=env,
                          capture_output=True, text=True)
    return done.returncode, done.stdout + (done.stderr if done.returncode else '')


def order(rounds):
    """The runs in order: 'before' and 'after', once each, or ``rounds``
    rounds of before, after, after, before."""
    if rounds < 1:
        return ['before', 'after']
    return ['before', 'after', 'after', 'before'] * rounds


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    bench_here, rounds = False, 0
    while argv[:1] in (['--bench-here'], ['--rounds']):
        if argv[0] == '--bench-here':
            bench_here, argv = True, argv[1:]
        elif len(argv) > 1 and argv[1].isdigit():
            rounds, argv = int(argv[1]), argv[2:]
        else:
            print(__doc__)
            return 2
    if len(argv) < 2:
        print(__doc__)
        return 2
    ref, module, args = argv[0], argv[1], argv[2:]
    tmp = tempfile.mkdtemp(prefix='vnetsec-versus-')
    where = os.path.join(tmp, 'ref')
    subprocess.run(['git', '-C', ROOT, 'worktree', 'add', '--detach', where, ref], check=True,
                   capture_output=True)
    if bench_here:
        subprocess.run(['rm', '-rf', os.path.join(where, 'bench')], check=True)
        shutil.copytree(os.path.join(ROOT, 'bench'), os.path.join(where, 'bench'),
                        ignore=shutil.ignore_patterns('__pycache__', 'results'))
    worst = 0
    try:
        for n, which in enumerate(order(rounds), 1):
            label, source = (('before: %s' % ref, where) if which == 'before'
                             else ('after: this checkout', ROOT))
            code, out = run(source, module, args)
            worst = worst or code
            print('=== %s%s %s (%s)' % ('run %d: ' % n if rounds else '', module,
                                       ' '.join(args), label))
            print(out.rstrip() + '\n', flush=True)
    finally:
        subprocess.run(['git', '-C', ROOT, 'worktree', 'remove', '--force', where],
                       capture_output=True)
        subprocess.run(['rm', '-rf', tmp])
    return worst


if __name__ == '__main__':
    sys.exit(main())
