"""Mininet's own ``mn`` for the vnetsec topology, safe on a shared machine.

    python -m mininet_topos.mn --custom mininet_topos/datacenter.py \\
        --topo vnetsec,racks=2,hypervisors=2,vms=2 [--test pingall]

This is Debian's ``mn`` (its ``MininetRunner``: the same options, CLI and
tests) with its dangerous edges removed. ``mn`` runs Mininet's machine-wide
cleanup on any error or Ctrl-C (``killall`` of every controller, ping or
ryu-manager, every OVS bridge of the default database, every ``*-ethN`` link);
here an error stops only the networks this process built (their nodes, links
and their hypervisors' private OVS daemons), and ``mn -c`` is refused. The
machine-wide sysctls Mininet sets on start (``fixLimits``) are left alone too.
"""
import importlib.machinery
import importlib.util
import os
import shutil
import sys

from mininet.log import error, info
from mininet.net import Mininet

from mininet_topos.nodes import stop_network

BUILT = []          # the networks this process built, to stop on an error


def _load_mn():
    path = shutil.which('mn') or '/usr/bin/mn'
    loader = importlib.machinery.SourceFileLoader('mininet_mn', path)
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader(loader.name, loader))
    loader.exec_module(module)         # not as __main__: its error handler does not run
    return module


def _refuse_cleanup():
    raise SystemExit("vnetsec: Mininet's machine-wide cleanup (mn -c) is not run here; a "
                     "vnetsec run that died is removed by vnetsec-dc --cleanup")


def _tracked(init):
    def __init__(net, *args, **kwargs):
        BUILT.append(net)
        init(net, *args, **kwargs)
    return __init__


def session_dir():
    """Where this session's hypervisors keep their OVS files (removed at the end)."""
    return '/tmp/vnetsec/mn-%d' % os.getpid()


def main(argv=None):
    runner = _load_mn()
    runner.cleanup = _refuse_cleanup
    Mininet.inited = True                      # no machine-wide sysctls
    Mininet.__init__ = _tracked(Mininet.__init__)
    os.environ['VNETSEC_MN_RUNDIR'] = session_dir()
    sys.argv = ['mn'] + list(sys.argv[1:] if argv is None else argv)
    code = 0
    try:
        runner.MininetRunner()
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
        if e.code and not isinstance(e.code, int):
            error('%s\n' % e.code)
    except BaseException as e:                 # noqa: B902 - Ctrl-C too: stop ours only
        error('*** %s: %s; stopping only what this session built\n' % (type(e).__name__, e))
        code = 1
    if code:
        for net in BUILT:
            try:
                stop_network(net)
            except Exception as e:             # noqa: BLE001 - go on with the rest
                error('*** stopping %s: %s\n' % (net, e))
    shutil.rmtree(session_dir(), ignore_errors=True)
    info('')
    return code


if __name__ == '__main__':
    sys.exit(main())
