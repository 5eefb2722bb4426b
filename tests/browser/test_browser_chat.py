"""The Chat page in a real browser: tell a fact, start a new conversation, ask, see the answer beside the reply.

`streamlit run app.py` (from the repository, so .streamlit/config.toml applies) with the real bundled
model and MiniLM, driven by Debian's Chromium through Playwright. What AppTest cannot show: that the
reply streams into the page, that "New conversation" really empties the view and the next message
lands there, that the note that answers is visible as text beside the reply ("From your memory"),
that the graph link carries the trace, and that the Deploy button is gone.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from browserkit import ARTIFACTS, real_model_app, send_chat

pytestmark = [pytest.mark.browser, pytest.mark.real_model]

FACT = "My dog is a golden retriever called Biscuit."
QUESTION = "What is my dog's name?"
SLOW_MS = 600_000  # the machine may be shared and slow: a reply or a write can take minutes


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory, streamlit_server) -> Iterator[dict[str, Any]]:
    with real_model_app(tmp_path_factory.mktemp("browser-chat"), streamlit_server) as running:
        yield running


def _messages(page: Any) -> list[str]:
    return page.locator('[data-testid="stChatMessage"]').all_inner_texts()


def test_told_fact_is_answered_or_shown_in_a_new_conversation(app: dict[str, Any], chromium) -> None:
    dialogs: list[str] = []
    with chromium(app["tmp"] / "chromium-profile") as page:
        page.set_default_timeout(SLOW_MS)
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto(app["base"] + "/")
        page.wait_for_selector('[data-testid="stMainBlockContainer"] h1')
        assert page.locator('[data-testid="stAppDeployButton"]').count() == 0  # config.toml: minimal toolbar

        # 1. tell the fact; wait for the reply and for the memory line under the person's message
        send_chat(page, FACT, SLOW_MS)
        page.wait_for_function("() => document.querySelectorAll('[data-testid=\"stChatMessage\"]').length >= 2")
        page.get_by_text("stored as note", exact=False).first.wait_for()
        first_conv = page.evaluate("() => new URLSearchParams(location.search).get('conversation')")

        # 2. a new conversation, at once; the question lands there
        page.locator('[data-testid="stSidebar"]').get_by_role("button", name="New conversation").click()
        page.wait_for_function("() => document.querySelectorAll('[data-testid=\"stChatMessage\"]').length == 0")
        send_chat(page, QUESTION, SLOW_MS)
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
