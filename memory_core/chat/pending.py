"""Memory writes that outlive the process that queued them: found in the conversations, claimed by one
process at a time, done exactly once.

Why the conversation file is the queue: a person's message is saved there before its write is queued,
with ``memory = {"state": "queued", ...}``; the state becomes final ("done", "failed", "cancelled",
"off") only once the write is over. So every write not yet done is on disk, whichever process queued it
and however that process ended, and no second queue can disagree with the first.

Why a claim: the app and several ``memex`` processes may all find the same queued message. Before a
write runs, its process takes the conversation's claim (``<home>/locks/<id>.claim``, an ``flock`` the
kernel releases when the owner dies, so a crashed process never keeps it) and reads the message again:
someone else may have finished it meanwhile. Under the claim it then asks the store whether the write's
effect is already there (every event it commits carries the write's key, ``memory.turns.turn_key``): a process killed
between its commit and the conversation update left exactly that, and the write is then adopted, not
done twice.

A stored note's enrichment by the model is a second write of the same message, queued and claimed
the same way (enrichment.py); ``queue_report.pending_report`` lists both, in the plain steps the person sees
(queued -> storing -> stored -> enriching -> enriched).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from filelock import Timeout

from ..episodes.conversations import ConversationStore, ConversationSummary, file_lock, is_pending, lock_path
from ..errors import MemexError

FINAL_STATES = ("done", "failed", "cancelled", "off")
LABEL_CHARS = 60


def label_for(text: str) -> str:
    """A write's label: the start of the message it writes, on one line."""
    line = " ".join(str(text).split())
    return "“" + (line if len(line) <= LABEL_CHARS else line[:LABEL_CHARS - 1].rstrip() + "…") + "”"


class ClaimBusy(MemexError):
    """Another Memex process is writing this conversation's memories right now."""


@dataclass(frozen=True)
class PendingWrite:
    """A person's message whose memory write is not over yet."""

    conversation_id: str
    message_id: str
    content: str
    state: str
    force: bool
    at: str


def unfinished_messages(conversations: ConversationStore, conversation_id: str | None,
                        counted: Callable[[ConversationSummary], int],
                        unfinished: Callable[[dict[str, Any]], bool]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(conversation id, message) for every message ``unfinished`` says is not done, oldest conversation
    first and in message order within one. The summaries count them (``counted``, cached per file), so
    only the files that have some are read again; a damaged file is skipped (``list()`` reports it)."""
    if conversation_id is not None:
        ids = [conversation_id]
    else:
        ids = [s.id for s in sorted(conversations.list(), key=lambda s: (s.updated, s.id)) if counted(s)]
    for cid in ids:
        try:
            conv = conversations.load(cid)
        except MemexError:
            continue
        for m in conv.messages:
            if unfinished(m):
                yield cid, m


def pending_writes(conversations: ConversationStore, conversation_id: str | None = None) -> list[PendingWrite]:
    """Every queued or unfinished write, oldest conversation first and in message order within one."""
    out: list[PendingWrite] = []
    for cid, m in unfinished_messages(conversations, conversation_id, lambda s: s.pending, is_pending):
        info = m.get("memory") or {}
        out.append(PendingWrite(cid, str(m.get("id", "")), str(m.get("content", "")), str(info["state"]),
                                bool(info.get("force")), str(m.get("at", ""))))
    return out


@contextlib.contextmanager
def claimed(conversations: ConversationStore, conversation_id: str) -> Iterator[None]:
    """Hold the claim on a conversation's memory writes; ``ClaimBusy`` at once when another process has it."""
    path = lock_path(conversations.home, f"{conversation_id}.claim")
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = file_lock(path, timeout=0)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise ClaimBusy(f"Another Memex process is writing the memories of conversation {conversation_id}.") \
            from None
    try:
        yield
    finally:
        lock.release()


def claim_held(conversations: ConversationStore, conversation_id: str) -> bool:
    """Is another process writing this conversation's memories right now? Asked without writing a byte:
    the claim's lock file is opened read-only (and not created), and a shared ``flock`` tried on it."""
    path = lock_path(conversations.home, f"{conversation_id}.claim")
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)  # closing the descriptor drops the shared lock, if it was taken
    return False


def why_pending(item: Any, writer: Any, conversations: ConversationStore, kind: str = "store") -> str:
    """Why a write (or, ``kind="enrich"``, a stored note's enrichment) is not done yet, in words a person
    reads (the Chat page, ``memex queue``, ``memex chat --json``)."""
    job = writer.active_job_for(item.message_id, kind=kind) if writer is not None else None
    enrich = kind == "enrich"
    if job is None and not enrich and writer is not None and writer.holds.held(item.message_id):
        return "waiting for its reply to finish"
    if job is not None:
        if job.waiting:
            return job.waiting
        if job.paused:
            return "paused while a reply is written"
        if job.started and job.state != "queued":
            return "being enriched by the model now" if enrich else "being stored now"
        return ("stored and searchable; the model enriches it after the notes waiting to be stored" if enrich
                else "waiting its turn in this process's queue")
    claim = f"{item.conversation_id}.enrich" if enrich else item.conversation_id
    if claim_held(conversations, claim):
        return "another Memex process is writing this conversation's memories"
    return (("stored and searchable; " if enrich else "") + "queued by an earlier run; the next Memex process "
            "that writes will do it (or `memex queue run`)")
