"""What a reply (or a search) recalled, as something to draw: ranks, scores, signals, and why.

Why this is a module of its own: the Graph page draws "the notes this reply used" and the Search
page draws "the notes this query found" the same way, from two different sources -- a chat
message saved on disk (``recalled``: ``Hit.trace_dict()`` entries plus the query) and live
``Hit`` objects. Both are turned into one ``Trace`` here, without Streamlit, so the ranks, the
signals, which notes are highlighted and which are faded, and the edges between the recalled
notes (including the link expansion edge from the ``via`` parent) are unit-tested.

Saved traces are read tolerantly: the chat wrote an earlier, shorter form (``score``, ``reasons``,
``kind``, ``via``, no ``signals``); what it lacks is shown as unknown, never guessed. A recalled
note deleted since is kept in the trace (rank and score as they were), marked ``missing``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from ..errors import InputError
from .timespan import TimeSpan

# Signal names as retrieval reports them, in the order a person reads them, with a short label.
SIGNALS: dict[str, str] = {
    "lexical": "lexical (shared words)",
    "dense": "dense (meaning)",
    "context_lexical": "context, lexical",
    "context_dense": "context, meaning",
    "graph": "link / graph expansion",
    "time": "time (inside the span the message named)",
    "speaker": "said by the speaker the question names",
    "late": "token match (MaxSim rerank)",
    "hop": "shares a name with a top hit",
}
_PARAM_RE = re.compile(r"^([0-9a-f]{32}):([0-9A-Za-z_-]{1,64})$")


@dataclass
class TraceEntry:
    """One recalled note: where it ranked, its score, the signals that put it there."""

    id: str
    rank: int
    score: float
    signals: dict[str, float] = field(default_factory=dict)
    via: str = ""  # the note it was reached from by a link (link/graph expansion), if any
    reasons: list[str] = field(default_factory=list)
    matched_terms: list[str] = field(default_factory=list)
    missing: bool = False  # deleted (or never in this store) since it was recalled
    in_prompt: bool | None = None  # given to the model in the reply's prompt (None: not recorded)

    @property
    def main_signal(self) -> str:
        """The signal that contributed most ("graph" when reached by a link), or "" when unknown."""
        if self.via and not self.signals:
            return "graph"
        if not self.signals:
            return ""
        order = list(SIGNALS)
        # The time boost says when, not what: it is the main signal only when nothing else matched.
        matched = {k: v for k, v in self.signals.items() if k != "time" and v > 0}
        if matched:
            return min(matched.items(), key=lambda kv: (-kv[1], order.index(kv[0]) if kv[0] in order else 99))[0]
        # strongest first; ties go to the signal listed first in SIGNALS
        return min(self.signals.items(), key=lambda kv: (-kv[1], order.index(kv[0]) if kv[0] in order else 99))[0]


@dataclass
class Trace:
    """The recalled notes of one reply or query, best first."""

    query: str
    entries: list[TraceEntry]
    source: str = ""  # "chat reply" / "search", for the caption
    span: str = ""  # the time span read from the message, as one line ("" when none was read)
    episodes: list[dict[str, Any]] = field(default_factory=list)  # recalled exchanges, apart from notes

    @property
    def ids(self) -> list[str]:
        return [e.id for e in self.entries]

    def entry(self, note_id: str) -> TraceEntry | None:
        return next((e for e in self.entries if e.id == note_id), None)

    @property
    def present_ids(self) -> list[str]:
        return [e.id for e in self.entries if not e.missing]

    def highlighted(self) -> set[str]:
        """The notes drawn highlighted: every recalled note that still exists."""
        return set(self.present_ids)

    def faded(self, drawn: Iterable[str]) -> set[str]:
        """Of the notes drawn, those not recalled (drawn faded, for context)."""
        hi = self.highlighted()
        return {n for n in drawn if n not in hi}

    def badge(self, note_id: str) -> str:
        """The short text drawn on a highlighted node: rank and score ('#1 · 0.82')."""
        e = self.entry(note_id)
        return f"#{e.rank} · {e.score:.2f}" if e else ""


def _num(value: Any, default: float = 0.0) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        return default
    return x if math.isfinite(x) else default


def _entry(raw: Mapping[str, Any], position: int) -> TraceEntry | None:
    nid = raw.get("id")
    if not isinstance(nid, str) or not nid:
        return None
    signals_raw = raw.get("signals")
    signals: dict[str, float] = {}
    if isinstance(signals_raw, Mapping):
        for name, value in signals_raw.items():
            if isinstance(name, str):
                signals[name] = max(0.0, min(1.0, _num(value)))
    rank = raw.get("rank")
    reasons = raw.get("reasons")
    terms = raw.get("matched_terms")
    return TraceEntry(
        id=nid,
        rank=int(rank) if isinstance(rank, int) and not isinstance(rank, bool) and rank > 0 else position,
        score=_num(raw.get("score")),
        signals=signals,
        via=via if isinstance(via := raw.get("via"), str) else "",
        reasons=[str(r) for r in reasons] if isinstance(reasons, list) else [],
        matched_terms=[str(t) for t in terms] if isinstance(terms, list) else [],
        in_prompt=raw["in_prompt"] if isinstance(raw.get("in_prompt"), bool) else None,
    )


def from_recalled(recalled: Any, query: str = "", notes: Mapping[str, Any] | None = None,
                  source: str = "chat reply") -> Trace:
    """A trace from what the chat saved with a reply (a list of ``Hit.trace_dict()``-like dicts).

    The query is ``query`` if given, else the first entry's ``"query"``. Entries without an id are
    skipped; entries are ordered by rank. ``notes`` (the store's notes now) marks deleted ones.
    """
    if not isinstance(recalled, list):
        recalled = []
    entries: list[TraceEntry] = []
    seen: set[str] = set()
    for i, raw in enumerate(recalled, start=1):
        if not isinstance(raw, Mapping):
            continue
        if not query and isinstance(raw.get("query"), str):
            query = raw["query"]
        e = _entry(raw, i)
        if e is None or e.id in seen:
            continue
        seen.add(e.id)
        entries.append(e)
    entries.sort(key=lambda e: (e.rank, -e.score))
    if notes is not None:
        for e in entries:
            e.missing = e.id not in notes
    return Trace(query=query, entries=entries, source=source)


def hit_dict(hit: Any, rank: int) -> dict[str, Any]:
    """``hit.trace_dict()`` when retrieval provides it, else the same shape from the Hit's fields."""
    if hasattr(hit, "trace_dict"):
        d = dict(hit.trace_dict())
        d.setdefault("rank", rank)
        return d
    signals = {}
    if getattr(hit, "lexical", 0.0):
        signals["lexical"] = float(hit.lexical)
    if getattr(hit, "dense", 0.0):
        signals["dense"] = float(hit.dense)
    return {"id": hit.note.id, "rank": getattr(hit, "rank", 0) or rank, "score": float(hit.score),
            "signals": signals, "via": getattr(hit, "via", ""), "reasons": list(getattr(hit, "reasons", [])),
            "matched_terms": list(getattr(hit, "matched_terms", []))}


def from_hits(hits: list[Any], query: str, source: str = "search") -> Trace:
    """A trace from live retrieval hits (the Search page)."""
    return from_recalled([hit_dict(h, i) for i, h in enumerate(hits, start=1)], query, source=source)


def parse_param(value: str) -> tuple[str, str]:
    """``"<conversation_id>:<message_id>"`` (the Graph page's ``?trace=``) split in two, or InputError."""
    m = _PARAM_RE.match(str(value or "").strip())
    if not m:
        raise InputError("This trace link is malformed: it should look like ?trace=<conversation id>:<message id>.")
    return m.group(1), m.group(2)


def from_message(message: Mapping[str, Any], notes: Mapping[str, Any] | None = None) -> Trace:
    """The trace of one saved assistant message; InputError for a person's message or one without recall."""
    if message.get("role") != "assistant":
        raise InputError("That message is not a reply from Memex, so it has no recall to show.")
    recalled = message.get("recalled")
    if not isinstance(recalled, list):
        raise InputError("That reply was saved without its recall trace.")
    query = query if isinstance(query := message.get("query"), str) else ""
    trace = from_recalled(recalled, query, notes=notes)
    span = TimeSpan.from_dict(message.get("time_span"))
    trace.span = span.describe() if span is not None else ""
    episodes = message.get("episodes")
    trace.episodes = [dict(e) for e in episodes if isinstance(e, Mapping)] if isinstance(episodes, list) else []
    return trace


def episode_rows(trace: Trace) -> list[dict[str, Any]]:
    """One row per recalled exchange (an episode, not a note): rank, day, conversation, what was said."""
    out = []
    for i, e in enumerate(trace.episodes, start=1):
        rank = e.get("rank")
        out.append({"rank": rank if isinstance(rank, int) and not isinstance(rank, bool) else i,
                    "day": str(e.get("timestamp", ""))[:10], "conversation": str(e.get("title", "")),
                    "exchange": str(e.get("text", "")), "score": round(_num(e.get("score")), 3),
                    "in prompt": "yes" if e.get("in_prompt") is True else "no" if e.get("in_prompt") is False else ""})
    return out


def edges(trace: Trace, graph: nx.DiGraph) -> list[tuple[str, str, str]]:
    """Edges worth drawing in bold for a trace: (source, target, kind).

    ``"expansion"``: the link that brought a note in (from its ``via`` parent; direction as stored
    when that link exists, else parent -> child). ``"link"``: any other stored link between two
    recalled notes. Each pair appears once.
    """
    present = set(trace.present_ids)
    out: list[tuple[str, str, str]] = []
    pairs: set[frozenset[str]] = set()
    for e in trace.entries:
        if e.missing or not e.via or e.via not in graph or e.id not in graph:
            continue
        if graph.has_edge(e.via, e.id) or not graph.has_edge(e.id, e.via):
            u, v = e.via, e.id
        else:
            u, v = e.id, e.via
        out.append((u, v, "expansion"))
        pairs.add(frozenset((u, v)))
    for u in trace.present_ids:
        if u not in graph:
            continue
        for v in graph.succ[u]:
            if v in present and frozenset((u, v)) not in pairs:
                pairs.add(frozenset((u, v)))
                out.append((u, v, "link"))
    return out


def rows(trace: Trace, title_of: Any) -> list[dict[str, Any]]:
    """One row per recalled note for a table: rank, note, score, each signal (None: not reported), via."""
    out = []
    for e in trace.entries:
        row: dict[str, Any] = {"rank": e.rank, "note": title_of(e.id) if not e.missing else "(deleted note)",
                               "score": round(e.score, 3)}
        for name in SIGNALS:
            row[name] = round(e.signals[name], 3) if name in e.signals else None
        row["via"] = (title_of(e.via) if e.via else "")
        row["in prompt"] = {True: "yes", False: "no", None: ""}[e.in_prompt]
        row["why"] = " · ".join(e.reasons)
        row["id"] = e.id
        out.append(row)
    return out
