"""``trajscope serve`` in a real browser: the distribution's Chromium, driven headless through its
chromedriver (Selenium), against a served demo search on this machine, opened by the URL the
server prints (its token generated). The attacks on the server are test_serve_attacks.py."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from trajscope.engine.events import read_events
from tests.support import served_viewers, wait_until as _wait_until

pytestmark = pytest.mark.subprocess

pytest.importorskip("textual_serve", reason="trajscope[serve] is a test extra")
webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is a test extra")

# xterm.js draws on a canvas: keep every Terminal the page makes, to read its screen as text
CAPTURE = """Object.defineProperty(Object.prototype, 'terminal', {configurable: true, set(v) {
  (window.__terms = window.__terms || []).push(v);
  Object.defineProperty(this, 'terminal', {value: v, writable: true, configurable: true, enumerable: true});
}});"""
SCREEN = """const t = (window.__terms || [])[0]; if (!t) return '';
const b = t.buffer.active; const out = [];
for (let y = 0; y < t.rows; y++) { const l = b.getLine(b.viewportY + y); out.push(l ? l.translateToString(true) : ''); }
return out.join('\\n');"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    if os.environ.get("CI") == "true":
        raise AssertionError("Chromium is missing: .ci/run installs it from the distribution's packages")
    pytest.skip("no Chromium here")


def serve(tmp_path: Path, *extra: str) -> tuple[subprocess.Popen, str, Path]:
    """A served demo search and the URL it prints to open (with its token)."""
    port, log = free_port(), tmp_path / f"served-{len(extra)}.jsonl"
    err = tmp_path / f"stderr-{port}.txt"
    with open(err, "wb") as e:  # a file, not a pipe nobody drains
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "trajscope.tui.cli",
                "serve",
                "demo",
                "semver-prerelease",
                "--pace",
                "0.6",
                "--max-nodes",
                "200",
                "--port",
                str(port),
                "--out",
                str(log),
                # one node at a time, so the page is seen to grow (the demo adds 3 a step)
                "--strategy",
                "dars",
                "--workers",
                "1",
                *extra,
            ],
            stdout=subprocess.DEVNULL,
            stderr=e,
            start_new_session=True,
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                found = re.search(r"at (http://\S+)", err.read_text())
                if found:
                    return proc, found.group(1), log
        except OSError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise AssertionError(f"serve did not listen: {err.read_text()[-2000:]}")


def status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def browser():
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,900"):
        options.add_argument(arg)
    options.binary_location = chromium()
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver") or "/usr/bin/chromedriver"), options=options)
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": CAPTURE})
    return driver


def wait_until(condition, timeout: float = 60.0, every: float = 0.25) -> bool:
    return _wait_until(condition, timeout, every)  # a browser on a busy machine: a longer default


def screen_text(driver) -> str:
    return driver.execute_script(SCREEN) or ""


def press(driver, keys: str) -> None:
    from selenium.webdriver.common.by import By

    driver.find_element(By.CSS_SELECTOR, ".xterm-helper-textarea").send_keys(keys)


@pytest.mark.browser
def test_a_served_demo_in_chromium(tmp_path):
    proc, url, log = serve(tmp_path)
    driver = None
    try:
        base = url.split("/?")[0]
        assert base.startswith("http://127.0.0.1:") and parse_qs(urlsplit(url).query)["token"]  # a token, locally too
        assert status(f"{base}/") == 403 and status(f"{base}/ws") == 403  # no token: nothing runs
        assert status(f"{base}/?token=wrong-token-000000000") == 403
        assert served_viewers(proc.pid) == 0
        driver = browser()
        driver.get(url)
        assert wait_until(lambda: "#n3" in screen_text(driver)), screen_text(driver)
        first = screen_text(driver)
        assert wait_until(lambda: "#n6" in screen_text(driver)), "the tree did not grow in the page"
        assert "#n6" not in first
        assert served_viewers(proc.pid) == 1

        press(driver, " ")  # pause: the status line says so, and the log records it by a human
        assert wait_until(lambda: "paused" in screen_text(driver)), screen_text(driver)
        assert wait_until(
            lambda: any(
                e["type"] == "command" and e.get("name") == "pause" and e.get("by") == "human" for e in read_events(log)
            )
        )
        press(driver, "p")  # prune the node under the cursor
        assert wait_until(
            lambda: any(
                e["type"] == "node_status" and e.get("status") == "pruned" and e.get("by") == "human"
                for e in read_events(log)
            )
        ), screen_text(driver)
        docs = Path(__file__).resolve().parents[2] / "docs" / "serve.png"
        if os.environ.get("TRAJSCOPE_WRITE_SCREENSHOT"):
            driver.save_screenshot(str(docs))
        driver.quit()
        driver = None
        assert wait_until(lambda: served_viewers(proc.pid) == 0, 30, 0.25), "closing the tab left its app process"
    finally:
        if driver is not None:
            driver.quit()
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(60)
    assert served_viewers(proc.pid) == 0
    assert read_events(log)[-1]["type"] == "run_finished"


def test_a_read_only_viewer_has_no_controls_and_the_search_refuses_them(tmp_path):
    proc, url, log = serve(tmp_path, "--read-only")
    driver = browser()
    try:
        driver.get(url)
        assert wait_until(lambda: "#n3" in screen_text(driver)), screen_text(driver)
        text = screen_text(driver)
        assert "read-only" in text and "Prune" not in text and "Pause" not in text
        press(driver, " ")
        press(driver, "p")
        time.sleep(2)
        assert not any(
            e["type"] == "command" or (e["type"] == "node_status" and e.get("by") == "human") for e in read_events(log)
        )
    finally:
        driver.quit()
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(60)
    assert served_viewers(proc.pid) == 0


def test_the_status_socket_refuses_commands(tmp_path):
    from trajscope.engine.batch.worker import SearchWorker
    from trajscope.engine.batch.control import ControlClient, ControlServer

    worker = SearchWorker({"name": "x", "task": str(tmp_path / "nope"), "instance": None, "search": {}})
    server = ControlServer(worker)
    try:
        assert oct(server.dir.stat().st_mode & 0o777) == "0o700"
        with pytest.raises(RuntimeError, match="read-only"):
            ControlClient(server.status).command(None, "prune", "n1")
        with pytest.raises(RuntimeError, match="is not a command"):
            ControlClient(server.control).command(None, "close")
        assert ControlClient(server.status).status()["state"] == "idle"
    finally:
        server.close()
        worker.dispose()
