"""A ranked note with the evidence for its place: the scaled signals, the reasons, the trace.

Why the trace: the chat saves, with each reply, which notes were recalled and why (the graph page
draws it), so a hit must turn into plain JSON that explains itself without the store.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from ..notes import Note
from .strength import strength


@dataclass
class Hit:
    note: Note
    score: float
    reasons: list[str] = field(default_factory=list)
    lexical: float = 0.0  # BM25 score scaled to 0..1 among the candidates
    dense: float = 0.0  # cosine similarity
    via: str = ""  # id of the note this one was reached from (link, entity or graph walk), if any
    matched_terms: list[str] = field(default_factory=list)
    rank: int = 0  # 1-based position in the result list
    signals: dict[str, float] = field(default_factory=dict)  # keys among trace.SIGNALS, each 0..1
    # The unscaled values behind ``signals`` (cosines, BM25 scores): what the chat's relevance floor
    # reads, since a scaled signal says only how a note compares with the other candidates.
    raw: dict[str, float] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        if self.via:
            return "linked"
        if self.lexical and self.dense:
            return "lexical+dense"
        return "lexical" if self.lexical else "dense"

    def trace_dict(self) -> dict[str, Any]:
        """Plain JSON: what the chat stores with a reply and the graph page draws."""
        return {"id": self.note.id, "rank": self.rank, "score": round(float(self.score), 6),
                "signals": {k: round(float(v), 6) for k, v in self.signals.items()}, "via": self.via,
                "reasons": list(self.reasons), "matched_terms": list(self.matched_terms)}


def rank_key(hit: Hit, now: datetime | None = None) -> tuple[float, float, str, str]:
    """Best score first; among equal scores the stronger memory (``strength``: recalled or told again
    more, or more recently), then time order (ids are random uuids: not a stable order). Strength
    only breaks ties: it never moves a note past one that matched better."""
    return (-hit.score, -strength(hit.note, now), hit.note.timestamp, hit.note.id)


def finalize(hits: list[Hit], notes: dict[str, Note], k: int) -> list[Hit]:
    """Sort, put each superseded note right below the note that replaced it, cut at k, number the ranks.

    A superseded note is kept (it was true once) but recall prefers the current belief: when only
    the old note matched, its replacement is brought in just above it.
    """
    now = datetime.now(timezone.utc)
    ranked = sorted(hits, key=lambda h: rank_key(h, now))
    by_id = {h.note.id: h for h in ranked}
    out: list[Hit] = []
    placed: set[str] = set()
    for hit in ranked:
        if hit.note.id in placed:
            continue
        new_id = current_version(hit.note.id, notes)
        if new_id != hit.note.id:
            newer = by_id.get(new_id)
            if newer is None:
                newer = by_id[new_id] = Hit(notes[new_id], hit.score, [f"replaces '{hit.note.title}'"],
                                            via=hit.note.id, signals=dict(hit.signals))
            if new_id not in placed:
                newer.score = max(newer.score, hit.score)
                out.append(newer)
                placed.add(new_id)
            hit.score = min(hit.score, newer.score - 1e-9)
            hit.reasons = [*hit.reasons, f"superseded by '{notes[new_id].title}'"]
        out.append(hit)
        placed.add(hit.note.id)
    out.sort(key=lambda h: -h.score)  # stable: keeps ties (and each replacement above its old note) in order
    out = out[:k]
    for i, hit in enumerate(out):
        hit.rank = i + 1
    return out


def current_version(note_id: str, notes: dict[str, Note]) -> str:
    """Follow ``superseded_by`` to the note that holds the current belief (itself when not superseded)."""
    seen = {note_id}
    while note_id in notes and notes[note_id].superseded_by in notes and notes[note_id].superseded_by not in seen:
        note_id = notes[note_id].superseded_by
        seen.add(note_id)
    return note_id
