"""memory_core.chat with a scripted LLM: prompt fitting, the conversation files, the background writer.

The scripted LLM goes through the real ``_Base`` (fit_messages, stream, structured); the store is
real (Chroma in tmp_path) with the cheap HashEmbedder. The real model is exercised by
tests/test_chat_page.py.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from fakes import HashEmbedder, ScriptedLLM, enrichment, offered_ids

from memory_core.chat import (
    ChatSession,
    ConversationStore,
    MemoryWriter,
    Recalled,
    build_prompt,
    exchange_text,
    make_title,
    new_message,
)
from memory_core.chat.prompt import HISTORY_CHARS
from memory_core.config import Settings
from memory_core.errors import InputError, NotFoundError, StoreError
from memory_core.memory.pipeline import MemoryPipeline, NewItem
from memory_core.notes import MAX_CONTENT_CHARS
from memory_core.store import MemoryStore

TRICKY = [
    "<script>alert(1)</script> and <img src=x onerror=alert(2)>",
    "# Heading\n\n**bold** [link](http://example.com) ![img](http://example.com/x.png) $x^2$ :red[no]",
    "Привет, как дела? 你好，世界 🌍 مرحبا",
    "  leading spaces\n\ttab\r\nwindows line\x00nul",
    "long " * 5000,
]


def recalled(i: int, words: int = 40) -> Recalled:
    return Recalled(id=f"{i:08d}-aaaa-bbbb-cccc-{i:012d}", title=f"note {i}",
                    content=" ".join(f"n{i}w{j}" for j in range(words)),
                    timestamp=f"2024-03-{i + 1:02d}T10:30:00+00:00", score=1.0 - i / 100)


def history(n: int, words: int = 30) -> list[dict[str, str]]:
    return [{"role": "user" if i % 2 == 0 else "assistant", "content": " ".join(f"h{i}w{j}" for j in range(words))}
            for i in range(n)]


def cost(llm: Any, messages: list[dict[str, str]]) -> int:
    return sum(llm.count_tokens(m["content"]) + 6 for m in messages)


# ---- prompt fitting ------------------------------------------------------------------------------------
def test_prompt_keeps_most_relevant_notes_and_newest_history() -> None:
    llm = ScriptedLLM(n_ctx=600)
    notes = [recalled(i) for i in range(10)]
    hist = history(20)
    plan = build_prompt(llm, "What did I do in March?", notes, hist, max_tokens=100, today="2024-04-01")

    assert plan.prompt_tokens == cost(llm, plan.messages) <= plan.budget
    _, report = llm.fit_messages(plan.messages, plan.reply_tokens)
    assert not report.trimmed  # the model's own trimming has nothing left to cut
    # Notes: the most relevant ones (all the same size here, so a prefix of the ranking).
    assert plan.notes_used and plan.notes_dropped
    assert plan.notes_used == [n.id for n in notes[:len(plan.notes_used)]]
    assert plan.notes_dropped == [n.id for n in notes[len(plan.notes_used):]]
    assert [n.in_prompt for n in notes] == [n.id in plan.notes_used for n in notes]
    system = plan.messages[0]["content"]
    assert system.startswith("You are Memex") and "Today is 2024-04-01" in system
    for n in notes:
        line = f"[note {n.id[:8]}, {n.timestamp[:10]} 10:30] {n.content}"
        assert (line in system) == (n.id in plan.notes_used)
    # History: the newest messages, contiguous, starting with the person; the message itself last.
    kept = plan.messages[1:-1]
    assert plan.history_used == len(kept) > 0
    assert plan.history_dropped == len(hist) - len(kept) > 0
    assert kept == hist[len(hist) - len(kept):]
    assert kept[0]["role"] == "user"
    assert plan.messages[-1] == {"role": "user", "content": "What did I do in March?"}
    assert plan.truncated_chars == 0 and plan.dropped_anything


def test_prompt_with_room_keeps_everything() -> None:
    llm = ScriptedLLM(n_ctx=8192)
    notes = [recalled(i) for i in range(5)]
    hist = history(6)
    plan = build_prompt(llm, "hello", notes, hist, max_tokens=256)
    assert plan.notes_used == [n.id for n in notes] and not plan.notes_dropped
    assert plan.messages[1:-1] == hist and plan.history_dropped == 0
    assert not plan.dropped_anything
    # notes keep their ranking order in the prompt
    system = plan.messages[0]["content"]
    positions = [system.index(n.id[:8]) for n in notes]
    assert positions == sorted(positions)


def test_history_gives_unused_room_back_to_notes() -> None:
    llm = ScriptedLLM(n_ctx=700)
    notes = [recalled(i, words=60) for i in range(12)]
    with_history = build_prompt(llm, "q", notes, history(30), max_tokens=64)
    without = build_prompt(llm, "q", notes, [], max_tokens=64)
    assert len(without.notes_used) > len(with_history.notes_used)
    assert without.prompt_tokens <= without.budget


def test_long_message_is_cut_in_the_middle_only_in_the_prompt() -> None:
    llm = ScriptedLLM(n_ctx=512)
    message = "START " + " ".join(f"w{i}" for i in range(5000)) + " END"
    plan = build_prompt(llm, message, [recalled(0)], history(4), max_tokens=64)
    sent = plan.messages[-1]["content"]
    assert plan.truncated_chars == len(message) - len(sent) > 0
    assert sent.startswith("START w0 w1") and sent.endswith("w4999 END") and "[...]" in sent
    assert plan.prompt_tokens <= plan.budget
    assert not llm.fit_messages(plan.messages, plan.reply_tokens)[1].trimmed


def test_reply_tokens_leave_room_for_a_prompt_and_long_history_entries_are_shortened() -> None:
    llm = ScriptedLLM(n_ctx=400)
    plan = build_prompt(llm, "hi", [], [], max_tokens=5000)
    assert plan.reply_tokens < 400 and plan.budget >= 150
    big = [{"role": "user", "content": "x" * (HISTORY_CHARS * 3)}, {"role": "assistant", "content": "ok"}]
    plan = build_prompt(ScriptedLLM(n_ctx=8192), "hi", [], big, max_tokens=100)
    assert len(plan.messages[1]["content"]) <= HISTORY_CHARS
    assert plan.messages[2] == {"role": "assistant", "content": "ok"}


# ---- conversations on disk -----------------------------------------------------------------------------
def test_conversation_round_trip_keeps_text_intact(tmp_path: Path) -> None:
    convs = ConversationStore(tmp_path)
    conv = convs.new(remember=False)
    for i, text in enumerate(TRICKY):
        convs.append(conv.id, new_message("user" if i % 2 == 0 else "assistant", text), create=conv)
    again = ConversationStore(tmp_path).load(conv.id)
    assert [m["content"] for m in again.messages] == TRICKY
    assert again.remember is False
    assert again.title == make_title(TRICKY[0])
    assert [p.name for p in (tmp_path / "conversations").iterdir()] == [f"{conv.id}.json"]  # no temp files left


def test_titles_listing_order_and_delete(tmp_path: Path) -> None:
    convs = ConversationStore(tmp_path)
    ids = []
    for text in ["first  talk\nsecond line", "x" * 100, "third"]:
        c = convs.new()
        convs.append(c.id, new_message("user", text), create=c)
        ids.append(c.id)
        time.sleep(1.05)  # `updated` has second precision
    listing = convs.list()
    assert [s.id for s in listing] == list(reversed(ids))
    titles = {s.id: s.title for s in listing}
    assert titles[ids[0]] == "first talk second line"
    assert len(titles[ids[1]]) == 60 and titles[ids[1]].endswith("…")
    # appending to the oldest makes it the newest
    convs.append(ids[0], new_message("assistant", "reply"))
    assert convs.list()[0].id == ids[0] and convs.list()[0].messages == 2
    assert convs.delete(ids[1]) and not convs.delete(ids[1])
    assert ids[1] not in [s.id for s in convs.list()]
    with pytest.raises(NotFoundError):
        convs.load(ids[1])


def test_damaged_conversation_files_are_reported_and_left_alone(tmp_path: Path) -> None:
    convs = ConversationStore(tmp_path)
    good = convs.new()
    convs.append(good.id, new_message("user", "fine"), create=good)
    folder = tmp_path / "conversations"
    bad_json = folder / ("a" * 32 + ".json")
    bad_json.write_text("{not json", encoding="utf-8")
    bad_shape = folder / ("b" * 32 + ".json")
    bad_shape.write_text(json.dumps({"id": "b" * 32, "messages": [{"role": "robot", "content": 1}]}), encoding="utf-8")
    wrong_id = folder / ("c" * 32 + ".json")
    wrong_id.write_text(json.dumps({"id": "d" * 32, "messages": []}), encoding="utf-8")
    before = {p: p.read_bytes() for p in (bad_json, bad_shape, wrong_id)}

    listing = convs.list()
    assert [s.id for s in listing] == [good.id]
    assert sorted(name for name, _ in convs.broken) == sorted(p.name for p in before)
    with pytest.raises(StoreError, match="damaged"):
        convs.load("a" * 32)
    with pytest.raises(StoreError, match="damaged"):
        convs.append("b" * 32, new_message("user", "more"))
    with pytest.raises(StoreError):
        convs.update_message("a" * 32, "whatever", memory={})
    for path, data in before.items():
        assert path.read_bytes() == data  # never overwritten


def test_ids_cannot_escape_the_folder(tmp_path: Path) -> None:
    convs = ConversationStore(tmp_path / "home")
    (tmp_path / "secret.json").write_text("{}", encoding="utf-8")
    for bad in ("../secret", "../../etc/passwd", "", "A" * 32):
        with pytest.raises(NotFoundError):
            convs.load(bad)
        assert not convs.exists(bad)


def test_concurrent_appends_lose_nothing(tmp_path: Path) -> None:
    convs = ConversationStore(tmp_path)
    conv = convs.new()
    convs.save(conv)

    def worker(n: int) -> None:
        mine = ConversationStore(tmp_path)  # separate instances share the folder's lock
        for i in range(15):
            mine.append(conv.id, new_message("user", f"{n}-{i}"))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    contents = sorted(m["content"] for m in convs.load(conv.id).messages)
    assert contents == sorted(f"{n}-{i}" for n in range(6) for i in range(15))


def test_update_message_of_a_missing_message_or_conversation(tmp_path: Path) -> None:
    convs = ConversationStore(tmp_path)
    conv = convs.new()
    msg = new_message("user", "hi")
    convs.append(conv.id, msg, create=conv)
    assert convs.update_message(conv.id, msg["id"], memory={"state": "done"})
    assert convs.load(conv.id).messages[0]["memory"] == {"state": "done"}
    assert not convs.update_message(conv.id, "nope", memory={})
    assert not convs.update_message("f" * 32, msg["id"], memory={})


# ---- the background writer -----------------------------------------------------------------------------
@pytest.fixture
def hstore(tmp_path: Path) -> MemoryStore:
    return MemoryStore(Settings(data_dir=str(tmp_path / "home")), HashEmbedder())


def answer(messages: list[dict[str, str]], response_format: dict[str, Any] | None) -> str:
    """A well-behaved model: replies, enrichment, and a link + evolve decision on the first neighbour."""
    if response_format is None:
        return "Biscuit is the name of your sister's dog."
    props = response_format["schema"]["properties"]
    if "keywords" in props:
        return enrichment(["dog"], "A note about a dog.", ["pets"])
    first = offered_ids(response_format)[0]
    return json.dumps({"links": [{"id": first, "reason": "both about the dog"}],
                       "evolve": [{"id": first, "context": "Carla's dog Biscuit.", "tags": ["pets"]}]})


@pytest.fixture
def writer():
    w = MemoryWriter()
    yield w
    w.stop()


def test_writer_status_flow_and_note_written(hstore: MemoryStore, writer: MemoryWriter) -> None:
    s = hstore.settings
    seed = MemoryPipeline(hstore, s).add_many([NewItem("Carla adopted a puppy named Biscuit.")]).note_ids[0]
    llm = ScriptedLLM(default=answer)  # type: ignore[arg-type]
    seen: list[str] = []
    job_id = writer.submit(MemoryPipeline(hstore, s, llm), "Biscuit the dog learned to sit.", source="chat",
                           source_ref="c" * 32, on_done=lambda j: seen.append(j.state))
    job = writer.wait(job_id, 60)
    assert job is not None and job.state == "done", job
    assert job.stages == ["queued", "enriching", "linking", "evolved 1", "done"]
    assert job.links == [seed] and job.evolved == [seed] and job.llm_calls == 2
    assert seen == ["done"]
    note = hstore.get(job.note_id)
    assert (note.content, note.source, note.source_ref) == ("Biscuit the dog learned to sit.", "chat", "c" * 32)
    assert note.link_targets == [seed]
    assert hstore.get(seed).context == "Carla's dog Biscuit."
    assert writer.pending() == 0 and [j.id for j in writer.jobs("c" * 32)] == [job_id]


class ExplodingPipeline:
    settings = None
    _llm = None

    def add(self, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError("disk on fire")


def test_failed_jobs_do_not_stop_the_worker(hstore: MemoryStore, writer: MemoryWriter) -> None:
    llm = ScriptedLLM(default=answer)  # type: ignore[arg-type]
    pipe = MemoryPipeline(hstore, hstore.settings, llm)
    empty = writer.submit(pipe, "   ")
    boom = writer.submit(ExplodingPipeline(), "x", on_done=lambda j: 1 / 0)  # a broken callback too
    too_long = writer.submit(pipe, "y" * (MAX_CONTENT_CHARS + 1))
    ok = writer.submit(pipe, "A good note after three bad ones.")
    results = {name: writer.wait(jid, 60) for name, jid in
               (("empty", empty), ("boom", boom), ("too_long", too_long), ("ok", ok))}
    assert results["empty"].state == "failed" and "cannot be empty" in results["empty"].error
    assert results["boom"].state == "failed" and "RuntimeError: disk on fire" in results["boom"].error
    assert results["too_long"].state == "failed" and "at most" in results["too_long"].error
    assert results["ok"].state == "done" and results["ok"].note_id in hstore
    assert len(hstore) == 1


def test_queued_write_waits_while_a_reply_streams(hstore: MemoryStore, writer: MemoryWriter) -> None:
    llm = ScriptedLLM(default=answer)  # type: ignore[arg-type]
    with writer.gate.replying():
        job_id = writer.submit(MemoryPipeline(hstore, hstore.settings, llm), "The dog note is written after the reply.")
        time.sleep(0.5)
        job = writer.job(job_id)
        assert job.state == "queued" and job.paused
        assert llm.calls == []  # the model was left to the reply
    job = writer.wait(job_id, 60)
    assert job.state == "done" and not job.paused and len(llm.calls) == 1


class LockedLLM(ScriptedLLM):
    """Like LocalLLM: one call at a time under a lock; records when each call held the model."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._lock = threading.Lock()
        self.events: list[tuple[str, float, float]] = []

    def _complete(self, messages, max_tokens, temperature, response_format, stream):  # type: ignore[override]
        if stream:
            return super()._complete(messages, max_tokens, temperature, response_format, stream)
        with self._lock:
            started = time.monotonic()
            time.sleep(0.15)
            out = super()._complete(messages, max_tokens, temperature, response_format, stream)
            self.events.append(("write", started, time.monotonic()))
            return out

    def _pieces(self, raw_stream: Any):  # type: ignore[override]
        with self._lock:
            started = time.monotonic()
            yield from super()._pieces(raw_stream)
            self.events.append(("reply", started, time.monotonic()))


def test_reply_waits_for_at_most_the_write_call_under_way(hstore: MemoryStore, writer: MemoryWriter,
                                                          tmp_path: Path) -> None:
    llm = LockedLLM(default=answer)
    s = hstore.settings.replace(remember_chat=False)
    MemoryPipeline(hstore, s).add_many([NewItem("Carla adopted a dog.")])  # so every write makes two calls
    session = ChatSession(hstore, s, llm, ConversationStore(tmp_path), writer)
    pipe = MemoryPipeline(hstore, s, llm)
    jobs = [writer.submit(pipe, f"The dog note number {i}.") for i in range(4)]
    deadline = time.monotonic() + 30
    while not llm.calls and time.monotonic() < deadline:  # the first write is talking to the model
        time.sleep(0.01)
    reply = session.reply(None, "hello there")
    marks: list[float] = []
    real_replying = writer.gate.replying

    def replying() -> Any:
        marks.append(time.monotonic())
        return real_replying()

    writer.gate.replying = replying  # type: ignore[method-assign]
    text = "".join(reply)
    asked = marks[0]
    assert text == "Biscuit is the name of your sister's dog."
    assert writer.wait_idle(60)
    assert all(writer.job(j).state == "done" for j in jobs)
    (_, reply_start, reply_end), = [e for e in llm.events if e[0] == "reply"]
    writes = [e for e in llm.events if e[0] == "write"]
    assert len(writes) == 8
    # While the reply was wanted, no write call started: it waited at most for the one under way.
    assert not [w for w in writes if asked < w[1] < reply_end], (asked, reply_start, writes)
    assert sum(1 for w in writes if w[2] > asked and w[1] < reply_start) <= 1


# ---- a chat turn ---------------------------------------------------------------------------------------
def test_chat_turn_recalls_streams_saves_and_remembers(hstore: MemoryStore, writer: MemoryWriter,
                                                       tmp_path: Path) -> None:
    s = hstore.settings
    ids = MemoryPipeline(hstore, s).add_many([NewItem("My sister Carla adopted a puppy named Biscuit.",
                                                      timestamp="2024-02-03T09:00:00+00:00"),
                                              NewItem("The budget review is on Friday.")]).note_ids
    llm = ScriptedLLM(default=answer)  # type: ignore[arg-type]
    convs = ConversationStore(tmp_path / "chat")
    session = ChatSession(hstore, s, llm, convs, writer)
    with pytest.raises(InputError):
        session.reply(None, "   ")
    reply = session.reply(None, "What is the name of Carla's puppy?", k=2, temperature=0.1, max_tokens=50)
    assert reply.recalled[0].id == ids[0]
    system = reply.plan.messages[0]["content"]
    assert f"[note {ids[0][:8]}, 2024-02-03 09:00] My sister Carla" in system
    # the person's message is saved before the reply starts
    assert [m["role"] for m in convs.load(reply.conversation_id).messages] == ["user"]
    assert hstore.get(ids[0]).retrieval_count == 0  # counted after the reply, not before it
    text = "".join(reply)
    assert text == "Biscuit is the name of your sister's dog." == reply.message["content"]
    reply.touch_thread.join(30)
    assert hstore.get(ids[0]).retrieval_count == 1 and hstore.get(ids[0]).last_accessed
    assert reply.job_id
    job = writer.wait(reply.job_id, 60)
    assert job.state == "done"
    note = hstore.get(job.note_id)
    assert note.content == exchange_text("What is the name of Carla's puppy?", text)
    assert (note.source, note.source_ref) == ("chat", reply.conversation_id)
    saved = convs.load(reply.conversation_id)
    user, assistant = saved.messages
    assert user["content"] == "What is the name of Carla's puppy?"
    assert [r["id"] for r in assistant["recalled"]][0] == ids[0]
    assert assistant["recalled"][0]["reasons"] and assistant["prompt"]["notes_used"][0] == ids[0]
    assert assistant["usage"]["completion_tokens"] > 0 and assistant["temperature"] == 0.1
    assert assistant["memory"]["state"] == "done" and assistant["memory"]["note_id"] == job.note_id
    assert saved.title == "What is the name of Carla's puppy?"

    # the second turn carries the first as history
    second = session.reply(saved.id, "And her budget?", k=0)
    assert second.plan.messages[1:] == [
        {"role": "user", "content": "What is the name of Carla's puppy?"},
        {"role": "assistant", "content": text}, {"role": "user", "content": "And her budget?"}]
    assert second.recalled == []
    "".join(second)
    assert writer.wait_idle(60)


def test_remember_off_interrupted_and_failed_replies_are_not_written(hstore: MemoryStore, writer: MemoryWriter,
                                                                     tmp_path: Path) -> None:
    llm = ScriptedLLM(default=answer)  # type: ignore[arg-type]
    convs = ConversationStore(tmp_path / "chat")
    session = ChatSession(hstore, hstore.settings, llm, convs, writer)
    off = session.reply(None, "do not remember this", remember=False)
    assert "".join(off) and off.job_id == "" and "memory" not in off.message
    assert convs.load(off.conversation_id).remember is False

    cut = session.reply(None, "interrupt me")
    pieces = cut.pieces()
    next(pieces)
    pieces.close()
    saved = convs.load(cut.conversation_id).messages[-1]
    assert saved["interrupted"] and saved["content"] == cut.text and "memory" not in saved
    assert cut.job_id == ""

    broken = ScriptedLLM([RuntimeError("model crashed")], default=answer)  # type: ignore[arg-type]
    failing = ChatSession(hstore, hstore.settings, broken, convs, writer).reply(None, "fail please")
    assert "".join(failing) == ""
    assert "model crashed" in failing.error and failing.job_id == ""
    saved = convs.load(failing.conversation_id).messages[-1]
    assert "model crashed" in saved["error"]
    # failed and interrupted replies are not sent back to the model as history
    follow = session.reply(cut.conversation_id, "next")
    assert [m["content"] for m in follow.plan.messages[1:]] == ["interrupt me", "next"]
    "".join(follow)
    assert writer.wait_idle(60)
    assert len(hstore) == 1  # only the completed, remembered exchange ("next")


def test_remember_this_stores_a_manual_note(hstore: MemoryStore, writer: MemoryWriter, tmp_path: Path) -> None:
    llm = ScriptedLLM(default=answer)  # type: ignore[arg-type]
    convs = ConversationStore(tmp_path / "chat")
    session = ChatSession(hstore, hstore.settings, llm, convs, writer)
    reply = session.reply(None, TRICKY[0], remember=False)
    "".join(reply)
    user_msg = convs.load(reply.conversation_id).messages[0]
    job_id = session.remember(user_msg["content"], conversation_id=reply.conversation_id,
                              message_id=user_msg["id"], source="manual")
    job = writer.wait(job_id, 60)
    assert job.state == "done"
    note = hstore.get(job.note_id)
    assert note.content == TRICKY[0] and note.source == "manual"
    assert note.history[0].by == "person"
    remembered = convs.load(reply.conversation_id).messages[0]["remembered"]
    assert remembered["state"] == "done" and remembered["note_id"] == job.note_id
