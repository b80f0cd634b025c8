"""Any benchmark under both runtimes in the same invocation: Ryu 4.34 (the
Python 3.11 environment, .venv) and os-ken (an environment of a newer Python,
.venv-py3.N, built by scripts/test-os-ken.sh), one after the other, ``--rounds``
times alternating, its output printed under each name (docs/runtime.md).

    sudo flock /tmp/vnetsec-integration.lock .venv/bin/python -m bench.runtimes \\
        [--rounds N] [--env NAME=PYTHON ...] bench.vlan_ports --ports 1000 --single 20

Each run is the benchmark's own process on that environment's interpreter, so the
controller it starts is that environment's (``ryu-manager`` or
``vnetsec-controller``, mininet_topos/controller_proc.py).
"""
import argparse
import glob
import os
import sys

from bench.versus import ROOT, run


def environments():
    """{name: python}: .venv (Ryu on 3.11) and the newest .venv-py3.N (os-ken)."""
    found = {}
    ryu = os.path.join(ROOT, '.venv', 'bin', 'python')
    if os.path.exists(ryu):
        found['ryu'] = ryu
    newer = sorted(glob.glob(os.path.join(ROOT, '.venv-py3.*', 'bin', 'python')),
                   key=lambda p: int(p.split('.venv-py3.')[1].split(os.sep)[0]))
    if newer:
        found['os-ken'] = newer[-1]
    return found


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--rounds', type=int, default=1, help='each runtime this many times, '
                   'alternating (the machine changes speed within the hour)')
    p.add_argument('--env', action='append', default=[], metavar='NAME=PYTHON',
                   help='an environment to run (default: .venv and the newest .venv-py3.N)')
    p.add_argument('module')
    p.add_argument('args', nargs=argparse.REMAINDER)
    a = p.parse_args(sys.argv[1:] if argv is None else argv)
    envs = dict(e.split('=', 1) for e in a.env) or environments()
    worst = 0
    for round_ in range(1, a.rounds + 1):
        for name, python in envs.items():
            code, out = run(ROOT, a.module, a.args, python=python)
            worst = worst or code
            print('=== %s %s (%s, %s, round %d)' % (a.module, ' '.join(a.args), name,
                                                   python, round_))
            print(out.rstrip() + '\n', flush=True)
    return worst


if __name__ == '__main__':
    sys.exit(main())
