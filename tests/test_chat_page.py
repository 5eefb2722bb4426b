"""The Chat page through Streamlit's AppTest, with the real bundled model and MiniLM.

Replies are kept short (max tokens 32) to keep the runtime modest. The background memory write runs
in the process-wide writer thread; tests poll it (bounded) and then read the note from a fresh store.
"""

from __future__ import annotations

import json
import sys
import textwrap
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from memory_core.chat import ConversationStore, get_writer, new_message
from memory_core.config import Settings
from memory_core.memory.pipeline import MemoryPipeline, NewItem
from memory_core.store import MemoryStore

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the pages package lives beside app.py, not in the installed package
from pages.common import md_escape  # noqa: E402

pytestmark = pytest.mark.real_model

APP = str(ROOT / "app.py")
NOTES = ["My sister Carla adopted a golden retriever puppy named Biscuit.",
         "I went hiking in the Alps with Anna last summer.",
         "The quarterly budget review is on Friday."]
HOSTILE = ("<img src=x onerror=alert(1)> <script>alert(2)</script> **not bold** [link](http://example.com) "
           "Привет 你好 🌍\n\n# not a heading")
WRITE_TIMEOUT = 300


@pytest.fixture(autouse=True)
def writer_idle():
    """No test leaves a background write running into the next one."""
    yield
    get_writer().wait_idle(WRITE_TIMEOUT)


def seed(settings: Settings, embedder) -> list[str]:
    store = MemoryStore(settings, embedder)
    return MemoryPipeline(store, settings).add_many([NewItem(t) for t in NOTES]).note_ids


def chat_page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=WRITE_TIMEOUT)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def send(at: AppTest, text: str) -> AppTest:
    at.number_input(key="chat_max_tokens").set_value(32)
    at.chat_input(key="chat_input").set_value(text).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def messages(at: AppTest) -> list[tuple[str, str]]:
    return [(m.name, m.markdown[0].value) for m in at.chat_message]


def test_reply_recall_background_write_and_history(app_home: Settings, embedder) -> None:
    ids = seed(app_home, embedder)
    at = chat_page()
    assert at.title[0].value == "💬 Chat" and not at.error
    question = "What is the name of Carla's dog?"
    send(at, question)

    shown = messages(at)
    assert [role for role, _ in shown] == ["user", "assistant"]
    assert shown[0][1] == md_escape(question)
    reply_text = shown[1][1]
    assert reply_text.strip()
    expanders = [e for e in at.expander if e.label.startswith("Recalled memories")]
    assert len(expanders) == 1
    recalled_md = " ".join(m.value for m in expanders[0].markdown)
    assert md_escape("My sister Carla adopted a golden retriever puppy named") in recalled_md
    assert any(b.label == "Notes" for b in expanders[0].button)
    assert any(b.label == "Graph" for b in expanders[0].button)

    conv_id = at.session_state["chat_conv"]
    conv = ConversationStore(app_home.home).load(conv_id)
    user, assistant = conv.messages
    assert user["content"] == question and assistant["content"] == reply_text
    assert ids[0] in [r["id"] for r in assistant["recalled"]]

    job = get_writer().wait(assistant["memory"]["job"], WRITE_TIMEOUT)
    assert job is not None and job.state == "done", job
    assert job.stages[:3] == ["queued", "enriching", "linking"] and job.stages[-1] == "done"
    note = MemoryStore(app_home, embedder).get(job.note_id)
    assert (note.source, note.source_ref) == ("chat", conv_id)
    assert note.content.startswith(f"Person: {question}\nMemex: ")
    assert ConversationStore(app_home.home).load(conv_id).messages[1]["memory"]["note_id"] == job.note_id

    # A new session (a reload, or the app restarted) opens the conversation with its history.
    again = chat_page()
    assert messages(again) == shown
    assert again.session_state["chat_conv"] == conv_id
    assert any(f"Remembered as note `{job.note_id[:8]}`" in c.value for c in again.caption)
    assert any(e.label.startswith("Recalled memories") for e in again.expander)
    # and the sidebar lists it
    assert md_escape(question) in [b.label for b in again.sidebar.button]


def test_hostile_message_shown_as_text_and_stored_intact_without_memories(app_home: Settings) -> None:
    at = chat_page()
    at.toggle(key="chat_remember_new").set_value(False)
    send(at, HOSTILE)
    shown = messages(at)
    assert shown[0] == ("user", textwrap.dedent(md_escape(HOSTILE)))  # st.markdown dedents (blank lines)
    assert shown[1][1].strip()
    assert not [e for e in at.expander if e.label.startswith("Recalled memories")]  # the memory is empty
    conv = ConversationStore(app_home.home).load(at.session_state["chat_conv"])
    assert conv.messages[0]["content"] == HOSTILE and conv.remember is False
    assert "memory" not in conv.messages[1]
    assert get_writer().jobs(conv.id) == []


def test_very_long_message_is_cut_for_the_prompt_only(app_home: Settings) -> None:
    long_text = "START " + " ".join(f"word{i}" for i in range(6000)) + " END"
    app_home.replace(n_ctx=768).save()  # a smaller window: the same cut, a cheaper prompt
    at = chat_page()
    at.toggle(key="chat_remember_new").set_value(False)
    send(at, long_text)
    assert messages(at)[1][1].strip()
    assert any("characters from the middle of the message" in c.value for c in at.caption)
    conv = ConversationStore(app_home.home).load(at.session_state["chat_conv"])
    assert conv.messages[0]["content"] == long_text
    assert conv.messages[1]["prompt"]["truncated_chars"] > 0
    assert conv.messages[1]["prompt"]["prompt_tokens"] <= conv.messages[1]["prompt"]["budget"] < 768


def test_blank_message_is_not_sent(app_home: Settings) -> None:
    at = chat_page()
    at.chat_input(key="chat_input").set_value("   \n ").run()
    assert not at.exception
    assert any("empty message is not sent" in w.value for w in at.warning)
    assert not at.chat_message and ConversationStore(app_home.home).list() == []


@pytest.mark.parametrize("kind", ["missing", "not-gguf"])
def test_bad_model_path_shows_the_fix_and_other_pages_work(app_home: Settings, tmp_path: Path, kind: str) -> None:
    path = tmp_path / "model.gguf"
    if kind == "not-gguf":
        path.write_text("this is not a model", encoding="utf-8")
    app_home.replace(model_path=str(path)).save()
    at = chat_page()
    errors = " ".join(e.value for e in at.error)
    expected = "Model file not found" if kind == "missing" else "is not a GGUF model"
    assert expected in errors and str(path) in errors
    assert any("Settings" in i.value and ".gguf" in i.value for i in at.info)
    assert at.chat_input(key="chat_input").disabled
    at.switch_page("pages/notes.py").run()
    assert not at.exception and at.title[0].value.endswith("Notes")


def write_conversation(home: Path, texts: list[tuple[str, str]], remember: bool = True) -> str:
    convs = ConversationStore(home)
    conv = convs.new(remember=remember)
    for role, text in texts:
        convs.append(conv.id, new_message(role, text), create=conv)
    return conv.id


def test_sidebar_reopens_past_conversations_and_new_conversation(app_home: Settings) -> None:
    older = write_conversation(app_home.home, [("user", "About the garden"), ("assistant", "Roses need sun.")])
    time.sleep(1.1)  # `updated` has second precision
    newer = write_conversation(app_home.home, [("user", "About *bikes*"), ("assistant", "Oil the chain.")])
    at = chat_page()
    assert at.session_state["chat_conv"] == newer
    assert messages(at) == [("user", md_escape("About *bikes*")), ("assistant", "Oil the chain.")]
    at.sidebar.button(key=f"chat_open_{older}").click().run()
    assert not at.exception
    assert messages(at) == [("user", "About the garden"), ("assistant", "Roses need sun.")]
    at.sidebar.button(key="chat_new").click().run()
    assert not at.exception and not at.chat_message and at.session_state["chat_conv"] is None


def test_remember_this_stores_a_manual_note(app_home: Settings, embedder) -> None:
    text = "My passport number ends in 4711 <b>keep</b>"
    conv_id = write_conversation(app_home.home, [("user", text), ("assistant", "Noted.")], remember=False)
    user_id = ConversationStore(app_home.home).load(conv_id).messages[0]["id"]
    at = chat_page()
    at.button(key=f"chat_rem_{user_id}").click().run()
    assert not at.exception
    info = ConversationStore(app_home.home).load(conv_id).messages[0]["remembered"]
    job = get_writer().wait(info["job"], WRITE_TIMEOUT)
    assert job is not None and job.state == "done", job
    note = MemoryStore(app_home, embedder).get(job.note_id)
    assert note.content == text and note.source == "manual" and note.source_ref == conv_id
    at = chat_page()
    assert any(f"📌 Stored as note `{job.note_id[:8]}`" in c.value for c in at.caption)
    assert not [b for b in at.button if b.key == f"chat_rem_{user_id}"]


def test_damaged_conversation_file_is_reported(app_home: Settings) -> None:
    good = write_conversation(app_home.home, [("user", "still fine")])
    bad = app_home.home / "conversations" / ("e" * 32 + ".json")
    bad.write_text("{broken", encoding="utf-8")
    at = chat_page()
    assert any("damaged conversation file" in w.value for w in at.sidebar.warning)
    assert at.session_state["chat_conv"] == good
    assert bad.read_text(encoding="utf-8") == "{broken"
    assert json.loads((app_home.home / "conversations" / f"{good}.json").read_text())["id"] == good
