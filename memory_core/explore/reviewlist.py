"""The Review page's data: each proposal as a before/after diff with why it was judged grounded.

Why in the library: the page must only lay out widgets, and what a proposal *means* to the
person -- which field of which note changes from what to what, how sure the judge was, whether it
still applies -- is logic with edge cases (a link proposal's "before" is the note's links, a tags
proposal may hold a comma string after an edit, grounding dicts differ per kind). Diffs come from
``memory_core.explore.diff`` (shared with the Notes history and the time views), so all pages agree.
Everything returned is plain text or numbers; the page shows it as code or escaped Markdown.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..notes import Link, Note
from .diff import FieldDiff, field_diff, show_value

if TYPE_CHECKING:
    from ..store import Proposal

KIND_FIELD = {"context": "context", "tags": "tags", "link": "links", "supersede": "superseded_by"}
KIND_LABEL = {"context": "new context", "tags": "new tags", "link": "new link", "supersede": "replaced by a newer note?"}


@dataclass
class ReviewItem:
    """One proposal, ready to show."""

    proposal: Any
    target_title: str
    source_title: str
    diff: FieldDiff
    why: str  # the judge's sentence
    scores: dict[str, float]  # numeric grounding values (overlap, similarities), for a small table
    target_missing: bool = False

    @property
    def id(self) -> str:
        return str(self.proposal.id)


def _title(notes: Mapping[str, Note], nid: str) -> str:
    note = notes.get(nid)
    return note.title if note is not None else f"{str(nid)[:8]} (deleted)"


def _numbers(grounding: Mapping[str, Any], prefix: str = "") -> dict[str, float]:
    out: dict[str, float] = {}
    for key, value in grounding.items():
        name = f"{prefix}{key}"
        if isinstance(value, bool):
            continue
        if isinstance(value, (int, float)):
            out[name] = round(float(value), 3)
        elif isinstance(value, Mapping):
            out.update(_numbers(value, prefix=f"{name}."))
    return out


def proposal_diff(p: Proposal, notes: Mapping[str, Note], title_of: Callable[[str], str] | None = None) -> FieldDiff:
    """The change the proposal would make, as a field diff (a link: the note's links before and after)."""
    title_of = title_of or (lambda nid: _title(notes, nid))
    if p.kind == "link":
        target = notes.get(p.target_id)
        before = list(target.links) if target is not None else []
        wanted = p.after if isinstance(p.after, Mapping) else {}
        new = Link(target=str(wanted.get("target", "")), reason=str(wanted.get("reason", "")),
                   by=str(p.proposed_by).split(":")[0] or "linker")
        return field_diff("links", before, [*before, new], title_of)
    if p.kind == "supersede":  # "Does this replace ...?": the old note's superseded_by, as note titles
        newer = str((p.after or {}).get("by", "")) if isinstance(p.after, Mapping) else ""
        return field_diff("superseded_by", title_of(p.before) if p.before else "", title_of(newer) if newer else "",
                          title_of)
    before = p.before
    after = p.after
    if p.kind == "tags" and isinstance(after, str):
        after = [t.strip() for t in after.split(",") if t.strip()]
    return field_diff(KIND_FIELD.get(p.kind, str(p.kind)), before, after, title_of)


def question(it: ReviewItem) -> str:
    """The line a person reads above a proposal: a question for a possible correction."""
    if it.proposal.kind == "supersede":
        return f"Does “{it.source_title}” replace “{it.target_title}”?"
    return f"{KIND_LABEL.get(it.proposal.kind, it.proposal.kind)} for “{it.target_title}”"


def item(p: Proposal, notes: Mapping[str, Note]) -> ReviewItem:
    grounding = p.grounding if isinstance(p.grounding, Mapping) else {}
    why = str(grounding.get("why", "") or "").strip() or "The judge gave no reason."
    shared = grounding.get("shared")
    if isinstance(shared, list) and shared and "(" not in why:
        why += f" (shared words: {', '.join(str(s) for s in shared[:8])})"
    diff = proposal_diff(p, notes)
    if not diff.old_text:  # an empty "before" box reads as a rendering fault; say it was empty
        diff.old_text = "(empty)"
    return ReviewItem(p, _title(notes, p.target_id), _title(notes, p.source_id) if p.source_id else "",
                      diff, why, _numbers(grounding), p.target_id not in notes)


def items(proposals: Iterable[Any], notes: Mapping[str, Note]) -> list[ReviewItem]:
    return [item(p, notes) for p in proposals]


def editable_text(p: Proposal) -> str:
    """The proposed value as the person edits it: a sentence, a comma list, or a link's reason."""
    if p.kind == "link":
        return str((p.after or {}).get("reason", "")) if isinstance(p.after, Mapping) else ""
    if p.kind == "tags":
        return ", ".join(p.after) if isinstance(p.after, list) else str(p.after or "")
    return show_value(p.after) if p.after is not None else ""


def edited_value(p: Proposal, text: str) -> Any:
    """The person's edited text turned back into the value ``review.accept(..., edited_after=)`` takes."""
    if p.kind == "link":
        after = dict(p.after) if isinstance(p.after, Mapping) else {}
        after["reason"] = " ".join(text.split())
        return after
    if p.kind == "tags":
        return [t.strip() for t in text.split(",") if t.strip()]
    return " ".join(text.split())


def nav_title(pending: int) -> str:
    """The navigation entry's title, with the count of proposals waiting as a badge."""
    return f"Review ({pending:,})" if pending else "Review"


def resolved_rows(proposals: Iterable[Any], notes: Mapping[str, Note]) -> list[dict[str, Any]]:
    """Accepted and rejected proposals, newest decision first, as table rows (plain text)."""
    rows = []
    for p in proposals:
        d = proposal_diff(p, notes)
        rows.append({"resolved": p.resolved_at, "status": p.status, "by": p.resolved_by,
                     "note": _title(notes, p.target_id), "change": KIND_LABEL.get(p.kind, p.kind),
                     "after": d.new_text if p.kind != "link" else (d.added[0] if d.added else ""),
                     "why resolved": p.resolution_note, "proposed by": p.proposed_by, "id": p.id})
    rows.sort(key=lambda r: (str(r["resolved"]), r["id"]), reverse=True)
    return rows


_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
_NUMBER = re.compile(r"\d+(\.\d+)?%?")


def reason_kind(why: str) -> str:
    """A turned-down proposal's reason without its numbers and quoted words ("tag … is not about this
    note", "only N of its words are in the note"): what the Review page filters by."""
    first = str(why or "").split(";")[0].strip()
    return _NUMBER.sub("N", _QUOTED.sub("…", first)) or "no reason given"


def reason_kinds(proposals: Iterable[Any]) -> dict[str, int]:
    """Each reason kind with how many turned-down proposals have it, most common first."""
    counts: dict[str, int] = {}
    for p in proposals:
        kind = reason_kind(p.resolution_note)
        counts[kind] = counts.get(kind, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
