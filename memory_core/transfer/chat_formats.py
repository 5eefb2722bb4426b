"""Chat histories from other assistants, read into one neutral shape: conversations of dated messages.

Why one module per concern: the four formats differ only in where they keep a message's speaker,
text and time; everything after that (ids, the write path, the conversation files) is shared and
lives in ``chat_history`` and ``chat.history_import``. Each reader turns one conversation of its
format into an ``ImportedConversation`` or raises ``BadConversation`` naming what is wrong, so one
broken conversation is skipped by name and the rest still imports.

The shapes read (as the exports have them today):
- ChatGPT ``conversations.json``: a list of conversations, each a tree of nodes (``mapping``) whose
  ``message`` has ``author.role``, ``content.parts`` and ``create_time`` (epoch seconds). A regenerated
  or edited reply makes a branch; the branch the person last saw ends at ``current_node``, so the
  path from there to the root is the conversation. System, tool and hidden messages are not part of
  what was said and are left out.
- Claude ``conversations.json``: a list of conversations with ``chat_messages`` (``sender`` "human"
  or "assistant", ``text`` or ``content[].text``, ``created_at`` ISO 8601).
- Memex's plain format, JSON ``{"conversations": [{"title", "messages": [{"role", "content",
  "timestamp"}]}]}`` or JSONL, one message a line with a ``conversation`` key (docs/import.md).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from ..errors import InputError
from ..notes import check_text, parse_time

ROLES = {"user": "user", "human": "user", "assistant": "assistant"}
SKIPPED_ROLES = ("system", "tool", "developer", "function")
TEXT_TYPES = ("text", "multimodal_text")  # ChatGPT content types that are words said in the chat


class BadConversation(ValueError):
    """A conversation that cannot be imported as it is; the message says why (it is shown with its name)."""


@dataclass
class ImportedMessage:
    role: str  # "user" | "assistant"
    content: str
    at: str  # ISO 8601, as in the file (never the time of the import)
    source_id: str  # the message's id in the file, or its position


@dataclass
class ImportedConversation:
    source_id: str  # the conversation's id in the file (or what names it there)
    title: str
    messages: list[ImportedMessage] = field(default_factory=list)

    @property
    def created(self) -> str:
        return self.messages[0].at if self.messages else ""

    @property
    def updated(self) -> str:
        return self.messages[-1].at if self.messages else ""


def iso_time(value: Any, what: str) -> str:
    """An ISO 8601 time (its zone kept; none means UTC), or epoch seconds, as ISO 8601 to the second."""
    if isinstance(value, bool) or value in (None, ""):
        raise BadConversation(f"{what} has no time")
    if isinstance(value, (int, float)):
        try:
            when = datetime.fromtimestamp(float(value), tz=timezone.utc)
        except (OverflowError, OSError, ValueError):
            raise BadConversation(f"{what} has an impossible time ({value!r})") from None
    else:
        try:
            when = parse_time(str(value))
        except InputError:
            raise BadConversation(f"{what} has a time that is not ISO 8601 ({str(value)[:40]!r})") from None
    return when.replace(microsecond=0).isoformat()


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise BadConversation(f"{what}: the text is not a string")
    try:
        check_text(value, what)
    except InputError as exc:
        raise BadConversation(str(exc).split(";")[0]) from None
    if "\x00" in value:
        raise BadConversation(f"{what} holds a NUL character (binary data, not words)")
    return value.strip()


def _fill_times(raw_times: list[Any], what: str, fallback: Any = None) -> list[str]:
    """Each message's time; one without a time takes the previous one's (or the conversation's)."""
    out: list[str] = []
    last = iso_time(fallback, what) if fallback not in (None, "") else ""
    for i, value in enumerate(raw_times):
        if value in (None, ""):
            if not last:
                raise BadConversation(f"message {i + 1} has no time, and nothing before it does")
            out.append(last)
            continue
        last = iso_time(value, f"message {i + 1}")
        out.append(last)
    return out


# -- ChatGPT -------------------------------------------------------------------------------------------
def chatgpt_path(conv: dict[str, Any]) -> list[dict[str, Any]]:
    """The nodes from the root to ``current_node`` (the branch the person last saw)."""
    mapping = conv.get("mapping")
    if not isinstance(mapping, dict) or not mapping:
        raise BadConversation("no 'mapping' of messages")
    node_id = conv.get("current_node")
    if node_id not in mapping:  # older or trimmed exports: the last child at every step
        roots = [n for n in mapping.values() if isinstance(n, dict) and n.get("parent") in (None, "")]
        if not roots:
            raise BadConversation("its message tree has no root")
        node: Any = roots[0]
        for _ in range(len(mapping)):  # bounded: a tree whose children loop ends here too
            children = node.get("children") if isinstance(node, dict) else None
            if not children or not isinstance(children, list):
                break
            node = mapping.get(children[-1])
        node_id = node.get("id") if isinstance(node, dict) else None
    path: list[dict[str, Any]] = []
    seen: set[str] = set()
    while node_id is not None:
        node = mapping.get(node_id)
        if not isinstance(node, dict):
            raise BadConversation(f"its message tree names a node {str(node_id)[:40]!r} that is not there")
        if node_id in seen:
            raise BadConversation("its message tree loops")
        seen.add(node_id)
        path.append(node)
        node_id = node.get("parent")
    path.reverse()
    return path


def _chatgpt_words(message: dict[str, Any]) -> str | None:
    """The words of a message said in the chat, or None for what the person never saw as said."""
    author: Any = message.get("author")
    role = ROLES.get(str(author.get("role", ""))) if isinstance(author, dict) else None
    metadata: Any = message.get("metadata")
    metadata = metadata if isinstance(metadata, dict) else {}
    if role is None or metadata.get("is_visually_hidden_from_conversation"):
        return None
    if role == "assistant" and message.get("recipient", "all") != "all":  # a call to a tool
        return None
    content = message.get("content")
    if not isinstance(content, dict) or content.get("content_type", "text") not in TEXT_TYPES:
        return None
    parts = content.get("parts")
    if not isinstance(parts, list):
        raise BadConversation(f"message {str(message.get('id', ''))[:40]!r} has no 'parts'")
    return "\n".join(p for p in parts if isinstance(p, str))  # images and files are not words


def read_chatgpt(conv: dict[str, Any], index: int) -> ImportedConversation:
    source_id = str(conv.get("conversation_id") or conv.get("id") or f"#{index + 1}")
    rows: list[tuple[str, str, Any, str]] = []
    for node in chatgpt_path(conv):
        message = node.get("message")
        if not isinstance(message, dict):
            continue  # the root, or a node whose message was removed
        words = _chatgpt_words(message)
        if words is None:
            continue
        words = _text(words, f"message {str(message.get('id', ''))[:40]}")
        if words:
            role = ROLES[str(message["author"]["role"])]
            rows.append((role, words, message.get("create_time"), str(message.get("id") or node.get("id"))))
    times = _fill_times([r[2] for r in rows], "the conversation", conv.get("create_time"))
    messages = [ImportedMessage(role, words, at, mid) for (role, words, _, mid), at in zip(rows, times)]
    return ImportedConversation(source_id, str(conv.get("title") or ""), messages)


# -- Claude ---------------------------------------------------------------------------------------------
def _claude_words(message: dict[str, Any], what: str) -> str:
    blocks = message.get("content")
    if isinstance(blocks, list) and blocks:
        texts = [b.get("text") for b in blocks if isinstance(b, dict) and b.get("type", "text") == "text"]
        words = "\n\n".join(t for t in texts if isinstance(t, str))
        if words.strip():
            return _text(words, what)
    return _text(message.get("text") or "", what)


def read_claude(conv: dict[str, Any], index: int) -> ImportedConversation:
    source_id = str(conv.get("uuid") or f"#{index + 1}")
    items = conv.get("chat_messages")
    if not isinstance(items, list):
        raise BadConversation("no 'chat_messages' list")
    rows: list[tuple[str, str, Any, str]] = []
    for i, message in enumerate(items):
        if not isinstance(message, dict):
            raise BadConversation(f"message {i + 1} is not an object")
        role = ROLES.get(str(message.get("sender", "")))
        if role is None:
            raise BadConversation(f"message {i + 1} has sender {str(message.get('sender'))[:20]!r} "
                                  "(expected \"human\" or \"assistant\")")
        words = _claude_words(message, f"message {i + 1}")
        if words:
            rows.append((role, words, message.get("created_at"), str(message.get("uuid") or i)))
    times = _fill_times([r[2] for r in rows], "the conversation", conv.get("created_at"))
    messages = [ImportedMessage(role, words, at, mid) for (role, words, _, mid), at in zip(rows, times)]
    return ImportedConversation(source_id, str(conv.get("name") or ""), messages)


# -- the plain format -------------------------------------------------------------------------------
def read_plain_messages(items: Any, what: str = "") -> list[ImportedMessage]:
    """Messages of the plain format (a list of {role, content, timestamp}); system messages are left out."""
    if not isinstance(items, list):
        raise BadConversation("no 'messages' list")
    rows: list[tuple[str, str, Any, str]] = []
    for i, message in enumerate(items):
        label = f"{what}message {i + 1}"
        if not isinstance(message, dict):
            raise BadConversation(f"{label} is not an object")
        raw_role = str(message.get("role", ""))
        if raw_role in SKIPPED_ROLES:
            continue
        role = ROLES.get(raw_role)
        if role is None:
            raise BadConversation(f"{label} has role {raw_role[:20]!r} (expected \"user\" or \"assistant\")")
        words = _text(message.get("content"), label)
        if words:
            rows.append((role, words, message.get("timestamp"), str(message.get("id") or "")))
    times = _fill_times([r[2] for r in rows], "the conversation")
    out: list[ImportedMessage] = []
    seen: dict[str, int] = {}
    for (role, words, _, mid), at in zip(rows, times):
        if not mid:  # named by what it is, not where: a line added to the file later moves no other id
            key = f"{role}|{at}|{hashlib.sha1(words.encode('utf-8')).hexdigest()[:12]}"
            seen[key] = seen.get(key, 0) + 1
            mid = key if seen[key] == 1 else f"{key}#{seen[key]}"
        out.append(ImportedMessage(role, words, at, mid))
    return out


def read_plain(conv: Any, index: int) -> ImportedConversation:
    if not isinstance(conv, dict):
        raise BadConversation("not an object with a title and messages")
    messages = read_plain_messages(conv.get("messages"))
    title = str(conv.get("title") or "")
    if conv.get("id") not in (None, ""):
        source_id = str(conv["id"])
    else:  # no id: its title and first time name it (two "Chat"s on two days stay two)
        source_id = f"{title or '#' + str(index + 1)}|{messages[0].at if messages else ''}"
    return ImportedConversation(source_id, title, messages)


def jsonl_rows(text: str) -> tuple[dict[str, list[tuple[int, dict[str, Any]]]], list[str]]:
    """Lines of a JSONL file grouped by their ``conversation`` key (in order of first appearance), and
    the lines that could not be read (named by number)."""
    groups: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    problems: list[str] = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(f"line {n}: not JSON ({exc.msg}); skipped")
            continue
        key = row.get("conversation") if isinstance(row, dict) else None
        if not isinstance(key, (str, int)) or isinstance(key, bool) or str(key) == "":
            problems.append(f"line {n}: no \"conversation\" key; skipped")
            continue
        groups.setdefault(str(key), []).append((n, row))
    return groups, problems


def read_jsonl_conversation(key: str, rows: list[tuple[int, dict[str, Any]]]) -> ImportedConversation:
    title = next((str(r["title"]) for _, r in rows if r.get("title")), key)
    messages = read_plain_messages([row for _, row in rows])
    return ImportedConversation(key, title, messages)
