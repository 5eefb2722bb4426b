"""Episodes on the pages (AppTest, real bundled model and MiniLM): the exchange a reply answered from is
shown under "From your memory" apart from notes, listed on the Graph page's trace, and a chat note shows
the conversation it came from."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from memory_core.chat import ConversationStore, get_writer, new_message
from memory_core.config import Settings
from memory_core.explore.render import escape_markdown
from memory_core.memory.pipeline import MemoryPipeline, NewItem
from memory_core.store import MemoryStore

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

pytestmark = pytest.mark.real_model

APP = str(ROOT / "app.py")
ADVICE = "Go to Lisbon: it is sunny in spring and the old town is lovely on foot."
TIMEOUT = 900


@pytest.fixture(autouse=True)
def writer_idle():
    yield
    writer = get_writer()
    for job in writer.queue_view():
        writer.cancel(job.id)
    writer.wait_idle(TIMEOUT / 2)


def earlier_talk(home: Path) -> str:
    """An earlier conversation on 2023-05-01 (as an import writes it): the person asks, Memex advises."""
    convs = ConversationStore(home)
    conv = convs.new()
    for role, text, at in (("user", "Where should I go for a weekend trip in spring?", "19:00:00"),
                           ("assistant", ADVICE, "19:00:20"), ("user", "Thanks, I will try that.", "19:01:00")):
        msg = new_message(role, text)
        msg["at"] = f"2023-05-01T{at}+00:00"
        conv.messages.append(msg)
    convs.save(conv)
    return conv.id


def test_a_reply_shows_the_exchange_it_answered_from_under_from_your_memory(app_home: Settings, embedder) -> None:
    cid = earlier_talk(Path(app_home.home))
    store = MemoryStore(app_home, embedder)  # a note, so that the Graph page draws (it shows nothing when empty)
    MemoryPipeline(store, app_home).add_many([NewItem("I live in Porto with my cat.")])
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    at.sidebar.button(key="chat_new").click().run()  # a new conversation: the earlier one is an episode now
    at.number_input(key="chat_max_tokens").set_value(32)
    at.chat_input(key="chat_input").set_value("Which city did you suggest for my weekend trip?").run()
    assert not at.exception, [e.value for e in at.exception]
    captions = [c.value for c in at.caption]
    shown = [c for c in captions if c.startswith("💬 From your memory, our conversation on 2023-05-01")]
    assert shown and escape_markdown("Memex: " + ADVICE) in shown[0], captions
    assert not any(c.startswith("📎 From your memory") and "Lisbon" in c for c in captions)  # not as a note
    saved = ConversationStore(app_home.home).load(at.session_state["chat_conv"]).messages[-1]
    assert saved["episodes"][0]["conversation_id"] == cid and saved["episodes"][0]["in_prompt"]
    assert any(e.label.startswith("Recalled exchanges (") for e in at.expander)

    at.query_params["trace"] = f"{at.session_state['chat_conv']}:{saved['id']}"
    at.switch_page("pages/graph.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert any(e.label.startswith("Recalled exchanges (") for e in at.expander)
    table = next(d.value for d in at.dataframe if "exchange" in d.value.columns)
    assert "Lisbon" in table.iloc[0]["exchange"] and table.iloc[0]["day"] == "2023-05-01"


def test_a_chat_note_shows_the_conversation_it_came_from(app_home: Settings) -> None:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    at.number_input(key="chat_max_tokens").set_value(16)
    at.chat_input(key="chat_input").set_value("My bike is a green Gazelle from 1998.").run()
    writer = get_writer()
    deadline = time.monotonic() + TIMEOUT / 2
    while any(j.kind == "store" for j in writer.queue_view()) and time.monotonic() < deadline:
        time.sleep(0.2)
    cid = at.session_state["chat_conv"]
    note_id = ConversationStore(app_home.home).load(cid).messages[0]["memory"]["note_id"]
    at.query_params["note"] = note_id
    at.switch_page("pages/notes.py").run()
    assert not at.exception, [e.value for e in at.exception]
    found = [m.value for m in at.markdown if m.value.startswith("**From the conversation**")]
    assert found and "Gazelle" in found[0], [m.value for m in at.markdown][:20]
