"""A message's memory line as a typed state (memory_core.chat.memory_state): which state, which action."""

from __future__ import annotations

from memory_core.chat.jobs import WriteJob
from memory_core.chat.memory_state import Memory, Offer, message_memory


def no_job(_job_id: str, _message_id: str) -> None:
    return None


def job(state: str, **kw) -> WriteJob:
    return WriteJob(id="j1", content="I moved to Lisbon.", source="chat", source_ref="c1", mode="full", state=state,
                    **kw)


def test_finished_writes_from_the_message() -> None:
    stored = message_memory({"id": "m1", "memory": {"state": "done", "status": "stored", "note_id": "abcdef123456",
                                                    "links": ["x"], "proposals": ["p1", "p2"]}}, no_job)
    assert (stored.memory, stored.offer, stored.note_id, stored.proposals) == (Memory.STORED, Offer.OPEN,
                                                                              "abcdef123456", 2)
    assert stored.text == "stored as note abcdef12, linked to 1"
    skipped = message_memory({"id": "m1", "memory": {"state": "done", "status": "not_stored",
                                                     "reason": "a greeting"}}, no_job)
    assert (skipped.memory, skipped.offer, skipped.text) == (Memory.NOT_STORED, Offer.REMEMBER,
                                                            "not stored: a greeting")
    off = message_memory({"id": "m1", "memory": {"state": "off"}}, no_job)
    assert (off.memory, off.offer, off.text) == (Memory.OFF, Offer.REMEMBER, "remembering is off")
    assert message_memory({"id": "m1", "memory": {"state": "cancelled"}}, no_job).offer is Offer.REMEMBER


def test_a_failed_write_offers_retry_as_forced_as_it_was() -> None:
    failed = message_memory({"id": "m1", "memory": {"state": "failed", "error": "model gone", "attempts": 3,
                                                    "force": True}}, no_job)
    assert (failed.memory, failed.offer, failed.force, failed.attempts, failed.text) == (
        Memory.FAILED, Offer.RETRY, True, 3, "model gone")
    assert message_memory({"id": "m1", "memory": {"state": "failed"}}, no_job).force is False


def test_a_message_from_before_outcomes_were_recorded() -> None:
    assert message_memory({"id": "m1", "content": "Hello"}, no_job).offer is Offer.REMEMBER
    assert message_memory({"id": "m1", "content": "  "}, no_job).offer is Offer.NONE


def test_writes_under_way_are_read_from_the_live_job() -> None:
    asked: list[tuple[str, str]] = []

    def find(state: str, **kw):
        def lookup(job_id: str, message_id: str) -> WriteJob:
            asked.append((job_id, message_id))
            return job(state, **kw)
        return lookup

    queued = {"id": "m1", "memory": {"state": "queued", "job": "j1"}}
    writing = message_memory(queued, find("linking"))
    assert (writing.memory, writing.text, writing.offer) == (Memory.WRITING, "linking", Offer.NONE)
    assert asked == [("j1", "m1")]
    assert message_memory(queued, find("retrying", error="busy")).memory is Memory.RETRYING
    lost = message_memory(queued, find("failed", error="disk full", force=True, attempts=2))
    assert (lost.memory, lost.offer, lost.force) == (Memory.FAILED, Offer.RETRY, True)
    assert message_memory(queued, find("done", outcome={"status": "stored", "note_id": "n1"})).memory is \
        Memory.FINISHED
    assert message_memory(queued, no_job).memory is Memory.WAITING
