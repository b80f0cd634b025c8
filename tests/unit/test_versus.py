"""bench.versus: before and after once, or in rounds of before, after, after,
before (a machine slowing down or speeding up during the runs weighs on both)."""
import pytest

from bench import versus


def runs_of(monkeypatch, capsys, argv):
    """The sources versus runs, in order, and what it printed (no git, no benchmark)."""
    ran = []
    monkeypatch.setattr(versus.subprocess, 'run', lambda *a, **k: None)
    monkeypatch.setattr(versus.shutil, 'copytree', lambda *a, **k: None)

    def run(source, module, args):
        ran.append(('after' if source == versus.ROOT else 'before', module, args))
        return 0, 'figures of run %d' % len(ran)
    monkeypatch.setattr(versus, 'run', run)
    assert versus.main(argv) == 0
    return ran, capsys.readouterr().out


def test_once_each_by_default(monkeypatch, capsys):
    ran, out = runs_of(monkeypatch, capsys, ['abc123', 'bench.x', '--ports', '10'])
    assert ran == [('before', 'bench.x', ['--ports', '10']),
                   ('after', 'bench.x', ['--ports', '10'])]
    assert '=== bench.x --ports 10 (before: abc123)\nfigures of run 1' in out
    assert '=== bench.x --ports 10 (after: this checkout)\nfigures of run 2' in out


def test_rounds_alternate_and_are_numbered(monkeypatch, capsys):
    ran, out = runs_of(monkeypatch, capsys, ['--rounds', '2', '--bench-here', 'abc123', 'bench.x'])
    assert [which for which, _, _ in ran] == ['before', 'after', 'after', 'before'] * 2
    assert all(args == [] for _, _, args in ran)
    assert '=== run 8: bench.x  (before: abc123)\nfigures of run 8' in out


def test_rounds_needs_a_number(monkeypatch, capsys):
    monkeypatch.setattr(versus, 'run', lambda *a: pytest.fail('ran without a number of rounds'))
    assert versus.main(['--rounds', 'abc123', 'bench.x']) == 2
    assert '--rounds N' in capsys.readouterr().out       # its usage
