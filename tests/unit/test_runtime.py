"""One controller, two runtimes (docs/runtime.md): only controller/ryu_facade.py
imports the OpenFlow framework, Ryu or os-ken, and the runtime follows Python."""
import ast
import os
import subprocess
import sys

from controller import ryu_facade

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FACADE = os.path.join('controller', 'ryu_facade.py')
FRAMEWORKS = {'ryu', 'os_ken'}


def imported_modules(path):
    """Every module a file imports, by any import statement (also inside
    functions and ``try``), and by ``importlib.import_module('...')`` or
    ``__import__('...')`` with a literal name."""
    with open(path, encoding='utf-8') as f:
        tree = ast.parse(f.read(), path)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            yield node.module
        elif (isinstance(node, ast.Call) and node.args
              and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)
              and (getattr(node.func, 'attr', None) == 'import_module'
                   or getattr(node.func, 'id', None) in ('__import__', 'import_module'))):
            yield node.args[0].value


def project_files():
    for top in sorted(os.listdir(ROOT)):
        if top.startswith('.') or not os.path.isdir(os.path.join(ROOT, top)):
            continue
        for dirpath, dirnames, filenames in os.walk(os.path.join(ROOT, top)):
            dirnames[:] = [d for d in dirnames if d != '__pycache__']
            for name in filenames:
                if name.endswith('.py'):
                    yield os.path.relpath(os.path.join(dirpath, name), ROOT)


def test_only_the_facade_imports_ryu_or_os_ken():
    importers = {path: sorted(m for m in imported_modules(os.path.join(ROOT, path))
                              if m.split('.')[0] in FRAMEWORKS)
                 for path in project_files()}
    importers = {path: mods for path, mods in importers.items() if mods}
    assert set(importers) == {FACADE}, importers
    assert {m.split('.')[0] for m in importers[FACADE]} == FRAMEWORKS


def test_the_scan_sees_imports_in_every_form(tmp_path):
    source = tmp_path / 'x.py'
    source.write_text('import os_ken.lib.hub\ndef f():\n    from ryu.lib import hub\n'
                      'import importlib\nimportlib.import_module("ryu.cmd.manager")\n'
                      'from . import ryu\n')
    assert list(imported_modules(str(source))) == ['os_ken.lib.hub', 'importlib',
                                                   'ryu.lib', 'ryu.cmd.manager']


def test_the_runtime_follows_python():
    assert ryu_facade.RUNTIME == ('ryu' if sys.version_info < (3, 12) else 'os-ken')
    framework = 'ryu' if ryu_facade.RUNTIME == 'ryu' else 'os_ken'
    assert ryu_facade.RyuApp.__module__ == framework + '.base.app_manager'
    assert ryu_facade.hub.__name__ == framework + '.lib.hub'


def test_the_hub_is_eventlet():
    """The REST server is eventlet's and the code relies on green threads."""
    import eventlet.greenthread
    thread = ryu_facade.hub.spawn(lambda: None)
    assert isinstance(thread, eventlet.greenthread.GreenThread)
    thread.wait()


def test_the_launcher_names_its_runtime():
    out = subprocess.run([sys.executable, '-m', 'controller.launcher', '--version'],
                         capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert (('ryu-manager 4.34' if ryu_facade.RUNTIME == 'ryu' else '(os-ken 4.')
            in out.stdout + out.stderr), out


def test_the_framework_encodes_ovs_nd_fields():
    """nd_reserved and nd_options_type (ERICOXM 0x1000, fields 1 and 2, as OVS's
    meta-flow numbers them) are encoded in a set_field and decoded back, as an
    ND responder's flows and their dumps need."""
    from controller.ryu_facade import parser
    for field, value, header in (('nd_reserved', 0x60000000, '10000204'),
                                 ('nd_options_type', 2, '10000401')):
        buf = bytearray()
        parser.OFPActionSetField(**{field: value}).serialize(buf, 0)
        assert buf.hex()[8:16] == header
        back = parser.OFPActionSetField.parser(bytes(buf), 0)
        assert (back.key, back.value) == (field, value)
