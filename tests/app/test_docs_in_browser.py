"""The interactive API docs work in a real browser, with no network (issue 19).

Debian's headless Chromium, driven through Debian's chromedriver (selenium is only the client):
`/api/v1/docs` loads every asset from this server, the operations render, and "Try it out" with
a bearer key gets a 200 from a GET. Skipped, saying why, only where Chromium is not installed;
`.ci/run` installs it (`apt-get install chromium chromium-driver`).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.app.test_first_start import REPO_SERVER, Started, admin_key, free_port, quiet_env

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver") or (
    "/usr/lib/chromium/chromedriver" if Path("/usr/lib/chromium/chromedriver").exists() else None)
pytestmark = [
    pytest.mark.skipif(
        CHROMIUM is None or CHROMEDRIVER is None,
        reason="Chromium or its driver is not installed: apt-get install chromium "
               "chromium-driver (.ci/run does)"),
    pytest.mark.skipif(
        bool(os.environ.get("TEST_DATABASE_URL")),
        reason="the docs page does not depend on the database: it runs in the SQLite leg"),
    pytest.mark.slow(30)]  # a real server and browser: sent first (tests/conftest.py)
WAIT = 60


@pytest.fixture(scope="module")
def server(tmp_path_factory):  # noqa: ANN201
    home = tmp_path_factory.mktemp("docs-server")
    port = free_port()
    s = Started([REPO_SERVER, "serve", "--port", str(port)], home, quiet_env())
    s.wait_for("Stop with Ctrl+C")
    s.base = f"http://127.0.0.1:{port}"
    s.key = admin_key(s.stdout)
    yield s
    s.stop()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):  # noqa: ANN201
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    os.environ.setdefault("SE_OFFLINE", "true")  # never let Selenium fetch a driver or browser
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                 "--window-size=1280,2000",
                 f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(WAIT)
    yield driver
    driver.quit()


def test_api_docs_render_and_try_it_out_gets_a_200_with_a_key(server, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, WAIT)
    browser.get(f"{server.base}/api/v1/docs")
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".opblock")) > 20)
    title = browser.find_element(By.CSS_SELECTOR, ".information-container .title").text
    assert title.startswith("repo-server"), title
    # everything the page loaded came from this server: nothing from a CDN
    loaded = browser.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)")
    assert loaded and all(url.startswith(server.base) for url in loaded), loaded

    # Authorize with the bearer key
    browser.find_element(By.CSS_SELECTOR, ".auth-wrapper .authorize").click()
    field = wait.until(ec.visibility_of_element_located(
        (By.CSS_SELECTOR, ".modal-ux .auth-container input")))
    field.send_keys(server.key)
    browser.find_element(By.CSS_SELECTOR, ".modal-ux .auth-btn-wrapper .authorize").click()
    browser.find_element(By.CSS_SELECTOR, ".modal-ux .btn-done, .modal-ux .close-modal").click()

    # GET /api/v1/me: Try it out, Execute
    block = browser.find_element(
        By.XPATH, "//div[contains(@class,'opblock-get')]"
                  "[.//*[@data-path='/api/v1/me']]")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", block)
    block.find_element(By.CSS_SELECTOR, ".opblock-summary").click()
    wait.until(lambda d: block.find_elements(By.CSS_SELECTOR, ".try-out__btn"))
    block.find_element(By.CSS_SELECTOR, ".try-out__btn").click()
    wait.until(lambda d: block.find_elements(By.CSS_SELECTOR, ".execute"))
    block.find_element(By.CSS_SELECTOR, ".execute").click()
    status = wait.until(lambda d: block.find_elements(
        By.CSS_SELECTOR, ".live-responses-table .response .response-col_status"))
    assert status[0].text.strip().startswith("200"), status[0].text
    body = block.find_element(By.CSS_SELECTOR, ".live-responses-table .microlight").text
    assert '"admin"' in body, body
    # the request carried the key (the curl line Swagger UI shows for it)
    curl = block.find_element(By.CSS_SELECTOR, ".curl-command").text
    assert "Authorization: Bearer rs_" in curl


def test_try_it_out_without_a_key_shows_the_401(server, browser):
    """The docs do not hide a refusal: the same GET without a key answers 401 in the page."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, WAIT)
    browser.delete_all_cookies()
    browser.get(f"{server.base}/api/v1/docs")
    browser.execute_script("window.localStorage.clear()")
    browser.refresh()
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".opblock")) > 20)
    block = browser.find_element(
        By.XPATH, "//div[contains(@class,'opblock-get')][.//*[@data-path='/api/v1/me']]")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", block)
    block.find_element(By.CSS_SELECTOR, ".opblock-summary").click()
    wait.until(lambda d: block.find_elements(By.CSS_SELECTOR, ".try-out__btn"))
    block.find_element(By.CSS_SELECTOR, ".try-out__btn").click()
    block.find_element(By.CSS_SELECTOR, ".execute").click()
    status = wait.until(lambda d: block.find_elements(
        By.CSS_SELECTOR, ".live-responses-table .response .response-col_status"))
    assert status[0].text.strip().startswith("401"), status[0].text
