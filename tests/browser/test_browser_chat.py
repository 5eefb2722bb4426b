"""The Chat page in a real browser: tell a fact, start a new conversation, ask, see the answer beside the reply.

`streamlit run app.py` (from the repository, so .streamlit/config.toml applies) with the real bundled
model and MiniLM, driven by Debian's Chromium through Playwright. What AppTest cannot show: that the
reply streams into the page, that "New conversation" really empties the view and the next message
lands there, that the note that answers is visible as text beside the reply ("From your memory"),
that the graph link carries the trace, and that the Deploy button is gone.
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
from pathlib import Path
from typing import Any

import pytest

from memory_core.config import Settings

pytestmark = [pytest.mark.browser, pytest.mark.real_model]

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = ROOT / "test-artifacts"
FACT = "My dog is a golden retriever called Biscuit."
QUESTION = "What is my dog's name?"
SLOW_MS = 600_000  # the machine may be shared and slow: a reply or a write can take minutes


def _require_browser() -> Any:
    if not Path(CHROMIUM).exists():
        if os.environ.get("MEMEX_REQUIRE_BROWSER"):
            pytest.fail(f"{CHROMIUM} is missing (scripts/ensure-chromium.sh)")
        pytest.skip(f"{CHROMIUM} is missing (scripts/ensure-chromium.sh)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("The playwright Python package is not installed.")
    return sync_playwright


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    _require_browser()
    tmp = tmp_path_factory.mktemp("browser-chat")
    home = tmp / "home"
    Settings(data_dir=str(home)).replace(max_tokens=32).save()  # short replies keep the test affordable
    port = _free_port()
    env = {**os.environ, "MEMEX_HOME": str(home), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "TOKENIZERS_PARALLELISM": "false", "PYTHONUNBUFFERED": "1"}
    log_path = tmp / "streamlit.log"
    log = open(log_path, "w")  # noqa: SIM115 - closed below
    cmd = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
           "--server.address", "127.0.0.1", "--server.port", str(port), "--server.fileWatcherType", "none",
           "--server.runOnSave", "false"]  # gatherUsageStats and the toolbar come from .streamlit/config.toml
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(base + "/_stcore/health", timeout=2) as resp:
                    if resp.read().strip() == b"ok":
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"streamlit did not start:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.3)
        yield {"base": base, "log": log_path, "tmp": tmp, "home": home}
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        log.close()


def _send(page: Any, text: str) -> None:
    box = page.locator('[data-testid="stChatInput"] textarea')
    box.wait_for(timeout=SLOW_MS)
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stChatInput\"] textarea').disabled",
                           timeout=SLOW_MS)
    box.fill(text)
    box.press("Enter")


def _messages(page: Any) -> list[str]:
    return page.locator('[data-testid="stChatMessage"]').all_inner_texts()


def test_told_fact_is_answered_or_shown_in_a_new_conversation(app: dict[str, Any]) -> None:
    sync_playwright = _require_browser()
    ARTIFACTS.mkdir(exist_ok=True)
    dialogs: list[str] = []
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(app["tmp"] / "chromium-profile"), executable_path=CHROMIUM, headless=True,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],
            viewport={"width": 1400, "height": 1000})
        context.set_default_timeout(SLOW_MS)
        page = context.pages[0] if context.pages else context.new_page()
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        try:
            page.goto(app["base"] + "/")
            page.wait_for_selector('[data-testid="stMainBlockContainer"] h1')
            assert page.locator('[data-testid="stAppDeployButton"]').count() == 0  # config.toml: minimal toolbar

            # 1. tell the fact; wait for the reply and for the memory line under the person's message
            _send(page, FACT)
            page.wait_for_function("() => document.querySelectorAll('[data-testid=\"stChatMessage\"]').length >= 2")
            page.get_by_text("stored as note", exact=False).first.wait_for()
            first_conv = page.evaluate("() => new URLSearchParams(location.search).get('conversation')")

            # 2. a new conversation, at once; the question lands there
            page.locator('[data-testid="stSidebar"]').get_by_role("button", name="New conversation").click()
            page.wait_for_function("() => document.querySelectorAll('[data-testid=\"stChatMessage\"]').length == 0")
            _send(page, QUESTION)
            page.wait_for_function("() => document.querySelectorAll('[data-testid=\"stChatMessage\"]').length >= 2")
            page.get_by_text("From your memory", exact=False).first.wait_for()
            page.screenshot(path=str(ARTIFACTS / "chat-new-conversation-answer.png"), full_page=True)
            second_conv = page.evaluate("() => new URLSearchParams(location.search).get('conversation')")
            assert second_conv and second_conv != first_conv

            shown = _messages(page)
            assert len(shown) == 2 and QUESTION in shown[0] and FACT not in shown[0]
            reply = shown[1]
            caption = page.get_by_text("From your memory", exact=False).first.inner_text()
            # The answer is visible beside the reply: in the reply itself, or in the note shown under it.
            assert "Biscuit" in reply or "Biscuit" in caption, (reply, caption)
            assert "Biscuit" in caption, caption  # the note that answers is shown as text, unopened

            link = page.get_by_role("link", name="Show on graph").first
            href = link.get_attribute("href") or ""
            assert "trace=" in href and second_conv in href, href
            assert not dialogs
        finally:
            context.close()
