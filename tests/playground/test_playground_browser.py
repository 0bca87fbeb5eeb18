"""End to end in a real browser: Debian's chromium + chromium-driver driven by Selenium.

Skips (saying what to install) when the browser, its driver or selenium is missing.
"""

import contextlib
import io
import json
import os
import shutil
import time
import urllib.request

import pytest

CHROMIUM, DRIVER = "/usr/bin/chromium", shutil.which("chromedriver") or "/usr/bin/chromedriver"
if not (os.path.exists(CHROMIUM) and os.path.exists(DRIVER)):
    pytest.skip("the browser test needs Debian's packages chromium and chromium-driver "
                "(apt-get install -y chromium chromium-driver)", allow_module_level=True)
webdriver = pytest.importorskip("selenium.webdriver",
                                reason="the browser test needs selenium (pip install selenium)")
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

from chainrule.playground.server import PlaygroundServer  # noqa: E402

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--window-size=1400,1000")


@pytest.fixture
def browser(tmp_path):
    server = PlaygroundServer(0).start()
    opts = webdriver.ChromeOptions()
    for flag in FLAGS:
        opts.add_argument(flag)
    opts.add_argument(f"--user-data-dir={tmp_path / 'profile'}")
    opts.binary_location = CHROMIUM
    driver = webdriver.Chrome(service=Service(DRIVER), options=opts)
    driver.set_script_timeout(20)
    try:
        yield driver, server
    finally:
        driver.quit()
        server.stop()


def _get(server, path):
    with urllib.request.urlopen(server.url.rstrip("/") + path, timeout=10) as r:
        return json.loads(r.read())


def _js(driver, code, *args):
    return driver.execute_script(code, *args)


HEATMAP_PIXELS = """
const c = document.getElementById('heatmap');
return Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data
                  .filter((_, i) => i % 4 === 0 && (i / 4) % 7 === 0));
"""


def test_playground_in_chromium(browser, tmp_path):
    driver, server = browser
    wait = WebDriverWait(driver, 30, poll_frequency=0.1)
    shots = tmp_path / "screenshots"
    shots.mkdir()
    driver.get(server.url)
    wait.until(lambda d: _js(d, "return document.body.dataset.steps") == "0")
    assert "dataset=circle" in driver.current_url and "hidden=4,2" in driver.current_url
    driver.save_screenshot(str(shots / "1-loaded.png"))

    # change data set, layers, optimiser and learning rate; each lands in the URL
    driver.find_element("css selector", "[data-dataset=xor]").click()
    wait.until(lambda d: "dataset=xor" in d.current_url)
    driver.find_element("css selector", ".add-neuron[data-layer='0']").click()
    wait.until(lambda d: "hidden=5,2" in d.current_url)
    Select(driver.find_element("id", "optimizer")).select_by_value("adam")
    wait.until(lambda d: "optimizer=adam" in d.current_url)
    Select(driver.find_element("id", "lr")).select_by_value("0.01")
    wait.until(lambda d: "lr=0.01&" in d.current_url)
    wait.until(lambda d: len(d.find_elements("css selector", ".node[data-layer='1']")) == 5
               and _js(d, "return document.body.dataset.steps") == "0")
    before = _js(driver, HEATMAP_PIXELS)

    # train until the test loss (squared error on ±1 labels) is below 0.2
    driver.find_element("id", "play").click()
    wait.until(lambda d: float(_js(d, "return document.getElementById('test-loss')"
                                      ".dataset.value || 'NaN'")) < 0.2)
    driver.find_element("id", "play").click()          # pause
    wait.until(lambda d: _js(d, "return window.playground.playing") is False)
    state = _get(server, f"/api/state?sid={_js(driver, 'return window.playground.sid')}")
    for _ in range(50):                                 # the last frame in flight lands
        time.sleep(0.1)
        again = _get(server, f"/api/state?sid={_js(driver, 'return window.playground.sid')}")
        if again == state and _js(driver, "return document.body.dataset.steps") == str(
                state["steps"]):
            break
        state = again
    assert not state["playing"] and state["test_loss"] < 0.2 and state["steps"] > 0
    after = _js(driver, HEATMAP_PIXELS)
    changed = sum(a != b for a, b in zip(before, after)) / len(before)
    assert changed > 0.2, f"only {changed:.0%} of the heat map's pixels changed"
    driver.find_element("id", "show_test").click()     # display only: same run, in the URL
    wait.until(lambda d: "show_test=1" in d.current_url)
    assert _get(server, f"/api/state?sid={_js(driver, 'return window.playground.sid')}")[
        "steps"] == state["steps"]
    driver.save_screenshot(str(shots / "2-trained.png"))

    # click a weight: the chain-rule panel's Σ over paths equals the server's gradient
    sid = _js(driver, "return window.playground.sid")
    link = driver.find_element(
        "css selector", ".link-hit[data-layer='0'][data-row='1'][data-col='0']")
    _js(driver, "arguments[0].dispatchEvent(new MouseEvent('click', {bubbles: true}))", link)
    panel = wait.until(lambda d: d.find_elements("id", "cr-pathsum"))[0]
    shown = float(panel.get_attribute("data-value"))
    server_grad = _get(server, f"/api/gradient?sid={sid}&layer=0&row=1&col=0")["gradient"]
    assert shown == pytest.approx(server_grad, rel=1e-9, abs=1e-12)
    fd = float(driver.find_element("id", "cr-fd").get_attribute("data-value"))
    assert fd == pytest.approx(server_grad, rel=1e-5, abs=1e-9)
    assert abs(server_grad) > 1e-8   # a weight that matters
    driver.save_screenshot(str(shots / "3-chain-rule.png"))

    # a malformed CSV: the page shows the error, the server keeps the run
    bad = tmp_path / "bad.csv"
    bad.write_text("x1,x2,label\n" + "1.0,2.0\n" * 12)
    driver.find_element("id", "csv-file").send_keys(str(bad))
    wait.until(lambda d: "expected 3 columns" in d.find_element("id", "error").text)
    assert _get(server, f"/api/state?sid={sid}")["steps"] == state["steps"]
    driver.save_screenshot(str(shots / "4-bad-csv.png"))

    # "copy as Python" reproduces the run: same steps, same test loss
    driver.find_element("id", "copy-python").click()
    wait.until(lambda d: "TrainingStep" in d.find_element("id", "snippet").get_attribute("value"))
    code = driver.find_element("id", "snippet").get_attribute("value")
    assert f"while done < {state['steps']}:" in code
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "snippet.py", "exec"), {"__name__": "snippet"})
    test_loss = float(out.getvalue().split("test loss")[1])
    assert test_loss == pytest.approx(state["test_loss"], abs=2e-6)
    assert sorted(p.name for p in shots.iterdir()) == [
        "1-loaded.png", "2-trained.png", "3-chain-rule.png", "4-bad-csv.png"]
