"""Before/after differences of note fields, as plain data a page can lay out.

Why a library module: the Notes history, the Review inbox (proposals), the "as of" views and the
"what changed since" view all show the same thing -- one field of one note, before and after. They
must agree on what counts as a change and on how a value reads as text, and the logic needs unit
tests without a browser. Nothing here formats Markdown or HTML: every value is returned as plain
text (``show_value``) and every text diff as segments (``equal``/``insert``/``delete``), so the page
decides how to make them inert (``st.code`` or escaped Markdown) and hostile note text stays literal.

Text is compared word by word (whitespace kept with the word before it), which reads better than a
character diff for notes and stays linear enough for the 100,000-character limit of a note.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, is_dataclass
from difflib import SequenceMatcher
from typing import TYPE_CHECKING, Any

from memory_core.explore.wording import count

if TYPE_CHECKING:
    from ..notes import Note

TEXT_FIELDS = ("content", "context", "timestamp", "source", "source_ref", "turn_context", "superseded_by",
               "valid_until")
LIST_FIELDS = ("keywords", "tags")
COMPARED_FIELDS = ("content", "keywords", "tags", "context", "timestamp", "links")
_TOKEN = re.compile(r"\S+\s*|\s+")
MAX_DIFF_TOKENS = 20_000  # beyond this the two texts are shown whole, replaced as one block


@dataclass(frozen=True)
class Segment:
    """A run of text: ``equal`` in both, ``insert`` only after, ``delete`` only before."""

    op: str
    text: str


@dataclass
class FieldDiff:
    """One field, before and after. ``kind`` is "text", "list" or "value" and says which parts are set.

    - text: ``segments`` (a word diff); ``old_text``/``new_text`` hold the whole values.
    - list: ``added``/``removed``/``kept`` items as text, in their order of appearance.
    - value: only ``old_text``/``new_text`` (anything else: numbers, records, None).
    """

    field: str
    kind: str
    old_text: str
    new_text: str
    segments: list[Segment] = dataclasses.field(default_factory=list)  # ``field`` is a field name here
    added: list[str] = dataclasses.field(default_factory=list)
    removed: list[str] = dataclasses.field(default_factory=list)
    kept: list[str] = dataclasses.field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.old_text != self.new_text

    def summary(self) -> str:
        """A short plain-text line: "+2 −1 tags", "content: 3 words changed"."""
        if self.kind == "list":
            parts = [f"+{len(self.added)}" if self.added else "", f"−{len(self.removed)}" if self.removed else ""]
            return " ".join(p for p in parts if p) + f" {self.field}" if self.changed else f"{self.field} unchanged"
        if self.kind == "text":
            n = sum(1 for s in self.segments if s.op != "equal")
            return f"{self.field}: {count(n, 'part')} changed" if n else f"{self.field} unchanged"
        return f"{self.field} changed" if self.changed else f"{self.field} unchanged"


def show_value(value: Any) -> str:
    """Any stored value as the text a person reads: a string as is, a list of strings comma-separated."""
    if value is None:
        return "(none)"
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple)) and all(isinstance(x, str) for x in value):
        return ", ".join(value) if value else "(empty)"
    if is_dataclass(value) and not isinstance(value, type):
        value = asdict(value)
    return json.dumps(value, ensure_ascii=False, indent=1, default=str)


def text_diff(old: str, new: str) -> list[Segment]:
    """Word-level segments turning ``old`` into ``new`` (adjacent segments of one kind are merged)."""
    a, b = _TOKEN.findall(old), _TOKEN.findall(new)
    if len(a) + len(b) > MAX_DIFF_TOKENS:
        raw = [Segment("delete", old), Segment("insert", new)] if old != new else [Segment("equal", old)]
        return [s for s in raw if s.text]
    out: list[Segment] = []
    for op, i1, i2, j1, j2 in SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            _push(out, "equal", "".join(a[i1:i2]))
        else:
            _push(out, "delete", "".join(a[i1:i2]))
            _push(out, "insert", "".join(b[j1:j2]))
    return out


def _push(out: list[Segment], op: str, text: str) -> None:
    if not text:
        return
    if out and out[-1].op == op:
        out[-1] = Segment(op, out[-1].text + text)
    else:
        out.append(Segment(op, text))


def list_diff(old: Iterable[Any], new: Iterable[Any], describe: Callable[[Any], str] = show_value
              ) -> tuple[list[str], list[str], list[str]]:
    """(added, removed, kept) items, each as text through ``describe``; order of first appearance kept."""
    before = list(dict.fromkeys(describe(x) for x in old))
    after = list(dict.fromkeys(describe(x) for x in new))
    seen_before, seen_after = set(before), set(after)
    return ([x for x in after if x not in seen_before], [x for x in before if x not in seen_after],
            [x for x in after if x in seen_before])


def link_text(link: Any, title_of: Callable[[str], str] | None = None) -> str:
    """A link (Link or its dict form) as one line: "→ title (reason) · by linker"."""
    data = asdict(link) if is_dataclass(link) and not isinstance(link, type) else dict(link) if isinstance(link, Mapping) else {"target": str(link)}
    target = str(data.get("target", ""))
    name = title_of(target) if title_of else target
    reason = " ".join(str(data.get("reason", "")).split())
    by = str(data.get("by", ""))
    return f"→ {name}" + (f" ({reason})" if reason else "") + (f" · by {by}" if by else "")


def field_diff(name: str, old: Any, new: Any, title_of: Callable[[str], str] | None = None) -> FieldDiff:
    """The difference of one field. Links are compared as lines (target, reason, who) with titles."""
    if name == "links" or (_is_link_list(old) and _is_link_list(new)):
        describe = (lambda x: link_text(x, title_of))  # noqa: E731 - a one-line adapter
        added, removed, kept = list_diff(old or [], new or [], describe)
        return FieldDiff(name, "list", "\n".join(describe(x) for x in old or []) or "(none)",
                         "\n".join(describe(x) for x in new or []) or "(none)", added=added, removed=removed,
                         kept=kept)
    if name in LIST_FIELDS or (_is_str_list(old) and _is_str_list(new)):
        added, removed, kept = list_diff(old or [], new or [])
        return FieldDiff(name, "list", show_value(list(old or [])), show_value(list(new or [])),
                         added=added, removed=removed, kept=kept)
    if (isinstance(old, str) or old is None) and (isinstance(new, str) or new is None) and (old or new) is not None:
        before, after = old or "", new or ""
        return FieldDiff(name, "text", before, after, segments=text_diff(before, after))
    return FieldDiff(name, "value", show_value(old), show_value(new))


def _is_str_list(value: Any) -> bool:
    return isinstance(value, (list, tuple)) and all(isinstance(x, str) for x in value)


def _is_link_list(value: Any) -> bool:
    return isinstance(value, (list, tuple)) and bool(value) and all(
        (isinstance(x, Mapping) and "target" in x) or hasattr(x, "target") for x in value)


def note_fields(note: Note | Mapping[str, Any]) -> dict[str, Any]:
    """The compared fields of a Note (or of a ``Note.state_at`` dict), links as plain dicts."""
    if isinstance(note, Mapping):
        data = dict(note)
    else:
        data = {name: getattr(note, name) for name in COMPARED_FIELDS}
    data["links"] = [asdict(x) if is_dataclass(x) and not isinstance(x, type) else dict(x)
                     for x in data.get("links", [])]
    return {name: data.get(name) for name in COMPARED_FIELDS}


def note_diff(before: Any, after: Any, title_of: Callable[[str], str] | None = None) -> list[FieldDiff]:
    """The fields that differ between two versions of a note (Note objects or state dicts); [] if none.

    ``before`` may be None (the note did not exist yet): every field is then a change from nothing.
    """
    old = note_fields(before) if before is not None else {name: None for name in COMPARED_FIELDS}
    new = note_fields(after) if after is not None else {name: None for name in COMPARED_FIELDS}
    out = []
    for name in COMPARED_FIELDS:
        a, b = old[name], new[name]
        if name == "links":
            a = [{k: x.get(k) for k in ("target", "reason", "by")} for x in a or []]
            b = [{k: x.get(k) for k in ("target", "reason", "by")} for x in b or []]
        if a != b and (a or b):
            out.append(field_diff(name, a, b, title_of))
    return out
