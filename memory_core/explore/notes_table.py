"""The notes as a table: filter, sort and page them, and turn table edits back into field changes.

Why a library module: the Notes page (and the CLI's ``list``) need the same rules, and each rule
deserves a unit test without a browser. The page only lays out widgets: it passes the person's
choices in a ``NoteQuery`` and shows the ``Page`` it gets back. Filtering and sorting run over the
store's live view (a dict of notes, no copies) so they stay fast at 10,000 notes; only one page of
rows becomes a DataFrame.

Edits come back from ``st.data_editor`` as a whole edited frame; ``cell_changes`` compares it with
the frame that was shown and keeps only the cells that really changed (as ``store.update`` fields),
so a save never rewrites a note the person did not touch.

Each row shows the note's memory strength (``retrieval.strength``: MemoryBank's curve, 1 when just
told or recalled, lower as it goes unused), which the table sorts by and filters on ("fading":
below ``FADING``). It is computed at a given time and never written: showing it changes nothing.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import TYPE_CHECKING, Any

import pandas as pd

from ..errors import InputError
from ..notes import Note
from ..retrieval.strength import FADING, strength
from ..store.note_filter import NoteFilter, note_time, ranked_tags

if TYPE_CHECKING:
    import networkx as nx

PAGE_SIZE = 200
ANY = "(any)"
SORTS = ("time", "links", "retrievals", "strength", "content", "source")
EDITABLE_COLUMNS = ("content", "keywords", "tags", "context", "time")
COLUMNS = ("select", "content", "keywords", "tags", "context", "time", "links", "source", "retrieved", "strength",
           "id")


def as_list(value: Any) -> list[str]:
    """A cell of a list column (list, comma-separated text, NaN or None) as a clean list of strings."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return []
    if isinstance(value, str):
        return [x.strip() for x in value.split(",") if x.strip()]
    return [str(x).strip() for x in list(value) if str(x).strip()]


def as_text(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value)


@dataclass(frozen=True)
class NoteQuery:
    """What the person asked the table for. Empty values mean "no restriction"."""

    text: str = ""
    tag: str = ANY
    source: str = ANY
    since: date | None = None
    until: date | None = None
    sort_by: str = "time"
    descending: bool = True
    fading: bool = False  # only the notes whose strength fell below FADING

    def rule(self) -> NoteFilter:
        """The filters as the one rule every view uses (``store.note_filter``)."""
        return NoteFilter(text=self.text, tags=() if self.tag == ANY else (self.tag,),
                          sources=() if self.source == ANY else (self.source,), since=self.since, until=self.until)


@dataclass(frozen=True)
class Page:
    """One page of the matching notes and where it sits among them."""

    rows: list[Note]
    page: int  # 1-based, clamped to 1..pages
    pages: int
    matching: int  # how many notes match the query
    start: int  # index of rows[0] among the matching notes

    @property
    def first_row(self) -> int:
        return self.start + 1 if self.rows else 0

    @property
    def last_row(self) -> int:
        return self.start + len(self.rows)


def matches(note: Note, q: NoteQuery, now: datetime | None = None) -> bool:
    """Does a note pass the query's filters (text in content/context/keywords/tags/id, tag, source, days,
    fading at ``now``)?"""
    return q.rule().matches(note) and (not q.fading or strength(note, now) < FADING)


def filter_notes(notes: Iterable[Note], q: NoteQuery, now: datetime | None = None) -> list[Note]:
    found = q.rule().apply(notes)
    if q.fading:
        now = now or datetime.now(timezone.utc)
        found = [n for n in found if strength(n, now) < FADING]
    return found


def sort_notes(notes: list[Note], by: str, descending: bool, graph: nx.DiGraph | None = None,
               now: datetime | None = None) -> list[Note]:
    """Notes in the chosen order; ties are broken by id so the order is stable between runs."""
    if by not in SORTS:
        raise InputError(f"Unknown sort {by!r}; choose one of {', '.join(SORTS)}.")
    now = now or datetime.now(timezone.utc)
    keys = {
        "time": lambda n: (note_time(n), n.id),
        "links": lambda n: (degree(graph, n.id), n.id),
        "retrievals": lambda n: (n.retrieval_count, n.id),
        "strength": lambda n: (strength(n, now), n.id),
        "content": lambda n: (n.content.lower(), n.id),
        "source": lambda n: (n.source, n.source_ref, n.id),
    }
    return sorted(notes, key=keys[by], reverse=descending)


def degree(graph: nx.DiGraph, note_id: str) -> int:
    """Links in + out of a note in the store's graph (0 when there is no graph or no such node)."""
    return graph.degree(note_id) if graph is not None and note_id in graph else 0


def paginate(notes: list[Note], page: int, size: int = PAGE_SIZE) -> Page:
    """The requested page, clamped: past the end gives the last page, below 1 the first."""
    pages = max(1, math.ceil(len(notes) / size))
    page = min(max(1, int(page or 1)), pages)
    start = (page - 1) * size
    return Page(rows=notes[start:start + size], page=page, pages=pages, matching=len(notes), start=start)


def query_page(view: Mapping[str, Note], q: NoteQuery, page: int = 1, graph: nx.DiGraph | None = None,
               size: int = PAGE_SIZE, now: datetime | None = None) -> Page:
    """Filter, sort and page the notes of a view in one call (what the Notes page shows); strength is
    read at ``now`` (default: the wall clock; the past view passes its date)."""
    now = now or datetime.now(timezone.utc)
    return paginate(sort_notes(filter_notes(view.values(), q, now), q.sort_by, q.descending, graph, now), page, size)


def tag_choices(view: Mapping[str, Note], limit: int = 1000) -> list[str]:
    """The tag filter's options: "(any)" then the tags, most used first."""
    return [ANY, *ranked_tags(view, limit)]


def table_frame(notes: list[Note], graph: nx.DiGraph | None = None, now: datetime | None = None) -> pd.DataFrame:
    """The rows the editor shows, one per note, in ``COLUMNS`` order (time as UTC datetimes, strength
    at ``now`` rounded to two places)."""
    now = now or datetime.now(timezone.utc)
    return pd.DataFrame({
        "select": [False] * len(notes),
        "content": [n.content for n in notes],
        "keywords": [list(n.keywords) for n in notes],
        "tags": [list(n.tags) for n in notes],
        "context": [n.context for n in notes],
        "time": pd.to_datetime([note_time(n) for n in notes], utc=True),
        "links": [degree(graph, n.id) for n in notes],
        "source": [n.source + (f" · {n.source_ref}" if n.source_ref else "") for n in notes],
        "retrieved": [n.retrieval_count for n in notes],
        "strength": [round(strength(n, now), 2) for n in notes],
        "id": [n.id for n in notes],
    }, columns=list(COLUMNS))


def cell_changes(shown: pd.DataFrame, edited: pd.DataFrame) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Changed editable cells per note id (as ``store.update`` fields), and edits that cannot be saved."""
    changes: dict[str, dict[str, Any]] = {}
    invalid: list[str] = []
    for pos in range(len(shown)):
        nid = shown["id"].iat[pos]
        fields: dict[str, Any] = {}
        for col in EDITABLE_COLUMNS:
            before, after = shown[col].iat[pos], edited[col].iat[pos]
            if col in ("keywords", "tags"):
                if as_list(before) != as_list(after):
                    fields[col] = as_list(after)
            elif col == "time":
                if after is None or pd.isna(after):
                    invalid.append(f"note {nid[:8]}: the time cannot be empty")
                    continue
                after_ts = pd.Timestamp(after)
                after_ts = after_ts.tz_localize("UTC") if after_ts.tzinfo is None else after_ts
                if after_ts != pd.Timestamp(before):
                    fields["timestamp"] = after_ts.to_pydatetime().isoformat()
            elif as_text(before) != as_text(after):
                fields[col] = as_text(after)
        if fields:
            changes[nid] = fields
    return changes, invalid


def selected_ids(shown: pd.DataFrame, edited: pd.DataFrame) -> list[str]:
    """Ids of the rows whose ✓ box is ticked in the edited frame."""
    return [shown["id"].iat[i] for i in range(len(shown)) if bool(edited["select"].iat[i])]


def form_changes(note: Note, *, content: str, keywords: str, tags: str, context: str, when: str) -> dict[str, Any]:
    """The fields the detail edit form changes (comma-separated lists; whitespace-only changes ignored)."""
    fields: dict[str, Any] = {}
    if content != note.content:
        fields["content"] = content
    for name, value in (("keywords", keywords), ("tags", tags)):
        if as_list(value) != list(getattr(note, name)):
            fields[name] = as_list(value)
    if " ".join(context.split()) != note.context:
        fields["context"] = context
    if when.strip() != note.timestamp:
        fields["timestamp"] = when.strip()
    return fields


def find_notes(view: Mapping[str, Note], text: str, exclude: str = "", limit: int = 100) -> list[Note]:
    """Notes whose content holds the words, or whose id starts with them (the "add a link" picker)."""
    needle = text.strip().lower()
    out = [n for n in view.values() if n.id != exclude and (needle in n.content.lower() or n.id.startswith(needle))]
    return out[:limit]
