#!/bin/sh
# Run integration tests N times in one pytest session (one data center per
# module) and print each run's result with what it printed (its times) or where
# it stopped, then the counts. Arguments after N go to pytest.
#   scripts/repeat-test.sh 20 tests/integration/test_replicas.py -k 'quorum or kill_9'
# The pytest session takes the integration lock itself: never wrap it in flock.
set -u
runs=$1
shift
cd "$(dirname "$0")/.."
xml=$(mktemp /tmp/vnetsec-repeat.XXXXXX.xml)
VNETSEC_REPEAT=$runs .venv/bin/python -m pytest -p no:cacheprovider -q \
    -W ignore::DeprecationWarning -o junit_logging=system-out --junitxml="$xml" \
    "$@" > "$xml.log" 2>&1
.venv/bin/python - "$xml" "$runs" <<'PY'
import sys
import xml.etree.ElementTree as ET
passed = failed = xfailed = 0
for case in ET.parse(sys.argv[1]).iter('testcase'):
    bad = case.find('failure') if case.find('failure') is not None else case.find('error')
    out = ' | '.join(line for line in (case.findtext('system-out') or '').splitlines()
                     if line.strip() and not line.startswith('---'))   # pytest's header
    skipped = case.find('skipped')
    if skipped is not None and skipped.get('type') == 'pytest.xfail':   # a known cause
        xfailed += 1
        print('%s XFAIL %.1f s: %s' % (case.get('name'), float(case.get('time')),
                                       (skipped.get('message') or '')[:1500]))
        continue
    if skipped is not None:
        print('%s SKIPPED %s' % (case.get('name'), skipped.get('message')))
        continue
    passed, failed = passed + (bad is None), failed + (bad is not None)
    print('%s %s %.1f s: %s' % (case.get('name'), 'FAILED' if bad is not None else 'passed',
                                float(case.get('time')), out or '-'))
    if bad is not None:
        print('    stopped at: %s' % (bad.get('message') or '')[:1500])
print('%d passed, %d failed, %d xfailed: lost to a known cause (%s runs of each test)'
      % (passed, failed, xfailed, sys.argv[2]))
sys.exit(0 if failed == 0 and passed else 1)
PY
