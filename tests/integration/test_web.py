"""The live web view in a real headless browser (Debian's chromium and
chromedriver, driven by Selenium): it lists every VM of a running data center,
shows a migration within 2 s, and its trace form renders a verdict. The test
saves a screenshot (docs/web-view.png holds the latest)."""
import os
import shutil
import time

import pytest

from mininet_topos.datacenter import DataCenter
from mininet_topos.migration import migrate

CHROMIUM, DRIVER = '/usr/bin/chromium', '/usr/bin/chromedriver'
DOCS = os.path.join(os.path.dirname(__file__), '..', '..', 'docs')

webdriver = pytest.importorskip('selenium.webdriver')
if not (os.path.exists(CHROMIUM) and os.path.exists(DRIVER)):
    pytest.skip('needs chromium and chromium-driver (scripts/setup.sh)', allow_module_level=True)
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import Select  # noqa: E402


@pytest.fixture(scope='module')
def dc():
    # hv1 (rack 1): vm1 vm2, hv2 (rack 2): vm3 vm4; odd VMs VLAN 10, even VXLAN 5000
    with DataCenter(racks=2, hypervisors=1, vms=2, networks='vlan:10,vxlan:5000') as running:
        yield running


@pytest.fixture(scope='module')
def browser(dc):
    options = webdriver.ChromeOptions()
    for arg in ('--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
                '--window-size=1400,900'):
        options.add_argument(arg)
    options.binary_location = CHROMIUM     # never let Selenium fetch a browser or driver
    driver = webdriver.Chrome(options=options,
                              service=webdriver.ChromeService(executable_path=DRIVER))
    try:
        driver.get('%s/ui#token=%s' % (dc.api_url, dc.token))
        yield driver
    finally:
        driver.quit()


def wait_for(condition, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if condition():
            return time.time()
        time.sleep(0.05)
    return None


def texts(browser, selector):
    """The visible texts of what ``selector`` finds, read in one script run: the
    page redraws every 0.5 s, so elements found first and read after can be gone
    (a stale element reference)."""
    return browser.execute_script(
        'return Array.from(document.querySelectorAll(arguments[0]), e => e.innerText.trim())',
        selector)


def on_host(browser, host):
    return set(texts(browser, '#host-%s .vm' % host))


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


def test_the_trace_form_renders_a_verdict(dc, browser, tmp_path):
    Select(browser.find_element(By.ID, 'trace-source')).select_by_visible_text('vm2')
    Select(browser.find_element(By.ID, 'trace-destination')).select_by_visible_text('vm4')
    Select(browser.find_element(By.ID, 'trace-protocol')).select_by_visible_text('tcp')
    port = browser.find_element(By.ID, 'trace-port')
    port.clear()
    port.send_keys('22')
    browser.find_element(By.ID, 'trace-button').click()
    verdict = browser.find_element(By.ID, 'verdict')
    assert wait_for(lambda: verdict.text.startswith(('ALLOWED', 'DROPPED')), 5), verdict.text
    expected = dc.client.post('/v1/trace', {'source': 'vm2', 'destination': 'vm4',
                                            'protocol': 'tcp', 'port': 22})
    assert verdict.text.startswith(expected['verdict'].upper())
    assert len(browser.find_elements(By.CSS_SELECTOR, '#steps li')) == len(expected['steps'])
    shot = str(tmp_path / 'web-view.png')
    assert browser.save_screenshot(shot)
    shutil.copy(shot, os.path.join(DOCS, 'web-view.png'))
