"""A chat history from elsewhere, imported as Memex conversations and the person's memories.

Why here, in chat/ and not in transfer/: an imported conversation must end up exactly as one chatted
in Memex: a conversation file (``episodes.conversations``, the record episodes are derived from) and
the person's messages through the chat's own write path (``MemoryPipeline.remember_turn``: the worth
rule, near-duplicates, corrections, entity links) with the chat's turn context (``session.turn_context``).
Reading the file is ``transfer.chat_history``, below; this module only writes.

The rules:
- The write is fast mode (no model): the model's enrichment at a few seconds a note would make a
  year of chats a day's work; notes get the rule-based keywords and similarity links. Their
  conversations are marked ``imported``, and their notes have source "import".
- Every note is dated as its message in the file, never now. The person's messages of all the file's
  conversations are written oldest first, so a later message corrects an earlier one and not the other
  way round (an imported message older than a note already in the memory is stored as replaced by it).
- Ids come from the source (``chat_history.conversation_id``): a conversation already imported whole,
  with no message the file adds, is left untouched, so importing a file twice changes nothing. A write
  that a killed or cancelled import already committed is found by its cause (``turns.turn_effect``)
  and not done again.
- A conversation's file is written once, when the last of its messages is written; a cancel leaves the
  notes already added and writes the conversations begun, marked incomplete (importing again finishes them).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from ..background import Job, run_in_background
from ..episodes.conversations import Conversation, ConversationStore, make_title
from ..errors import InputError, StoreError
from ..explore.wording import count
from ..memory.pipeline import MemoryPipeline
from ..memory.turns import turn_effect
from ..notes import try_parse_time
from ..transfer.chat_history import ChatHistory, conversation_id, message_id
from .gate import ReplyGate
from .lifecycle import get_writer
from .session import turn_context

if TYPE_CHECKING:
    from ..config import Settings
    from ..store import Store

IMPORT_MODE = "fast"
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
Progress = Callable[[int, int], None]


@dataclass
class HistoryImportReport:
    """What an import did, for the CLI, the page and the tests."""

    name: str = ""
    format: str = ""
    added: int = 0  # conversations new to Memex
    extended: int = 0  # conversations already here that the file adds messages to (or an unfinished import)
    unchanged: int = 0  # conversations already imported whole: left as they were
    messages: int = 0  # messages in the conversations written
    written: int = 0  # the person's messages that went through the write path (or were found done)
    outcomes: Counter[str] = field(default_factory=Counter)  # stored / merged / superseded / not_stored
    skipped: list[str] = field(default_factory=list)  # parts of the file not imported, each named with why
    refused: list[str] = field(default_factory=list)  # messages the write refused (too long, ...)
    cancelled: bool = False
    incomplete: int = 0  # conversations written before a cancel, not all of their messages remembered
    seconds: float = 0.0
    conversation_ids: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        """The person's messages written per second."""
        return self.written / self.seconds if self.seconds > 0 else 0.0

    def summary(self) -> str:
        o = self.outcomes
        parts = [f"{count(self.added, 'conversation')} added"]
        if self.extended:
            parts.append(f"{self.extended:,} extended")
        if self.unchanged:
            parts.append(f"{self.unchanged:,} already imported (unchanged)")
        if self.skipped:
            parts.append(f"{count(len(self.skipped), 'part')} skipped")
        text = (", ".join(parts) + f"; {count(self.messages, 'message')}; of your {count(self.written, 'message')}: "
                f"{count(o['stored'], 'new note')}, {o['merged']:,} seen again, {count(o['superseded'], 'correction')}, "
                f"{o['not_stored']:,} not worth a note; {self.seconds:.1f} s")
        if self.cancelled:
            text = "Cancelled: " + text + f"; {count(self.incomplete, 'conversation')} unfinished (import again to finish)"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "format": self.format, "added": self.added, "extended": self.extended,
                "unchanged": self.unchanged, "messages": self.messages, "written": self.written,
                "outcomes": dict(self.outcomes), "skipped": self.skipped, "refused": self.refused,
                "cancelled": self.cancelled, "incomplete": self.incomplete, "seconds": round(self.seconds, 2),
                "messages_per_second": round(self.rate, 1), "conversation_ids": self.conversation_ids}


@dataclass
class _Planned:
    conv: Conversation
    new: bool
    remaining: int = 0
    touched: bool = False


def _plan(history: ChatHistory, conversations: ConversationStore, report: HistoryImportReport) -> list[_Planned]:
    """Each conversation of the file as it will be written, or counted unchanged / skipped."""
    planned: list[_Planned] = []
    for source in history.conversations:
        cid = conversation_id(history.family, source.source_id)
        label = f"conversation {source.title or source.source_id!r}"
        existing: Conversation | None = None
        if conversations.exists(cid):
            try:
                existing = conversations.load(cid)
            except StoreError as exc:
                report.skipped.append(f"{label}: {exc}; skipped")
                continue
        messages: list[dict[str, Any]] = []
        ids: set[str] = set()
        for m in source.messages:
            mid = message_id(cid, m.source_id)
            if mid in ids:
                continue  # the same message twice in the file: once is what was said
            ids.add(mid)
            messages.append({"id": mid, "role": m.role, "content": m.content, "at": m.at})
        old = {m.get("id"): m for m in existing.messages} if existing else {}
        if existing is not None and existing.imported.get("complete") and ids <= set(old):
            report.unchanged += 1
            continue
        for msg in messages:  # what an earlier, unfinished import of it already wrote
            memory = (old.get(msg["id"]) or {}).get("memory")
            if isinstance(memory, dict) and memory.get("state") == "done":
                msg["memory"] = memory
        title = source.title.strip() or make_title(next((m["content"] for m in messages if m["role"] == "user"),
                                                        messages[0]["content"]))
        conv = Conversation(id=cid, title=" ".join(title.split()), created=source.created,
                            updated=source.updated, remember=True, messages=messages,
                            imported={"format": history.format, "file": history.name, "source_id": source.source_id,
                                      "complete": False})
        planned.append(_Planned(conv, new=existing is None))
    return planned


def _remember(pipe: MemoryPipeline, conv: Conversation, msg: dict[str, Any], report: HistoryImportReport
              ) -> dict[str, Any]:
    """One person's message through the chat's write path (or what an earlier import committed for it)."""
    effect = turn_effect(pipe.store, conv.id, msg["id"])
    if effect is None:
        try:
            effect = pipe.remember_turn(msg["content"], conversation_id=conv.id, message_id=msg["id"],
                                        turn_context=turn_context(conv, msg["id"]), timestamp=msg["at"],
                                        mode=IMPORT_MODE, source="import").to_dict()
        except InputError as exc:
            report.refused.append(f"{conv.title!r}, message of {msg['at']}: {exc}")
            effect = {"status": "not_stored", "reason": str(exc)}
    effect.pop("report", None)  # the write's own record is in the store's history; the file keeps the outcome
    report.outcomes[str(effect.get("status", ""))] += 1
    report.written += 1
    return {"state": "done", "job": "", "force": False, "imported": True, **effect}


def import_history(store: Store, settings: Settings, history: ChatHistory, *,
                   conversations: ConversationStore | None = None, progress: Progress | None = None,
                   cancel: threading.Event | None = None, gate: ReplyGate | None = None) -> HistoryImportReport:
    """Write ``history`` into the conversations and the memory (see the module's rules); never raises for
    a broken conversation (it is in ``report.skipped``), and a cancel keeps what was finished.

    ``gate``: the app's reply gate; between two messages the import waits while a chat reply streams
    (an import of thousands of messages must not slow the reply a person is waiting for)."""
    started = time.perf_counter()
    conversations = conversations or ConversationStore(settings.home)
    report = HistoryImportReport(name=history.name, format=history.format, skipped=list(history.problems))
    planned = _plan(history, conversations, report)
    work: list[tuple[Any, int, int, _Planned, dict[str, Any]]] = []
    for ci, item in enumerate(planned):
        for mi, msg in enumerate(item.conv.messages):
            if msg["role"] == "user" and "memory" not in msg:
                work.append((try_parse_time(msg["at"]) or EPOCH, ci, mi, item, msg))
                item.remaining += 1
    work.sort(key=lambda w: (w[0], w[1], w[2]))
    pipe = MemoryPipeline(store, settings, llm=None)
    try:
        for item in planned:
            if item.remaining == 0:
                _write(conversations, item, report)
        for done, (_, _, _, item, msg) in enumerate(work):
            if gate is not None:
                gate.wait_clear(stop=cancel.is_set if cancel is not None else None)
            if cancel is not None and cancel.is_set():
                report.cancelled = True
                break
            msg["memory"] = _remember(pipe, item.conv, msg, report)
            item.remaining -= 1
            item.touched = True
            if item.remaining == 0:
                _write(conversations, item, report)
            if progress is not None:
                progress(done + 1, len(work))
    finally:  # a cancel or a failing store: the conversations begun are kept, marked unfinished
        for item in planned:
            if item.remaining and item.touched:
                _write(conversations, item, report)
    report.seconds = time.perf_counter() - started
    return report


def _write(conversations: ConversationStore, item: _Planned, report: HistoryImportReport) -> None:
    item.conv.imported["complete"] = item.remaining == 0
    conversations.save(item.conv, touch=False)
    report.messages += len(item.conv.messages)
    report.conversation_ids.append(item.conv.id)
    if item.remaining:
        report.incomplete += 1
    if item.new:
        report.added += 1
    else:
        report.extended += 1


@dataclass(eq=False)
class HistoryImportJob(Job):
    """A chat-history import in a background thread (the Import / Export page polls it; never Streamlit)."""

    history_name: str = ""

    @property
    def report(self) -> HistoryImportReport | None:
        return self.result


def start_history_import(store: Store, settings: Settings, history: ChatHistory,
                         conversations: ConversationStore | None = None, gate: ReplyGate | None = None
                         ) -> HistoryImportJob:
    """Start ``import_history`` in a thread; ``job.stop()`` stops it between messages. ``gate``: by default
    the process's reply gate (the app's chat replies go first)."""
    gate = gate if gate is not None else get_writer().gate

    def work(job: HistoryImportJob) -> HistoryImportReport:
        return import_history(store, settings, history, conversations=conversations, progress=job.progress,
                              cancel=job.cancel, gate=gate)

    job = HistoryImportJob(name=history.name or "chat history", total=history.person_count,
                           history_name=history.name)
    return run_in_background(job, work)
