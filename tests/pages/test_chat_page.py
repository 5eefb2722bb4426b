"""The Chat page through Streamlit's AppTest, with the real bundled model and MiniLM.

Replies are kept short (max tokens 32) to keep the runtime modest. The background memory write runs
in the process-wide writer thread; tests poll it (bounded) and then read the note from a fresh store.
"""

from __future__ import annotations

import json
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from memory_core.chat import ConversationStore, get_writer, new_message
from memory_core.config import Settings
from memory_core.explore.render import escape_markdown, safe_markdown
from memory_core.memory.pipeline import MemoryPipeline, NewItem
from memory_core.store import MemoryStore

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # the pages package lives beside app.py, not in the installed package


pytestmark = pytest.mark.real_model

APP = str(ROOT / "app.py")
NOTES = ["My sister Carla adopted a golden retriever puppy named Biscuit.",
         "I went hiking in the Alps with Anna last summer.",
         "The quarterly budget review is on Friday."]
HOSTILE = ("<img src=x onerror=alert(1)> <script>alert(2)</script> **not bold** [link](http://example.com) "
           "Привет 你好 🌍\n\n# not a heading")
WRITE_TIMEOUT = 900  # a full-mode write took over 5 minutes on a shared 2-core machine (load ~20)


@pytest.fixture(autouse=True)
def writer_idle():
    """No test leaves a background write running into the next one."""
    yield
    writer = get_writer()
    deadline = time.monotonic() + WRITE_TIMEOUT / 2
    while any(j.kind == "store" for j in writer.queue_view()) and time.monotonic() < deadline:
        time.sleep(0.1)
    for job in writer.queue_view():  # the model's enrichment of stored notes: not what these tests look at
        writer.cancel(job.id)
    writer.wait_idle(WRITE_TIMEOUT / 2)


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
    assert shown[0][1] == escape_markdown(question)
    expanders = [e for e in at.expander if e.label.startswith("Recalled memories")]
    assert len(expanders) == 1
    recalled_md = " ".join(m.value for m in expanders[0].markdown)
    assert escape_markdown("My sister Carla adopted a golden retriever puppy named") in recalled_md
    # the note the reply was given is visible beside it, as text, without opening anything
    assert any(c.value.startswith("📎 From your memory: “" + escape_markdown(NOTES[0])) for c in at.caption)

    conv_id = at.session_state["chat_conv"]
    conv = ConversationStore(app_home.home).load(conv_id)
    user, assistant = conv.messages
    assert user["content"] == question and assistant["content"].strip()
    assert ids[0] in [r["id"] for r in assistant["recalled"]] and assistant["query"] == question
    assert "memory" not in assistant  # the reply is never remembered

    # a bare question is not stored: the chat says why and offers "Remember this" on it (only on it)
    job = get_writer().wait(user["memory"]["job"], WRITE_TIMEOUT)
    assert job is not None and job.state == "done" and job.outcome["status"] == "not_stored", job
    again = chat_page()
    assert messages(again) == shown and again.session_state["chat_conv"] == conv_id
    assert any(c.value.startswith("💤 not stored") for c in again.caption)
    assert [b.key for b in again.button if b.key and b.key.startswith("chat_rem_")] == [f"chat_rem_{user['id']}"]

    # a fact is stored: the person's words, nothing of the reply
    fact = "My sister Carla lives in Porto with her husband Marco."
    send(again, fact)
    told = ConversationStore(app_home.home).load(conv_id).messages[2]
    job = get_writer().wait(told["memory"]["job"], WRITE_TIMEOUT)
    assert job is not None and job.state == "done" and job.outcome["status"] == "stored", job
    note = MemoryStore(app_home, embedder).get(job.note_id)
    assert note.content == fact and note.speaker == "person" and note.conversation_id == conv_id
    assert question in note.turn_context  # the previous turn, kept apart from the content
    final = chat_page()
    assert any(f"stored as note {job.note_id[:8]}" in c.value for c in final.caption)
    assert escape_markdown(question) in [b.label for b in final.sidebar.button]  # the sidebar lists it


def test_hostile_message_shown_as_text_and_stored_intact_without_memories(app_home: Settings) -> None:
    at = chat_page()
    at.toggle(key=f"chat_remember_{at.session_state['chat_conv']}").set_value(False)
    send(at, HOSTILE)
    shown = messages(at)
    assert shown[0] == ("user", textwrap.dedent(escape_markdown(HOSTILE)))  # st.markdown dedents (blank lines)
    assert shown[1][1].strip()
    assert not [e for e in at.expander if e.label.startswith("Recalled memories")]  # the memory is empty
    conv = ConversationStore(app_home.home).load(at.session_state["chat_conv"])
    assert conv.messages[0]["content"] == HOSTILE and conv.remember is False
    assert conv.messages[0]["memory"]["state"] == "off" and "memory" not in conv.messages[1]
    assert get_writer().jobs(conv.id) == []


def test_very_long_message_is_cut_for_the_prompt_only(app_home: Settings) -> None:
    long_text = "START " + " ".join(f"word{i}" for i in range(6000)) + " END"
    app_home.replace(n_ctx=768).save()  # a smaller window: the same cut, a cheaper prompt
    at = chat_page()
    at.toggle(key=f"chat_remember_{at.session_state['chat_conv']}").set_value(False)
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


def test_sidebar_lists_newest_first_renames_deletes_and_new_conversation_acts_at_once(app_home: Settings) -> None:
    older = write_conversation(app_home.home, [("user", "About the garden"), ("assistant", "Roses need sun.")])
    time.sleep(1.1)  # `updated` has second precision
    newer = write_conversation(app_home.home, [("user", "About *bikes*"), ("assistant", "Oil the chain.")])
    at = chat_page()
    assert at.session_state["chat_conv"] == newer
    listed = [b.key for b in at.sidebar.button if b.key and b.key.startswith("chat_open_")]
    assert listed == [f"chat_open_{newer}", f"chat_open_{older}"]  # newest first
    assert messages(at) == [("user", escape_markdown("About *bikes*")), ("assistant", "Oil the chain.")]
    at.sidebar.button(key=f"chat_open_{older}").click().run()
    assert not at.exception
    assert messages(at) == [("user", "About the garden"), ("assistant", "Roses need sun.")]
    at.sidebar.text_input(key=f"chat_rename_{older}").set_value("Garden <b>plans</b>")
    at.sidebar.button(key="chat_rename_save").click().run()
    assert ConversationStore(app_home.home).load(older).title == "Garden <b>plans</b>"
    assert at.sidebar.button(key=f"chat_open_{older}").label == escape_markdown("Garden <b>plans</b>")
    at.sidebar.button(key="chat_delete").click().run()
    assert not ConversationStore(app_home.home).exists(older)

    at.sidebar.button(key="chat_new").click().run()
    fresh = at.session_state["chat_conv"]
    assert not at.exception and not at.chat_message and fresh not in (older, newer)
    assert st_query(at) == fresh
    send(at, "Hello from a new conversation")  # typed right after: it lands in the new one
    assert at.session_state["chat_conv"] == fresh
    assert ConversationStore(app_home.home).load(fresh).messages[0]["content"] == "Hello from a new conversation"
    assert len(ConversationStore(app_home.home).load(newer).messages) == 2


def st_query(at: AppTest) -> str:
    return at.query_params.get("conversation", [""])[0] if isinstance(at.query_params.get("conversation"), list) \
        else at.query_params.get("conversation", "")


def test_remember_this_stores_a_turn_that_was_not_stored(app_home: Settings, embedder) -> None:
    text = "My passport number ends in 4711 <b>keep</b>"
    conv_id = write_conversation(app_home.home, [("user", text), ("assistant", "Noted.")], remember=False)
    user_id, reply_id = [m["id"] for m in ConversationStore(app_home.home).load(conv_id).messages]
    at = chat_page()
    assert not [b for b in at.button if b.key == f"chat_rem_{reply_id}"]  # never on a reply
    at.button(key=f"chat_rem_{user_id}").click().run()
    assert not at.exception
    info = ConversationStore(app_home.home).load(conv_id).messages[0]["memory"]
    job = get_writer().wait(info["job"], WRITE_TIMEOUT)
    assert job is not None and job.state == "done" and job.force, job
    note = MemoryStore(app_home, embedder).get(job.note_id)
    assert note.content == text and note.speaker == "person" and note.message_id == user_id
    at = chat_page()
    assert any(f"stored as note {job.note_id[:8]}" in c.value for c in at.caption)
    assert not [b for b in at.button if b.key == f"chat_rem_{user_id}"]


class BlockedPipeline:
    """A write that waits in the queue: the model is held by a reply for as long as the test wants."""

    settings = None
    _llm = None

    def remember_turn(self, *args, **kwargs):  # pragma: no cover - cancelled before it runs
        raise AssertionError("a cancelled write ran")


def test_memory_queue_is_labelled_and_can_be_cancelled(app_home: Settings) -> None:
    writer = get_writer()
    conv_id = write_conversation(app_home.home, [("user", "My horse is named Thunder.")])
    with writer.gate.replying():  # a reply streams: the write stays queued
        job_id = writer.submit(BlockedPipeline(), "My horse is named Thunder.", source_ref=conv_id)
        at = chat_page()
        assert any(m.value.startswith("**Memory queue** (1)") for m in at.sidebar.markdown)
        assert any(escape_markdown("“My horse is named Thunder.”") in c.value for c in at.sidebar.caption)
        at.sidebar.button(key=f"chat_cancel_{job_id}").click().run()
        assert not at.exception
        assert writer.job(job_id).state == "cancelled"
    at = chat_page()
    assert any(m.value.startswith("**Memory queue** (0)") for m in at.sidebar.markdown)


class StoringPipeline:
    """A store job that reports its first step, then waits until the test lets it go."""

    settings = None
    _llm = None

    def __init__(self) -> None:
        self.started, self.go = threading.Event(), threading.Event()

    def remember_turn(self, *args, progress=None, **kwargs):
        from memory_core.memory.outcome import RememberOutcome

        progress("checking for duplicates")
        self.started.set()
        self.go.wait(WRITE_TIMEOUT)
        return RememberOutcome("not_stored", reason="a test write")


def test_memory_queue_shows_plain_steps_in_order(app_home: Settings) -> None:
    """queued → storing → stored → enriching → enriched, the current step in bold and the ones done
    ticked (it read "queued → enriching → linking → done → **checking for duplicates**")."""
    writer = get_writer()
    conv_id = write_conversation(app_home.home, [("user", "My horse is named Thunder."),
                                                 ("user", "I ride him on Sundays.")])
    storing = StoringPipeline()
    try:
        writer.submit(storing, "My horse is named Thunder.", source_ref=conv_id, mode="fast")
        assert storing.started.wait(WRITE_TIMEOUT)
        later = writer.submit(BlockedPipeline(), "I ride him on Sundays.", source_ref=conv_id, kind="enrich",
                              note_id="f" * 36)  # waits behind the store: its note is stored, not yet enriched
        at = chat_page()
        captions = [c.value for c in at.sidebar.caption]
        assert escape_markdown("“My horse is named Thunder.”") + "  \n✓ queued → **storing** → stored → enriching → " \
            "enriched" in captions, captions
        assert escape_markdown("“I ride him on Sundays.”") + "  \n✓ queued → ✓ storing → **stored** → enriching → " \
            "enriched" in captions, captions
        assert at.sidebar.button(key=f"chat_cancel_{later}").help.startswith("Cancel the model's enrichment")
        at.sidebar.button(key=f"chat_cancel_{later}").click().run()
        assert not at.exception and writer.job(later).state == "cancelled"
    finally:
        storing.go.set()


def test_reply_shows_the_answering_note_the_graph_link_and_the_token_limit_notice(app_home: Settings) -> None:
    convs = ConversationStore(app_home.home)
    conv = convs.new()
    user = new_message("user", "What is my dog's name?")
    reply = new_message("assistant", "Your dog is ![x](http://127.0.0.1:9/x.png)", stopped_at_limit=True, query=user["content"], recalled=[
        {"id": "a" * 36, "rank": 1, "score": 0.9, "signals": {"dense": 0.9}, "via": "", "reasons": ["dense 0.90"],
         "matched_terms": ["dog"], "title": "My dog is Biscuit", "timestamp": "2026-11-02T10:00:00+00:00",
         "in_prompt": True, "text": "My dog is a golden retriever called *Biscuit*.", "query": user["content"]}])
    convs.append(conv.id, user, create=conv)
    convs.append(conv.id, reply)
    at = chat_page()
    shown = at.chat_message[1].markdown[0].value  # the reply, through safe_markdown: no image to fetch
    assert shown == safe_markdown(reply["content"]) and "![" not in shown and "127.0.0.1:9/x.png" in shown
    assert any(c.value == "📎 From your memory: “" + escape_markdown("My dog is a golden retriever called *Biscuit*.")
               + "” (2026-11-02)" for c in at.caption)
    assert any("stopped at the token limit" in i.value for i in at.info)
    links = [e for e in at.get("page_link")]
    assert any(f"trace={conv.id}%3A{reply['id']}" in str(e.proto) or f"{conv.id}:{reply['id']}" in str(e.proto)
               for e in links), [str(e.proto) for e in links]
    at.number_input(key="chat_max_tokens").set_value(16)
    at.button(key=f"chat_cont_{reply['id']}").click().run()
    assert not at.exception
    saved = convs.load(conv.id).messages
    assert len(saved) == 2 and saved[1]["content"].startswith(reply["content"])
    assert len(saved[1]["content"]) > len(reply["content"])


def test_a_failed_memory_write_is_shown_with_retry(app_home: Settings, embedder) -> None:
    convs = ConversationStore(app_home.home)
    conv = convs.new()
    msg = new_message("user", "My horse is named Thunder.",
                      memory={"state": "failed", "job": "w0-old", "error": "the disk is full", "attempts": 4})
    convs.append(conv.id, msg, create=conv)
    at = chat_page()
    assert any("Not stored in memory after 4 attempts" in w.value and "disk is full" in w.value for w in at.warning)
    at.button(key=f"chat_rem_{msg['id']}").click().run()
    assert not at.exception
    info = convs.load(conv.id).messages[0]["memory"]
    assert info["state"] != "failed" and info["job"] != "w0-old" and not info["force"]
    job = get_writer().wait(info["job"], WRITE_TIMEOUT)
    assert job is not None and job.state == "done" and job.outcome["status"] == "stored", job
    assert MemoryStore(app_home, embedder).get(job.note_id).content == "My horse is named Thunder."


def test_damaged_conversation_file_is_reported(app_home: Settings) -> None:
    good = write_conversation(app_home.home, [("user", "still fine")])
    bad = app_home.home / "conversations" / ("e" * 32 + ".json")
    bad.write_text("{broken", encoding="utf-8")
    at = chat_page()
    assert any("damaged conversation file" in w.value for w in at.sidebar.warning)
    assert at.session_state["chat_conv"] == good
    assert bad.read_text(encoding="utf-8") == "{broken"
    assert json.loads((app_home.home / "conversations" / f"{good}.json").read_text())["id"] == good


def test_the_app_at_start_writes_what_every_conversation_left_queued(app_home: Settings, embedder) -> None:
    """Writes `memex chat` (or an earlier run) left queued are done by the app when it starts, whichever
    page opens first and whichever conversations they belong to."""
    convs = ConversationStore(app_home.home)
    told = {}
    for text in ("My piano teacher is called Vera.", "I keep two beehives on my roof."):
        conv = convs.new()
        msg = new_message("user", text, memory={"state": "queued", "job": "w1-from-another-process"})
        convs.append(conv.id, msg, create=conv)
        told[text] = (conv.id, msg["id"])
    at = AppTest.from_file(APP, default_timeout=WRITE_TIMEOUT)
    at.switch_page("pages/graph.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert get_writer().wait_idle(WRITE_TIMEOUT)
    store = MemoryStore(app_home, embedder)
    for text, (conv_id, mid) in told.items():
        memory = convs.load(conv_id).message(mid)["memory"]
        assert memory["state"] == "done" and memory["status"] == "stored", memory
        assert store.get(memory["note_id"]).content == text
    assert len(store) == 2


def test_the_app_and_two_cli_processes_on_one_conversation_lose_no_message(app_home: Settings) -> None:
    import os
    import subprocess

    memex = Path(sys.executable).parent / "memex"
    env = {**os.environ, "MEMEX_HOME": str(app_home.home), "HF_HUB_OFFLINE": "1", "MEMEX_EXIT_GRACE": "0"}
    first = subprocess.run([str(memex), "chat", "Hello, I am starting a diary.", "--json", "--max-tokens", "8"],
                           capture_output=True, text=True, env=env, timeout=600)
    assert first.returncode == 0, first.stderr
    conv_id = json.loads(first.stdout)["conversation_id"]
    loop = ("for i in 1 2 3; do '{memex}' chat \"{who} says {{}} $i\" --conversation {conv} --max-tokens 8 "
            ">/dev/null || exit 1; done")
    clis = [subprocess.Popen(loop.format(memex=memex, who=who, conv=conv_id).replace("{}", "hello"), shell=True,
                             executable="/bin/bash", env=env) for who in ("Ana", "Rui")]
    at = AppTest.from_file(APP, default_timeout=WRITE_TIMEOUT)
    at.session_state["chat_conv"] = conv_id
    at.run()
    for i in range(3):
        send(at, f"The app says hello {i}")
    assert [p.wait(timeout=900) for p in clis] == [0, 0]
    conv = ConversationStore(app_home.home).load(conv_id)
    users = [m["content"] for m in conv.messages if m["role"] == "user"]
    expected = ["Hello, I am starting a diary."] + [f"{who} says hello {i}" for who in ("Ana", "Rui")
                                                    for i in (1, 2, 3)] + [f"The app says hello {i}" for i in range(3)]
    assert sorted(users) == sorted(expected)
    assert sum(1 for m in conv.messages if m["role"] == "assistant") == len(expected)  # every reply kept too


def test_why_beside_a_recalled_memory_explains_it_on_the_reply_trace(app_home: Settings, embedder) -> None:
    ids = seed(app_home, embedder)
    convs = ConversationStore(app_home.home)
    conv = convs.new()
    user = new_message("user", "What is my dog's name?")
    recalled = [{"id": nid, "rank": i + 1, "score": 0.5, "signals": {"dense": 0.5}, "title": "note",
                 "query": user["content"]} for i, nid in enumerate([ids[0], "b" * 36])]
    reply = new_message("assistant", "Biscuit.", query=user["content"], recalled=recalled)
    convs.append(conv.id, user, create=conv)
    convs.append(conv.id, reply)
    at = chat_page()
    at.button(key=f"chat_why_{reply['id']}_0").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key="trace_explain_pick").value == ids[0]  # on the Graph page, that note explained
    text = next(c.value for c in at.code if c.value.startswith("query: What is my dog's name?"))
    assert f"note:  {ids[0][:8]}" in text
    # a recalled note deleted since: said so, nothing explained
    at.switch_page("pages/chat.py").run()
    at.button(key=f"chat_why_{reply['id']}_1").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("no longer exists" in c.value for c in at.caption) and at.selectbox(key="trace_explain_pick").value is None
