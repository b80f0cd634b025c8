"""The live web view in a real headless browser (Debian's chromium and
chromedriver, driven by Selenium): it lists every VM of a running data center,
shows a migration within 2 s, its trace form renders a verdict, and a refused
connection a firewall log records shows in its VM's denials. The test's
screenshot goes to a temporary directory only; ``python -m
mininet_topos.screenshot`` makes docs/web-view.png on purpose."""
import os
import subprocess
import time

import pytest

from mininet_topos import screenshot
from mininet_topos.datacenter import DataCenter
from mininet_topos.migration import migrate
from mininet_topos.screenshot import on_host, texts, wait_for

REPO = os.path.join(os.path.dirname(__file__), '..', '..')

pytest.importorskip('selenium.webdriver')
if not (os.path.exists(screenshot.CHROMIUM) and os.path.exists(screenshot.DRIVER)):
    pytest.skip('needs chromium and chromium-driver (scripts/setup.sh)', allow_module_level=True)
from selenium.webdriver.common.by import By  # noqa: E402


def docs_status():
    """``git status --porcelain docs/`` of the checkout (None outside git)."""
    out = subprocess.run(['git', '-C', REPO, 'status', '--porcelain', 'docs/'],
                         capture_output=True, text=True)
    return out.stdout if out.returncode == 0 else None


@pytest.fixture(scope='module')
def docs_before():
    return docs_status()


@pytest.fixture(scope='module')
def dc(docs_before):
    # hv1 (rack 1): vm1 vm2, hv2 (rack 2): vm3 vm4; odd VMs VLAN 10, even VXLAN 5000
    with DataCenter(**screenshot.TOPOLOGY) as running:
        yield running


@pytest.fixture(scope='module')
def browser(dc):
    driver = screenshot.browser()
    try:
        driver.get('%s/ui#token=%s' % (dc.api_url, dc.token))
        yield driver
    finally:
        driver.quit()


def test_every_vm_is_drawn_on_its_hypervisor(dc, browser):
    assert wait_for(lambda: on_host(browser, 'hv1') == {'vm1', 'vm2'}
                    and on_host(browser, 'hv2') == {'vm3', 'vm4'}, 5), \
        browser.find_element(By.ID, 'status').text
    assert 'in sync' in browser.find_element(By.ID, 'host-hv1').text
    networks = browser.find_element(By.ID, 'networks').text
    assert 'vxlan5000' in networks and '172.16.2.11' in networks


def test_a_migration_shows_within_two_seconds(dc, browser):
    migrate(dc, 'vm2', 'hv2')
    moved = time.time()
    shown = wait_for(lambda: 'vm2' in on_host(browser, 'hv2')
                     and 'vm2' not in on_host(browser, 'hv1'), 5)
    assert shown is not None and shown - moved <= 2.0, shown and shown - moved
    assert wait_for(lambda: 'vm2 moved hv1 → hv2' in ''.join(texts(browser, '#events')), 2)


def test_the_trace_form_renders_a_verdict(dc, browser, tmp_path, docs_before):
    verdict = screenshot.trace(browser, 'vm2', 'vm4', 'tcp', 22)
    assert verdict.text.startswith(('ALLOWED', 'DROPPED')), verdict.text
    expected = dc.client.post('/v1/trace', {'source': 'vm2', 'destination': 'vm4',
                                            'protocol': 'tcp', 'port': 22})
    assert verdict.text.startswith(expected['verdict'].upper())
    assert len(browser.find_elements(By.CSS_SELECTOR, '#steps li')) == len(expected['steps'])
    shot = tmp_path / 'web-view.png'
    assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 0
    assert docs_status() == docs_before          # no tracked file rewritten by the test


def test_a_refused_connection_shows_in_its_vms_denials(dc, browser):
    c = dc.client
    c.post('/v1/security-groups', {'name': 'sealed', 'rules': [{'direction': 'egress'}]})
    vm3 = next(p for p in c.get('/v1/ports') if p['name'] == 'vm3')
    c.call('PATCH', '/v1/ports/%s' % vm3['id'], {'security_groups': ['sealed']}, wait=True)
    log = c.call('POST', '/v1/logs?wait=applied', {'event': 'DROP', 'security_group': 'sealed'})
    try:
        dc.node('vm1').cmd('ping -c1 -W1 %s' % dc.node('vm3').IP())
        shown = wait_for(lambda: ''.join(texts(browser, '#denials-vm3')), 5)
        assert shown, browser.find_element(By.ID, 'denials').text
        text = ''.join(texts(browser, '#denials-vm3'))
        assert 'icmp %s' % dc.node('vm1').IP() in text and 'no rule' in text, text
    finally:
        c.call('DELETE', '/v1/logs/%s?wait=applied' % log['id'])
        c.call('PATCH', '/v1/ports/%s' % vm3['id'], {'security_groups': vm3['security_groups']},
               wait=True)
