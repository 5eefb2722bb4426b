"""What every test that runs the real app needs: start `streamlit run` on a data folder, open Chromium.

Why one module: five browser test files (and the screenshot script) each had their own copy of the
server start-up loop and the Chromium launch, drifting apart in timeouts and flags. The fixtures
``streamlit_server`` and ``chromium`` in tests/conftest.py hand these out; the constants are imported
directly (``from browserkit import CHROMIUM``), like the fakes.

Chromium comes from Debian (scripts/ensure-chromium.sh); Playwright never downloads a browser.
Without /usr/bin/chromium a browser test skips, unless MEMEX_REQUIRE_BROWSER is set (CI): then it fails.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
# The one definition of "Streamlit is done": Streamlit's own script-run state on the app root (what its
# e2e tests wait for), no skeleton and no spinner. The "running" icon is not a signal: with
# toolbarMode = "minimal" it is never drawn.
IDLE_JS = ("() => { const app = document.querySelector('[data-testid=\"stApp\"]');"
           " return !!app && app.dataset.testScriptState === 'notRunning'"
           " && !document.querySelector('[data-testid=\"stSkeleton\"]')"
           " && !document.querySelector('[data-testid=\"stSpinner\"]'); }")


def require_browser() -> Any:
    """Playwright's ``sync_playwright``, or a skip (a failure under MEMEX_REQUIRE_BROWSER) saying what is missing."""
    required = bool(os.environ.get("MEMEX_REQUIRE_BROWSER"))
    if not Path(CHROMIUM).exists():
        msg = (f"{CHROMIUM} is missing: install Debian's chromium (scripts/ensure-chromium.sh or "
               "`apt-get install chromium`)")
        if required:
            pytest.fail(msg + " -- MEMEX_REQUIRE_BROWSER is set, so this is a failure.")
        pytest.skip(msg + "; set MEMEX_REQUIRE_BROWSER=1 to make this a failure.")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        msg = "The playwright Python package is not installed (pip install -e '.[dev]')."
        if required:
            pytest.fail(msg)
        pytest.skip(msg)
    return sync_playwright


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class RunningApp:
    """A `streamlit run` started by :func:`run_streamlit`: its URL, process (own process group) and log."""

    base: str
    proc: subprocess.Popen
    log: Path


def _wait_healthy(app: RunningApp, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(app.base + "/_stcore/health", timeout=2) as resp:
                if resp.read().strip() == b"ok":
                    return
        except OSError:
            pass
        if app.proc.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"streamlit did not start:\n{app.log.read_text()[-3000:]}")
        time.sleep(0.3)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@contextmanager
def run_streamlit(home: Path, log: Path, script: Path | None = None, start_seconds: float = 90
                  ) -> Iterator[RunningApp]:
    """`streamlit run script` (app.py by default) headless on 127.0.0.1 with MEMEX_HOME=home, until healthy.

    The worktree is put first on PYTHONPATH so the app runs the code under test, not the editable install.
    The process is stopped (SIGTERM, then SIGKILL) on exit unless the test already ended it.
    """
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    env = {**os.environ, "MEMEX_HOME": str(home), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "TOKENIZERS_PARALLELISM": "false", "PYTHONUNBUFFERED": "1", "PYTHONPATH": path}
    port = free_port()
    cmd = [sys.executable, "-m", "streamlit", "run", str(script or ROOT / "app.py"), "--server.headless", "true",
           "--server.address", "127.0.0.1", "--server.port", str(port), "--browser.gatherUsageStats", "false",
           "--server.fileWatcherType", "none", "--server.runOnSave", "false"]
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
        app = RunningApp(f"http://127.0.0.1:{port}", proc, log)
        try:
            _wait_healthy(app, start_seconds)
            yield app
        finally:
            _stop(proc)


@contextmanager
def chromium(profile: Path, width: int = 1400, height: int = 1000) -> Iterator[Any]:
    """One headless Chromium with a fresh profile; yields its first page (default timeout 90 s)."""
    sync_playwright = require_browser()
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(str(profile), executable_path=CHROMIUM, headless=True,
                                                       args=CHROMIUM_ARGS,
                                                       viewport={"width": width, "height": height})
        context.set_default_timeout(90_000)
        try:
            yield context.pages[0] if context.pages else context.new_page()
        finally:
            context.close()


def settle(page: Any, timeout_ms: int = 90_000, extra_seconds: float = 0.0) -> None:
    """Wait until the page has a title heading and Streamlit has finished running the script."""
    page.wait_for_selector('[data-testid="stMainBlockContainer"] h1', timeout=timeout_ms)
    page.wait_for_function(IDLE_JS, timeout=timeout_ms)
    time.sleep(0.5)
    page.wait_for_function(IDLE_JS, timeout=timeout_ms)
    if extra_seconds:
        time.sleep(extra_seconds)


CHAT_INPUT = '[data-testid="stChatInput"] textarea'


def send_chat(page: Any, text: str, timeout_ms: int) -> None:
    """Type a message into the Chat page's input and send it, once the input is enabled again (it is
    disabled while a reply streams)."""
    box = page.locator(CHAT_INPUT)
    box.wait_for(timeout=timeout_ms)
    page.wait_for_function(f"() => !document.querySelector('{CHAT_INPUT}').disabled", timeout=timeout_ms)
    box.fill(text)
    box.press("Enter")


@contextmanager
def real_model_app(tmp: Path, streamlit_server: Any) -> Iterator[dict[str, Any]]:
    """The app on an empty data folder with the real bundled model; replies are kept short (32 tokens)
    so a test of the chat stays affordable on a small CPU."""
    from memory_core.config import Settings

    require_browser()
    home = tmp / "home"
    Settings(data_dir=str(home)).replace(max_tokens=32).save()
    with streamlit_server(home, tmp / "streamlit.log") as running:
        yield {"base": running.base, "log": running.log, "tmp": tmp, "home": home}
