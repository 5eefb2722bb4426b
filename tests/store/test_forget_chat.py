"""Issue 24, items 1 and 2, with notes the chat made (they carry a retrieval context).

A note's retrieval context is the person's previous words and the date, never Memex's reply; older
notes are repaired by the first write of a writing process (one event per note, revertible). A
delete removes the note's words from every other note, the views, the snapshot, exports and the
store's files in the same step, and nothing unrelated is rewritten; a note deleted before can still
be forgotten by id. The conversation keeps what the person typed: it is their own record.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fakes import HashEmbedder, ScriptedLLM, enrichment
from test_store_forget import digest

from memory_core.chat import ChatSession, ConversationStore, MemoryWriter
from memory_core.chat.forgetting import delete_notes, forget_notes
from memory_core.config import Settings
from memory_core.episodes.conversations import new_message
from memory_core.errors import NotFoundError
from memory_core.memory.pipeline import MemoryPipeline
from memory_core.notes import Note
from memory_core.retrieval import search
from memory_core.store import MemoryStore, Proposal
from memory_core.store.repairs import CONTEXT_REPAIR
from memory_core.transfer.memex_json import export_to_file

BEES = "I keep bees: two hives on the roof of my flat."
CHAT = ["Hello there!", "I ride a red bicycle to work every day.", BEES, "I have been vegetarian since 2015.",
        "My sister Lena plays the cello in an orchestra."]
REPLY_WORD = "beekeeper"  # only ever in Memex's replies


def model(messages: list[dict[str, str]], fmt: dict[str, Any] | None) -> str:
    """A chatty model: its replies repeat the person's words and add its own; a plain enrichment."""
    if fmt is None:
        return f"Hello, dear! As a {REPLY_WORD} myself, I love that: {messages[-1]['content']}"
    if "keywords" in fmt["schema"]["properties"]:
        return enrichment(["life"], "Something the person shared about their life.", ["life"])
    return "{}"


def told(home: Path, embedder: Any, llm: Any = None, texts: list[str] = CHAT) -> tuple[MemoryStore, dict[str, str]]:
    """A conversation through ChatSession (the chat's own write path); text -> the note it made."""
    settings = Settings(data_dir=str(home))
    store = MemoryStore(settings, embedder)
    writer = MemoryWriter()
    session = ChatSession(store, settings, llm or ScriptedLLM(default=model), ConversationStore(home), writer)
    conv, ids = None, {}
    try:
        for text in texts:
            reply = session.reply(conv, text, k=3, max_tokens=48)
            reply.consume()
            conv = reply.conversation_id
            job = writer.wait(reply.job_id, 600)
            assert job is not None and job.state == "done", job
            if job.outcome.get("status") == "stored":
                ids[text] = job.note_id
    finally:
        writer.stop()
    return store, ids


def holding(home: Path, needle: str) -> dict[str, int]:
    """File (relative to the data folder) -> how often ``needle`` occurs in its bytes."""
    data = needle.encode("utf-8")
    return {str(p.relative_to(home)): p.read_bytes().count(data) for p in sorted(home.rglob("*"))
            if p.is_file() and data in p.read_bytes()}


def fields(note: Note) -> tuple[Any, ...]:
    return note.content, note.context, note.keywords, note.tags, note.turn_context, [x.target for x in note.links]


def memex(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "MEMEX_HOME": str(home), "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", "memory_core.cli", *args], capture_output=True, text=True,
                          env=env, timeout=600)


# ---- item 1: context without the model's words -----------------------------------------------------
def test_a_chat_notes_context_is_the_persons_previous_words_and_the_date(tmp_path: Path) -> None:
    store, ids = told(tmp_path / "home", HashEmbedder())
    after_bees = store.get(ids[CHAT[3]])
    assert after_bees.turn_context.endswith(f"\nPerson: {BEES}")
    assert after_bees.turn_context.startswith("(20") and "Memex" not in after_bees.turn_context
    assert all(REPLY_WORD not in n.turn_context for n in store.all_notes())
    # a word only the replies said finds nothing through the context
    hits = search(store, store.settings, REPLY_WORD, 5, retriever="contextual")
    assert all(h.signals.get("context_lexical", 0) == 0 for h in hits)


def old_chat_notes(home: Path) -> tuple[MemoryStore, dict[str, str]]:
    """Notes as the chat wrote them before issue 24: the previous exchange, reply included."""
    settings = Settings(data_dir=str(home))
    store = MemoryStore(settings, HashEmbedder())
    pipe = MemoryPipeline(store, settings)
    said = [("I ride a red bicycle to work every day.", "(2026-12-01, the first message of a conversation)"),
            ("I have been vegetarian since 2015.",
             "(2026-12-01)\nPerson: I ride a red bicycle to work every day.\nMemex: Your bike is probably red "
             "and fast, dear!"),
            ("My sister Lena plays the cello.", "(2026-12-01)\nPerson: I have been vegetarian since 2015.\n"
             "Memex: Lovely. What do you cook?")]
    ids = {}
    for i, (text, ctx) in enumerate(said):
        out = pipe.remember_turn(text, conversation_id="c" * 32, message_id=f"m{i}", turn_context=ctx, mode="fast")
        ids[text] = out.note_id
    store.close()
    return store, ids


def test_old_contexts_are_repaired_by_the_first_write_once_and_revertibly(tmp_path: Path) -> None:
    home = tmp_path / "home"
    _, ids = old_chat_notes(home)
    veg, cello = ids["I have been vegetarian since 2015."], ids["My sister Lena plays the cello."]
    before = digest(home)
    reader = MemoryStore(Settings(data_dir=str(home)), HashEmbedder())
    hits = search(reader, reader.settings, "What color is my bike?", 3, retriever="contextual", touch=False)
    steered = next(h for h in hits if h.note.id == veg)
    assert steered.signals["context_lexical"] > 0  # the reply's "bike" steered recall
    assert "Memex:" in reader.get(veg).turn_context
    assert digest(home) == before  # a reader repairs nothing: it writes nothing

    writer = MemoryStore(Settings(data_dir=str(home)), HashEmbedder())
    writer.update(ids["I ride a red bicycle to work every day."], context="Commuting.")  # any first write
    assert writer.get(veg).turn_context == "(2026-12-01)\nPerson: I ride a red bicycle to work every day."
    assert writer.get(cello).turn_context == "(2026-12-01)\nPerson: I have been vegetarian since 2015."
    repairs = [e for e in writer.events() if e.cause == CONTEXT_REPAIR]
    assert sorted(e.note_id for e in repairs) == sorted([veg, cello])  # one event per note, nothing else
    assert all(e.field == "turn_context" and e.by == "system" for e in repairs)
    hits = search(writer, writer.settings, "What color is my bike?", 3, retriever="contextual", touch=False)
    assert all(h.signals.get("context_lexical", 0) == 0 for h in hits if h.note.id == veg)

    # revertible like any edit, and a reverted repair is not made again by the next writer
    version = writer.get(veg).version_count() - 1
    writer.revert(veg, version, fields=["turn_context"])
    assert "Memex: Your bike" in writer.get(veg).turn_context
    writer.close()
    again = MemoryStore(Settings(data_dir=str(home)), HashEmbedder())
    again.update(cello, context="Music.")
    assert "Memex: Your bike" in again.get(veg).turn_context
    assert len([e for e in again.events() if e.cause == CONTEXT_REPAIR]) == 2


def test_undo_all_on_a_repaired_note_keeps_its_context_without_the_replies(tmp_path: Path) -> None:
    home = tmp_path / "home"
    _, ids = old_chat_notes(home)
    veg = ids["I have been vegetarian since 2015."]
    writer = MemoryStore(Settings(data_dir=str(home)), HashEmbedder())
    writer.update(veg, content="I have been vegetarian since 2016.")  # the first write repairs, then an edit
    assert "Memex:" not in writer.get(veg).turn_context
    writer.revert(veg, 0)  # "Undo all": the person wants the first version of what they can see
    note = writer.get(veg)
    assert note.content == "I have been vegetarian since 2015."
    assert "Memex:" not in note.turn_context  # the replies do not come back with it


# ---- item 2: delete means gone, everywhere --------------------------------------------------------------
def test_deleting_a_chat_note_leaves_its_sentence_only_in_the_conversation(tmp_path: Path) -> None:
    home = tmp_path / "home"
    store, ids = told(home, HashEmbedder())
    # a small model proposing a neighbour's context copies the words it was shown (seen on SmolLM2)
    store.proposals.add(Proposal(target_id=ids[CHAT[1]], kind="context", before="", after=BEES,
                                 source_id=ids[CHAT[3]]))
    kept = store.proposals.add(Proposal(target_id=ids[CHAT[1]], kind="tags", before=[], after=["cycling"],
                                        source_id=ids[CHAT[4]]))
    (home / "exports").mkdir()
    export_to_file(store, home / "exports" / "backup.json")
    store.close()  # a writer's close leaves the snapshot (cache/), which holds every note's words
    store = MemoryStore(store.settings, HashEmbedder())
    found = holding(home, BEES)
    assert {"cache/fold.json", "chroma/chroma.sqlite3", "exports/backup.json"} <= set(found), found
    others = {n.id: fields(n) for n in store.all_notes() if n.id != ids[BEES]}

    store.delete([ids[BEES]])

    assert [p.id for p in store.proposals.list(None)] == [kept]  # the one that quoted it is gone
    conversation = [f for f in holding(home, BEES) if f.startswith("conversations/")]
    assert conversation and list(holding(home, BEES)) == conversation  # the person's own record alone
    assert holding(home, "two hives on the roof") == holding(home, BEES)
    after = {n.id: fields(n) for n in store.all_notes()}
    quoting = ids[CHAT[3]]  # the next note: its context was the deleted sentence
    assert after[quoting][4].startswith("(20") and "hives" not in after[quoting][4]
    assert after[quoting][:4] == others[quoting][:4]
    assert {k: v for k, v in after.items() if k != quoting} == {k: v for k, v in others.items() if k != quoting}
    assert "[forgotten]" not in json.dumps([n.to_dict() for n in store.all_notes()])
    hits = search(store, store.settings, "How many hives do I have on the roof?", 5, touch=False)
    assert all("hives" not in (h.note.content + h.note.turn_context) for h in hits)
    assert all(h.signals.get("context_lexical", 0) == 0 for h in hits)


def test_a_note_deleted_before_can_still_be_forgotten_by_id(tmp_path: Path) -> None:
    home = tmp_path / "home"
    store, ids = told(home, HashEmbedder())
    bees = ids[BEES]
    with store.writing() as w:  # a delete as an older Memex made it: other notes keep the words
        w.delete(bees)
    assert BEES in store.get(ids[CHAT[3]]).turn_context
    assert [d.id for d in store.deleted_notes()] == [bees]
    try:
        store.forget(["ffffffffff"])
        raise AssertionError("an unknown id must be refused")
    except NotFoundError as exc:
        assert "no deleted note" in str(exc)

    report = forget_notes(store, ConversationStore(home), [bees[:8]])
    assert report.forgotten == [bees] and report.already_deleted == [bees] and report.compacted
    assert report.notes_scrubbed == [ids[CHAT[3]]]
    assert [f for f in holding(home, BEES) if not f.startswith("conversations/")] == []
    assert "hives" not in store.get(ids[CHAT[3]]).turn_context
    assert store.get(ids[CHAT[4]]).turn_context.endswith(CHAT[3])  # the unrelated one is untouched


def test_in_a_new_process_the_deleted_words_are_gone(tmp_path: Path, embedder) -> None:
    home = tmp_path / "home"
    store, ids = told(home, embedder)
    store.close()
    assert BEES in memex(home, "export").stdout  # the test can see it before
    gone = memex(home, "delete", ids[BEES])
    assert gone.returncode == 0, gone.stderr
    found = memex(home, "search", "How many hives do I keep on the roof?", "--json")
    assert found.returncode == 0, found.stderr
    assert "hives" not in found.stdout and ids[BEES] not in found.stdout
    exported = memex(home, "export")
    assert exported.returncode == 0 and "hives" not in exported.stdout and json.loads(exported.stdout)["notes"]
    again = memex(home, "forget", ids[BEES][:8])  # deleted already: purged again, not "No note"
    assert again.returncode == 0 and "deleted before" in again.stdout, (again.stdout, again.stderr)
    unknown = memex(home, "forget", "0123456789")
    assert unknown.returncode != 0 and "No note with id" in unknown.stderr + unknown.stdout
    assert "Traceback" not in unknown.stderr
    assert [f for f in holding(home, BEES) if not f.startswith("conversations/")] == []


# ---- the Notes page -------------------------------------------------------------------------------------
HOSTILE = "My notes page test <img src=x onerror=alert(1)> [click](http://example.com) is **bold**."


def test_notes_page_shows_the_recall_context_and_forgets_a_deleted_note(app_home: Settings, embedder) -> None:
    from streamlit.testing.v1 import AppTest

    from memory_core.explore.render import escape_markdown as md_escape

    home = Path(app_home.home)
    store, ids = told(home, embedder, texts=[HOSTILE, CHAT[1], BEES, CHAT[3]])
    bees, next_one = ids[BEES], ids[CHAT[3]]
    with store.writing() as w:  # deleted as an older Memex did: the next note keeps the words
        w.delete(bees)
    store.close()

    at = AppTest.from_file(str(Path(__file__).resolve().parents[2] / "app.py"), default_timeout=120)
    at.switch_page("pages/notes.py")
    at.session_state["focus_note"] = ids[CHAT[1]]
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    shown = [m.value for m in at.markdown if m.value.startswith("**Context used for recall:**")]
    assert shown == ["**Context used for recall:** " + md_escape(f"({store.get(ids[CHAT[1]]).timestamp[:10]}) · "
                                                                 f"Person: {HOSTILE}")]
    assert HOSTILE not in shown[0] and "\\<img" in shown[0]  # escaped: text, never markup

    deleted = [e for e in at.expander if e.label.startswith("🗑️ Recently deleted")]
    assert len(deleted) == 1 and deleted[0].label.endswith("(1)")
    rows = " ".join(m.value for m in deleted[0].markdown)
    assert f"`{bees[:8]}`" in rows and md_escape(BEES) in rows  # the words from the person's conversation
    at.button(key=f"notes_forget_{bees}").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert any(f"Forgot note {bees[:8]}" in s.value and "1 other note cleaned" in s.value for s in at.success)
    fresh = MemoryStore(app_home, embedder)
    assert "hives" not in fresh.get(next_one).turn_context
    assert [f for f in holding(home, BEES) if not f.startswith("conversations/")] == []


# ---- on the bundled model -------------------------------------------------------------------------------
@pytest.mark.real_model
def test_on_the_real_model_no_reply_in_any_context_and_a_delete_leaves_only_the_conversation(
        tmp_path: Path, embedder, real_llm) -> None:
    home = tmp_path / "home"
    store, ids = told(home, embedder, real_llm, texts=[CHAT[1], BEES, CHAT[3]])
    assert set(ids) == {CHAT[1], BEES, CHAT[3]}, ids
    conv = ConversationStore(home)
    replies = [m["content"] for s in conv.list() for m in conv.load(s.id).messages if m["role"] == "assistant"]
    assert len(replies) == 3 and all(r.strip() for r in replies)
    for note in store.all_notes():
        assert "Memex" not in note.turn_context and not any(r.strip()[:40] in note.turn_context for r in replies)
    assert store.get(ids[CHAT[3]]).turn_context.endswith(f"Person: {BEES}")
    store.close()
    before = sum(holding(home, BEES).values())

    store = MemoryStore(Settings(data_dir=str(home)), embedder)
    store.delete([ids[BEES]])
    store.close()
    left = holding(home, BEES)
    assert before > sum(left.values()) and left and all(f.startswith("conversations/") for f in left), \
        (left, sqlite_rows(home / "chroma" / "chroma.sqlite3", "two hives on the roof"))


def sqlite_rows(path: Path, needle: str) -> list[str]:
    """Where in Chroma's SQLite file a text is (what a failure shows)."""
    import sqlite3

    out = []
    with contextlib.closing(sqlite3.connect(path)) as con:
        for (table,) in con.execute("select name from sqlite_master where type='table'").fetchall():
            with contextlib.suppress(sqlite3.Error):
                out += [f"{table}: {row!r}"[:800] for row in con.execute(f'select * from "{table}"')
                        if needle in repr(row)]
    return out


def test_a_delete_purges_the_merged_rewording_the_next_note_quotes(tmp_path: Path) -> None:
    """The person said it twice in other words; the second was merged into the note. Deleting the note
    (Notes page, ``memex delete``) removes both wordings from the next note's context."""
    home = tmp_path / "home"
    settings = Settings(data_dir=str(home))
    store = MemoryStore(settings, HashEmbedder())
    blood, nxt = Note(content="My blood type is O negative."), Note(content="I run marathons.")
    with store.writing() as w:
        w.put(blood)
    again = "I have O negative blood, by the way."
    conversations = ConversationStore(home)
    conv = conversations.new()
    conversations.append(conv.id, new_message("user", again, memory={"state": "done", "status": "merged",
                                                                     "note_id": blood.id}), create=conv)
    nxt.turn_context = f"(2026-12-01)\nPerson: {again}"
    with store.writing() as w:
        w.put(nxt)
    assert delete_notes(store, conversations, [blood.id[:8]]) == 1
    assert again not in store.get(nxt.id).turn_context
    assert store.get(nxt.id).content == "I run marathons."
    with pytest.raises(NotFoundError):
        delete_notes(store, conversations, ["nosuchnote"])
