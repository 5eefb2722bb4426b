"""Conversations on disk: one JSON file per conversation in ``<home>/conversations/``.

Files are written atomically (temp file + ``os.replace``) and read-modify-written under a lock file
per conversation (``<home>/locks/<id>.lock``, ``filelock``), so the app, ``memex chat`` processes and
the background writer's status updates never overwrite each other's messages. Reading takes no lock
(a reader sees the old file or the new one, never half of one) and writes nothing. A damaged file is
reported, never overwritten.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from ..errors import InputError, NotFoundError, StoreError
from ..notes import now_iso

TITLE_CHARS = 60
# A message's memory write is not over in these states (pending.py resumes them; defined here, below it).
# (Older files may hold the one-step write's stage names: they mean "storing".)
PENDING_STATES = ("queued", "storing", "enriching", "checking for duplicates", "linking", "retrying")
# A stored note's enrichment (``memory["enrichment"]["state"]``) is not over in these (chat/enrichment.py).
ENRICH_PENDING = ("queued", "enriching", "retrying")
CONVERSATION_FORMAT = 1
_ID_RE = re.compile(r"^[0-9a-f]{32}$")

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
    # Where an imported conversation came from ({"format", "file", "source_id", "complete"}); empty for
    # one chatted in Memex (chat.history_import writes it).
    imported: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data = {"format": CONVERSATION_FORMAT, "id": self.id, "title": self.title, "created": self.created,
                "updated": self.updated, "remember": self.remember, "messages": self.messages}
        if self.imported:
            data["imported"] = self.imported
        return data

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
        imported = data.get("imported")
        return cls(id=data["id"], title=str(data.get("title", "")), created=str(data.get("created", "")),
                   updated=str(data.get("updated", "")), remember=bool(data.get("remember", True)),
                   messages=messages, imported=imported if isinstance(imported, dict) else {})

    def message(self, message_id: str) -> dict[str, Any] | None:
        return next((m for m in self.messages if m.get("id") == message_id), None)


def is_pending(message: dict[str, Any]) -> bool:
    """A person's message whose memory write is not over (pending.py resumes it)."""
    return message.get("role") == "user" and (message.get("memory") or {}).get("state") in PENDING_STATES


def enrichment_pending(message: dict[str, Any]) -> bool:
    """A person's message stored as a note whose enrichment by the model is not over."""
    memory = message.get("memory") or {}
    enrichment = memory.get("enrichment") if isinstance(memory, dict) else None
    return message.get("role") == "user" and memory.get("state") == "done" and isinstance(enrichment, dict) \
        and enrichment.get("state") in ENRICH_PENDING


@dataclass
class ConversationSummary:
    id: str
    title: str
    updated: str
    messages: int
    pending: int = 0  # the person's messages whose memory write is not over (pending.py)
    enriching: int = 0  # ... stored, whose enrichment is not over (enrichment.py)


def make_title(text: str) -> str:
    """A conversation's title: its first message on one line, cut at TITLE_CHARS."""
    line = " ".join(text.split())
    if not line:
        return "(empty)"
    return line if len(line) <= TITLE_CHARS else line[:TITLE_CHARS - 1].rstrip() + "…"


def new_message(role: str, content: str, **extra: Any) -> dict[str, Any]:
    return {"id": uuid.uuid4().hex[:12], "role": role, "content": content, "at": now_iso(), **extra}


_SUMMARY_CACHE: dict[str, tuple[int, int, ConversationSummary]] = {}
LOCK_FOLDER = "locks"
LOCK_SECONDS = 30.0  # a conversation's read-modify-write takes milliseconds; longer means something is stuck
_FILE_LOCKS: dict[str, FileLock] = {}
_FILE_LOCKS_GUARD = threading.Lock()


def lock_path(home: str | os.PathLike[str], name: str) -> Path:
    """``<home>/locks/<name>``: lock files live apart, so the conversations folder holds conversations only."""
    return Path(home) / LOCK_FOLDER / name


def file_lock(path: Path, timeout: float = LOCK_SECONDS) -> FileLock:
    """One ``FileLock`` per path in this process: re-entrant in a thread, exclusive between threads
    (each thread holds its own descriptor) and between processes (``flock``, released by the kernel
    when a process dies, so a crashed owner never holds it)."""
    key = str(path)
    with _FILE_LOCKS_GUARD:
        lock = _FILE_LOCKS.get(key)
        if lock is None:
            lock = _FILE_LOCKS[key] = FileLock(key, timeout=timeout)
        return lock


class ConversationStore:
    """Conversations as ``<home>/conversations/<id>.json``; a damaged file is reported, never overwritten."""

    def __init__(self, home: str | os.PathLike[str]) -> None:
        self.home = Path(home)
        self.folder = self.home / "conversations"
        self.broken: list[tuple[str, str]] = []  # (file name, problem) found by the last list()

    @contextlib.contextmanager
    def locked(self, conversation_id: str) -> Any:
        """Hold the conversation's lock (threads and processes) for a read-modify-write."""
        self._path(conversation_id)  # NotFoundError for an id that is not one of ours
        path = lock_path(self.home, f"{conversation_id}.lock")
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with file_lock(path):
                yield
        except Timeout as exc:
            raise StoreError(f"The conversation {conversation_id} stayed locked by another Memex process for "
                             f"{LOCK_SECONDS:.0f} s; nothing was changed. Try again.") from exc

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
    @staticmethod
    def new_id() -> str:
        """An id for a conversation that does not exist yet (the page opens it at once, empty)."""
        return uuid.uuid4().hex

    def new(self, remember: bool = True, conversation_id: str | None = None) -> Conversation:
        """A new conversation (saved with its first message, so empty ones never pile up)."""
        if conversation_id is not None:
            self._path(conversation_id)  # NotFoundError for an id that is not one of ours
        return Conversation(id=conversation_id or self.new_id(), remember=remember)

    def rename(self, conversation_id: str, title: str) -> Conversation:
        """Give a conversation the person's title (one line, at most TITLE_CHARS; blank is refused)."""
        line = " ".join(str(title).split())
        if not line:
            raise InputError("Give the conversation a name (it cannot be blank).")
        line = line[:TITLE_CHARS]
        return self.update(conversation_id, lambda c: setattr(c, "title", line))

    def save(self, conv: Conversation, touch: bool = True) -> Conversation:
        """Write the conversation; ``touch`` dates it now (False: an imported one keeps its own times)."""
        with self.locked(conv.id):
            if touch or not conv.updated:
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
        with self.locked(conversation_id):
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
        with self.locked(conversation_id):
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
            pending = sum(1 for m in conv.messages if is_pending(m))
            enriching = sum(1 for m in conv.messages if enrichment_pending(m))
            summary = ConversationSummary(conv.id, conv.title or "(untitled)", conv.updated, len(conv.messages),
                                          pending, enriching)
            _SUMMARY_CACHE[key] = (st.st_mtime_ns, st.st_size, summary)
            out.append(summary)
        return sorted(out, key=lambda s: (s.updated, s.id), reverse=True)
