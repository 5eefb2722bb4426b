"""The whole memory loop in a real browser on the bundled model: tell, correct, ask, delete, ask again.

Issue 24's end-to-end check. `streamlit run app.py` with the real SmolLM2 and MiniLM on an empty data
folder, driven by Chromium: five facts told in the Chat page (one about a relation), a greeting, a
correction of one attribute; then a new conversation with questions; then one fact note deleted from
the Notes page and the same question asked again. What it holds the product to:

* links: the two notes about the brother are linked (read from the store in this process);
* the correction: the old note's ``valid_until``/``superseded_by`` point at the new one, and for
  "Where does my brother live now?" the new note ranks above the old one (or the old one is not recalled)
  and only the new one is given to the model and shown beside the reply (the old place is not the answer);
* the relevance floor: the greeting's reply shows no "From your memory" note;
* the delete: the sentence is in no file under the data folder (bytes; Chroma's sqlite, the snapshot
  cache, everything) but the conversations, and the question asked after the delete does not show it.

Waits use the page's own signals (Streamlit idle, the memory line) or poll the store; every timeout is
generous because the machine may be shared and slow. Nothing here times anything.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from browserkit import ARTIFACTS, IDLE_JS, real_model_app, send_chat

from memory_core.chat.enrichment import ENRICH_FINAL
from memory_core.config import Settings
from memory_core.episodes.conversations import ConversationStore
from memory_core.notes import Note
from memory_core.store.memory_store import MemoryStore

pytestmark = [pytest.mark.browser, pytest.mark.real_model, pytest.mark.server]

BROTHER = "My brother Mateus is a dentist in Curitiba."
DESSERT = "My favourite dessert is pistachio ice cream."  # the fact deleted later
FACTS = [
    BROTHER,
    "I play the cello in a community orchestra on Tuesdays.",
    DESSERT,
    "My daughter Lia was born in March 2019.",
    "I am allergic to peanuts.",
]
GREETING = "thanks!"
CORRECTION = "Actually my brother moved to Porto Alegre last month."
WHERE = "Where does my brother live now?"
DESSERT_Q = "What dessert do I like best?"
SLOW_MS = 600_000  # a reply or a write can take minutes on a shared machine
SLOW_S = SLOW_MS / 1000
MESSAGES = '[data-testid="stChatMessage"]'


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory, streamlit_server) -> Iterator[dict[str, Any]]:
    with real_model_app(tmp_path_factory.mktemp("browser-loop"), streamlit_server) as running:
        yield running


def _idle(page: Any) -> None:
    page.wait_for_function(IDLE_JS, timeout=SLOW_MS)
    time.sleep(0.5)
    page.wait_for_function(IDLE_JS, timeout=SLOW_MS)


def _count(page: Any) -> int:
    return page.locator(MESSAGES).count()


def _say(page: Any, text: str) -> str:
    """Send one message, wait for its reply to be finished and drawn; the reply's text (captions included)."""
    before = _count(page)
    send_chat(page, text, SLOW_MS)
    page.wait_for_function(f"() => document.querySelectorAll('{MESSAGES}').length >= {before + 2}",
                           timeout=SLOW_MS)
    _idle(page)
    return page.locator(MESSAGES).nth(before + 1).inner_text()


def _new_conversation(page: Any) -> None:
    page.locator('[data-testid="stSidebar"]').get_by_role("button", name="New conversation").click()
    page.wait_for_function(f"() => document.querySelectorAll('{MESSAGES}').length == 0", timeout=SLOW_MS)
    _idle(page)


def _notes(home: Path, embedder: Any) -> list[Note]:
    """The notes as a fresh reader sees them (a read-only open writes nothing)."""
    return MemoryStore(Settings(data_dir=str(home)), embedder).all_notes()


def _poll(what: str, check: Callable[[], Any], seconds: float = SLOW_S) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(3)


def _with(notes: list[Note], text: str) -> Note | None:
    return next((n for n in notes if text in n.content), None)


def _files_holding(home: Path, text: str) -> list[str]:
    """Every file under the data folder, conversations apart, whose bytes hold ``text``."""
    needle = text.encode("utf-8")
    return [str(p.relative_to(home)) for p in sorted(home.rglob("*"))
            if p.is_file() and "conversations" not in p.relative_to(home).parts and needle in p.read_bytes()]


def _recalled(home: Path, conversation_id: str, question: str) -> list[dict[str, Any]]:
    """What the reply to ``question`` recalled, in rank order, as the conversation file saved it."""
    messages = ConversationStore(home).load(conversation_id).messages
    at = max(i for i, m in enumerate(messages) if m["role"] == "user" and m["content"] == question)
    reply = next(m for m in messages[at + 1:] if m["role"] == "assistant")
    return sorted(reply.get("recalled") or [], key=lambda r: r.get("rank", 0))


def _enrichments_open(home: Path) -> list[str]:
    """The told messages whose note still waits for (or is in) the model's enrichment."""
    convs = ConversationStore(home)
    return [m["content"] for c in convs.list() for m in convs.load(c.id).messages
            if ((m.get("memory") or {}).get("enrichment") or {}).get("state", "done") not in ENRICH_FINAL]


def _conversation(page: Any) -> str:
    return page.evaluate("() => new URLSearchParams(location.search).get('conversation')") or ""


def test_tell_correct_ask_delete_ask_again(app: dict[str, Any], chromium, embedder) -> None:
    home: Path = app["home"]
    dialogs: list[str] = []
    with chromium(app["tmp"] / "chromium-profile") as page:
        page.set_default_timeout(SLOW_MS)
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto(app["base"] + "/")
        page.wait_for_selector('[data-testid="stMainBlockContainer"] h1')

        # 1. five facts, a greeting, a correction, in one conversation
        for fact in FACTS:
            _say(page, fact)
        greeting_reply = _say(page, GREETING)
        _say(page, CORRECTION)
        notes = _poll("the five facts and the correction to be stored", lambda: (
            ns if all(_with(ns := _notes(home, embedder), t) for t in (*FACTS, CORRECTION)) else None))

        # the relevance floor: a greeting recalls nothing, so no note is shown beside its reply
        assert "From your memory" not in greeting_reply, greeting_reply
        assert not _with(notes, GREETING), "a greeting is not a memory"

        # the correction: the Curitiba note is superseded by the Porto Alegre one, and they are linked
        old, new = _with(notes, BROTHER), _with(notes, CORRECTION)
        assert old is not None and new is not None
        assert old.superseded_by == new.id and old.valid_until, (old.superseded_by, old.valid_until, new.id)
        assert new.id in old.link_targets or old.id in new.link_targets, (old.links, new.links)

        # 2. a new conversation: questions
        _new_conversation(page)
        where_reply = _say(page, WHERE)
        conv = _conversation(page)
        where = _recalled(home, conv, WHERE)
        recalled = [r["id"] for r in where]
        assert new.id in recalled, (where_reply, recalled)
        assert old.id not in recalled or recalled.index(old.id) > recalled.index(new.id), recalled
        # the old belief is not given to the model nor shown as the memory the reply stands on
        assert [r["id"] for r in where if r.get("in_prompt")][:1] == [new.id], where
        assert not any(r["id"] == old.id and r.get("in_prompt") for r in where), where
        assert "Porto Alegre" in where_reply and "Curitiba" not in where_reply, where_reply
        dessert_reply = _say(page, DESSERT_Q)
        assert "pistachio" in dessert_reply.lower(), dessert_reply  # in the reply or the note shown beside it
        page.screenshot(path=str(ARTIFACTS / "loop-questions.png"), full_page=True)

        # 3. delete the dessert note on the Notes page, through its own button and the confirmation
        dessert = _with(_notes(home, embedder), DESSERT)
        assert dessert is not None
        assert _files_holding(home, DESSERT), "the scan below would prove nothing: the sentence is on disk now"
        page.goto(f"{app['base']}/notes?note={dessert.id}")
        _idle(page)
        page.get_by_role("button", name="Delete…").first.click()
        dialog = page.get_by_role("dialog")
        dialog.get_by_role("button", name="Delete", exact=True).click()
        page.get_by_text("Deleted 1 note", exact=False).first.wait_for(timeout=SLOW_MS)
        _idle(page)
        _poll("the deleted note to be gone from a fresh reader",
              lambda: not _with(_notes(home, embedder), DESSERT))
        assert not _files_holding(home, DESSERT), _files_holding(home, DESSERT)

        # 4. the same question after the delete, in a new conversation: the sentence is not shown
        page.goto(app["base"] + "/")
        page.wait_for_selector('[data-testid="stMainBlockContainer"] h1')
        _idle(page)
        _new_conversation(page)
        after = _say(page, DESSERT_Q)
        page.screenshot(path=str(ARTIFACTS / "loop-after-delete.png"), full_page=True)
        assert DESSERT not in after and "pistachio" not in after.lower(), after
        assert dessert.id not in [r["id"] for r in _recalled(home, _conversation(page), DESSERT_Q)]
        assert not dialogs

    # the model's enrichments still queued (of the other notes, which may quote their neighbours) run to
    # the end and do not bring the sentence back
    _poll("the queued enrichments to finish", lambda: not _enrichments_open(home))
    assert not _files_holding(home, DESSERT), _files_holding(home, DESSERT)
    held = [p for p in _files_holding(home, "pistachio") if not p.startswith("conversations")]
    assert not held, held
