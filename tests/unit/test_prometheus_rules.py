"""The deployment's Prometheus alert rules (deploy/prometheus/alerts.yml), checked
and unit-tested on synthetic series by Debian's promtool (scripts/setup.sh
installs the prometheus package): a replica down, a switch not in sync or
failing, slow reconciles, etcd errors, log suppression."""
import os
import shutil
import subprocess

import pytest

HERE = os.path.join(os.path.dirname(__file__), '..', '..', 'deploy', 'prometheus')
PROMTOOL = shutil.which('promtool')
ALERTS = ('VnetsecReplicaDown', 'VnetsecSwitchNotInSync', 'VnetsecSwitchFailing',
          'VnetsecReconcileSlow', 'VnetsecEtcdErrors', 'VnetsecEtcdMemberUnreachable',
          'VnetsecLogSuppressed')
needs_promtool = pytest.mark.skipif(PROMTOOL is None, reason='promtool: scripts/setup.sh '
                                    "installs Debian's prometheus package")


def promtool(*args):
    return subprocess.run([PROMTOOL] + list(args), cwd=HERE, capture_output=True, text=True,
                          timeout=60)


@needs_promtool
def test_rules_check():
    out = promtool('check', 'rules', 'alerts.yml')
    assert out.returncode == 0 and '%d rules found' % len(ALERTS) in out.stdout, out


@needs_promtool
def test_rules_fire_on_synthetic_series():
    out = promtool('test', 'rules', 'alerts_test.yml')
    assert out.returncode == 0 and 'SUCCESS' in out.stdout, out.stdout + out.stderr


@needs_promtool
def test_every_alert_is_tested_and_the_config_is_valid():
    with open(os.path.join(HERE, 'alerts_test.yml')) as f:
        tested = f.read()
    assert all('alertname: %s\n' % name in tested for name in ALERTS)
    out = subprocess.run([PROMTOOL, 'check', 'config', '--syntax-only', 'prometheus.yml'],
                         cwd=HERE, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
