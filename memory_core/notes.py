"""The note: one memory in the Zettelkasten, with its links and its full history.

A note is a plain record. It carries its outgoing links (by note id, with a reason) and the
history of every change made to it, so a single JSON object is enough to restore it exactly:
this is what the store keeps on disk and what export/import moves around.
"""

from __future__ import annotations

import copy
import dataclasses
import unicodedata
import uuid
from dataclasses import dataclass, field, fields
from datetime import datetime, timezone
from typing import Any

from .errors import ImportFormatError, InputError

MAX_CONTENT_CHARS = 100_000  # ~25k tokens: longer text belongs in a document store, not a note
EDITABLE_FIELDS = ("content", "keywords", "context", "tags", "timestamp")
# "digest" and "profile" notes are Memex's own consolidation of the person's notes (memory_core.consolidation):
# derived, not told. They cite their sources with links made ``by=CONSOLIDATION``; recall leaves them out
# (they are not facts the person said), and forgetting a cited note forgets them too (store.forget).
DERIVED_SOURCES = ("digest", "profile")
SOURCES = ("chat", "manual", "import", *DERIVED_SOURCES)
CONSOLIDATION = "consolidation"
ACTORS = ("enricher", "evolver", "linker", "person", "import", "system", "wikilink", CONSOLIDATION)


def is_derived(note: object) -> bool:
    """A digest or profile line Memex wrote from other notes (not the person's own words)."""
    return getattr(note, "source", "") in DERIVED_SOURCES


# How a chat note's ``turn_context`` is written: a date line, then lines said by the person. Older
# Memex versions also kept the assistant's reply (a line starting with ASSISTANT_LINE); the store's
# context repair removes those, because the model's words must not steer what a note is found by.
PERSON_LINE = "Person: "
ASSISTANT_LINE = "Memex: "


def person_context(turn_context: str) -> str:
    """``turn_context`` without the assistant's lines: what is left is the person's words and the time."""
    lines = turn_context.split("\n")
    return "\n".join(line for line in lines if not line.startswith(ASSISTANT_LINE))


def now_iso() -> str:
    """Current time, ISO 8601 with zone (UTC), second precision."""
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


def parse_time(value: str) -> datetime:
    """Parse an ISO 8601 time; a time without zone is taken as UTC so comparisons never fail."""
    try:
        dt = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError as exc:
        raise InputError(f"{value!r} is not an ISO 8601 time (e.g. 2024-05-08T13:56:00+00:00).") from exc
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


def try_parse_time(value: object) -> datetime | None:
    """The time, or None when it cannot be read (a damaged, hand-edited or missing value).

    Why a second entry point: reads that sort, bound or label by time (tables, the graph, the time
    slider, exports) must not break on one bad note, while input a person types goes through
    ``parse_time`` and gets its message. Every "parse a time safely" in the code is this one.
    """
    if value is None:
        return None
    try:
        return parse_time(str(value))
    except (InputError, ValueError, OverflowError):
        return None


def normalise_time(value: str) -> str:
    return parse_time(value).isoformat()


@dataclass
class Link:
    """A directed link to another note, by id. ``by`` tells who made it (linker, person, ...)."""

    target: str
    reason: str = ""
    created: str = field(default_factory=now_iso)
    by: str = "linker"

    def to_dict(self) -> dict[str, str]:
        return {"target": self.target, "reason": self.reason, "created": self.created, "by": self.by}


@dataclass
class Change:
    """One recorded change of one field: enough to show a before/after and to revert it."""

    field: str
    old: Any
    new: Any
    by: str
    at: str = dataclasses.field(default_factory=now_iso)  # ``field`` is a field name here
    cause: str = ""  # why, when not obvious from ``by``: e.g. "proposal:<id>" for an accepted proposal


@dataclass
class Note:
    content: str
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    keywords: list[str] = field(default_factory=list)
    context: str = ""
    tags: list[str] = field(default_factory=list)
    timestamp: str = field(default_factory=now_iso)
    last_accessed: str = ""
    retrieval_count: int = 0
    source: str = "manual"
    source_ref: str = ""  # e.g. a dialogue id such as "D1:3" or a conversation id
    # Provenance and conversational context: who said it and where, kept apart from the content so
    # a turn like "Yes, it was amazing!" can be found through what was said before it.
    speaker: str = ""  # "person" for the person's own words; "" when unknown (manual, import)
    conversation_id: str = ""
    message_id: str = ""
    turn_context: str = ""  # the person's previous message and its date (``person_context``); never content
    # A fact that stopped being true is closed, not deleted.
    superseded_by: str = ""  # id of the note that replaced this one
    valid_until: str = ""  # when it stopped being true (ISO time)
    seen_count: int = 1  # how often the person told this (a near-duplicate updates this note)
    links: list[Link] = field(default_factory=list)
    history: list[Change] = field(default_factory=list)
    needs_enrichment: bool = False

    # ---- derived views ----------------------------------------------------------------------
    @property
    def title(self) -> str:
        """A short label for graphs and lists: the first line, cut at 60 characters."""
        first = self.content.strip().splitlines()[0] if self.content.strip() else "(empty)"
        return first if len(first) <= 60 else first[:57].rstrip() + "..."

    @property
    def link_targets(self) -> list[str]:
        return [link.target for link in self.links]

    def text_for_embedding(self) -> str:
        """What gets embedded: the content plus what the enrichment adds to it (A-MEM embeds both).

        Keywords, tags and a context that are already words of the content say nothing new, so only
        new information is appended: shorter inputs embed faster (the fast path's tags are content
        words by construction; dropping them cut the bench's texts from 28 to 21 tokens and
        embedding from 8.2-8.9 to 6.1 ms of CPU a note). A note stored under an older rule has a
        different text hash, so its vector is embedded again on the next open (viewstore.py).
        """
        parts = [self.content]
        lowered = self.content.lower()
        if self.context and self.context.rstrip(".").lower() not in lowered:
            parts.append("Context: " + self.context)
        extra_keywords = [k for k in self.keywords if k.lower() not in lowered]
        if extra_keywords:
            parts.append("Keywords: " + ", ".join(extra_keywords))
        extra_tags = [t for t in self.tags if t.lower() not in lowered]
        if extra_tags:
            parts.append("Tags: " + ", ".join(extra_tags))
        return "\n".join(parts)

    # ---- change tracking ------------------------------------------------------------------
    def set_field(self, name: str, value: Any, by: str, at: str | None = None) -> bool:
        """Change one field and record it in history. Returns False (and records nothing) if unchanged."""
        old = getattr(self, name)
        if name == "links":
            old_plain = [x.to_dict() for x in old]
            new_plain = [x.to_dict() if isinstance(x, Link) else dict(x) for x in value]
            if old_plain == new_plain:
                return False
            self.links = [x if isinstance(x, Link) else Link(**x) for x in value]
            self.history.append(Change("links", old_plain, new_plain, by, at or now_iso()))
            return True
        if old == value:
            return False
        setattr(self, name, copy.deepcopy(value))
        self.history.append(Change(name, copy.deepcopy(old), copy.deepcopy(value), by, at or now_iso()))
        return True

    def version_count(self) -> int:
        """Versions are numbered 0 (as created) to len(history) (now)."""
        return len(self.history)

    def state_at(self, version: int) -> dict[str, Any]:
        """The note's recorded fields as they were after ``version`` changes (0 = before any change)."""
        if not 0 <= version <= len(self.history):
            raise InputError(f"Note {self.id} has versions 0..{len(self.history)}, not {version}.")
        state = {name: copy.deepcopy(getattr(self, name)) for name in (*EDITABLE_FIELDS, "links", "turn_context")}
        state["links"] = [x.to_dict() for x in self.links]
        for change in reversed(self.history[version:]):
            if change.field in state:
                state[change.field] = copy.deepcopy(change.old)
        return state

    def add_link(self, target: str, reason: str, by: str) -> bool:
        if target == self.id or target in self.link_targets:
            return False
        links = [*self.links, Link(target=target, reason=reason[:300], by=by)]
        return self.set_field("links", links, by)

    def remove_link(self, target: str, by: str) -> bool:
        if target not in self.link_targets:
            return False
        return self.set_field("links", [x for x in self.links if x.target != target], by)

    # ---- (de)serialisation --------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The note as plain JSON values, sharing nothing with the note.

        Written out instead of ``dataclasses.asdict``, which gives the same dict through generic
        deep-copy machinery: 134 us against 8 us for a note with five links, and a bulk import
        serialises every note twice (its creation event and the snapshot).
        """
        data = {name: getattr(self, name) for name in _NOTE_FIELDS}
        data["keywords"], data["tags"] = list(self.keywords), list(self.tags)
        data["links"] = [x.to_dict() for x in self.links]
        data["history"] = [{"field": c.field, "old": plain_copy(c.old), "new": plain_copy(c.new), "by": c.by,
                            "at": c.at, "cause": c.cause} for c in self.history]
        return data

    @classmethod
    def from_trusted_dict(cls, data: dict[str, Any]) -> Note:
        """Rebuild a note from ``to_dict`` output that Memex wrote itself (the open-time snapshot).

        Why apart from ``from_dict``: checking every field of every link and history entry is a third
        of the time to open a 10k-note store, and this JSON never came from outside. Anything off
        (an unknown key, a missing field) raises, and the caller then folds the change log instead.
        """
        fields = dict(data)
        fields["links"] = [Link(**x) for x in data.get("links", ())]
        fields["history"] = [Change(**x) for x in data.get("history", ())]
        return cls(**fields)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Note:
        """Build a note from its JSON form, checking every field; ImportFormatError names the problem."""
        if not isinstance(data, dict):
            raise ImportFormatError(f"A note must be a JSON object, not {type(data).__name__}.")
        nid = data.get("id", "?")
        try:
            note = cls(
                id=_req_str(data, "id"),
                content=_req_str(data, "content"),
                keywords=_str_list(data.get("keywords", []), "keywords"),
                context=str(data.get("context", "")),
                tags=_str_list(data.get("tags", []), "tags"),
                timestamp=normalise_time(data.get("timestamp") or now_iso()),
                last_accessed=str(data.get("last_accessed", "") or ""),
                retrieval_count=int(data.get("retrieval_count", 0)),
                source=str(data.get("source", "import")),
                source_ref=str(data.get("source_ref", "") or ""),
                speaker=str(data.get("speaker", "") or ""),
                conversation_id=str(data.get("conversation_id", "") or ""),
                message_id=str(data.get("message_id", "") or ""),
                turn_context=str(data.get("turn_context", "") or ""),
                superseded_by=str(data.get("superseded_by", "") or ""),
                valid_until=str(data.get("valid_until", "") or ""),
                seen_count=int(data.get("seen_count", 1) or 1),
                links=[_link(x) for x in data.get("links", [])],
                history=[_change(x) for x in data.get("history", [])],
                needs_enrichment=bool(data.get("needs_enrichment", False)),
            )
        except ImportFormatError as exc:
            raise ImportFormatError(f"Note {nid}: {exc}") from None
        except (TypeError, ValueError, InputError) as exc:
            raise ImportFormatError(f"Note {nid}: {exc}") from None
        if not note.content.strip():
            raise ImportFormatError(f"Note {nid}: content is empty.")
        return note


_NOTE_FIELDS = tuple(f.name for f in fields(Note))


def creator(source: str) -> str:
    """Who a new note's "created" entry names, by where the note came from."""
    return {"chat": "system", "manual": "person", "import": "import"}.get(source, "system")


def plain_copy(value: Any) -> Any:
    """A copy of a JSON-like value (lists, dicts, links inside them become dicts); scalars are shared."""
    if isinstance(value, list):
        return [plain_copy(x) for x in value]
    if isinstance(value, dict):
        return {k: plain_copy(v) for k, v in value.items()}
    if isinstance(value, Link):
        return value.to_dict()
    return value


def _req_str(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise ImportFormatError(f"field '{key}' must be a non-empty string.")
    return value


def _str_list(value: Any, key: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
        raise ImportFormatError(f"field '{key}' must be a list of strings.")
    return list(value)


def _link(x: Any) -> Link:
    if not isinstance(x, dict) or not isinstance(x.get("target"), str):
        raise ImportFormatError("each link must be an object with a string 'target' (a note id).")
    created = x.get("created")  # now_iso() only when missing: it is a clock call, and an open reads 100k links
    return Link(target=x["target"], reason=str(x.get("reason", "")),
                created=str(created) if created is not None else now_iso(), by=str(x.get("by", "import")))


def _change(x: Any) -> Change:
    if not isinstance(x, dict) or "field" not in x:
        raise ImportFormatError("each history entry must be an object with 'field', 'old', 'new', 'by', 'at'.")
    at = x.get("at")
    return Change(field=str(x["field"]), old=x.get("old"), new=x.get("new"), by=str(x.get("by", "import")),
                  at=str(at) if at is not None else now_iso(), cause=str(x.get("cause", "") or ""))


def clean_content(text: Any) -> str:
    """Validate text a person or a model wants to store. Kept intact (HTML included): it is data.

    Decided rules (tests/core/test_bad_input.py holds the table):
    - a lone surrogate (e.g. "\\ud800", or a non-UTF-8 byte the shell passed on as "\\udcff") is REJECTED
      with its position: it cannot be written as UTF-8 (Chroma, exports and the vault would fail
      later, or store a replacement character the person never typed), and only the person knows
      what was meant;
    - a NUL character is rejected: it means binary data, not a note;
    - other control characters (C0 except tab and newline, DEL, C1) are STRIPPED and "\\r\\n"/"\\r" become
      "\\n": they are invisible, cannot be typed on purpose, break terminals and JSON viewers, and
      stripping them keeps every visible character;
    - text that is empty once whitespace, invisible format characters and controls are removed is
      rejected; more than MAX_CONTENT_CHARS is rejected (split it).
    """
    if not isinstance(text, str):
        raise InputError("A note's content must be text.")
    if len(text) > MAX_CONTENT_CHARS:
        raise InputError(
            f"This text is {len(text):,} characters; a note holds at most {MAX_CONTENT_CHARS:,}. "
            "Split it into several notes."
        )
    check_text(text, "The text")
    if "\x00" in text:
        raise InputError("The text contains a NUL character, which cannot be stored.")
    text = text.replace("\r\n", "\n").replace("\r", "\n").translate(_CONTROL_CHARS)
    if not "".join(ch for ch in text if unicodedata.category(ch) != "Cf").strip():
        raise InputError("A note cannot be empty: write something to remember.")
    return text


# Every C0 control but tab and newline, DEL, and the C1 controls: deleted by str.translate.
_CONTROL_CHARS = {c: None for c in [*range(0x00, 0x20), *range(0x7F, 0xA0)] if chr(c) not in "\t\n"}


def check_text(text: str, what: str = "The text") -> str:
    """Refuse text with a lone surrogate (not valid Unicode): InputError names its position."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        bad = text[exc.start]
        raise InputError(
            f"{what} contains an invalid character (a lone surrogate U+{ord(bad):04X} at position {exc.start + 1}), "
            "often a byte that is not UTF-8 passed on by the shell or a broken copy-paste; it was not stored. "
            "Fix or remove that character and try again."
        ) from None
    return text
