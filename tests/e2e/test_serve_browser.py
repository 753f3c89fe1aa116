"""The web page in headless Chromium (Debian's chromium and chromium-driver, driven by Selenium; no browser
download) against a real server (SmolLM2) on loopback: chat, a forget request confirmed first, its
progress with Send disabled, the edit in the panel, undo, the edit greyed. Screenshots are saved to
$REPAIR_ARTIFACTS (default: the test's temporary folder)."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

webdriver = pytest.importorskip("selenium.webdriver")
uvicorn = pytest.importorskip("uvicorn")

from conftest import uvicorn_thread  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys as K  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from repair.serve.app import create_app  # noqa: E402
from repair.serve.security import Keys, KeySpec  # noqa: E402
from repair.session import Session  # noqa: E402

pytestmark = pytest.mark.e2e
KEY = "sk-browser-admin-000000"
DRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
WAIT_S = 300


@pytest.fixture(scope="module")
def page_url(tmp_path_factory):
    if not Path(DRIVER).exists():
        pytest.skip("chromium-driver is not installed (apt-get install chromium chromium-driver)")
    session = Session.open(tmp_path_factory.mktemp("browser"), max_new_tokens=24, user="http")
    app = create_app(session, Keys([KeySpec(name="ops", key=KEY, admin=True)]), hosts={"127.0.0.1"})
    with uvicorn_thread(app) as port:
        yield f"http://127.0.0.1:{port}/#key={KEY}"


@pytest.fixture
def browser():
    opts = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,900"):
        opts.add_argument(arg)
    driver = webdriver.Chrome(options=opts, service=webdriver.ChromeService(executable_path=DRIVER))
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def _send(driver, text: str) -> None:
    box = driver.find_element(By.ID, "msg")
    box.send_keys(text)
    box.send_keys(K.ENTER)


def _idle(driver) -> None:
    WebDriverWait(driver, WAIT_S).until(lambda d: d.find_element(By.ID, "send").is_enabled())


def test_chat_forget_with_confirmation_progress_and_undo(page_url, browser, tmp_path):
    shots = Path(os.environ.get("REPAIR_ARTIFACTS", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    d = browser
    d.get(page_url)
    WebDriverWait(d, 30).until(lambda d: "scope global" in d.find_element(By.ID, "who").text)
    assert "smollm2" in d.find_element(By.ID, "model").text
    _send(d, "What is the capital of China?")
    time.sleep(0.2)
    _idle(d)
    assert "Beijing" in d.find_elements(By.CSS_SELECTOR, ".turn.assistant")[-1].text
    _send(d, "Forget what you just told me.")
    confirm = WebDriverWait(d, WAIT_S).until(
        lambda d: [
            b for b in d.find_elements(By.CSS_SELECTOR, ".turn.assistant button") if b.text == "Forget it"
        ]
    )
    assert "I will stop answering" in d.find_elements(By.CSS_SELECTOR, ".turn.assistant")[-1].text
    d.save_screenshot(str(shots / "1-confirm.png"))
    # record the progress line and the Send button while the edit runs
    d.execute_script("""
        window.__seen = [];
        const p = document.getElementById('progress');
        new MutationObserver(() => window.__seen.push([p.textContent, document.getElementById('send').disabled]))
          .observe(p, {childList: true, characterData: true, subtree: true});""")
    confirm[0].click()
    WebDriverWait(d, WAIT_S).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".edit.active"))
    _idle(d)
    seen = d.execute_script("return window.__seen")
    steps = [t for t, _ in seen if t and t != "…"]
    assert any("editing" in t for t in steps) and any("checking" in t for t in steps), seen
    assert all(disabled for t, disabled in seen if t), seen  # Send stays disabled while it works
    assert "Done" in d.find_elements(By.CSS_SELECTOR, ".turn.assistant")[-1].text
    d.save_screenshot(str(shots / "2-edited.png"))
    d.find_element(By.CSS_SELECTOR, ".edit.active button").click()
    WebDriverWait(d, 60).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".edit.undone"))
    assert not d.find_elements(By.CSS_SELECTOR, ".edit.active")
    assert (
        d.find_element(By.CSS_SELECTOR, ".edit.undone").value_of_css_property("color")
        != "rgba(34, 34, 34, 1)"
    )
    d.save_screenshot(str(shots / "3-undone.png"))
