"""The memory graph as something a person can look at: which notes to draw.

Why this lives in memory_core and not in the page: choosing a readable, capped view of a store
that may hold 10,000 notes is logic worth unit tests of its own (filters, ego graph, cap), and it
must never import Streamlit. The page only turns widgets into a ``GraphQuery`` and shows the
``GraphView``: on its clickable canvas (``graphdraw``) or as a standalone file (``graphhtml``); both
look the same through ``graphstyle``.

Choices made here:
- A view never holds more than ``cap`` notes (default 300). Without a focus, the notes matching the
  filters are ranked (most links / newest / most recalled) and the top ``cap`` are drawn. With a
  focus, the ego graph (undirected, over the notes that match the filters, plus the focus itself)
  is taken up to ``depth`` links away and drawn ring by ring, nearest first. ``view.summary`` says
  "showing N of M" and how the N were chosen.
- The filters are the one rule every view uses (``store.note_filter``): text (ids too), any of the
  tags, any of the sources, an inclusive time range; a note whose time cannot be read is the oldest.
- Colour by tag or by community, size by links in the whole store, by retrieval count or by memory
  strength (``graphstyle``). Notes changed by evolution are counted here, drawn with a dark border
  there. Every note is drawn fainter as its strength fades (``retrieval.strength``), whatever the size.
- Links are drawn by kind (``memory.link_kinds``); ``DEFAULT_LINK_KINDS`` says which kinds are drawn
  unless the person picks others, and why. A hidden kind is neither drawn nor walked (a focus's
  neighbourhood follows the drawn links only), and "most links" counts the drawn kinds. The person's
  own links are always drawn.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import networkx as nx

from memory_core.explore.wording import agree, count

from ..errors import InputError
from ..memory.link_kinds import KINDS, kind_of
from ..notes import Note
from ..retrieval.strength import FADING, strength
from ..store.note_filter import NoteFilter, note_time
from .graphstyle import LegendEntry, colour_groups, layout, legend, node_size, strength_size

DEFAULT_CAP = 300
MAX_CAP = 1000
MAX_DEPTH = 3

RANKS: dict[str, str] = {
    "links": "the most links (ties: newest)",
    "newest": "the newest",
    "recalled": "the most recalled (ties: newest)",
}
COLOUR_BY = ("tag", "community")
# Which kinds of link are drawn unless the person picks others. ``memex bench links`` (docs/benchmarks.md,
# "What each kind of link adds") turned each kind on and off under the two retrievers that read links,
# on a LoCoMo-style set (331 questions) and a set of a person's notes (110 queries), fast ingest:
# - similarity links ("similar (cosine 0.61)") never raised recall (any@10 -0.009 to 0.000) and say
#   nothing a person can check: hidden;
# - topic-word links ("Both are about tomatoes") helped multi-hop under PPR (all@10 +0.024 on the
#   LoCoMo-style set) and lowered recall when hybrid+links followed them (any@10 -0.019 and -0.036):
#   mixed for recall, but drawn, because they are the Zettelkasten's "same subject" and say something
#   a person can check; without them a garden of notes about tomatoes and basil is a scatter of dots;
# - entity links earned their place (hybrid+links multi-hop all@10 +0.19 and +0.14): drawn;
# - corrections (what replaced what), continuations, the model's links (judged one by one, few), a
#   digest's citations and links that came with an import are not what this bench can measure,
#   and each says something the person can check: drawn; the person's own links are always drawn (``ALWAYS_DRAWN``).
DEFAULT_LINK_KINDS: tuple[str, ...] = tuple(k for k in KINDS if k != "similarity")
ALWAYS_DRAWN = ("person",)  # a link the person drew is theirs to see, whatever else is hidden
SIZE_BY = ("degree", "retrievals", "strength")


@dataclass(frozen=True)
class GraphQuery:
    """What to draw. Dates are inclusive days (UTC); a datetime is used as given."""

    tags: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    since: date | datetime | None = None
    until: date | datetime | None = None
    text: str = ""
    focus: str | None = None
    depth: int = 1
    cap: int = DEFAULT_CAP
    seeds: tuple[str, ...] = ()  # draw these notes (ring 0) and their neighbours up to depth (a trace)
    rank: str = "links"
    colour_by: str = "tag"
    size_by: str = "degree"
    physics: bool = True
    link_kinds: tuple[str, ...] | None = None  # None: DEFAULT_LINK_KINDS; the person's are always drawn

    def rule(self) -> NoteFilter:
        """The filters as the one rule every view uses."""
        return NoteFilter(text=self.text, tags=self.tags, sources=self.sources, since=self.since, until=self.until)

    def check(self) -> None:
        if self.rank not in RANKS:
            raise InputError(f"Unknown ranking {self.rank!r}; choose from {', '.join(RANKS)}.")
        if self.colour_by not in COLOUR_BY:
            raise InputError(f"Colour by {self.colour_by!r}? Choose from {', '.join(COLOUR_BY)}.")
        if self.size_by not in SIZE_BY:
            raise InputError(f"Size by {self.size_by!r}? Choose from {', '.join(SIZE_BY)}.")
        if not 1 <= int(self.cap) <= MAX_CAP:
            raise InputError(f"The node cap must be between 1 and {MAX_CAP}, not {self.cap}.")
        if not 1 <= int(self.depth) <= MAX_DEPTH:
            raise InputError(f"The focus depth must be between 1 and {MAX_DEPTH}, not {self.depth}.")
        unknown = [k for k in self.link_kinds or () if k not in KINDS]
        if unknown:
            raise InputError(f"Unknown link {agree(len(unknown), 'kind', 'kinds')} {', '.join(unknown)}; choose from {', '.join(KINDS)}.")
        self.rule().check()

    def drawn_kinds(self) -> frozenset[str]:
        """The kinds of link this view draws (and walks)."""
        chosen = DEFAULT_LINK_KINDS if self.link_kinds is None else self.link_kinds
        return frozenset(chosen) | frozenset(ALWAYS_DRAWN)



@dataclass
class GraphView:
    query: GraphQuery
    node_ids: list[str]
    edges: list[tuple[str, str, dict[str, Any]]]
    matched: int  # M: notes that qualify (filters, and the ego graph when focused)
    total: int  # notes in the store
    chosen_by: str
    colours: dict[str, str] = field(default_factory=dict)
    groups: dict[str, str] = field(default_factory=dict)
    sizes: dict[str, float] = field(default_factory=dict)
    strengths: dict[str, float] = field(default_factory=dict)  # memory strength (0..1) per drawn note, now
    rings: dict[str, int] = field(default_factory=dict)
    evolved: dict[str, int] = field(default_factory=dict)  # note id -> changes made by the evolver
    positions: dict[str, tuple[float, float]] | None = None
    legend: list[LegendEntry] = field(default_factory=list)
    focus: str | None = None
    focus_missing: bool = False
    notes: dict[str, Note] = field(default_factory=dict)  # the drawn notes, as they were when chosen
    degrees: dict[str, int] = field(default_factory=dict)  # links in the whole store, per drawn note

    @property
    def shown(self) -> int:
        return len(self.node_ids)

    @property
    def summary(self) -> str:
        """'Showing N of M notes ...' and how the N were chosen (no note text in it)."""
        scope = "notes" if not self.focus else f"notes within {count(self.query.depth, 'link')} of the focused note"
        if self.query.seeds:
            scope = f"notes: the recalled ones and those within {count(self.query.depth, 'link')} of them"
        text = f"Showing {self.shown:,} of {self.matched:,} {scope}"
        if self.shown < self.matched:
            text += f" (cap {self.query.cap:,}): {self.chosen_by}"
        else:
            text += f" ({self.chosen_by})" if self.focus or self.query.seeds else ""
        text += f"; {count(len(self.edges), 'link')} drawn; the store holds {count(self.total, 'note')}."
        return text


def matches(note: Note, q: GraphQuery) -> bool:
    """Whether a note passes the filters: any of the tags, any of the sources, text, time range."""
    return q.rule().matches(note)


def ego_rings(graph: nx.DiGraph, focus: str | Iterable[str], depth: int,
              allowed: set[str] | None = None) -> dict[str, int]:
    """Distance (in links, either direction) from ``focus`` of every note up to ``depth`` away.

    ``focus`` may be several notes (a trace's recalled notes): distances are then to the nearest.
    Only notes in ``allowed`` are visited (paths never pass through notes the filters removed);
    the focus itself is always included, at distance 0.
    """
    sources = [focus] if isinstance(focus, str) else list(dict.fromkeys(focus))
    rings = {s: 0 for s in sources}
    queue = deque(s for s in sources if s in graph)
    while queue:
        node = queue.popleft()
        d = rings[node]
        if d >= depth:
            continue
        for other in (*graph.succ[node], *graph.pred[node]):
            if other in rings or (allowed is not None and other not in allowed):
                continue
            rings[other] = d + 1
            queue.append(other)
    return rings


def evolver_changes(note: Note) -> int:
    """Changes the evolver made to this note (the 'evolution' record on a new note is a decision, not one)."""
    return sum(1 for c in note.history if c.by == "evolver" and c.field != "evolution")


def build_view(notes: Mapping[str, Note], graph: nx.DiGraph, q: GraphQuery, now: datetime | None = None) -> GraphView:
    """Choose at most ``q.cap`` notes and their links, with colours, sizes and a legend.

    ``notes`` and ``graph`` may be the store's live ``notes_view()`` and ``graph``: they are only
    read. A writer in another thread (the chat's background writer) can change them meanwhile; the
    view is then simply built again from the new state.
    """
    q.check()
    for attempt in range(3):
        try:
            return _build_view(notes, graph, q, now)
        except RuntimeError as exc:  # "dictionary changed size during iteration"
            if "changed size" not in str(exc) or attempt == 2:
                raise
    raise AssertionError("unreachable")


def drawn_links(graph: nx.DiGraph, kinds: frozenset[str]) -> nx.DiGraph:
    """``graph`` with only the links of ``kinds`` (every note kept): a view, nothing copied."""
    if kinds >= frozenset(KINDS):
        return graph
    return nx.subgraph_view(graph, filter_edge=lambda u, v: kind_of(graph[u][v]) in kinds)


def _build_view(notes: Mapping[str, Note], graph: nx.DiGraph, q: GraphQuery, now: datetime | None = None) -> GraphView:
    notes = dict(notes)
    graph = drawn_links(graph, q.drawn_kinds())
    all_degrees = dict(graph.degree())
    degree = {nid: all_degrees.get(nid, 0) for nid in notes}
    focus = q.focus if q.focus else None
    focus_missing = bool(focus) and focus not in notes
    if focus_missing:
        focus = None
    rule = q.rule()
    candidates = [nid for nid, note in notes.items() if rule.matches(note)]
    rings: dict[str, int] = {}
    seeds = [s for s in q.seeds if s in notes]
    if seeds:
        focus = None
        rings = ego_rings(graph, seeds, q.depth, set(candidates) | set(seeds))
        pool = list(rings)
        chosen_by = f"the recalled notes first, then nearest rings, then {RANKS[q.rank]}"
    elif focus:
        rings = ego_rings(graph, focus, q.depth, set(candidates))
        pool = list(rings)
        chosen_by = f"nearest rings first, then {RANKS[q.rank]}"
    else:
        pool = candidates
        chosen_by = f"the {min(q.cap, len(pool)):,} with {RANKS[q.rank]}" if q.rank != "newest" \
            else f"the {min(q.cap, len(pool)):,} newest"
    chosen = _ranked(pool, notes, degree, rings, q)[: int(q.cap)]
    chosen_set = set(chosen)
    edges = [(u, v, dict(attrs)) for u in chosen if u in graph
             for v, attrs in graph.succ[u].items() if v in chosen_set]
    view = GraphView(query=q, node_ids=chosen, edges=edges, matched=len(pool), total=len(notes),
                     chosen_by=chosen_by, rings={n: rings[n] for n in chosen} if rings else {},
                     focus=focus, focus_missing=focus_missing, notes={n: notes[n] for n in chosen},
                     degrees={n: degree[n] for n in chosen})
    _style(view, notes, degree, now)
    return view


def _ranked(pool: list[str], notes: Mapping[str, Note], degree: Mapping[str, int], rings: Mapping[str, int],
            q: GraphQuery) -> list[str]:
    """The pool in drawing order: nearest ring first, then by the chosen rank, then by id (stable)."""
    when = {nid: note_time(notes[nid]).timestamp() for nid in pool}

    def key(nid: str) -> tuple[Any, ...]:
        rank: tuple[Any, ...]
        if q.rank == "links":
            rank = (-degree[nid], -when[nid])
        elif q.rank == "recalled":
            rank = (-notes[nid].retrieval_count, -when[nid])
        else:
            rank = (-when[nid],)
        return (rings.get(nid, 0), *rank, nid)

    return sorted(pool, key=key)


def _style(view: GraphView, notes: Mapping[str, Note], degree: Mapping[str, int], now: datetime | None = None) -> None:
    """Colours, sizes, memory strengths at ``now`` (default: the wall clock), positions (physics off) and
    the legend of the chosen notes."""
    q, chosen = view.query, view.node_ids
    view.evolved = {nid: c for nid in chosen if (c := evolver_changes(notes[nid]))}
    view.groups, view.colours = colour_groups(chosen, notes, view.edges, q.colour_by)
    now = now or datetime.now().astimezone()
    for nid in chosen:
        view.strengths[nid] = strength(notes[nid], now)
        if q.size_by == "strength":
            view.sizes[nid] = strength_size(view.strengths[nid])
        else:
            view.sizes[nid] = node_size(degree[nid] if q.size_by == "degree" else notes[nid].retrieval_count)
    if not q.physics and chosen:
        view.positions = layout(chosen, view.edges)
    view.legend = legend(chosen, view.groups, view.colours, view.edges, len(view.evolved), bool(view.focus),
                         q.size_by, fading=sum(1 for v in view.strengths.values() if v < FADING))
