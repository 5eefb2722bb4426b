"""The queue as a person reads it: every unfinished write and enrichment, its plain step and why it waits.

Apart from pending.py because it reads the enrichments (enrichment.py) and the job's steps (jobs.py),
both of which build on pending.py: kept here, the imports point one way.
"""

from __future__ import annotations

from typing import Any

from ..episodes.conversations import ConversationStore
from .enrichment import pending_enrichments
from .jobs import plain_step
from .pending import label_for, pending_writes, why_pending


def pending_report(conversations: ConversationStore, writer: Any = None) -> list[dict[str, Any]]:
    """Every unfinished write and enrichment with its plain step and reason, for scripts and pages."""
    def step(message_id: str, kind: str, on_disk: str) -> str:
        job = writer.active_job_for(message_id, kind=kind) if writer is not None else None
        if job is not None:
            return plain_step(job)
        if kind == "enrich":
            return "retrying" if on_disk == "retrying" else "stored"
        return on_disk if on_disk in ("queued", "retrying") else "storing"

    out = [{"conversation_id": p.conversation_id, "message_id": p.message_id, "message": label_for(p.content),
            "kind": "store", "state": step(p.message_id, "store", p.state),
            "why": why_pending(p, writer, conversations)} for p in pending_writes(conversations)]
    out += [{"conversation_id": e.conversation_id, "message_id": e.message_id, "message": label_for(e.content),
             "kind": "enrich", "state": step(e.message_id, "enrich", e.state),
             "why": why_pending(e, writer, conversations, kind="enrich")} for e in pending_enrichments(conversations)]
    return out
