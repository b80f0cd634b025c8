"""Make Ryu 4.34 importable with a Python 3.11-capable eventlet.

``ryu.app.wsgi`` (imported by ``ryu-manager`` at start-up) needs
``eventlet.wsgi.ALREADY_HANDLED``, which eventlet removed in 0.30.3, while the
eventlet releases that still had it crash on 3.11. This module supplies the name
the moment ``eventlet.wsgi`` is imported. ``scripts/setup.sh`` loads it from a
``.pth`` file in the virtual environment, so plain ``ryu-manager`` works with no
file inside site-packages edited.
"""
import importlib.abc
import importlib.util
import sys


class _SupplyAlreadyHandled(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name != 'eventlet.wsgi':
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        run = spec.loader.exec_module

        def exec_module(module):
            run(module)
            if not hasattr(module, 'ALREADY_HANDLED'):
                module.ALREADY_HANDLED = []
        spec.loader.exec_module = exec_module
        return spec


def install():
    if 'eventlet.wsgi' in sys.modules:
        mod = sys.modules['eventlet.wsgi']
        if not hasattr(mod, 'ALREADY_HANDLED'):
            mod.ALREADY_HANDLED = []
    elif not any(isinstance(f, _SupplyAlreadyHandled) for f in sys.meta_path):
        sys.meta_path.insert(0, _SupplyAlreadyHandled())
