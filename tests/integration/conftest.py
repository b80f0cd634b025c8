"""Integration tests run a real emulated data center: root, Open vSwitch
(userspace datapath), Mininet, a real ryu-manager. Only one run at a time."""
import os
import shutil

import pytest


def pytest_generate_tests(metafunc):
    """``VNETSEC_REPEAT=N`` runs each selected test N times in one session (one
    data center per module): ``scripts/repeat-test.sh``."""
    runs = int(os.environ.get('VNETSEC_REPEAT', '1'))
    if runs > 1:
        metafunc.fixturenames.append('repeat_run')
        metafunc.parametrize('repeat_run', range(1, runs + 1))


def pytest_collection_modifyitems(config, items):
    reason = None
    if os.geteuid() != 0:
        reason = 'integration tests need root'
    elif not shutil.which('ovs-vswitchd'):
        reason = 'integration tests need Open vSwitch (scripts/setup.sh installs it)'
    for item in items:
        if 'integration' in str(item.fspath):
            item.add_marker(pytest.mark.integration)
            if reason:
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope='session', autouse=True)
def one_run_at_a_time():
    """Integration runs on one machine wait for each other (benchmarks take the
    same lock with ``flock /tmp/vnetsec-integration.lock``)."""
    import fcntl
    with open('/tmp/vnetsec-integration.lock', 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield
