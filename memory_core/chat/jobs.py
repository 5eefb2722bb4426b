"""A memory write as the person sees it: ``WriteJob`` (what it writes, where it is, how it ended) and the
words for its outcome. The writer (``writer.py``) runs jobs; pages and ``memex chat`` read them.

A chat message is written in two jobs (``ChatSession.remember``): a *store* job (no model: the note is
searchable when it ends) and, for a new note, an *enrich* job that runs the model later. The person
sees one line of plain steps for both, in order: queued -> storing -> stored -> enriching -> enriched
(``STEPS``, ``plain_step``).
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

KINDS = ("store", "enrich")
STEPS = ("queued", "storing", "stored", "enriching", "enriched")
# What a write's progress reports (``remember_turn``, ``MemoryPipeline.add``, ``enrich_stored``) means
# as a plain step; a one-step write (the model inside the store job) goes from storing to enriching.
PROGRESS_STEPS = {"checking for duplicates": "storing", "storing": "storing", "enriching": "enriching",
                  "linking": "enriching"}


@dataclass
class WriteJob:
    """One memory write of a person's message and where it is.

    ``state``: queued -> storing (-> enriching) -> done | failed | cancelled (``retrying`` between
    attempts); an enrich job: queued -> enriching -> done | ... ``outcome`` is
    ``RememberOutcome.to_dict()`` (without its bulky report) once a store job is done, and
    ``enrich_stored``'s record once an enrich job is. ``enrich``: a store job whose note is then queued
    for its enrichment.
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
    kind: str = "store"
    enrich: bool = False
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
        enrich = self.kind == "enrich"
        if self.state == "done":
            text = describe_enrichment(self.outcome) if enrich else describe_outcome(self.outcome)
            return text + f" ({self.seconds:.1f}s)"
        if self.state == "failed":
            return (f"stored, but not enriched after {self.attempts} attempts: {self.error}" if enrich
                    else f"not stored after {self.attempts} attempts: {self.error}")
        if self.state == "cancelled":
            return "stored; enrichment cancelled" if enrich else "cancelled: not stored"
        if self.state == "retrying":
            wait = max(0.0, self.retry_at - time.time())
            return f"failed ({self.error}); trying again in {wait:.0f}s"
        step = plain_step(self)
        if self.paused:
            return f"{step} (paused while a reply is written)"
        if self.waiting:
            return f"{step} ({self.waiting})"
        return step + "…"


def plain_step(job: WriteJob) -> str:
    """Where a message's write is, as one of ``STEPS`` (or "failed", "cancelled", "retrying").

    An enrich job waiting its turn is at "stored": the note is there, its enrichment not begun."""
    if job.state in ("failed", "cancelled", "retrying"):
        return job.state
    if job.kind == "enrich":
        return {"done": "enriched", "queued": "stored"}.get(job.state, "enriching")
    if job.state == "done":
        return "stored"
    return job.state if job.state in STEPS else "storing"


def step_for(job: WriteJob, stage: str) -> str:
    """The job state a progress report moves to: a plain step, never back to an earlier one."""
    if job.kind == "enrich":
        return "enriching"
    if job.mode != "full":  # no model in this write: all of it is storing
        return "storing"
    step = "enriching" if stage.startswith("evolved") else PROGRESS_STEPS.get(stage, "storing")
    if job.state in STEPS and STEPS.index(step) < STEPS.index(job.state):
        return job.state
    return step


def describe_enrichment(outcome: dict[str, Any]) -> str:
    """What a finished enrichment did, in a few words."""
    status = outcome.get("status", "")
    if status == "gone":
        return "not enriched: the note was deleted"
    if status == "already":
        return "enriched (by another Memex process)"
    source = outcome.get("enrichment_source", "")
    bits = ["enriched" if source != "fallback" else "enriched without the model's keywords (its answer was "
                                                     "not usable)"]
    if outcome.get("links"):
        bits.append(f"{len(outcome['links'])} more link(s)")
    if outcome.get("proposals"):
        bits.append(f"{len(outcome['proposals'])} proposal(s) for review")
    return ", ".join(bits)


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
    """One attempt at the job: MEMORY's ``remember_turn`` (the person's words only, never a reply), or
    for an enrich job ``enrich_stored`` of the note it stored."""
    if job.kind == "enrich":
        from ..memory.enrich_later import enrich_stored

        return enrich_stored(pipeline, job.note_id, progress)
    progress("storing")
    outcome = pipeline.remember_turn(job.content, conversation_id=job.source_ref, message_id=job.message_id,
                                     turn_context=job.turn_context, timestamp=job.timestamp, force=job.force,
                                     mode=job.mode, progress=progress)
    return compact_outcome(outcome)


def snapshot(job: WriteJob) -> WriteJob:
    return dataclasses.replace(job, stages=list(job.stages), outcome=dict(job.outcome))
