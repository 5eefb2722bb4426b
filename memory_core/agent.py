"""One chat turn with memory: recall, a prompt that fits, a streamed reply, and a background memory write.

Why this module exists apart from the page: the Chat page, the benchmark and the tests all need
the same turn logic, and none of it needs Streamlit. The flow of a turn (``ChatSession.reply``):

  1. recall   - ``retrieval.search`` for the person's message (k from the page's control); the
                recall counts it updates are written after the reply, off the first-token path;
  2. prompt   - system prompt + recalled notes (with short ids and dates) + history + the message,
                cut to fit the model's context window: the most relevant notes and the newest
                history are kept, and ``PromptPlan`` says what was dropped;
  3. generate - ``llm.stream`` yields text pieces for the page to show as they come;
  4. remember - the exchange is queued on the ``MemoryWriter``, a single background thread that
                runs the full A-MEM write path (``MemoryPipeline.add``) while the person reads.

Ordering between the reply and the writer: the local model serialises calls with a lock, so the
two take turns. The reply must never wait for a write that has not started, so every model call
the writer makes first waits until no reply is streaming (``ReplyGate``), and a queued job does
not start while one streams. A reply therefore waits at most for the one model call the writer is
in the middle of (one enrichment or one link decision: a structured call, two attempts at most when
the first answer is rejected; about a second each with the bundled model), never for queued jobs or
the rest of a write. The writer's embedding and store commit do not use the model and need no turn.

Conversations are JSON files in ``<home>/conversations/`` (``ConversationStore``), written
atomically (temp file + ``os.replace``), read-modify-written under a lock so the writer's status
updates and the page's new messages never overwrite each other.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import itertools
import json
import os
import queue
import re
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from .errors import InputError, MemexError, NotFoundError, StoreError
from .notes import MAX_CONTENT_CHARS, now_iso

Message = dict[str, str]

SYSTEM_PROMPT = (
    "You are Memex, a friendly assistant with a long-term memory. Answer the person's last message "
    "helpfully and briefly. Memory notes from earlier conversations may follow; use them only when they "
    "are relevant, and say when (the date) something happened if you rely on a note."
)
MESSAGE_OVERHEAD = 6  # tokens a chat template adds per message; the same figure llm.fit_messages uses
LLM_MARGIN = 16  # llm.fit_messages keeps this many tokens spare; we stay inside its budget
SAFETY_TOKENS = 24  # for templates that add more per message (or a BOS) than MESSAGE_OVERHEAD
MIN_PROMPT_TOKENS = 160  # a reply's max_tokens is lowered so the prompt keeps at least this much room
NOTE_CHARS = 700  # a recalled note is cut (in the middle) to this many characters in the prompt
HISTORY_CHARS = 2000  # so is one earlier message
NOTES_SHARE = 0.6  # notes may take this share of the room left after the system prompt and the message
TITLE_CHARS = 60
CONVERSATION_FORMAT = 1
_ID_RE = re.compile(r"^[0-9a-f]{32}$")


# ---------------------------------------------------------------------------------------------
# Recalled notes and the prompt
# ---------------------------------------------------------------------------------------------
@dataclass
class Recalled:
    """A recalled note as the chat keeps it: enough to show it and to find it again (by id)."""

    id: str
    title: str
    content: str
    timestamp: str
    score: float
    reasons: list[str] = field(default_factory=list)
    kind: str = ""
    via: str = ""
    in_prompt: bool = False

    @classmethod
    def from_hit(cls, hit: Any) -> Recalled:
        note = hit.note
        return cls(id=note.id, title=note.title, content=note.content, timestamp=note.timestamp,
                   score=float(hit.score), reasons=list(hit.reasons), kind=hit.kind, via=hit.via)

    def brief(self) -> dict[str, Any]:
        """What is saved with the reply (not the content: the note itself may change later)."""
        return {"id": self.id, "title": self.title, "timestamp": self.timestamp, "score": round(self.score, 4),
                "reasons": self.reasons, "kind": self.kind, "via": self.via, "in_prompt": self.in_prompt}


@dataclass
class PromptPlan:
    """The messages sent to the model and what was left out to make them fit."""

    messages: list[Message]
    budget: int
    prompt_tokens: int
    reply_tokens: int  # max_tokens actually used (may be lower than asked, to leave room for a prompt)
    notes_used: list[str] = field(default_factory=list)
    notes_dropped: list[str] = field(default_factory=list)
    history_used: int = 0
    history_dropped: int = 0
    truncated_chars: int = 0  # characters cut from the person's message (only in the prompt; stored intact)
    seconds: float = 0.0

    def summary(self) -> dict[str, Any]:
        return {"prompt_tokens": self.prompt_tokens, "budget": self.budget, "reply_tokens": self.reply_tokens,
                "notes_used": self.notes_used, "notes_dropped": self.notes_dropped,
                "history_used": self.history_used, "history_dropped": self.history_dropped,
                "truncated_chars": self.truncated_chars}

    @property
    def dropped_anything(self) -> bool:
        return bool(self.notes_dropped or self.history_dropped or self.truncated_chars)


def shorten_middle(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters by removing its middle (the start and end say most)."""
    if len(text) <= limit:
        return text
    marker = " [...] "
    keep = max(0, limit - len(marker))
    head = keep - keep // 3
    tail = keep - head
    return text[:head] + marker + (text[-tail:] if tail else "")


def note_line(note: Recalled) -> str:
    """How a recalled note appears in the prompt: short id, date, then its text."""
    when = note.timestamp[:16].replace("T", " ")
    return f"[note {note.id[:8]}, {when}] " + " ".join(shorten_middle(note.content, NOTE_CHARS).split())


def build_prompt(llm: Any, message: str, notes: list[Recalled], history: list[Message], *,
                 max_tokens: int, system: str = SYSTEM_PROMPT, today: str | None = None) -> PromptPlan:
    """Assemble system prompt + notes + history + message so that prompt + reply fit in ``llm.n_ctx``.

    ``notes`` come most relevant first, ``history`` oldest first. The person's message always goes
    in (shortened in the middle if it alone is too long). Notes get up to NOTES_SHARE of the room
    left, history the rest (newest first, without gaps), and any room history leaves goes back to
    notes. Sizes are counted with ``llm.count_tokens`` the way ``llm.fit_messages`` counts them, so
    the model's own trimming never has to cut anything.
    """
    started = time.perf_counter()
    n_ctx = int(llm.n_ctx)
    reply_tokens = max(1, min(int(max_tokens), n_ctx - MIN_PROMPT_TOKENS - LLM_MARGIN - SAFETY_TOKENS))
    budget = max(64, n_ctx - reply_tokens - LLM_MARGIN - SAFETY_TOKENS)

    def cost(text: str) -> int:
        return llm.count_tokens(text) + MESSAGE_OVERHEAD

    today = today or datetime.now().astimezone().strftime("%Y-%m-%d")
    base_system = f"{system} Today is {today}."
    notes_header = "\n\nMemory notes (most relevant first):\n"
    base_cost = cost(base_system)

    # 1. The person's message, shortened (in the prompt only) if it alone would not fit.
    text = message
    truncated = 0
    room_for_message = max(16, budget - base_cost)
    while cost(text) > room_for_message and len(text) > 40:
        ratio = room_for_message / cost(text)
        new_len = max(40, int(len(text) * ratio * 0.95) - 8)
        if new_len >= len(text):
            new_len = len(text) - 16
        text = shorten_middle(message, new_len)
        truncated = len(message) - len(text)
    free = budget - base_cost - cost(text)

    # 2. Notes, most relevant first, into their share.
    note_lines = [note_line(n) for n in notes]
    note_costs = [llm.count_tokens(line + "\n") for line in note_lines]
    header_cost = llm.count_tokens(notes_header)
    chosen: set[int] = set()

    def take_notes(room: int) -> int:
        used = 0
        for i, c in enumerate(note_costs):
            if i in chosen:
                continue
            extra = c + (header_cost if not chosen else 0)
            if used + extra <= room:
                chosen.add(i)
                used += extra
        return used

    notes_cost = take_notes(int(free * NOTES_SHARE)) if notes else 0

    # 3. History, newest first, without gaps.
    hist = [{"role": m["role"], "content": shorten_middle(m["content"], HISTORY_CHARS)} for m in history]
    kept: list[Message] = []
    hist_cost = 0
    for m in reversed(hist):
        c = cost(m["content"])
        if hist_cost + c > free - notes_cost:
            break
        kept.insert(0, m)
        hist_cost += c
    # A reply must follow a user message in most chat templates: never start history with "assistant".
    while kept and kept[0]["role"] != "user":
        hist_cost -= cost(kept.pop(0)["content"])

    # 4. Room history did not need goes back to notes.
    if notes and len(chosen) < len(notes):
        notes_cost += take_notes(free - notes_cost - hist_cost)

    def assemble() -> list[Message]:
        sys_text = base_system
        if chosen:
            sys_text += notes_header + "\n".join(note_lines[i] for i in sorted(chosen))
        return [{"role": "system", "content": sys_text}, *kept, {"role": "user", "content": text}]

    # 5. Exact check of the assembled prompt (tokens at the joins can differ from the sum of parts).
    msgs = assemble()
    total = sum(cost(m["content"]) for m in msgs)
    while total > budget:
        if chosen:
            chosen.discard(max(chosen))  # the least relevant note goes first
        elif kept:
            kept.pop(0)
            while kept and kept[0]["role"] != "user":
                kept.pop(0)
        elif len(text) > 40:
            text = shorten_middle(message, max(40, int(len(text) * 0.8)))
            truncated = len(message) - len(text)
        else:
            break
        msgs = assemble()
        total = sum(cost(m["content"]) for m in msgs)

    for i, n in enumerate(notes):
        n.in_prompt = i in chosen
    return PromptPlan(
        messages=msgs, budget=budget, prompt_tokens=total, reply_tokens=reply_tokens,
        notes_used=[notes[i].id for i in sorted(chosen)],
        notes_dropped=[n.id for i, n in enumerate(notes) if i not in chosen],
        history_used=len(kept), history_dropped=len(history) - len(kept), truncated_chars=truncated,
        seconds=time.perf_counter() - started,
    )


# ---------------------------------------------------------------------------------------------
# Conversations on disk
# ---------------------------------------------------------------------------------------------
@dataclass
class Conversation:
    """A conversation. ``messages`` are dicts: id, role ("user"/"assistant"), content, at, and for
    replies: recalled, prompt, usage, model, memory (the background write's outcome), error."""

    id: str
    title: str = ""
    created: str = field(default_factory=now_iso)
    updated: str = field(default_factory=now_iso)
    remember: bool = True
    messages: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"format": CONVERSATION_FORMAT, "id": self.id, "title": self.title, "created": self.created,
                "updated": self.updated, "remember": self.remember, "messages": self.messages}

    @classmethod
    def from_dict(cls, data: Any) -> Conversation:
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        if not isinstance(data.get("id"), str) or not _ID_RE.match(data["id"]):
            raise ValueError("no valid 'id'")
        messages = data.get("messages", [])
        if not isinstance(messages, list) or not all(
                isinstance(m, dict) and m.get("role") in ("user", "assistant") and isinstance(m.get("content"), str)
                for m in messages):
            raise ValueError("'messages' must be a list of {role, content} objects")
        return cls(id=data["id"], title=str(data.get("title", "")), created=str(data.get("created", "")),
                   updated=str(data.get("updated", "")), remember=bool(data.get("remember", True)),
                   messages=messages)

    def message(self, message_id: str) -> dict[str, Any] | None:
        return next((m for m in self.messages if m.get("id") == message_id), None)


@dataclass
class ConversationSummary:
    id: str
    title: str
    updated: str
    messages: int


def make_title(text: str) -> str:
    """A conversation's title: its first message on one line, cut at TITLE_CHARS."""
    line = " ".join(text.split())
    if not line:
        return "(empty)"
    return line if len(line) <= TITLE_CHARS else line[:TITLE_CHARS - 1].rstrip() + "…"


def new_message(role: str, content: str, **extra: Any) -> dict[str, Any]:
    return {"id": uuid.uuid4().hex[:12], "role": role, "content": content, "at": now_iso(), **extra}


_SUMMARY_CACHE: dict[str, tuple[int, int, ConversationSummary]] = {}
_FILE_LOCKS: dict[str, threading.RLock] = {}
_FILE_LOCKS_GUARD = threading.Lock()


class ConversationStore:
    """Conversations as ``<home>/conversations/<id>.json``; a damaged file is reported, never overwritten."""

    def __init__(self, home: str | os.PathLike[str]) -> None:
        self.folder = Path(home) / "conversations"
        self.broken: list[tuple[str, str]] = []  # (file name, problem) found by the last list()
        with _FILE_LOCKS_GUARD:  # one lock per folder, shared by every instance in the process
            self._lock = _FILE_LOCKS.setdefault(str(self.folder.resolve()), threading.RLock())

    # -- paths and raw io --------------------------------------------------------------------
    def _path(self, conversation_id: str) -> Path:
        if not isinstance(conversation_id, str) or not _ID_RE.match(conversation_id):
            raise NotFoundError(f"No conversation with id {conversation_id!r}.")
        return self.folder / f"{conversation_id}.json"

    def _read(self, path: Path) -> Conversation:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return Conversation.from_dict(data)
        except FileNotFoundError:
            raise NotFoundError(f"No conversation with id {path.stem!r}.") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, ValueError) as exc:
            raise StoreError(
                f"The conversation file {path} is damaged ({exc}). Memex left it as it is; move it away "
                "or delete it. Your notes are not affected."
            ) from exc

    def _write(self, conv: Conversation) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self._path(conv.id)
        fd, tmp = tempfile.mkstemp(prefix=f".{conv.id}.", suffix=".tmp", dir=self.folder)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(conv.to_dict(), fh, ensure_ascii=False, indent=1)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    # -- public ---------------------------------------------------------------------------------
    def new(self, remember: bool = True) -> Conversation:
        """A new conversation (saved with its first message, so empty ones never pile up)."""
        return Conversation(id=uuid.uuid4().hex, remember=remember)

    def save(self, conv: Conversation) -> Conversation:
        with self._lock:
            conv.updated = now_iso()
            if not conv.title and conv.messages:
                conv.title = make_title(next((m["content"] for m in conv.messages if m["role"] == "user"),
                                             conv.messages[0]["content"]))
            self._write(conv)
        return conv

    def load(self, conversation_id: str) -> Conversation:
        """The conversation; NotFoundError when there is none, StoreError when its file is damaged."""
        return self._read(self._path(conversation_id))

    def exists(self, conversation_id: str) -> bool:
        try:
            return self._path(conversation_id).is_file()
        except NotFoundError:
            return False

    def update(self, conversation_id: str, change: Callable[[Conversation], Any],
               create: Conversation | None = None) -> Conversation:
        """Read, change and write one conversation under the lock (nobody's update is lost).

        ``create``: the conversation to start from when there is no file yet (a new conversation).
        """
        with self._lock:
            try:
                conv = self.load(conversation_id)
            except NotFoundError:
                if create is None:
                    raise
                conv = create
            change(conv)
            return self.save(conv)

    def append(self, conversation_id: str, message: dict[str, Any], create: Conversation | None = None
               ) -> Conversation:
        return self.update(conversation_id, lambda c: c.messages.append(message), create=create)

    def update_message(self, conversation_id: str, message_id: str, **fields: Any) -> bool:
        """Set fields of one message; False (and nothing written) if the conversation or message is gone."""
        def change(conv: Conversation) -> None:
            msg = conv.message(message_id)
            if msg is None:
                raise NotFoundError(message_id)
            msg.update(fields)

        try:
            self.update(conversation_id, change)
        except NotFoundError:
            return False
        return True

    def set_remember(self, conversation_id: str, remember: bool) -> None:
        with contextlib.suppress(NotFoundError):
            self.update(conversation_id, lambda c: setattr(c, "remember", bool(remember)))

    def delete(self, conversation_id: str) -> bool:
        with self._lock:
            path = self._path(conversation_id)
            try:
                path.unlink()
            except FileNotFoundError:
                return False
            _SUMMARY_CACHE.pop(str(path), None)
            return True

    def list(self) -> list[ConversationSummary]:
        """Every readable conversation, most recently updated first; damaged files go to ``self.broken``."""
        self.broken = []
        out: list[ConversationSummary] = []
        if not self.folder.is_dir():
            return out
        for path in self.folder.glob("*.json"):
            try:
                st = path.stat()
            except OSError:
                continue
            key = str(path)
            cached = _SUMMARY_CACHE.get(key)
            if cached and cached[0] == st.st_mtime_ns and cached[1] == st.st_size:
                out.append(cached[2])
                continue
            try:
                conv = self._read(path)
            except NotFoundError:
                continue
            except StoreError as exc:
                self.broken.append((path.name, str(exc.__cause__ or exc)))
                continue
            if conv.id != path.stem:
                self.broken.append((path.name, f"it holds conversation {conv.id}"))
                continue
            summary = ConversationSummary(conv.id, conv.title or "(untitled)", conv.updated, len(conv.messages))
            _SUMMARY_CACHE[key] = (st.st_mtime_ns, st.st_size, summary)
            out.append(summary)
        return sorted(out, key=lambda s: (s.updated, s.id), reverse=True)


# ---------------------------------------------------------------------------------------------
# Taking turns with the model: the reply goes first
# ---------------------------------------------------------------------------------------------
class ReplyGate:
    """Counts replies that are streaming; the memory writer waits until none is.

    ``max_wait`` bounds the wait, so a reply that is never finished (a closed tab whose generator
    was not cleaned up) cannot stop the writer for good.
    """

    def __init__(self, max_wait: float = 300.0) -> None:
        self._cond = threading.Condition()
        self._active = 0
        self.max_wait = max_wait

    @property
    def active(self) -> int:
        return self._active

    @contextlib.contextmanager
    def replying(self) -> Iterator[None]:
        with self._cond:
            self._active += 1
        try:
            yield
        finally:
            with self._cond:
                self._active -= 1
                self._cond.notify_all()

    def wait_clear(self, timeout: float | None = None) -> bool:
        """Block while a reply streams. True if clear, False if the wait timed out."""
        limit = self.max_wait if timeout is None else timeout
        with self._cond:
            return self._cond.wait_for(lambda: self._active == 0, timeout=limit)


class _GatedLLM:
    """The writer's view of the model: every call first lets a streaming reply finish."""

    def __init__(self, llm: Any, gate: ReplyGate, on_wait: Callable[[bool], None] | None = None) -> None:
        self._llm = llm
        self._gate = gate
        self._on_wait = on_wait

    def _wait(self) -> None:
        if self._gate.active and self._on_wait:
            self._on_wait(True)
        self._gate.wait_clear()
        if self._on_wait:
            self._on_wait(False)

    def structured(self, *args: Any, **kwargs: Any) -> Any:
        self._wait()
        return self._llm.structured(*args, **kwargs)

    def chat(self, *args: Any, **kwargs: Any) -> Any:
        self._wait()
        return self._llm.chat(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._llm, name)


# ---------------------------------------------------------------------------------------------
# The background memory writer
# ---------------------------------------------------------------------------------------------
ACTIVE_STATES = ("queued", "enriching", "linking")


@dataclass
class WriteJob:
    """One memory write and where it is: queued -> enriching -> linking -> evolved N -> done | failed."""

    id: str
    content: str
    source: str
    source_ref: str
    mode: str
    label: str = ""
    state: str = "queued"
    stages: list[str] = field(default_factory=lambda: ["queued"])
    paused: bool = False  # waiting for a streaming reply to finish
    error: str = ""
    note_id: str = ""
    links: list[str] = field(default_factory=list)
    evolved: list[str] = field(default_factory=list)
    llm_calls: int = 0
    needs_enrichment: bool = False
    created: float = field(default_factory=time.time)
    started: float = 0.0
    finished: float = 0.0

    @property
    def active(self) -> bool:
        return self.state not in ("done", "failed")

    @property
    def seconds(self) -> float:
        if not self.started:
            return 0.0
        return (self.finished or time.time()) - self.started

    def describe(self) -> str:
        """One line for a person."""
        if self.state == "done":
            extra = f", linked to {len(self.links)}, evolved {len(self.evolved)}"
            return f"stored as note {self.note_id[:8]}{extra} ({self.seconds:.1f}s)"
        if self.state == "failed":
            return f"not stored: {self.error}"
        if self.paused:
            return f"{self.state} (paused while a reply is written)"
        return self.state + ("…" if self.state in ACTIVE_STATES else "")


@dataclass
class _Task:
    job: WriteJob
    pipeline: Any
    timestamp: str | None
    on_done: Callable[[WriteJob], None] | None


class MemoryWriter:
    """A queue and one worker thread that write notes through the A-MEM pipeline.

    ``submit`` returns at once with a job id; ``job(id)`` returns a snapshot a page can poll. A job
    that raises is marked failed with its message and the worker goes on with the next one.
    """

    def __init__(self, gate: ReplyGate | None = None, keep: int = 500) -> None:
        self.gate = gate or ReplyGate()
        self._queue: queue.Queue[_Task | None] = queue.Queue()
        self._jobs: dict[str, WriteJob] = {}
        self._order: list[str] = []
        self._lock = threading.Lock()
        self._keep = keep
        self._thread: threading.Thread | None = None
        self._stopped = False
        self._ids = itertools.count(1)

    # -- submitting and polling --------------------------------------------------------------------
    def new_id(self) -> str:
        """A job id, for callers that must record it before the job can possibly finish."""
        return f"w{next(self._ids)}-{uuid.uuid4().hex[:6]}"

    def submit(self, pipeline: Any, content: str, *, source: str = "chat", source_ref: str = "",
               mode: str = "full", timestamp: str | None = None, label: str = "",
               on_done: Callable[[WriteJob], None] | None = None, job_id: str | None = None) -> str:
        """Queue a write of ``content`` through ``pipeline`` and return its job id at once."""
        if self._stopped:
            raise MemexError("The memory writer has been stopped.")
        job = WriteJob(id=job_id or self.new_id(), content=content, source=source,
                       source_ref=source_ref, mode=mode, label=label)
        with self._lock:
            self._jobs[job.id] = job
            self._order.append(job.id)
            self._forget_old()
        self._ensure_thread()
        self._queue.put(_Task(job, pipeline, timestamp, on_done))
        return job.id

    def job(self, job_id: str) -> WriteJob | None:
        """A snapshot of the job (None if unknown: e.g. submitted before the app restarted)."""
        with self._lock:
            job = self._jobs.get(job_id)
            return _snapshot(job) if job else None

    def jobs(self, source_ref: str | None = None) -> list[WriteJob]:
        """Snapshots, oldest first; only those for ``source_ref`` when given."""
        with self._lock:
            return [_snapshot(self._jobs[i]) for i in self._order
                    if i in self._jobs and (source_ref is None or self._jobs[i].source_ref == source_ref)]

    def pending(self, source_ref: str | None = None) -> int:
        with self._lock:
            return sum(1 for j in self._jobs.values()
                       if j.active and (source_ref is None or j.source_ref == source_ref))

    def wait(self, job_id: str, timeout: float = 120.0) -> WriteJob | None:
        """Block until the job is done or failed (or ``timeout`` passes); returns its snapshot."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self.job(job_id)
            if job is None or not job.active:
                return job
            time.sleep(0.05)
        return self.job(job_id)

    def wait_idle(self, timeout: float = 120.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.pending():
                return True
            time.sleep(0.05)
        return not self.pending()

    def stop(self, timeout: float = 30.0) -> None:
        """Finish queued jobs, then end the thread (tests; the app's writer lives as long as the process)."""
        self._stopped = True
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout)

    # -- the worker ----------------------------------------------------------------------------------
    def _ensure_thread(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="memex-memory-writer", daemon=True)
                self._thread.start()

    def _forget_old(self) -> None:
        while len(self._order) > self._keep:
            oldest = self._order[0]
            if self._jobs.get(oldest) is not None and self._jobs[oldest].active:
                break
            self._order.pop(0)
            self._jobs.pop(oldest, None)

    def _set(self, job: WriteJob, **fields: Any) -> None:
        with self._lock:
            for name, value in fields.items():
                setattr(job, name, value)
            if "state" in fields and (not job.stages or job.stages[-1] != fields["state"]):
                job.stages.append(fields["state"])

    def _loop(self) -> None:
        while True:
            task = self._queue.get()
            if task is None:
                return
            try:
                final = self._run(task)
            except BaseException as exc:  # noqa: BLE001 - nothing may end the worker
                final = {"state": "failed", "error": _describe(exc)}
            final.update(finished=time.time(), paused=False)
            preview = task.job.content[:300]  # finished jobs keep a preview, not up to 100k characters
            # The callback (e.g. writing the outcome into the conversation file) runs before pollers
            # can see the final state, so whoever sees "done" also finds it recorded.
            if task.on_done is not None:
                try:
                    task.on_done(dataclasses.replace(_snapshot(task.job), **final))
                except Exception:  # noqa: BLE001 - a broken callback must not end the worker either
                    pass
            self._set(task.job, content=preview, **final)

    def _run(self, task: _Task) -> dict[str, Any]:
        """Run one job; returns the fields of its final state."""
        job = task.job
        # A queued job does not start while a reply is streaming.
        if self.gate.active:
            self._set(job, paused=True)
            self.gate.wait_clear()
        self._set(job, paused=False, started=time.time())
        pipeline = task.pipeline
        original = pipeline._llm

        def paused(flag: bool) -> None:
            self._set(job, paused=flag)

        def gated() -> Any:
            model = original
            if model is None:
                from .llm import get_llm

                model = get_llm(pipeline.settings)
            elif callable(model) and not hasattr(model, "structured"):
                model = model()
            return _GatedLLM(model, self.gate, paused)

        try:
            pipeline = copy.copy(pipeline)  # same store and settings, the gated model
            pipeline._llm = gated if job.mode == "full" else original
            report = pipeline.add(job.content, source=job.source, source_ref=job.source_ref,
                                  timestamp=task.timestamp, mode=job.mode,
                                  progress=lambda stage: self._set(job, state=stage))
        except Exception as exc:  # noqa: BLE001 - reported on the job
            return {"state": "failed", "error": _describe(exc)}
        return {"state": "done", "note_id": report.note_id, "links": list(report.links),
                "evolved": list(report.evolved), "llm_calls": report.usage.calls,
                "needs_enrichment": report.needs_enrichment}


def _snapshot(job: WriteJob) -> WriteJob:
    return dataclasses.replace(job, stages=list(job.stages), links=list(job.links), evolved=list(job.evolved))


def _describe(exc: BaseException) -> str:
    if isinstance(exc, MemexError):
        return str(exc)
    return f"unexpected {type(exc).__name__}: {exc}"[:500]


_WRITER: MemoryWriter | None = None
_WRITER_LOCK = threading.Lock()


def get_writer() -> MemoryWriter:
    """The process's memory writer (one thread for every session, tab and store)."""
    global _WRITER
    with _WRITER_LOCK:
        if _WRITER is None:
            _WRITER = MemoryWriter()
        return _WRITER


# ---------------------------------------------------------------------------------------------
# A chat turn
# ---------------------------------------------------------------------------------------------
def exchange_text(user: str, reply: str) -> str:
    """The note written for one exchange. The person's words stay intact; a reply that would push
    the note over the size limit is shortened."""
    head = f"Person: {user}\nMemex: "
    room = MAX_CONTENT_CHARS - len(head)
    if len(reply) > room:
        reply = shorten_middle(reply, max(0, room))
    return head + reply


class Reply:
    """One reply being generated. Iterate it for text pieces (``st.write_stream(reply)``).

    When the iteration ends the assistant message is saved to the conversation and, if the
    conversation is remembered, the exchange is queued for a memory write. An interrupted reply
    (the person sent another message or left) is saved as far as it got, marked interrupted, and
    not remembered.
    """

    def __init__(self, session: ChatSession, conversation: Conversation, user_message: dict[str, Any],
                 recalled: list[Recalled], plan: PromptPlan, temperature: float, remember: bool,
                 recall_seconds: float, recall_error: str, started: float) -> None:
        self.session = session
        self.conversation = conversation
        self.user_message = user_message
        self.recalled = recalled
        self.plan = plan
        self.temperature = temperature
        self.remember = remember
        self.recall_seconds = recall_seconds
        self.recall_error = recall_error
        self.started = started
        self.text = ""
        self.error = ""
        self.message: dict[str, Any] | None = None
        self.job_id = ""
        self.first_token_seconds: float | None = None
        self.usage: dict[str, Any] = {}
        self.touch_thread: threading.Thread | None = None
        self._started = False
        self._finished = False

    @property
    def conversation_id(self) -> str:
        return self.conversation.id

    def __iter__(self) -> Iterator[str]:
        return self.pieces()

    def pieces(self) -> Iterator[str]:
        """The reply's text pieces as the model writes them (a generator: close it if you stop early,
        in the thread that iterated it, so the model's lock is released there)."""
        if self._started:
            raise InputError("This reply has already been streamed.")
        self._started = True
        return self._generate()

    def _generate(self) -> Iterator[str]:
        llm = self.session.llm
        stream = None
        completed = False
        try:
            with self.session.gate.replying():
                try:
                    stream = llm.stream(self.plan.messages, max_tokens=self.plan.reply_tokens,
                                        temperature=self.temperature)
                    for piece in stream:
                        if self.first_token_seconds is None:
                            self.first_token_seconds = time.perf_counter() - self.started
                        self.text += piece
                        yield piece
                    completed = True
                except MemexError as exc:
                    self.error = str(exc)
                except Exception as exc:  # noqa: BLE001 - shown to the person, the turn is kept
                    self.error = f"The model failed while answering: {type(exc).__name__}: {exc}"
                finally:
                    close_stream(stream)
        finally:
            self._finish(stream, interrupted=not completed and not self.error)

    def _finish(self, stream: Any, interrupted: bool) -> None:
        if self._finished:
            return
        self._finished = True
        usage = getattr(stream, "usage", None)
        seconds = time.perf_counter() - self.started
        self.usage = {
            "completion_tokens": getattr(usage, "completion_tokens", 0),
            "prompt_tokens": getattr(usage, "prompt_tokens", self.plan.prompt_tokens),
            "generation_seconds": round(getattr(usage, "seconds", 0.0) or 0.0, 3),
            "first_token_seconds": round(self.first_token_seconds or 0.0, 3),
            "total_seconds": round(seconds, 3),
            "recall_seconds": round(self.recall_seconds, 4),
            "prompt_seconds": round(self.plan.seconds, 4),
        }
        gen = self.usage["generation_seconds"]
        self.usage["tokens_per_s"] = round(self.usage["completion_tokens"] / gen, 1) if gen else 0.0
        extra: dict[str, Any] = {
            "recalled": [r.brief() for r in self.recalled], "prompt": self.plan.summary(), "usage": self.usage,
            "model": getattr(self.session.llm, "name", ""), "temperature": self.temperature,
        }
        if self.recall_error:
            extra["recall_error"] = self.recall_error
        if self.error:
            extra["error"] = self.error
        if interrupted:
            extra["interrupted"] = True
        message = new_message("assistant", self.text, **extra)
        store = self.session.conversations
        will_remember = self.remember and not self.error and not interrupted and self.text.strip() != ""
        try:
            store.append(self.conversation.id, message, create=self.conversation)
        except MemexError as exc:
            self.error = self.error or f"The reply could not be saved: {exc}"
            will_remember = False
        self.message = message
        self.touch_thread = self.session.touch_later([r.id for r in self.recalled])
        if will_remember:
            self.job_id = self.session.remember(
                exchange_text(self.user_message["content"], self.text), conversation_id=self.conversation.id,
                message_id=message["id"], source="chat", label="exchange")
            message["memory"] = {"state": "queued", "job": self.job_id}


def close_stream(stream: Any) -> None:
    """Finish a TokenStream now, in this thread: an abandoned local stream holds the model's lock
    until its generator is closed, and an RLock can only be released by the thread that took it."""
    close = getattr(stream, "close", None)
    if callable(close):
        with contextlib.suppress(Exception):
            close()


class ChatSession:
    """Chat turns over one store, one model and one conversation folder."""

    def __init__(self, store: Any, settings: Any, llm: Any, conversations: ConversationStore | None = None,
                 writer: MemoryWriter | None = None, system_prompt: str = SYSTEM_PROMPT) -> None:
        self.store = store
        self.settings = settings
        self.llm = llm
        self.conversations = conversations or ConversationStore(settings.home)
        self.writer = writer or get_writer()
        self.system_prompt = system_prompt

    @property
    def gate(self) -> ReplyGate:
        return self.writer.gate

    def recall(self, text: str, k: int) -> list[Recalled]:
        """The k notes for ``text``. Their recall counts are updated later (``touch_later``): that update
        is a store write (~50-150 ms at 10k notes) and the reply should not wait for it."""
        from .retrieval import search

        if k <= 0 or not text.strip() or not len(self.store):
            return []
        return [Recalled.from_hit(h) for h in search(self.store, self.settings, text, k, touch=False)]

    def touch_later(self, note_ids: list[str]) -> threading.Thread | None:
        """Record that notes were recalled (last_accessed, retrieval_count), in a background thread."""
        if not note_ids:
            return None

        def touch() -> None:
            with contextlib.suppress(Exception):  # a note deleted meanwhile, a busy store: not worth an error
                self.store.touch(list(note_ids))

        thread = threading.Thread(target=touch, name="memex-recall-touch", daemon=True)
        thread.start()
        return thread

    def prepare(self, text: str, history: list[Message], *, k: int, max_tokens: int
                ) -> tuple[list[Recalled], PromptPlan, float, str]:
        """Recall + prompt assembly (what the benchmark times as overhead)."""
        started = time.perf_counter()
        recall_error = ""
        try:
            recalled = self.recall(text, k)
        except MemexError as exc:  # the reply still comes, without memories
            recalled, recall_error = [], str(exc)
        recall_seconds = time.perf_counter() - started
        plan = build_prompt(self.llm, text, recalled, history, max_tokens=max_tokens, system=self.system_prompt)
        return recalled, plan, recall_seconds, recall_error

    def reply(self, conversation_id: str | None, text: str, *, k: int | None = None,
              temperature: float | None = None, max_tokens: int | None = None,
              remember: bool | None = None) -> Reply:
        """Save the person's message and return the reply to stream. Raises InputError for a blank message."""
        if not isinstance(text, str) or not text.strip():
            raise InputError("Type a message first.")
        started = time.perf_counter()
        s = self.settings
        conv: Conversation | None = None
        if conversation_id:
            with contextlib.suppress(NotFoundError):
                conv = self.conversations.load(conversation_id)
        if conv is None:
            conv = self.conversations.new(remember=s.remember_chat if remember is None else remember)
        if remember is not None:
            conv.remember = bool(remember)
        history = [{"role": m["role"], "content": m["content"]} for m in conv.messages
                   if m.get("content", "").strip() and not m.get("error") and not m.get("interrupted")]
        recalled, plan, recall_seconds, recall_error = self.prepare(
            text, history, k=s.recall_k if k is None else int(k),
            max_tokens=s.max_tokens if max_tokens is None else int(max_tokens))
        user_message = new_message("user", text)
        remember_flag = conv.remember

        def add_user(c: Conversation) -> None:
            c.remember = remember_flag
            c.messages.append(user_message)

        conv = self.conversations.update(conv.id, add_user, create=conv)
        return Reply(self, conv, user_message, recalled, plan,
                     s.temperature if temperature is None else float(temperature), conv.remember,
                     recall_seconds, recall_error, started)

    def remember(self, content: str, *, conversation_id: str = "", message_id: str = "",
                 source: str = "manual", label: str = "", mode: str = "full", job_id: str | None = None) -> str:
        """Queue a memory write; its outcome is written back onto the message.

        The outcome goes to the message's ``memory`` field for a chat exchange (source "chat") and to
        ``remembered`` for "Remember this" (source "manual"). The queued state (with the job id) is
        written before the job is submitted, so a fast job's final state can never be overwritten.
        """
        from .memory.pipeline import MemoryPipeline

        pipeline = MemoryPipeline(self.store, self.settings, self.llm)
        field_name = "memory" if source == "chat" else "remembered"
        conversations = self.conversations
        job_id = job_id or self.writer.new_id()
        if conversation_id and message_id:
            conversations.update_message(conversation_id, message_id,
                                         **{field_name: {"state": "queued", "job": job_id}})

        def on_done(job: WriteJob) -> None:
            if conversation_id and message_id:
                conversations.update_message(conversation_id, message_id, **{field_name: job_outcome(job)})

        return self.writer.submit(pipeline, content, source=source, source_ref=conversation_id, mode=mode,
                                  label=label, on_done=on_done, job_id=job_id)


def job_outcome(job: WriteJob) -> dict[str, Any]:
    """What a finished job leaves on its message."""
    out: dict[str, Any] = {"state": job.state, "job": job.id}
    if job.state == "done":
        out.update(note_id=job.note_id, links=len(job.links), evolved=len(job.evolved),
                   seconds=round(job.seconds, 2), needs_enrichment=job.needs_enrichment)
    elif job.state == "failed":
        out["error"] = job.error
    return out
