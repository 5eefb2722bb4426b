"""What a chat-history file is, read into conversations of dated messages (``chat_formats`` has the shapes).

Why by content and not by name: every export is called ``conversations.json`` (ChatGPT's and
Claude's alike) and people rename files. ``chat_kind`` looks at the data; a zip is opened and its
``conversations.json`` read. Each conversation is read on its own: a broken one is named with what
is wrong and skipped, the rest is kept (``ChatHistory.problems``). Nothing here writes: the write is
``memory_core.chat.history_import``, above the chat's write path.

Ids are derived from the source (``conversation_id``), so importing the same file twice finds the
same conversations and messages and changes nothing.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path, PurePosixPath
from typing import Any

from ..errors import ImportFormatError, InputError
from .chat_formats import (
    BadConversation,
    ImportedConversation,
    ImportedMessage,
    jsonl_rows,
    read_chatgpt,
    read_claude,
    read_jsonl_conversation,
    read_plain,
)

MAX_BYTES = 512 * 1024 * 1024  # the same bound as a Memex export: a file is read whole
EXPORT_NAME = "conversations.json"
FORMAT_NAMES = {"chatgpt": "a ChatGPT export", "claude": "a Claude export", "plain": "a plain chat history (JSON)",
                "plain-jsonl": "a plain chat history (JSONL)"}

__all__ = ["ChatHistory", "ImportedConversation", "ImportedMessage", "chat_kind", "conversation_id",
           "message_id", "parse_history", "zip_export"]


@dataclass
class ChatHistory:
    """The conversations of one file, and what in it could not be used (each named, with the reason)."""

    format: str  # chatgpt | claude | plain | plain-jsonl
    name: str
    conversations: list[ImportedConversation] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def message_count(self) -> int:
        return sum(len(c.messages) for c in self.conversations)

    @property
    def person_count(self) -> int:
        return sum(1 for c in self.conversations for m in c.messages if m.role == "user")

    @property
    def family(self) -> str:
        """The source an id is derived from: the plain JSON and JSONL forms are one format."""
        return "plain" if self.format.startswith("plain") else self.format

    def describe(self) -> str:
        return (f"{FORMAT_NAMES.get(self.format, self.format)}: {len(self.conversations):,} conversation"
                f"{'s' if len(self.conversations) != 1 else ''}, {self.message_count:,} messages "
                f"({self.person_count:,} from you)")


def conversation_id(family: str, source_id: str) -> str:
    """A Memex conversation id (32 hex) that the same source conversation always gets."""
    return hashlib.sha256(f"import:{family}:{source_id}".encode()).hexdigest()[:32]


def message_id(conv_id: str, source_id: str) -> str:
    """A message id (12 hex, as the chat's) that the same source message always gets."""
    return hashlib.sha256(f"{conv_id}:{source_id}".encode()).hexdigest()[:12]


def chat_kind(data: Any) -> str | None:
    """'chatgpt', 'claude' or 'plain' for parsed JSON that is a chat history, else None."""
    if isinstance(data, dict) and isinstance(data.get("conversations"), list):
        return "plain"
    if isinstance(data, list) and data and isinstance(data[0], dict):
        if any(isinstance(c, dict) and "mapping" in c for c in data[:20]):
            return "chatgpt"
        if any(isinstance(c, dict) and "chat_messages" in c for c in data[:20]):
            return "claude"
    return None


def looks_like_jsonl(text: str) -> bool:
    """The first non-empty line is a JSON object that names its conversation by a string or number."""
    for line in text.splitlines():
        if line.strip():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                return False
            key = row.get("conversation") if isinstance(row, dict) else None
            return isinstance(key, (str, int)) and not isinstance(key, bool) and ("content" in row or "role" in row)
    return False


def zip_export(raw: bytes) -> bytes | None:
    """The ``conversations.json`` inside an export zip (the shallowest one), or None when there is none."""
    try:
        with zipfile.ZipFile(BytesIO(raw)) as archive:
            found = sorted((i for i in archive.infolist() if PurePosixPath(i.filename).name == EXPORT_NAME
                            and not i.is_dir()), key=lambda i: i.filename.count("/"))
            if not found:
                return None
            if found[0].file_size > MAX_BYTES:
                raise ImportFormatError(f"The {EXPORT_NAME} in this zip is {found[0].file_size / 1e6:,.0f} MB "
                                        f"unpacked; Memex reads at most {MAX_BYTES // 2**20} MiB.")
            return archive.read(found[0])
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise ImportFormatError(f"The zip file is damaged ({exc}).") from exc


def read_file(path: str | Path) -> bytes:
    """A file's bytes for an import; from an export zip only its ``conversations.json`` (ChatGPT's zips
    hold every picture of every chat: gigabytes never read). A file past ``MAX_BYTES`` is refused unread."""
    path = Path(path)
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                names = [i for i in archive.infolist() if PurePosixPath(i.filename).name == EXPORT_NAME]
            if names:
                inner = min(names, key=lambda i: i.filename.count("/"))
                if inner.file_size > MAX_BYTES:
                    raise ImportFormatError(f"The {EXPORT_NAME} in {path.name} is {inner.file_size / 1e6:,.0f} MB "
                                            f"unpacked; Memex reads at most {MAX_BYTES // 2**20} MiB.")
                with zipfile.ZipFile(path) as archive:
                    return archive.read(inner)
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise ImportFormatError(f"{path.name} is {size / 1e6:,.0f} MB; Memex reads at most "
                                    f"{MAX_BYTES // 2**20} MiB.")
        return path.read_bytes()
    except (zipfile.BadZipFile, EOFError) as exc:
        raise ImportFormatError(f"The zip file {path.name} is damaged ({exc}).") from exc
    except OSError as exc:
        raise InputError(f"Cannot read {path}: {exc.strerror or exc}") from exc


def decode(raw: bytes) -> str:
    if len(raw) > MAX_BYTES:
        raise ImportFormatError(f"The file is {len(raw) / 1e6:,.0f} MB; Memex reads at most {MAX_BYTES // 2**20} MiB.")
    if not raw.strip():
        raise ImportFormatError("The file is empty.")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportFormatError(f"The file is not UTF-8 text (byte {exc.start}).") from exc


def _each(history: ChatHistory, items: list[Any], read: Callable[[Any, int], ImportedConversation],
          title_of: Callable[[Any], str]) -> None:
    """Read every conversation; a broken one is named and skipped, an empty one is left out."""
    for i, item in enumerate(items):
        try:
            if not isinstance(item, dict):
                raise BadConversation("not an object")
            conv = read(item, i)
        except BadConversation as exc:
            name = title_of(item) if isinstance(item, dict) else ""
            history.problems.append(f"conversation {i + 1}{f' {name!r}' if name else ''}: {exc}; skipped")
            continue
        if conv.messages:
            history.conversations.append(conv)


def parse_history(raw: bytes, name: str = "") -> ChatHistory:
    """Read a chat history (a ChatGPT or Claude export, its zip, or the plain JSON/JSONL format).

    ImportFormatError when the file as a whole cannot be used (it names why); a conversation that
    cannot be used is in ``problems`` and the others are read."""
    if raw[:2] == b"PK":
        inner = zip_export(raw)
        if inner is None:
            raise ImportFormatError(f"This zip holds no {EXPORT_NAME}: it is not a ChatGPT or Claude export.")
        raw, name = inner, f"{name}/{EXPORT_NAME}" if name else EXPORT_NAME
    text = decode(raw)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        if looks_like_jsonl(text):
            return _parse_jsonl(text, name)
        raise ImportFormatError(f"The file is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}.") \
            from exc
    if isinstance(data, dict) and looks_like_jsonl(text):  # JSONL of a single line
        return _parse_jsonl(text, name)
    kind = chat_kind(data)
    if kind is None:
        raise ImportFormatError(
            "This is not a chat history Memex knows: a ChatGPT or Claude export (conversations.json), or "
            "{\"conversations\": [{\"title\", \"messages\": [{\"role\", \"content\", \"timestamp\"}]}]}.")
    history = ChatHistory(kind, name)
    if kind == "plain":
        _each(history, data["conversations"], read_plain, lambda c: str(c.get("title") or ""))
    elif kind == "chatgpt":
        _each(history, data, read_chatgpt, lambda c: str(c.get("title") or ""))
    else:
        _each(history, data, read_claude, lambda c: str(c.get("name") or ""))
    return history


def _parse_jsonl(text: str, name: str) -> ChatHistory:
    groups, problems = jsonl_rows(text)
    history = ChatHistory("plain-jsonl", name, problems=problems)
    for key, rows in groups.items():
        try:
            conv = read_jsonl_conversation(key, rows)
        except BadConversation as exc:
            history.problems.append(f"conversation {key!r} (line {rows[0][0]}): {exc}; skipped")
            continue
        if conv.messages:
            history.conversations.append(conv)
    return history
