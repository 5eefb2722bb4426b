"""memory_core.chat with a scripted LLM: prompt fitting, the conversation files, the background writer.

The scripted LLM goes through the real ``_Base`` (fit_messages, stream, structured); the store is
real (Chroma in tmp_path) with the cheap HashEmbedder. The real model is exercised by
tests/pages/test_chat_page.py.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from fakes import ScriptedLLM, enrichment, offered_ids

from memory_core.chat import (
    ChatSession,
    ConversationStore,
    MemoryWriter,
    Recalled,
    WriteJob,
    build_prompt,
    make_title,
    new_message,
)
from memory_core.chat.prompt import (
    HISTORY_CHARS,
    HISTORY_MESSAGES,
    MAX_NOTES,
    MEMORY_SYSTEM,
    SYSTEM_PROMPT,
    is_question,
    note_line,
    persons_words,
)
from memory_core.errors import InputError, NotFoundError, StoreError
from memory_core.memory.pipeline import MemoryPipeline, NewItem
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


# ---- the prompt ----------------------------------------------------------------------------------------
def test_a_question_gets_the_memory_form_with_the_top_notes_quoted_and_the_question_last() -> None:
    llm = ScriptedLLM(n_ctx=4096)
    notes = [recalled(i, words=8) for i in range(6)]
    hist = history(9, words=5)
    plan = build_prompt(llm, "What did I do in March?", notes, hist, max_tokens=100, today="2024-04-01")

    assert plan.form == "memory" and plan.memory_answer
    assert plan.messages[0] == {"role": "system", "content": MEMORY_SYSTEM}
    # Only the few top notes are offered, most relevant first; the rest are not dropped for room.
    assert plan.notes_used == [n.id for n in notes[:MAX_NOTES]] and not plan.notes_dropped
    assert plan.notes_beyond == len(notes) - MAX_NOTES
    assert [n.in_prompt for n in notes] == [i < MAX_NOTES for i in range(len(notes))]
    turn = plan.messages[-1]
    assert turn["role"] == "user"
    lines = turn["content"].split("\n")
    assert lines[:MAX_NOTES] == [f'On {n.timestamp[:10]} I told you: "{n.content}"' for n in notes[:MAX_NOTES]]
    assert lines[MAX_NOTES:] == ["Question: What did I do in March?", "Answer in one short sentence."]
    # A short history: the newest messages, contiguous, starting with the person.
    kept = plan.messages[1:-1]
    assert 0 < len(kept) <= HISTORY_MESSAGES and kept == hist[len(hist) - len(kept):] and kept[0]["role"] == "user"
    assert plan.prompt_tokens == cost(llm, plan.messages) <= plan.budget


def test_a_clear_winner_goes_alone_close_calls_go_together() -> None:
    llm = ScriptedLLM(n_ctx=4096)
    notes = [recalled(i, words=8) for i in range(3)]
    for note, score in zip(notes, (1.0, 0.5, 0.2), strict=True):
        note.score = score
    assert build_prompt(llm, "Where do I live?", notes, [], max_tokens=50).notes_used == [notes[0].id]
    notes[1].score = 0.8
    plan = build_prompt(llm, "Where do I live?", notes, [], max_tokens=50)
    assert plan.notes_used == [notes[0].id, notes[1].id] and plan.notes_beyond == 1  # not offered: not dropped
    assert build_prompt(llm, "Where do I live?", notes, [], max_tokens=50, keep_ratio=0.0).notes_used == [
        n.id for n in notes]


def test_a_corrected_note_is_not_given_beside_its_correction() -> None:
    llm = ScriptedLLM(n_ctx=4096)
    new, old, other = (recalled(i, words=8) for i in range(3))
    old.superseded_by = new.id
    old.score = other.score = new.score  # close calls: without the correction all three would go
    plan = build_prompt(llm, "Where does my brother live now?", [new, old, other], [], max_tokens=50)
    assert plan.notes_used == [new.id, other.id] and not old.in_prompt and plan.notes_beyond == 1
    assert old.content not in plan.messages[-1]["content"]
    # Alone (its correction not recalled), an old note is still what the person told: it is given.
    assert build_prompt(llm, "Where does my brother live now?", [old, other], [], max_tokens=50).notes_used == [
        old.id, other.id]
    # A correction of one thing leaves the rest of the old note: asked about that, the old note goes too.
    lena_then, lena_now = recalled(5, words=8), recalled(6, words=8)
    lena_then.content, lena_now.content = "My sister Lena lives in Porto and works as a dentist.", \
        "Actually Lena moved to Lisbon last month."
    lena_then.superseded_by = lena_now.id
    assert build_prompt(llm, "What does Lena do for work?", [lena_now, lena_then], [], max_tokens=50,
                        keep_ratio=0.0).notes_used == [lena_now.id, lena_then.id]
    assert build_prompt(llm, "Where does my sister live?", [lena_now, lena_then], [], max_tokens=50,
                        keep_ratio=0.0).notes_used == [lena_now.id]
    # Asked how things were before the change, the replaced note is the answer: both go, dated.
    for asked in ("Where did my brother live before?", "Where did my brother live at first?"):
        assert build_prompt(llm, asked, [new, old, other], [], max_tokens=50).notes_used == [new.id, old.id, other.id]


def test_a_statement_gets_the_chat_form_with_notes_in_the_system_text() -> None:
    llm = ScriptedLLM(n_ctx=4096)
    notes = [recalled(i, words=8) for i in range(2)]
    plan = build_prompt(llm, "I went hiking today.", notes, [], max_tokens=100, today="2024-04-01")
    assert plan.form == "chat" and not plan.memory_answer
    system = plan.messages[0]["content"]
    assert system.startswith(SYSTEM_PROMPT) and "Today is 2024-04-01" in system
    assert all(f'- {n.timestamp[:10]}: "{n.content}"' in system for n in notes)
    assert plan.messages[-1] == {"role": "user", "content": "I went hiking today."}
    nothing = build_prompt(llm, "What is my dog's name?", [], [], max_tokens=100)
    assert nothing.form == "chat" and nothing.messages[-1]["content"] == "What is my dog's name?"


def test_prompt_fits_by_dropping_history_then_the_least_relevant_notes() -> None:
    llm = ScriptedLLM(n_ctx=500)
    notes = [recalled(i, words=120) for i in range(3)]
    plan = build_prompt(llm, "What did I do?", notes, history(6, words=40), max_tokens=64)
    assert plan.prompt_tokens == cost(llm, plan.messages) <= plan.budget
    assert not llm.fit_messages(plan.messages, plan.reply_tokens)[1].trimmed
    assert plan.history_used == 0 and plan.history_dropped == 6
    assert plan.notes_used and plan.notes_used == [n.id for n in notes[:len(plan.notes_used)]]
    assert plan.notes_dropped == [n.id for n in notes[len(plan.notes_used):]] and plan.dropped_anything


def test_long_message_is_cut_in_the_middle_only_in_the_prompt() -> None:
    llm = ScriptedLLM(n_ctx=512)
    message = "START " + " ".join(f"w{i}" for i in range(5000)) + " END"
    plan = build_prompt(llm, message, [recalled(0)], history(4), max_tokens=64)
    sent = plan.messages[-1]["content"]
    assert plan.truncated_chars == len(message) - len(sent) > 0
    assert sent.startswith("START w0 w1") and sent.endswith("w4999 END") and "[...]" in sent
    assert plan.prompt_tokens <= plan.budget
    assert not llm.fit_messages(plan.messages, plan.reply_tokens)[1].trimmed


@pytest.mark.parametrize(("text", "question"), [
    ("What is my dog's name?", True), ("where do I work", True), ("Remind me of my sister's city", True),
    ("My dog is called Biscuit.", False), ("ok thanks", False), ("Whatever.", False)])
def test_is_question(text: str, question: bool) -> None:
    assert is_question(text) is question


def test_old_exchange_notes_offer_only_the_persons_words() -> None:
    assert persons_words("Person: My dog is Biscuit.\nMemex: Hiya, I'm Maya!") == "My dog is Biscuit."
    assert persons_words("My dog is Biscuit.") == "My dog is Biscuit."
    note = recalled(0)
    note.content = "Person: I live in Porto.\nMemex: Porto is lovely."
    assert "Memex" not in note_line(note) and "Porto is lovely" not in note_line(note)


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


CONV = "c" * 32


def test_writer_status_flow_and_note_written(hstore: MemoryStore, writer: MemoryWriter) -> None:
    s = hstore.settings
    seed = MemoryPipeline(hstore, s).add_many([NewItem("Carla adopted a puppy named Biscuit.")]).note_ids[0]
    llm = ScriptedLLM(default=answer)  # type: ignore[arg-type]
    seen: list[str] = []
    job_id = writer.submit(MemoryPipeline(hstore, s, llm), "Biscuit the dog learned to sit.", source="chat",
                           source_ref=CONV, message_id="m1", turn_context="(2024-03-01)\nPerson: hi",
                           on_done=lambda j: seen.append(j.state))
    queued = writer.job(job_id)
    assert queued.label == "“Biscuit the dog learned to sit.”" and queued.message_id == "m1"
    job = writer.wait(job_id, 60)
    assert job is not None and job.state == "done", job
    assert job.stages[0] == "queued" and "enriching" in job.stages and job.stages[-1] == "done"
    assert job.outcome["status"] == "stored" and job.note_id == job.outcome["note_id"]
    assert "report" not in job.outcome and seed in job.links
    assert seen == ["done"]
    note = hstore.get(job.note_id)
    assert note.content == "Biscuit the dog learned to sit." and note.speaker == "person"
    assert (note.conversation_id, note.message_id) == (CONV, "m1")
    assert note.turn_context == "(2024-03-01)\nPerson: hi"
    assert writer.pending() == 0 and [j.id for j in writer.jobs(CONV)] == [job_id]


class ExplodingPipeline:
    settings = None
    _llm = None

    def __init__(self, failures: int = 99) -> None:
        self.failures = failures
        self.log: list[int] = []  # shared by the copies the writer makes

    @property
    def calls(self) -> int:
        return len(self.log)

    def remember_turn(self, *args: Any, **kwargs: Any) -> Any:
        self.log.append(1)
        if self.calls <= self.failures:
            raise RuntimeError("disk on fire")
        from memory_core.memory.outcome import RememberOutcome

        return RememberOutcome("stored", note_id="n" * 8)


def test_failed_writes_are_retried_then_reported_and_do_not_stop_the_worker(hstore: MemoryStore,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    # as many callback retries as the writer makes, without its 4 s of pauses per failing callback
    monkeypatch.setattr("memory_core.chat.writer.CALLBACK_RETRIES", (0.01, 0.01, 0.01))
    writer = MemoryWriter(retry_delays=(0.05, 0.05))
    try:
        llm = ScriptedLLM(default=answer)  # type: ignore[arg-type]
        pipe = MemoryPipeline(hstore, hstore.settings, llm)
        states: list[str] = []
        empty = writer.submit(pipe, "   ")
        flaky_pipe = ExplodingPipeline(failures=2)
        flaky = writer.submit(flaky_pipe, "x", on_done=lambda j: states.append(j.state))
        broken_pipe = ExplodingPipeline()
        callback_broken = [True]

        def record(job: WriteJob) -> None:
            if callback_broken[0]:
                raise ZeroDivisionError("division by zero")

        broken = writer.submit(broken_pipe, "y", on_done=record)  # a broken callback too
        ok = writer.submit(pipe, "A good note after the bad ones.")
        results = {name: writer.wait(jid, 60) for name, jid in
                   (("empty", empty), ("flaky", flaky), ("broken", broken), ("ok", ok))}
        # bad input is not retried; a failing write is retried, and reported on its message meanwhile
        assert results["empty"].state == "failed" and "cannot be empty" in results["empty"].error
        assert results["flaky"].state == "done" and flaky_pipe.calls == 3
        assert states == ["retrying", "retrying", "done"]
        assert results["broken"].state == "failed" and broken_pipe.calls == 3 == results["broken"].attempts
        assert "RuntimeError: disk on fire" in results["broken"].error
        assert results["ok"].state == "done" and results["ok"].note_id in hstore
        # "Retry" runs a failed write again; a write done but not recorded (its callback keeps failing,
        # after retries of its own) is shown as failed, never left "queued"
        broken_pipe.log.clear()
        broken_pipe.failures = 0
        assert writer.retry(broken)
        unrecorded = writer.wait(broken, 60)
        assert unrecorded.state == "failed" and broken_pipe.calls == 1
        assert "stored, but the conversation could not be updated" in unrecorded.error
        assert "ZeroDivisionError" in unrecorded.error
        callback_broken[0] = False
        assert writer.retry(broken) and writer.wait(broken, 60).state == "done"
        assert not writer.retry(ok)
    finally:
        writer.stop()


def test_queued_write_waits_while_a_reply_streams(hstore: MemoryStore, writer: MemoryWriter) -> None:
    llm = ScriptedLLM(default=answer)  # type: ignore[arg-type]
    with writer.gate.replying():
        job_id = writer.submit(MemoryPipeline(hstore, hstore.settings, llm), "The dog note is written after the reply.")
        time.sleep(0.5)
        job = writer.job(job_id)
        assert job.state == "queued" and job.paused
        assert llm.calls == []  # the model was left to the reply
    job = writer.wait(job_id, 60)
    assert job.state == "done" and not job.paused and len(llm.calls) >= 1


class SlowLLM(ScriptedLLM):
    """Like LocalLLM: one generation at a time under a lock, a token every 20 ms; logs what held the model."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._lock = threading.Lock()
        self.events: list[tuple[str, float, float, int]] = []  # (kind, start, end, pieces)
        self.writing = threading.Event()

    def _complete(self, messages, max_tokens, temperature, response_format, stream):  # type: ignore[override]
        text = super()._complete(messages, max_tokens, temperature, response_format, True)
        return (text, response_format is not None)

    def _pieces(self, raw_stream: Any):  # type: ignore[override]
        text, is_write = raw_stream
        kind = "write" if is_write else "reply"
        n = 0
        with self._lock:
            started = time.monotonic()
            if is_write:
                self.writing.set()
            try:
                for piece in super()._pieces(text * (8 if is_write else 1)):
                    time.sleep(0.02)
                    n += 1
                    yield piece
            finally:
                self.writing.clear()
                self.events.append((kind, started, time.monotonic(), n))


def test_a_reply_interrupts_the_write_call_in_flight_at_its_next_token(hstore: MemoryStore, writer: MemoryWriter,
                                                                       tmp_path: Path) -> None:
    llm = SlowLLM(default=answer)
    s = hstore.settings.replace(remember_chat=False)
    session = ChatSession(hstore, s, llm, ConversationStore(tmp_path), writer)
    job_id = writer.submit(MemoryPipeline(hstore, s, llm), "My dog Biscuit is afraid of thunderstorms.")
    assert llm.writing.wait(30)  # the write is generating
    time.sleep(0.1)
    asked = time.monotonic()
    reply = session.reply(None, "hello there")
    text = reply.consume()
    assert text == "Biscuit is the name of your sister's dog."
    (_, reply_start, reply_end, _), = [e for e in llm.events if e[0] == "reply"]
    interrupted = [e for e in llm.events if e[0] == "write" and e[2] <= reply_start]
    # The write in flight stopped at a token (one 20 ms token, not the rest of its long answer) ...
    assert interrupted and reply_start - asked < 0.5, (reply_start - asked, llm.events)
    # ... no write call ran while the reply streamed, and the write ran again afterwards, whole.
    assert not [e for e in llm.events if e[0] == "write" and reply_start < e[1] < reply_end]
    job = writer.wait(job_id, 60)
    assert job.state == "done" and job.interruptions >= 1 and job.outcome["status"] == "stored"
    assert hstore.get(job.note_id).content == "My dog Biscuit is afraid of thunderstorms."


def test_the_queue_can_be_cancelled_queued_or_running(hstore: MemoryStore, writer: MemoryWriter) -> None:
    llm = SlowLLM(default=answer)
    pipe = MemoryPipeline(hstore, hstore.settings, llm)
    running = writer.submit(pipe, "My sister Lena lives in Porto.", source_ref=CONV)
    queued = writer.submit(pipe, "I work as a nurse at the city hospital.", source_ref=CONV)
    assert llm.writing.wait(30)
    assert [j.id for j in writer.queue_view()] == [running, queued]
    assert writer.cancel(queued)
    assert writer.job(queued).state == "cancelled"
    assert writer.cancel(running)
    assert writer.wait(running, 30).state == "cancelled"
    assert writer.wait_idle(30) and not writer.queue_view()
    assert len(hstore) == 0  # neither was stored
    assert not writer.cancel(running)  # already over


# ---- a chat turn ---------------------------------------------------------------------------------------
def test_chat_turn_recalls_streams_saves_and_remembers_the_persons_words(hstore: MemoryStore, writer: MemoryWriter,
                                                                          tmp_path: Path) -> None:
    s = hstore.settings
    ids = MemoryPipeline(hstore, s).add_many([NewItem("My sister Carla adopted a puppy named Biscuit.",
                                                      timestamp="2024-02-03T09:00:00+00:00"),
                                              # (no word shared with the question: the fake embedder's bag of
                                              # words would make it as close as the puppy, a tie the newer wins)
                                              NewItem("Budget review on Friday.")]).note_ids
    llm = ScriptedLLM(default=answer)  # type: ignore[arg-type]
    convs = ConversationStore(tmp_path / "chat")
    session = ChatSession(hstore, s, llm, convs, writer)
    with pytest.raises(InputError):
        session.reply(None, "   ")
    reply = session.reply(None, "What is the name of Carla's puppy?", k=2, temperature=0.7, max_tokens=50)
    assert reply.recalled[0].id == ids[0] and reply.plan.form == "memory"
    turn = reply.plan.messages[-1]["content"]
    assert turn.startswith('On 2024-02-03 I told you: "My sister Carla adopted a puppy named Biscuit."')
    assert turn.endswith("Question: What is the name of Carla's puppy?\nAnswer in one short sentence.")
    # the person's message is saved before the reply starts
    assert [m["role"] for m in convs.load(reply.conversation_id).messages] == ["user"]
    assert hstore.get(ids[0]).retrieval_count == 0  # counted after the reply, not before it
    text = "".join(reply)
    assert text == "Biscuit is the name of your sister's dog." == reply.message["content"]
    assert llm.calls[0]["response_format"] is None
    reply.touch_thread.join(30)
    assert hstore.get(ids[0]).retrieval_count == 1
    job = writer.wait(reply.job_id, 60)
    assert job.state == "done" and job.outcome["status"] == "not_stored"  # a bare question is not a note
    saved = convs.load(reply.conversation_id)
    user, assistant = saved.messages
    assert user["memory"]["state"] == "done" and user["memory"]["status"] == "not_stored"
    assert user["memory"]["reason"]
    # the reply keeps the trace of what was recalled, with the query (the Graph page draws it)
    first = assistant["recalled"][0]
    assert first["id"] == ids[0] and first["rank"] == 1 and first["query"] == user["content"]
    assert first["reasons"] and isinstance(first["signals"], dict) and first["in_prompt"]
    assert first["text"] == "My sister Carla adopted a puppy named Biscuit."
    assert assistant["query"] == user["content"] and assistant["reply_to"] == user["id"]
    assert assistant["temperature"] == 0.0  # a memory answer is decoded greedily
    assert "memory" not in assistant  # a reply is never remembered

    # the second turn: the first as history; its words are stored, with the first turn as context
    second = session.reply(saved.id, "My sister Carla also has a cat called Miso.", k=0)
    assert second.plan.messages[1:] == [
        {"role": "user", "content": "What is the name of Carla's puppy?"},
        {"role": "assistant", "content": text}, {"role": "user", "content": "My sister Carla also has a cat called Miso."}]
    second.consume()
    job = writer.wait(second.job_id, 60)
    assert job.state == "done" and job.outcome["status"] == "stored"
    note = hstore.get(job.note_id)
    assert note.content == "My sister Carla also has a cat called Miso."  # the person's words, no reply
    assert note.speaker == "person" and note.conversation_id == saved.id
    assert note.message_id == second.user_message["id"]
    # its retrieval context: the person's previous words and the date, never the reply (issue 24)
    assert note.turn_context.endswith("\nPerson: What is the name of Carla's puppy?")
    assert text not in note.turn_context and "Memex" not in note.turn_context
    assert note.turn_context.startswith("(" + second.user_message["at"][:10] + ")")
    assert convs.load(saved.id).messages[2]["memory"]["note_id"] == note.id


def test_the_persons_words_are_remembered_whatever_became_of_the_reply(hstore: MemoryStore, writer: MemoryWriter,
                                                                        tmp_path: Path) -> None:
    llm = ScriptedLLM(default=answer)  # type: ignore[arg-type]
    convs = ConversationStore(tmp_path / "chat")
    session = ChatSession(hstore, hstore.settings, llm, convs, writer)
    off = session.reply(None, "My locker code is 4312.", remember=False)
    assert off.consume() and off.job_id == ""
    assert convs.load(off.conversation_id).remember is False
    user = convs.load(off.conversation_id).messages[0]
    assert user["memory"]["state"] == "off" and "off" in user["memory"]["reason"]

    cut = session.reply(None, "I play the cello in an orchestra.")
    pieces = cut.pieces()
    next(pieces)
    pieces.close()
    saved = convs.load(cut.conversation_id).messages[-1]
    assert saved["interrupted"] and saved["content"] == cut.text
    assert cut.job_id

    broken = ScriptedLLM([RuntimeError("model crashed")], default=answer)  # type: ignore[arg-type]
    failing = ChatSession(hstore, hstore.settings, broken, convs, writer).reply(None, "I keep bees on my roof.")
    assert failing.consume() == ""
    assert "model crashed" in failing.error and failing.job_id
    assert "model crashed" in convs.load(failing.conversation_id).messages[-1]["error"]
    # failed and interrupted replies are not sent back to the model as history
    follow = session.reply(cut.conversation_id, "ok thanks")
    assert [m["content"] for m in follow.plan.messages[1:]] == ["I play the cello in an orchestra.", "ok thanks"]
    follow.consume()
    assert writer.wait_idle(60)
    assert sorted(n.content for n in hstore.all_notes()) == ["I keep bees on my roof.",
                                                             "I play the cello in an orchestra."]


def test_remember_this_stores_a_turn_that_was_not_stored(hstore: MemoryStore, writer: MemoryWriter,
                                                          tmp_path: Path) -> None:
    llm = ScriptedLLM(default=answer)  # type: ignore[arg-type]
    convs = ConversationStore(tmp_path / "chat")
    session = ChatSession(hstore, hstore.settings, llm, convs, writer)
    reply = session.reply(None, "ok thanks")
    reply.consume()
    assert writer.wait(reply.job_id, 60).outcome["status"] == "not_stored"
    user_msg, assistant = convs.load(reply.conversation_id).messages
    with pytest.raises(InputError):
        session.remember_message(reply.conversation_id, assistant["id"], force=True)  # never a reply
    job = writer.wait(session.remember_message(reply.conversation_id, user_msg["id"], force=True), 60)
    assert job.state == "done" and job.outcome["status"] == "stored"
    assert hstore.get(job.note_id).content == "ok thanks"
    memory = convs.load(reply.conversation_id).messages[0]["memory"]
    assert memory["status"] == "stored" and memory["force"] is True and memory["note_id"] == job.note_id


def test_a_write_lost_with_the_app_is_queued_again(hstore: MemoryStore, writer: MemoryWriter, tmp_path: Path) -> None:
    llm = ScriptedLLM(default=answer)  # type: ignore[arg-type]
    convs = ConversationStore(tmp_path / "chat")
    session = ChatSession(hstore, hstore.settings, llm, convs, writer)
    conv = convs.new()
    msg = new_message("user", "My horse is named Thunder.", memory={"state": "enriching", "job": "w1-gone"})
    convs.append(conv.id, msg, create=conv)
    jobs = session.resume_pending()
    assert len(jobs) == 1 and writer.wait(jobs[0], 60).state == "done"
    assert convs.load(conv.id).messages[0]["memory"]["status"] == "stored"
    assert session.resume_pending() == []


def test_a_reply_cut_at_the_token_limit_is_marked_and_can_be_continued(hstore: MemoryStore, writer: MemoryWriter,
                                                                        tmp_path: Path) -> None:
    long_text = " ".join(f"w{i}" for i in range(30))
    llm = ScriptedLLM([long_text, "and the end."], default=answer)  # type: ignore[list-item]
    convs = ConversationStore(tmp_path / "chat")
    session = ChatSession(hstore, hstore.settings.replace(remember_chat=False), llm, convs, writer)
    reply = session.reply(None, "Tell me a long story", max_tokens=10, remember=False)
    reply.consume()
    assert reply.stopped_at_limit and reply.message["stopped_at_limit"]
    more = session.continue_reply(reply.conversation_id, reply.message["id"], max_tokens=50)
    assert more.plan.messages[-2] == {"role": "assistant", "content": reply.text}
    more.consume()
    saved = convs.load(reply.conversation_id).messages
    assert len(saved) == 2 and saved[1]["content"] == reply.text + "and the end."
    assert "stopped_at_limit" not in saved[1]


def test_the_planted_facts_set_ships_and_each_answer_is_in_its_fact() -> None:
    from memory_core.bench.answers import answered, planted_facts

    facts = planted_facts()
    assert len(facts) >= 30
    assert len({f["question"] for f in facts}) == len(facts)
    for f in facts:
        assert answered(f["fact"], f["expect"]), f  # the fact told holds the expected words
        assert not answered(f["question"], f["expect"]), f  # and the question does not give them away
    assert answered("Your dog is called BISCUIT.", ["Biscuit"]) and not answered("No idea.", ["Biscuit"])


class BlockingPipeline(ExplodingPipeline):
    """A fast (no model) store that waits as it starts, before its first progress step, until released."""

    def __init__(self) -> None:
        super().__init__(failures=0)
        import threading

        self.entered, self.release = threading.Event(), threading.Event()

    def __copy__(self) -> BlockingPipeline:  # the writer copies the pipeline as the job starts: wait there
        self.entered.set()
        self.release.wait(30)
        return self


def test_cancelling_a_store_the_worker_already_runs_never_reports_a_stored_note_as_cancelled() -> None:
    writer = MemoryWriter(retry_delays=(0.05,))
    try:
        pipe = BlockingPipeline()
        finals: list[str] = []
        job_id = writer.submit(pipe, "I keep bees.", mode="fast", on_done=lambda j: finals.append(j.state))
        assert pipe.entered.wait(30)  # the worker is inside the write, before any progress step
        assert writer.cancel(job_id)  # asked; the worker has it, so it decides
        pipe.release.set()
        job = writer.wait(job_id, 30)
        assert job is not None and job.state == "done" and job.outcome["status"] == "stored"
        assert finals == ["done"]
    finally:
        writer.stop()
