"""A memory write as the person sees it: ``WriteJob`` (what it writes, where it is, how it ended) and the
words for its outcome. The writer (``writer.py``) runs jobs; pages and ``memex chat`` read them.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .pending import FINAL_STATES

if TYPE_CHECKING:
    from ..memory.pipeline import MemoryPipeline


@dataclass
class WriteJob:
    """One memory write of a person's message and where it is.

    queued -> enriching -> linking -> ... -> done | failed | cancelled (``retrying`` between attempts).
    ``outcome`` is ``RememberOutcome.to_dict()`` (without its bulky report) once done.
    """

    id: str
    content: str
    source: str
    source_ref: str  # the conversation id ("" outside a conversation)
    mode: str
    label: str = ""
    message_id: str = ""
    turn_context: str = ""
    timestamp: str | None = None
    force: bool = False
    state: str = "queued"
    stages: list[str] = field(default_factory=lambda: ["queued"])
    paused: bool = False  # waiting for a streaming reply to finish
    waiting: str = ""  # why it has not started, in words (another process holds its conversation)
    error: str = ""
    note_id: str = ""
    outcome: dict[str, Any] = field(default_factory=dict)
    attempts: int = 0
    interruptions: int = 0  # model calls that gave way to a reply at a token and ran again
    cancel_requested: bool = False
    retry_at: float = 0.0
    created: float = field(default_factory=time.time)
    started: float = 0.0
    finished: float = 0.0

    @property
    def active(self) -> bool:
        return self.state not in FINAL_STATES

    @property
    def seconds(self) -> float:
        if not self.started:
            return 0.0
        return (self.finished or time.time()) - self.started

    @property
    def links(self) -> list[str]:
        return list(self.outcome.get("links") or [])

    def describe(self) -> str:
        """One line for a person."""
        if self.state == "done":
            return describe_outcome(self.outcome) + f" ({self.seconds:.1f}s)"
        if self.state == "failed":
            return f"not stored after {self.attempts} attempts: {self.error}"
        if self.state == "cancelled":
            return "cancelled: not stored"
        if self.state == "retrying":
            wait = max(0.0, self.retry_at - time.time())
            return f"failed ({self.error}); trying again in {wait:.0f}s"
        if self.paused:
            return f"{self.state} (paused while a reply is written)"
        if self.waiting:
            return f"{self.state} ({self.waiting})"
        return self.state + "…"


def describe_outcome(outcome: dict[str, Any]) -> str:
    """What a finished write did, in a few words ("stored as note 1a2b3c4d", "not stored: a greeting")."""
    status = outcome.get("status", "")
    nid = str(outcome.get("note_id", ""))[:8]
    reason = outcome.get("reason", "")
    if status == "stored":
        links = len(outcome.get("links") or [])
        asked = "Review asks" in str(reason)  # a possible correction (memory.turns)
        return f"stored as note {nid}" + (f", linked to {links}" if links else "") + \
            ("; Review asks whether it replaces an older note" if asked else "")
    if status == "merged":
        return f"seen again: merged into note {nid}" + (f" ({reason})" if reason else "")
    if status == "superseded":
        return f"stored as note {nid}, replacing note {str(outcome.get('superseded_id', ''))[:8]}"
    if status == "not_stored":
        return "not stored" + (f": {reason}" if reason else "")
    return status or "done"


def compact_outcome(outcome: Any) -> dict[str, Any]:
    """``RememberOutcome.to_dict()`` without the bulky report (kept: its seconds and model calls)."""
    data = dict(outcome.to_dict()) if hasattr(outcome, "to_dict") else dict(outcome)
    report = data.pop("report", None)
    if isinstance(report, dict):
        usage = report.get("usage") or {}
        data["llm_calls"] = usage.get("calls", 0) if isinstance(usage, dict) else 0
        data["proposals"] = data.get("proposals") or list(report.get("proposals") or [])
    return data


def run_write(pipeline: MemoryPipeline, job: WriteJob, progress: Callable[[str], None]) -> dict[str, Any]:
    """One attempt at the job: MEMORY's ``remember_turn`` (the person's words only, never a reply)."""
    outcome = pipeline.remember_turn(job.content, conversation_id=job.source_ref, message_id=job.message_id,
                                     turn_context=job.turn_context, timestamp=job.timestamp, force=job.force,
                                     mode=job.mode, progress=progress)
    return compact_outcome(outcome)


def snapshot(job: WriteJob) -> WriteJob:
    return dataclasses.replace(job, stages=list(job.stages), outcome=dict(job.outcome))
