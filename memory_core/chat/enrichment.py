"""The second job of a chat message's memory write: the model's enrichment of the note it stored.

Why a job of its own: the note is stored without the model first (searchable within a second or so),
and the model's keywords, context, tags, link ideas and evolution follow when the writer has time,
behind every new store (writer.py). The enrichment is kept as exactly-once as the store:

* on disk: the message's ``memory`` says ``"enrichment": {"state": "queued"}`` in the same update that
  records the note as stored, so a process that ends before the enrichment leaves it findable
  (``pending_enrichments``), and the next process that writes does it;
* across processes: the enrichment runs under its own claim (``<home>/locks/<id>.enrich.claim``: a
  long model call must not keep other processes from storing new messages of the same conversation),
  and the message is read again under it, as for a store;
* in the store: every event it commits carries ``enrich_key(note_id)``, checked under the store's
  write lock before committing (``memory.enrich_later``), so a process killed between its commit and
  the message update is never followed by a second enrichment.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ..episodes.conversations import ENRICH_PENDING, Conversation, ConversationStore, enrichment_pending
from ..errors import NotFoundError
from ..memory.enrich_later import enrichment_done
from .jobs import WriteJob
from .pending import claimed, unfinished_messages

ENRICH_FINAL = ("done", "failed", "cancelled")
COUNTS = ("proposed", "grounded", "applied")


def claim_name(conversation_id: str) -> str:
    """The enrichment claim's name beside the conversation's own (``pending.claimed`` adds ``.claim``)."""
    return f"{conversation_id}.enrich"


@dataclass(frozen=True)
class PendingEnrichment:
    """A stored note whose enrichment is not over, found on its message."""

    conversation_id: str
    message_id: str
    note_id: str
    content: str
    state: str


def pending_enrichments(conversations: ConversationStore, conversation_id: str | None = None
                        ) -> list[PendingEnrichment]:
    """Every enrichment still to do, oldest conversation first, in message order (files only)."""
    out: list[PendingEnrichment] = []
    for cid, m in unfinished_messages(conversations, conversation_id, lambda s: s.enriching, enrichment_pending):
        info = m["memory"]
        out.append(PendingEnrichment(cid, str(m.get("id", "")), str(info.get("note_id", "")),
                                     str(m.get("content", "")), str(info["enrichment"].get("state"))))
    return out


def needs_enrichment(memory: dict[str, Any]) -> bool:
    """Does a store's record (the message's ``memory``) leave a new note to enrich?"""
    return memory.get("state") == "done" and memory.get("status") in ("stored", "superseded") \
        and bool(memory.get("note_id"))


def enrichment_record(job: WriteJob) -> dict[str, Any]:
    """What an enrich job leaves in ``memory["enrichment"]``."""
    out: dict[str, Any] = {"state": job.state, "job": job.id}
    if job.state == "done":
        out.update({k: v for k, v in job.outcome.items() if k not in ("state", "job")})
        out["seconds"] = round(job.seconds, 2)
    elif job.state in ("failed", "retrying"):
        out.update(error=job.error, attempts=job.attempts)
    return out


def record_enrichment(conversations: ConversationStore, conversation_id: str, message_id: str,
                      job: WriteJob) -> bool:
    """Write an enrich job's state onto its message; once enriched, its links, proposals and counts join
    the store's (one record of what the message's write did). A final state another process recorded is
    left as it is. False when the message is gone."""
    def change(conv: Conversation) -> None:
        msg = conv.message(message_id)
        if msg is None:
            raise NotFoundError(message_id)
        memory = dict(msg.get("memory") or {})
        before = memory.get("enrichment") or {}
        if before.get("state") in ENRICH_FINAL and before.get("job") != job.id:
            return
        record = enrichment_record(job)
        memory["enrichment"] = record
        if job.state == "done" and record.get("status") == "enriched":
            memory["links"] = list(dict.fromkeys([*memory.get("links", []), *record.get("links", [])]))
            memory["proposals"] = [*memory.get("proposals", []), *record.get("proposals", [])]
            for name in COUNTS:
                memory[name] = int(memory.get(name, 0) or 0) + int(record.get(name, 0) or 0)
        msg["memory"] = memory

    try:
        conversations.update(conversation_id, change)
    except NotFoundError:
        return False
    return True


def enrichment_guard(conversations: ConversationStore, store: Any, conversation_id: str, message_id: str,
                     note_id: str) -> Any:
    """The enrich job's guard: this process alone enriches the conversation's notes meanwhile, and an
    enrichment some process already finished (on the message, or in the store) is adopted."""

    @contextlib.contextmanager
    def guard(job: WriteJob) -> Iterator[dict[str, Any] | None]:
        with claimed(conversations, claim_name(conversation_id)):
            try:
                msg = conversations.load(conversation_id).message(message_id)
            except NotFoundError:
                msg = None
            info = ((msg or {}).get("memory") or {}).get("enrichment") or {}
            if msg is None:
                yield {"state": "cancelled"}  # the conversation or the message was deleted meanwhile
            elif info.get("state") in ("done", "cancelled") and info.get("job") != job.id:
                yield {"state": info["state"], "outcome": {k: v for k, v in info.items() if k not in ("state", "job")}}
            elif enrichment_done(store, note_id):
                yield {"state": "done", "outcome": {"status": "already", "note_id": note_id}}
            else:
                yield None
    return guard


__all__ = ["ENRICH_FINAL", "ENRICH_PENDING", "PendingEnrichment", "claim_name", "enrichment_guard",
           "enrichment_record", "needs_enrichment", "pending_enrichments", "record_enrichment"]
