"""``python -m mininet_topos.screenshot [PATH]``: the web view's screenshot
(default ``docs/web-view.png``), made on purpose: a small data center (2 racks,
vm1 vm2 on hv1, vm3 vm4 on hv2; odd VMs VLAN 10, even VXLAN 5000), vm2 migrated
to hv2, and the trace form's verdict for vm2 -> vm4 tcp/22, in headless
chromium (Debian's chromium and chromium-driver, driven by Selenium).

The browser test (tests/integration/test_web.py) drives the page with the same
helpers and writes its screenshot to a temporary directory only.
"""
import os
import sys
import time

CHROMIUM, DRIVER = '/usr/bin/chromium', '/usr/bin/chromedriver'
DEFAULT = os.path.join(os.path.dirname(__file__), '..', 'docs', 'web-view.png')
TOPOLOGY = dict(racks=2, hypervisors=1, vms=2, networks='vlan:10,vxlan:5000')


def browser():
    """Headless chromium, the binary and the driver given explicitly (Selenium
    must never try to download a browser or a driver)."""
    from selenium import webdriver
    options = webdriver.ChromeOptions()
    for arg in ('--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
                '--window-size=1400,900'):
        options.add_argument(arg)
    options.binary_location = CHROMIUM
    return webdriver.Chrome(options=options,
                            service=webdriver.ChromeService(executable_path=DRIVER))


def wait_for(condition, timeout):
    """The time ``condition()`` first held, or None after ``timeout`` seconds."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if condition():
            return time.time()
        time.sleep(0.05)
    return None


def texts(driver, selector):
    """The visible texts of what ``selector`` finds, read in one script run: the
    page redraws every 0.5 s, so elements found first and read after can be gone
    (a stale element reference)."""
    return driver.execute_script(
        'return Array.from(document.querySelectorAll(arguments[0]), e => e.innerText.trim())',
        selector)


def on_host(driver, host):
    return set(texts(driver, '#host-%s .vm' % host))


def trace(driver, source, destination, protocol, port):
    """Fill in and send the trace form; returns the verdict element once it
    shows a verdict (or after 5 s)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select
    Select(driver.find_element(By.ID, 'trace-source')).select_by_visible_text(source)
    Select(driver.find_element(By.ID, 'trace-destination')).select_by_visible_text(destination)
    Select(driver.find_element(By.ID, 'trace-protocol')).select_by_visible_text(protocol)
    field = driver.find_element(By.ID, 'trace-port')
    field.clear()
    field.send_keys(str(port))
    driver.find_element(By.ID, 'trace-button').click()
    verdict = driver.find_element(By.ID, 'verdict')
    wait_for(lambda: verdict.text.startswith(('ALLOWED', 'DROPPED')), 5)
    return verdict


def main(argv=None):
    from mininet.log import setLogLevel

    from mininet_topos.datacenter import DataCenter
    from mininet_topos.migration import migrate
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0].startswith('-'):
        print(__doc__)
        return 0 if argv[0] in ('-h', '--help') else 2
    path = os.path.abspath(argv[0] if argv else DEFAULT)
    setLogLevel('output')
    with DataCenter(**TOPOLOGY) as dc:
        driver = browser()
        try:
            driver.get('%s/ui#token=%s' % (dc.api_url, dc.token))
            if not wait_for(lambda: on_host(driver, 'hv1') == {'vm1', 'vm2'}, 10):
                raise RuntimeError('the web view did not show the data center')
            migrate(dc, 'vm2', 'hv2')
            wait_for(lambda: 'vm2 moved hv1 → hv2' in ''.join(texts(driver, '#events')), 5)
            verdict = trace(driver, 'vm2', 'vm4', 'tcp', 22).text
            if not driver.save_screenshot(path):
                raise RuntimeError('chromium saved no screenshot')
        finally:
            driver.quit()
    print('%s (trace vm2 vm4 tcp 22: %s)' % (path, verdict.splitlines()[0] if verdict else '-'))
    return 0


if __name__ == '__main__':
    sys.exit(main())
