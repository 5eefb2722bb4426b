"""One chat turn into the memory: worth a note? the same fact again? a correction? then the note.

Only the person's words come here (the chat passes the text the person typed, never the model's
reply); the turn before it goes in ``turn_context``, kept apart from the content. Order matters:
the cheap rule first (a bare question costs no embedding), then one embedding of the text, used
both for the duplicate check and, through the store, for the neighbours.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ..notes import clean_content, normalise_time, now_iso, try_parse_time
from ..store.events import CREATE
from . import supersede
from .dedup import candidates, find_corrected, find_duplicate
from .outcome import RememberOutcome
from .worth import judge_turn

if TYPE_CHECKING:
    from ..store import Store

SPEAKER = "person"


def turn_key(conversation_id: str, message_id: str) -> str:
    """The cause recorded on every event a chat message's write commits: how a process that resumes the
    write knows it already happened (``MemoryStore.effect_of``), so it is never done twice."""
    return f"turn:{conversation_id}:{message_id}"


def turn_effect(store: Store, conversation_id: str, message_id: str) -> dict[str, Any] | None:
    """What an earlier write of this chat turn committed (its outcome), or None if it committed nothing."""
    events = store.caused_by(turn_key(conversation_id, message_id))
    if not events:
        return None
    created = next((e for e in events if e.field == CREATE), None)
    if created is None:
        return {"status": "merged", "note_id": events[0].note_id,
                "reason": "seen again (recorded by an earlier Memex process)"}
    old = next((e for e in events if e.field == "superseded_by" and e.note_id != created.note_id), None)
    if old is not None:
        return {"status": "superseded", "note_id": created.note_id, "superseded_id": old.note_id,
                "reason": "stored as a new note by an earlier Memex process, replacing an older one"}
    return {"status": "stored", "note_id": created.note_id,
            "reason": "stored as a new note (by an earlier Memex process)"}


def remember_turn(pipe: Any, text: str, *, conversation_id: str, message_id: str, turn_context: str = "",
                  timestamp: str | None = None, force: bool = False, mode: str = "full",
                  progress: Any = None, source: str = "chat") -> RememberOutcome:
    """Store, merge, supersede or skip. Raises InputError only for bad input (empty, too long).

    ``source``: "chat", or "import" for a message of an imported chat history, whose ``timestamp`` may
    be older than the note it looks like correcting: then that note is the newer word, and the imported
    one is stored already replaced by it (``_older_than``)."""
    text = clean_content(text)
    say = progress or (lambda _stage: None)
    if not force:
        verdict = judge_turn(text)
        if not verdict.worth:
            return RememberOutcome("not_stored", reason=verdict.reason)
    say("checking for duplicates")
    store = pipe.store
    embed = store.embedder.embed
    vec = np.asarray(embed([text])[0], dtype=np.float32)
    matches = candidates(store, vec, SPEAKER, lambda texts: np.asarray(embed(texts), dtype=np.float32), text)
    dup = find_duplicate(text, matches)
    key = turn_key(conversation_id, message_id) if conversation_id and message_id else ""
    if dup is not None:
        seen = _seen_again(store, dup.note.id, timestamp, key)
        return RememberOutcome("merged", note_id=dup.note.id, similarity=dup.similarity,
                               reason=f"same as note {dup.note.id[:8]} (similarity {dup.similarity:.2f}); "
                                      f"seen {seen} times")
    correction = find_corrected(text, matches)
    if source == "import" and correction is not None and _older_than(timestamp, correction.note):
        return _stored_before(pipe, text, correction, key, conversation_id=conversation_id, message_id=message_id,
                              turn_context=turn_context, timestamp=timestamp, mode=mode, source=source)
    corrected = correction if correction is not None and correction.sure else None
    report = pipe.add(text, source=source, source_ref=f"{conversation_id}:{message_id}", timestamp=timestamp,
                      mode=mode, progress=progress, speaker=SPEAKER, conversation_id=conversation_id,
                      message_id=message_id, turn_context=turn_context,
                      supersedes=corrected.note.id if corrected else "", cause=key)
    if correction is not None and corrected is None:  # unsure: ask the person instead of staying silent
        pid = supersede.ask(store, correction, report.note_id)
        return RememberOutcome("stored", note_id=report.note_id, proposals=[*report.proposals, pid],
                               links=list(report.links), report=report, similarity=correction.similarity,
                               reason=f"stored as a new note; Review asks whether it replaces note "
                                      f"{correction.note.id[:8]} ({correction.why})")
    if corrected is not None:
        return RememberOutcome("superseded", note_id=report.note_id, superseded_id=corrected.note.id,
                               similarity=corrected.similarity, proposals=list(report.proposals),
                               links=list(report.links), report=report,
                               reason=f"corrects note {corrected.note.id[:8]} (similarity "
                                      f"{corrected.similarity:.2f}), which is kept as no longer current")
    return RememberOutcome("stored", note_id=report.note_id, proposals=list(report.proposals),
                           links=list(report.links), report=report, reason="stored as a new note")


def _older_than(timestamp: str | None, note: Any) -> bool:
    """Was this turn said before ``note`` was? Asked for an imported history only: a chat turn is said now,
    whatever date a caller (a benchmark, a test) gives it."""
    if not timestamp:
        return False
    said, other = try_parse_time(timestamp), try_parse_time(note.timestamp)
    return said is not None and other is not None and said < other


def _stored_before(pipe: Any, text: str, correction: Any, key: str, *, conversation_id: str, message_id: str,
                   turn_context: str, timestamp: str | None, mode: str, source: str) -> RememberOutcome:
    """An older turn that the newer ``correction.note`` corrects: stored, and closed by that note when the
    rules are sure (from the newer note's time); never asked about, never closing the newer note."""
    report = pipe.add(text, source=source, source_ref=f"{conversation_id}:{message_id}", timestamp=timestamp,
                      mode=mode, speaker=SPEAKER, conversation_id=conversation_id, message_id=message_id,
                      turn_context=turn_context, cause=key)
    newer = correction.note
    if not correction.sure:
        return RememberOutcome("stored", note_id=report.note_id, proposals=list(report.proposals),
                               links=list(report.links), report=report, reason="stored as a new note")
    with pipe.store.writing() as w:
        if w.exists(newer.id) and w.exists(report.note_id):
            fresh = w.get(newer.id)
            if supersede.close(w, report.note_id, fresh, fresh.timestamp, cause=key):
                w.put(fresh, cause=key)
    return RememberOutcome("stored", note_id=report.note_id, proposals=list(report.proposals),
                           links=list(report.links), report=report, similarity=correction.similarity,
                           reason=f"stored as a new note, already replaced by the later note {newer.id[:8]} "
                                  f"({correction.why})")


def _seen_again(store: Store, note_id: str, timestamp: str | None, cause: str = "") -> int:
    """Count the repeat on the existing note (its content is untouched); history records it."""
    with store.writing() as w:
        note = w.get(note_id)
        note.set_field("seen_count", note.seen_count + 1, "system",
                       at=normalise_time(timestamp) if timestamp else now_iso())
        w.put(note, cause=cause)
        return note.seen_count
