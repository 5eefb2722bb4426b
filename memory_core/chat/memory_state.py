"""What the memory did with a person's message, as one typed state the Chat page draws.

Why: the page used to branch on strings from two places (the outcome saved on the message and the
live job of this process's writer), each branch choosing its own icon, words and button. The rule
"which state, and which action to offer" is the part worth a test; here it is, without Streamlit:
- a message saved before outcomes were recorded offers "Remember this" (when it has words);
- stored / merged / superseded: the note can be opened; not stored, remembering off, cancelled:
  "Remember this" (store it anyway);
- failed: "Retry", as forced as the first attempt was;
- still under way: the live job says how far it got (writing, retrying, or waiting for any
  process when no job of this process has it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

from .jobs import WriteJob, describe_outcome


class Memory(Enum):
    """Where a message's memory write stands."""

    UNRECORDED = "unrecorded"  # a message from before outcomes were saved on messages
    STORED = "stored"  # done: stored, merged or superseded (a note to open)
    NOT_STORED = "not_stored"  # done: judged not worth remembering
    OFF = "off"  # remembering was off for the conversation
    CANCELLED = "cancelled"
    FAILED = "failed"
    WAITING = "waiting"  # queued on disk; no job of this process has it (yet)
    RETRYING = "retrying"
    WRITING = "writing"
    FINISHED = "finished"  # the job ended but the message does not say so yet


class Offer(Enum):
    """The one action the line offers."""

    NONE = "none"
    REMEMBER = "remember"  # store it anyway (forced)
    RETRY = "retry"  # the same write again
    OPEN = "open"  # open the note it became


@dataclass(frozen=True)
class MemoryState:
    """A message's memory line: its state, the words (plain text), the action offered and its details."""

    memory: Memory
    text: str = ""
    offer: Offer = Offer.NONE
    force: bool = True  # for REMEMBER / RETRY: whether the write skips the worth-remembering judge
    note_id: str = ""
    proposals: int = 0
    attempts: int = 0
    job: WriteJob | None = None


def message_memory(message: dict[str, Any], find_job: Callable[[str, str], WriteJob | None]) -> MemoryState:
    """The state of ``message``'s memory write. ``find_job(job_id, message_id)`` is the writer's live job."""
    info = message.get("memory")
    if not info:
        offer = Offer.REMEMBER if str(message.get("content", "")).strip() else Offer.NONE
        return MemoryState(Memory.UNRECORDED, offer=offer)
    state = info.get("state", "")
    if state == "done":
        stored = info.get("status", "") != "not_stored"
        note_id = str(info.get("note_id", "")) if stored else ""
        return MemoryState(Memory.STORED if stored else Memory.NOT_STORED, describe_outcome(info),
                           Offer.OPEN if note_id else Offer.NONE if stored else Offer.REMEMBER,
                           note_id=note_id, proposals=len(info.get("proposals") or []))
    if state == "off":
        return MemoryState(Memory.OFF, str(info.get("reason", "remembering is off")), Offer.REMEMBER)
    if state == "cancelled":
        return MemoryState(Memory.CANCELLED, "you cancelled this memory write.", Offer.REMEMBER)
    if state == "failed":
        return MemoryState(Memory.FAILED, str(info.get("error", "unknown error")), Offer.RETRY,
                           force=bool(info.get("force")), attempts=int(info.get("attempts", 1)))
    return _live(find_job(str(info.get("job", "")), str(message.get("id", ""))))


def _live(job: WriteJob | None) -> MemoryState:
    """A write still under way, as this process's writer sees it."""
    if job is None:
        return MemoryState(Memory.WAITING)
    if job.state == "retrying":
        return MemoryState(Memory.RETRYING, job.describe(), job=job)
    if job.state == "failed":  # e.g. stored, but its outcome could not be saved into the conversation
        return MemoryState(Memory.FAILED, job.describe(), Offer.RETRY, force=job.force, attempts=job.attempts,
                           job=job)
    if job.active:
        return MemoryState(Memory.WRITING, job.state, job=job)
    return MemoryState(Memory.FINISHED, job.describe(), job=job)
