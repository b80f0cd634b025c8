"""The benchmarks and the labs read OpenFlow table numbers from the pipeline's
declaration (controller/compile/pipeline.py, e.g. ``P.VXLAN_L2``), never as literals:
a literal survives a renumbering and then reads the wrong table (issue 28:
``table=40`` read L2_LOOKUP for entries that had moved to table 41)."""
import glob
import os
import re

ROOT = os.path.join(os.path.dirname(__file__), '..', '..')
# ovs-ofctl's ways to name a table: dump-flows filters and flow text (table=40,
# table:40), actions (goto_table:41, resubmit(,41), resubmit:41), ct(table=50)
LITERAL = re.compile(r'\btable\s*[=:]\s*\d|\bgoto_table\s*:\s*\d|\bresubmit\s*\(\s*[^,)]*,\s*\d'
                     r'|\bresubmit\s*:\s*\d')


def sources():
    return sorted(glob.glob(os.path.join(ROOT, 'bench', '*.py'))
                  + glob.glob(os.path.join(ROOT, 'mininet_topos', '*.py')))


def literals(text):
    return [(n, line.strip()) for n, line in enumerate(text.splitlines(), 1)
            if LITERAL.search(line)]


def test_no_bench_or_lab_module_names_a_table_number():
    found = {}
    for path in sources():
        with open(path) as f:
            hits = literals(f.read())
        if hits:
            found[os.path.relpath(path, ROOT)] = hits
    assert len(sources()) > 20 and not found, found


def test_the_pattern_catches_the_ways_a_table_is_named():
    for text in ("hv.ovs.ofctl('dump-flows br-int table=40 --no-stats')",
                 "'dump-flows br-int table=40,dl_dst=%s' % mac", 'table:41', 'goto_table:41',
                 'actions=resubmit(,42)', 'resubmit(1,42)', 'resubmit:41', 'ct(table=50)'):
        assert literals(text), text
    for text in ("'dump-flows br-int table=%d --no-stats' % P.VXLAN_L2",
                 "'table=%d,dl_dst=%s' % (P.VXLAN_L2, mac)", 'resubmit(,%d)', 'the tables'):
        assert not literals(text), text
