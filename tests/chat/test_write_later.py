"""A chat message is stored first, without the model, and enriched by the model later (scripted model,
hash embedder; the real model is in ``test_chat_real_write_order``).

- The note is in the store, searchable, while the model's enrichment has not even started; the
  enrichment then changes it through events that name it, recorded on the message.
- A new message is stored before a backlog of enrichment: an enrichment in its model call gives way.
- Exactly once: an enrichment committed but not recorded is adopted; one left queued by an ended
  process is done by the next; a field the person edited meanwhile is left alone.
- The plain steps the queue shows, in order.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from fakes import HashEmbedder, ScriptedLLM, enrichment

from memory_core.chat import ChatSession, ConversationStore, MemoryWriter, new_message
from memory_core.chat.enrichment import pending_enrichments
from memory_core.chat.jobs import STEPS, plain_step
from memory_core.chat.queue_report import pending_report
from memory_core.config import Settings
from memory_core.memory.enrich_later import enrich_key, enrich_stored
from memory_core.memory.pipeline import MemoryPipeline
from memory_core.store import MemoryStore

MODEL_KEYWORDS = ["lena", "porto"]
MODEL_CONTEXT = "Where the person's sister lives."


class GatedModel(ScriptedLLM):
    """Enrichment and link answers that wait for ``release``; replies answer at once. Streams a token
    every 10 ms, so a call can be interrupted at a token like the real model's."""

    def __init__(self) -> None:
        super().__init__(default=self.answer)  # type: ignore[arg-type]
        self.release = threading.Event()
        self.enriching = threading.Event()
        self.structured_calls = 0

    def answer(self, messages: list[dict[str, str]], response_format: dict[str, Any] | None) -> str:
        if response_format is None:
            return "Noted."
        self.structured_calls += 1
        self.enriching.set()
        if "keywords" in response_format["schema"]["properties"]:
            return enrichment(MODEL_KEYWORDS, MODEL_CONTEXT, ["family"])
        return json.dumps({"links": [], "evolve": []})

    def _pieces(self, raw_stream: Any):  # type: ignore[override]
        text = str(raw_stream)
        if text.startswith("{"):  # a memory call: wait until the test lets it go, a token at a time
            while not self.release.is_set():
                time.sleep(0.01)
                yield ""
        yield from super()._pieces(text)


@pytest.fixture
def chat(tmp_path: Path):
    settings = Settings(data_dir=str(tmp_path / "home"))
    writer = MemoryWriter(retry_delays=(0.05,))
    llm = GatedModel()
    session = ChatSession(MemoryStore(settings, HashEmbedder()), settings, llm, ConversationStore(settings.home),
                          writer)
    yield session
    llm.release.set()
    writer.stop()


def wait_for(check: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def enrich_job(session: ChatSession, message_id: str) -> Any:
    jobs = [j for j in session.writer.jobs() if j.kind == "enrich" and j.message_id == message_id]
    return jobs[-1] if jobs else None


def test_a_message_is_stored_before_the_model_enriches_it(chat: ChatSession) -> None:
    llm: GatedModel = chat.llm
    reply = chat.reply(None, "My sister Lena lives in Porto.")
    reply.consume()
    stored = chat.writer.wait(reply.job_id, 30)
    assert stored.state == "done" and stored.outcome["status"] == "stored", stored
    assert plain_step(stored) == "stored" and stored.stages == ["queued", "storing", "done"]
    # stored without the model: YAKE keywords, searchable, and the message says so, enrichment queued
    note = chat.store.get(stored.note_id)
    assert note.content == "My sister Lena lives in Porto." and note.keywords and note.keywords != MODEL_KEYWORDS
    from memory_core.retrieval import search

    assert [h.note.id for h in search(chat.store, chat.settings, "Lena Porto", 3)][:1] == [note.id]
    memory = chat.conversations.load(reply.conversation_id).message(reply.user_message["id"])["memory"]
    assert memory["state"] == "done" and memory["note_id"] == note.id
    assert memory["enrichment"]["state"] in ("queued", "retrying")
    wait_for(llm.enriching.is_set)  # the enrichment job's model call has started, and waits
    later = enrich_job(chat, reply.user_message["id"])
    assert later is not None and later.active and plain_step(later) == "enriching"
    assert later.started >= stored.finished
    assert not chat.store.caused_by(enrich_key(note.id))

    llm.release.set()
    done = chat.writer.wait(later.id, 30)
    assert done.state == "done" and done.outcome["status"] == "enriched", done
    enriched = chat.store.get(note.id)
    assert enriched.keywords == MODEL_KEYWORDS and enriched.context == MODEL_CONTEXT
    assert [c.by for c in enriched.history if c.field == "keywords"] == ["enricher"]
    events = chat.store.caused_by(enrich_key(note.id))
    assert {e.field for e in events} >= {"keywords", "context", "evolution"}
    assert all(e.id > e0.id for e in events for e0 in chat.store.caused_by(f"turn:{reply.conversation_id}:"
                                                                             f"{reply.user_message['id']}"))
    memory = chat.conversations.load(reply.conversation_id).message(reply.user_message["id"])["memory"]
    assert memory["state"] == "done" and memory["enrichment"]["state"] == "done"
    assert memory["enrichment"]["status"] == "enriched" and memory["enrichment"]["enrichment_source"] == "model"
    assert pending_enrichments(chat.conversations) == []


def test_new_messages_are_stored_before_a_backlog_of_enrichment(chat: ChatSession) -> None:
    llm: GatedModel = chat.llm
    first = chat.reply(None, "I keep two hives of bees on my roof.")
    first.consume()
    chat.writer.wait(first.job_id, 30)
    wait_for(llm.enriching.is_set)  # the first note's enrichment is in its model call
    told = []
    for text in ("My brother Mateus is a dentist in Curitiba.", "I play the cello on Tuesdays."):
        reply = chat.reply(first.conversation_id, text)
        reply.consume()
        job = chat.writer.wait(reply.job_id, 30)  # stored although the enrichment never finished
        assert job.state == "done" and job.outcome["status"] == "stored", job
        told.append(reply)
    oldest = enrich_job(chat, first.user_message["id"])
    assert oldest.active and oldest.state != "done"
    assert "queued" in oldest.stages[1:]  # it gave way to the stores, back to the queue
    steps = {r["message_id"]: r["state"] for r in pending_report(chat.conversations, chat.writer)}
    assert set(steps.values()) <= {"stored", "enriching"} and len(steps) == 3
    llm.release.set()
    assert chat.writer.wait_idle(60)
    for reply in (first, *told):
        memory = chat.conversations.load(first.conversation_id).message(reply.user_message["id"])["memory"]
        assert memory["enrichment"]["state"] == "done", memory
        assert memory["enrichment"]["status"] == "enriched"
    # each note enriched once: one evolution record each
    for reply in (first, *told):
        note_id = chat.conversations.load(first.conversation_id).message(reply.user_message["id"])["memory"]["note_id"]
        assert [e.field for e in chat.store.caused_by(enrich_key(note_id))].count("evolution") == 1


def test_an_ending_process_leaves_the_enrichment_queued_without_waiting_for_it(chat: ChatSession) -> None:
    reply = chat.reply(None, "My sister Lena lives in Porto.")
    reply.consume()
    assert chat.writer.wait(reply.job_id, 30).state == "done"
    wait_for(chat.llm.enriching.is_set)  # in its model call, which would never end by itself
    grace = 120.0
    started = time.monotonic()
    left = chat.writer.shutdown(grace)
    assert time.monotonic() - started < grace  # the grace is for storing, not for the model's enrichment
    assert [j.kind for j in left] == ["enrich"]
    memory = chat.conversations.load(reply.conversation_id).messages[0]["memory"]
    assert memory["state"] == "done" and memory["enrichment"]["state"] == "queued"
    assert [p.message_id for p in pending_enrichments(chat.conversations)] == [reply.user_message["id"]]


def left_for_enrichment(home: Path, text: str) -> tuple[ChatSession, str, str]:
    """A message stored by a process that ended before its enrichment ran (the store step only)."""
    settings = Settings(data_dir=str(home))
    writer = MemoryWriter()
    session = ChatSession(MemoryStore(settings, HashEmbedder()), settings, ScriptedLLM(), ConversationStore(home),
                          writer)
    conv = session.conversations.new()
    msg = new_message("user", text)
    session.conversations.append(conv.id, msg, create=conv)
    store_job = session.remember(text, conversation_id=conv.id, message_id=msg["id"], mode="fast")
    job = writer.wait(store_job, 30)
    writer.stop()
    memory = {**session.conversations.load(conv.id).message(msg["id"])["memory"], "enrichment": {"state": "queued"}}
    session.conversations.update_message(conv.id, msg["id"], memory=memory)
    return session, conv.id, job.note_id


def fresh(home: Path, llm: Any) -> ChatSession:
    settings = Settings(data_dir=str(home))
    return ChatSession(MemoryStore(settings, HashEmbedder()), settings, llm, ConversationStore(home),
                       MemoryWriter(retry_delays=(0.05,)))


def test_an_enrichment_left_queued_is_done_by_the_next_process_exactly_once(tmp_path: Path) -> None:
    home = tmp_path / "home"
    ended, conv_id, note_id = left_for_enrichment(home, "My dog Biscuit is afraid of thunderstorms.")
    assert [p.note_id for p in pending_enrichments(ended.conversations)] == [note_id]
    assert [r["state"] for r in pending_report(ended.conversations)] == ["stored"]
    model = ScriptedLLM(default=lambda m, rf: enrichment(["biscuit"], "The person's dog and storms.", ["pets"])
                        if rf and "keywords" in rf["schema"]["properties"] else '{"links": [], "evolve": []}')
    nxt = fresh(home, model)
    jobs = nxt.resume_pending()
    assert len(jobs) == 1 and nxt.writer.wait(jobs[0], 30).state == "done"
    assert nxt.store.get(note_id).keywords == ["biscuit"]
    assert nxt.resume_pending() == [] and pending_enrichments(nxt.conversations) == []
    nxt.writer.stop()


def test_an_enrichment_committed_but_not_recorded_is_adopted_not_repeated(tmp_path: Path) -> None:
    home = tmp_path / "home"
    ended, conv_id, note_id = left_for_enrichment(home, "My dog Biscuit is afraid of thunderstorms.")
    model = ScriptedLLM(default=lambda m, rf: enrichment(["biscuit"], "The person's dog and storms.", ["pets"])
                        if rf and "keywords" in rf["schema"]["properties"] else '{"links": [], "evolve": []}')
    # the earlier process committed the enrichment, then died before the message said so
    first = enrich_stored(MemoryPipeline(ended.store, ended.settings, model), note_id)
    assert first["status"] == "enriched"
    calls = len(model.calls)
    nxt = fresh(home, model)
    jobs = nxt.resume_pending()
    job = nxt.writer.wait(jobs[0], 30)
    assert job.state == "done" and job.outcome["status"] == "already" and len(model.calls) == calls
    assert [e.field for e in nxt.store.caused_by(enrich_key(note_id))].count("evolution") == 1
    memory = nxt.conversations.load(conv_id).messages[0]["memory"]
    assert memory["enrichment"]["state"] == "done" and pending_enrichments(nxt.conversations) == []
    # and a second attempt of the step itself commits nothing
    assert enrich_stored(MemoryPipeline(nxt.store, nxt.settings, model), note_id)["status"] == "already"
    nxt.writer.stop()


def test_the_enrichment_leaves_a_field_the_person_edited_and_a_deleted_note_alone(tmp_path: Path) -> None:
    home = tmp_path / "home"
    ended, conv_id, note_id = left_for_enrichment(home, "My dog Biscuit is afraid of thunderstorms.")
    ended.store.update(note_id, by="person", keywords=["my own keyword"])
    model = ScriptedLLM(default=lambda m, rf: enrichment(["biscuit"], "The person's dog and storms.", ["pets"])
                        if rf and "keywords" in rf["schema"]["properties"] else '{"links": [], "evolve": []}')
    out = enrich_stored(MemoryPipeline(ended.store, ended.settings, model), note_id)
    note = ended.store.get(note_id)
    assert out["status"] == "enriched" and note.keywords == ["my own keyword"] and note.context == "The person's dog and storms."
    ended.store.delete(note_id)
    gone = enrich_stored(MemoryPipeline(ended.store, ended.settings, model), "0" * 36)
    assert gone["status"] == "gone"


def test_the_queue_steps_are_plain_and_in_order(chat: ChatSession) -> None:
    assert STEPS == ("queued", "storing", "stored", "enriching", "enriched")
    reply = chat.reply(None, "My sister Lena lives in Porto.")
    reply.consume()
    store_job = chat.writer.wait(reply.job_id, 30)
    wait_for(chat.llm.enriching.is_set)
    later = enrich_job(chat, reply.user_message["id"])
    seen = [plain_step(s) for s in (store_job,)] + [plain_step(later)]
    assert seen == ["stored", "enriching"]
    chat.llm.release.set()
    assert plain_step(chat.writer.wait(later.id, 30)) == "enriched"
    # every step a job went through, in the order of STEPS (never backwards)
    for job in (store_job, chat.writer.job(later.id)):
        ranks = [STEPS.index(plain_step_of(job, s)) for s in job.stages]
        assert ranks == sorted(ranks), job.stages


def plain_step_of(job: Any, state: str) -> str:
    import dataclasses

    return plain_step(dataclasses.replace(job, state=state))


@pytest.mark.real_model
def test_on_the_bundled_model_a_told_sentence_is_stored_before_its_enrichment_ends(tmp_path: Path, real_llm,
                                                                                   embedder) -> None:
    """The chat's own path with SmolLM2 and MiniLM: the note is searchable when its store job ends, and
    the model's enrichment starts only after that, then updates the same note (order, not seconds:
    ``memex bench memory`` times it)."""
    from memory_core.retrieval import search
    from memory_core.store.events import CREATE

    settings = Settings(data_dir=str(tmp_path / "home"))
    writer = MemoryWriter()
    store = MemoryStore(settings, embedder)
    session = ChatSession(store, settings, real_llm, ConversationStore(settings.home), writer)
    try:
        reply = session.reply(None, "My sister Lena lives in Porto.", max_tokens=16)
        reply.consume()
        stored = writer.wait(reply.job_id, 600)
        assert stored.state == "done" and stored.outcome["status"] == "stored", stored
        assert search(store, settings, "Where does my sister Lena live?", 3)[0].note.id == stored.note_id
        later = enrich_job(session, reply.user_message["id"])
        assert later is not None and (later.started == 0.0 or later.started >= stored.finished)
        done = writer.wait(later.id, 900)
        assert done.state == "done" and done.outcome["status"] == "enriched", done
        assert stored.finished <= done.started < done.finished
        created = [e for e in store.caused_by(f"turn:{reply.conversation_id}:{reply.user_message['id']}")
                   if e.field == CREATE]
        enriched = store.caused_by(enrich_key(stored.note_id))
        assert len(created) == 1 and enriched and min(e.id for e in enriched) > created[0].id
        assert "evolution" in {e.field for e in enriched}
        memory = session.conversations.load(reply.conversation_id).messages[0]["memory"]
        assert memory["state"] == "done" and memory["enrichment"]["state"] == "done"
    finally:
        writer.stop()


def test_an_ending_process_says_what_became_of_a_write_the_reply_called_queued(capsys) -> None:
    """The reply's summary said "queued"; the write ended during the exit: the person is told it was stored."""
    from memory_core.chat.jobs import WriteJob
    from memory_core.chat.lifecycle import end_writer

    job = WriteJob(id="j1", content="My piano teacher is called Vera.", source="chat", source_ref="c1", mode="fast",
                   label="'My piano teacher is called Vera.'", state="running")

    class EndingWriter:
        def jobs(self) -> list[WriteJob]:
            return [job]

        def shutdown(self, grace: float) -> list[WriteJob]:
            job.state, job.outcome = "done", {"status": "stored", "note_id": "1a2b3c4d5e"}
            return []

    assert end_writer(EndingWriter(), 0.0) == 0  # type: ignore[arg-type]
    err = capsys.readouterr().err
    assert "'My piano teacher is called Vera.'" in err and "stored as note 1a2b3c4d" in err
