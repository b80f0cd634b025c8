"""Any benchmark, run on a reference commit and on this checkout, one after the
other in the same invocation, its output printed under each name: the figures
from before a change beside the figures after it, measured the same day on the
same machine.

    sudo .venv/bin/python -m bench.versus [--bench-here] REF bench.vlan_ports [its arguments]

REF is checked out into a temporary git worktree and run with this checkout's
venv, its own code first on the path (PYTHONPATH), so its controller, data
center and benchmark are its own. ``--bench-here``: REF runs this checkout's
``bench/`` instead of its own (a benchmark newer than REF, measuring REF's code
the same way). The worktree is removed afterwards.
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


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    bench_here = argv[:1] == ['--bench-here']
    argv = argv[1:] if bench_here else argv
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
        for label, source in (('before: %s' % ref, where), ('after: this checkout', ROOT)):
            code, out = run(source, module, args)
            worst = worst or code
            print('=== %s %s (%s)' % (module, ' '.join(args), label))
            print(out.rstrip() + '\n', flush=True)
    finally:
        subprocess.run(['git', '-C', ROOT, 'worktree', 'remove', '--force', where],
                       capture_output=True)
        subprocess.run(['rm', '-rf', tmp])
    return worst


if __name__ == '__main__':
    sys.exit(main())
