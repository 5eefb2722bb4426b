"""The memory graph as something a person can look at: which notes to draw, how, and the HTML.

Why this lives in memory_core and not in the page: choosing a readable, capped view of a store
that may hold 10,000 notes is logic worth unit tests of its own (filters, ego graph, cap, colours),
and it must never import Streamlit. The page only turns widgets into a ``GraphQuery`` and shows
``GraphView`` plus ``to_html(view)``.

Choices made here:
- A view never holds more than ``cap`` notes (default 300). Without a focus, the notes matching the
  filters are ranked (most links / newest / most recalled) and the top ``cap`` are drawn. With a
  focus, the ego graph (undirected, over the notes that match the filters, plus the focus itself)
  is taken up to ``depth`` links away and drawn ring by ring, nearest first. ``view.summary`` says
  "showing N of M" and how the N were chosen.
- Colour by tag (each note takes its most common tag in the view) or by community (networkx
  Louvain on the drawn subgraph, fixed seed, so the same view always gets the same colours). Size by
  links in the whole store or by retrieval count.
- Edges tell who made them: the model's linker, a person, the similarity threshold ("system", fast
  mode), an import. Notes changed by evolution get a thick dark border; the focus is a star.
- Note text is data. Tooltips are ``html.escape``d here, so whatever renders them as HTML shows
  text; in our page the browser decodes them inside a ``<textarea>`` (an inert parsing context:
  no element is ever created) and shows the result with ``textContent``. Labels are drawn on the
  canvas as text. All node and edge data sits in a ``<script>`` as JSON with ``<``, ``>``, ``&`` and
  ``'`` escaped (Jinja's ``tojson``), so no note can close the script or open a tag.
- The HTML is self-contained and works offline: pyvis builds the node/edge data and ships
  vis-network, which is inlined from pyvis's package (what ``cdn_resources="in_line"`` does). We
  render our own small template rather than pyvis's ``template.html`` because that one always
  links Bootstrap from a CDN and, when any tooltip contains "href", switches to a popup that
  assigns the tooltip with ``innerHTML``. Nothing is written to disk.
"""

from __future__ import annotations

import html
import math
from collections import Counter, deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any

import networkx as nx

from ..errors import InputError
from ..notes import Note, parse_time

DEFAULT_CAP = 300
MAX_CAP = 1000
MAX_DEPTH = 3
TOOLTIP_CHARS = 600
SEED = 42

RANKS: dict[str, str] = {
    "links": "the most links (ties: newest)",
    "newest": "the newest",
    "recalled": "the most recalled (ties: newest)",
}
COLOUR_BY = ("tag", "community")
SIZE_BY = ("degree", "retrievals")

# Tableau 10: distinct, colour-blind friendly enough, readable with dark labels.
PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
           "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#86bcb6")
OTHER_COLOUR = "#c7c7c7"
NONE_COLOUR = "#eeeeee"
EVOLVED_BORDER = "#111111"
PLAIN_BORDER = "#666666"

# How each kind of link is drawn: who made it -> (colour, width, dashes, meaning for the legend).
EDGE_STYLES: dict[str, tuple[str, float, Any, str]] = {
    "linker": ("#2b6cb0", 2.0, False, "solid blue: chosen by the model (A-MEM linker)"),
    "person": ("#dd6b20", 3.0, False, "thick orange: made by a person"),
    "system": ("#9e9e9e", 1.0, [6, 6], "dashed grey: similarity above the threshold (fast mode)"),
    "import": ("#805ad5", 1.5, [2, 4], "dotted purple: came with an import"),
    "wikilink": ("#2f855a", 2.0, [10, 5], "dashed green: a [[wikilink]] in the vault"),
    "evolver": ("#c53030", 2.5, [3, 3], "dotted red: added by evolution (an accepted proposal)"),
}
OTHER_EDGE = ("#4a5568", 1.5, [10, 4], "long dashes: other")


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


@dataclass
class LegendEntry:
    """One line of the legend. ``label`` may hold a tag (note data): show it as text, never as HTML."""

    kind: str  # "node" (fill colour), "edge" (link style) or "marker" (border/shape)
    label: str
    colour: str
    count: int = 0
    style: str = ""


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
        scope = "notes" if not self.focus else f"notes within {self.query.depth} link(s) of the focused note"
        if self.query.seeds:
            scope = f"notes: the recalled ones and those within {self.query.depth} link(s) of them"
        text = f"Showing {self.shown:,} of {self.matched:,} {scope}"
        if self.shown < self.matched:
            text += f" (cap {self.query.cap:,}): {self.chosen_by}"
        else:
            text += f" ({self.chosen_by})" if self.focus or self.query.seeds else ""
        text += f"; {len(self.edges):,} links drawn; the store holds {self.total:,} notes."
        return text


# ---------------------------------------------------------------------------------------------
# Choosing the notes
# ---------------------------------------------------------------------------------------------
def _bound(value: date | datetime | None, end: bool) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    return datetime.combine(value, time.max if end else time.min, tzinfo=timezone.utc)


def _when(note: Note) -> datetime:
    try:
        return parse_time(note.timestamp)
    except InputError:
        return datetime.min.replace(tzinfo=timezone.utc)


def matches(note: Note, q: GraphQuery, lo: datetime | None = None, hi: datetime | None = None) -> bool:
    """Whether a note passes the filters: any of the tags, any of the sources, text, time range."""
    if q.tags:
        wanted = {t.lower() for t in q.tags}
        if not any(t.lower() in wanted for t in note.tags):
            return False
    if q.sources and note.source not in q.sources:
        return False
    needle = q.text.strip().lower()
    if needle and needle not in " ".join([note.content, note.context, " ".join(note.keywords),
                                         " ".join(note.tags), note.id]).lower():
        return False
    if lo or hi:
        ts = _when(note)
        if (lo and ts < lo) or (hi and ts > hi):
            return False
    return True


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


def build_view(notes: Mapping[str, Note], graph: nx.DiGraph, q: GraphQuery) -> GraphView:
    """Choose at most ``q.cap`` notes and their links, with colours, sizes and a legend.

    ``notes`` and ``graph`` may be the store's live ``notes_view()`` and ``graph``: they are only
    read. A writer in another thread (the chat's background writer) can change them meanwhile; the
    view is then simply built again from the new state.
    """
    q.check()
    for attempt in range(3):
        try:
            return _build_view(notes, graph, q)
        except RuntimeError as exc:  # "dictionary changed size during iteration"
            if "changed size" not in str(exc) or attempt == 2:
                raise
    raise AssertionError("unreachable")


def _build_view(notes: Mapping[str, Note], graph: nx.DiGraph, q: GraphQuery) -> GraphView:
    lo, hi = _bound(q.since, end=False), _bound(q.until, end=True)
    notes = dict(notes)
    all_degrees = dict(graph.degree())
    degree = {nid: all_degrees.get(nid, 0) for nid in notes}
    focus = q.focus if q.focus else None
    focus_missing = bool(focus) and focus not in notes
    if focus_missing:
        focus = None

    candidates = [nid for nid, note in notes.items() if matches(note, q, lo, hi)]
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

    when = {nid: _when(notes[nid]).timestamp() for nid in pool}

    def key(nid: str) -> tuple[Any, ...]:
        rank: tuple[Any, ...]
        if q.rank == "links":
            rank = (-degree[nid], -when[nid])
        elif q.rank == "recalled":
            rank = (-notes[nid].retrieval_count, -when[nid])
        else:
            rank = (-when[nid],)
        return (rings.get(nid, 0), *rank, nid)

    chosen = sorted(pool, key=key)[: int(q.cap)]
    chosen_set = set(chosen)
    edges = [(u, v, dict(attrs)) for u in chosen if u in graph
             for v, attrs in graph.succ[u].items() if v in chosen_set]
    view = GraphView(query=q, node_ids=chosen, edges=edges, matched=len(pool), total=len(notes),
                     chosen_by=chosen_by, rings={n: rings[n] for n in chosen} if rings else {},
                     focus=focus, focus_missing=focus_missing, notes={n: notes[n] for n in chosen},
                     degrees={n: degree[n] for n in chosen})
    view.evolved = {nid: c for nid in chosen if (c := evolver_changes(notes[nid]))}
    _colour(view, notes)
    for nid in chosen:
        value = degree[nid] if q.size_by == "degree" else notes[nid].retrieval_count
        view.sizes[nid] = min(50.0, 10.0 + 5.0 * math.sqrt(max(0, value)))
    if not q.physics and chosen:
        view.positions = layout(chosen, edges)
    view.legend = _legend(view)
    return view


def _colour(view: GraphView, notes: Mapping[str, Note]) -> None:
    chosen = view.node_ids
    if view.query.colour_by == "tag":
        counts = Counter(t for nid in chosen for t in dict.fromkeys(notes[nid].tags))
        order = {t: i for i, (t, _c) in enumerate(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))}
        for nid in chosen:
            tags = notes[nid].tags
            if not tags:
                view.groups[nid], view.colours[nid] = "(no tags)", NONE_COLOUR
                continue
            best = min(tags, key=lambda t: order[t])
            if order[best] < len(PALETTE):
                view.groups[nid], view.colours[nid] = best, PALETTE[order[best]]
            else:
                view.groups[nid], view.colours[nid] = "(other tags)", OTHER_COLOUR
        return
    sub = nx.Graph()
    sub.add_nodes_from(chosen)
    sub.add_edges_from((u, v) for u, v, _ in view.edges)
    communities = nx.community.louvain_communities(sub, seed=SEED) if sub.number_of_edges() else \
        [{n} for n in chosen]
    communities = sorted(communities, key=lambda c: (-len(c), min(c)))
    for i, members in enumerate(communities):
        if len(members) == 1:
            group, colour = "not linked in this view", NONE_COLOUR
        elif i < len(PALETTE):
            top = Counter(t for nid in members for t in dict.fromkeys(notes[nid].tags)).most_common(2)
            about = ", ".join(t for t, _ in top)
            group, colour = f"community {i + 1}" + (f" · {about}" if about else ""), PALETTE[i]
        else:
            group, colour = "(smaller communities)", OTHER_COLOUR
        for nid in members:
            view.groups[nid], view.colours[nid] = group, colour


def _legend(view: GraphView) -> list[LegendEntry]:
    entries: list[LegendEntry] = []
    seen: dict[str, LegendEntry] = {}
    for nid in view.node_ids:
        group = view.groups[nid]
        if group not in seen:
            seen[group] = LegendEntry("node", group, view.colours[nid])
            entries.append(seen[group])
        seen[group].count += 1
    special = {"(no tags)", "(other tags)", "not linked in this view", "(smaller communities)"}
    entries.sort(key=lambda e: (e.label in special, -e.count, e.label))
    by = Counter(attrs.get("by", "") for _u, _v, attrs in view.edges)
    for who, (colour, _w, _d, meaning) in EDGE_STYLES.items():
        entries.append(LegendEntry("edge", meaning, colour, by.pop(who, 0), style=who))
    other = sum(by.values())
    if other:
        entries.append(LegendEntry("edge", OTHER_EDGE[3], OTHER_EDGE[0], other, style="other"))
    entries.append(LegendEntry("marker", "diamond with a dark border: changed by evolution", EVOLVED_BORDER,
                               len(view.evolved), style="diamond"))
    if view.focus:
        entries.append(LegendEntry("marker", "star: the focused note", PALETTE[0], 1, style="star"))
    size = "links in the whole store" if view.query.size_by == "degree" else "times recalled by search"
    entries.append(LegendEntry("marker", f"node size: {size}", OTHER_COLOUR, view.shown, style="size"))
    return entries


def layout(node_ids: list[str], edges: list[tuple[str, str, dict[str, Any]]]) -> dict[str, tuple[float, float]]:
    """Fixed positions for physics off: a seeded spring layout, scaled to the number of nodes."""
    g = nx.Graph()
    g.add_nodes_from(node_ids)
    g.add_edges_from((u, v) for u, v, _ in edges)
    scale = 80.0 * math.sqrt(len(node_ids)) + 100.0
    pos = nx.spring_layout(g, seed=SEED, iterations=50, scale=scale)
    return {n: (float(x), float(y)) for n, (x, y) in pos.items()}


# ---------------------------------------------------------------------------------------------
# Text shown in the graph
# ---------------------------------------------------------------------------------------------
def tooltip_text(note: Note, degree: int = 0, evolved: int = 0) -> str:
    """The plain text of a node's tooltip (not escaped yet)."""
    content = note.content if len(note.content) <= TOOLTIP_CHARS else note.content[:TOOLTIP_CHARS] + " …"
    lines = [content, ""]
    if note.keywords:
        lines.append("keywords: " + ", ".join(note.keywords))
    if note.tags:
        lines.append("tags: " + ", ".join(note.tags))
    if note.context:
        lines.append("context: " + note.context)
    meta = [f"{note.source}", note.timestamp, f"{degree} link(s)", f"recalled {note.retrieval_count}x"]
    if evolved:
        meta.append(f"changed {evolved}x by evolution")
    if note.needs_enrichment:
        meta.append("waiting for re-enrichment")
    lines.append(" · ".join(meta))
    lines.append(f"id {note.id}")
    return "\n".join(lines)


def edge_text(attrs: dict[str, Any]) -> str:
    who = attrs.get("by", "") or "?"
    reason = str(attrs.get("reason", "") or "")
    return f"{reason}\n(by {who}, {attrs.get('created', '')})" if reason else f"by {who}, {attrs.get('created', '')}"


# ---------------------------------------------------------------------------------------------
# HTML
# ---------------------------------------------------------------------------------------------
_TEMPLATE = """<!DOCTYPE html>
<html><head><meta charset="utf-8">
<style>{{ vis_css|safe }}</style>
<script>{{ vis_js|safe }}</script>
<style>
html, body { margin: 0; padding: 0; background: #ffffff; font-family: sans-serif; }
#memex-graph { width: 100%; height: {{ height }}; border: 1px solid #e2e8f0; box-sizing: border-box; }
.vis-tooltip { font-family: sans-serif; }
.memex-tip { white-space: pre-wrap; max-width: 440px; font-size: 12px; line-height: 1.35; }
</style></head>
<body><div id="memex-graph"></div>
<script>
(function () {
  // Tooltips arrive HTML-escaped. A <textarea> parses its content as plain text (no element is ever
  // created, nothing runs), so its value is the note's own text, shown with textContent.
  function asText(escaped) {
    var decoder = document.createElement("textarea");
    decoder.innerHTML = escaped;
    var tip = document.createElement("div");
    tip.className = "memex-tip";
    tip.textContent = decoder.value;
    return tip;
  }
  var nodes = {{ nodes|tojson }};
  var edges = {{ edges|tojson }};
  var options = {{ options|tojson }};
  nodes.forEach(function (n) { if (typeof n.title === "string") { n.title = asText(n.title); } });
  edges.forEach(function (e) { if (typeof e.title === "string") { e.title = asText(e.title); } });
  var network = new vis.Network(document.getElementById("memex-graph"),
                                {nodes: new vis.DataSet(nodes), edges: new vis.DataSet(edges)}, options);
  {% if physics %}
  network.once("stabilizationIterationsDone", function () { network.fit(); });
  {% endif %}
  {% if focus %}
  network.selectNodes([{{ focus|tojson }}]);
  {% endif %}
  window.memexGraph = {network: network, nodes: nodes.length, edges: edges.length};
})();
</script></body></html>
"""


@lru_cache(maxsize=1)
def _assets() -> tuple[str, str]:
    """vis-network's JS and CSS as shipped inside the pyvis package (inlined: no CDN, works offline)."""
    import pyvis

    lib = Path(pyvis.__file__).parent / "templates" / "lib"
    folders = sorted(lib.glob("vis-*/vis-network.min.js"), key=lambda p: [int(x) for x in
                     p.parent.name[4:].split(".") if x.isdigit()])
    if not folders:  # pragma: no cover - broken install
        raise InputError(f"pyvis is installed without vis-network ({lib}); reinstall pyvis.")
    js = folders[-1]
    css = js.with_name("vis-network.css")
    return js.read_text(encoding="utf-8"), css.read_text(encoding="utf-8") if css.exists() else ""


@lru_cache(maxsize=1)
def _template() -> Any:
    from jinja2 import Environment

    return Environment(autoescape=True).from_string(_TEMPLATE)


def vis_options(physics: bool) -> dict[str, Any]:
    opts: dict[str, Any] = {
        "nodes": {"font": {"size": 13, "face": "sans-serif", "strokeWidth": 3, "strokeColor": "#ffffff"}},
        "edges": {"smooth": {"type": "continuous"}, "arrows": {"to": {"enabled": True, "scaleFactor": 0.5}},
                  "color": {"inherit": False}},
        "interaction": {"hover": True, "tooltipDelay": 150, "navigationButtons": False, "multiselect": False},
        "physics": {"enabled": bool(physics)},
    }
    if physics:
        opts["physics"].update({
            "solver": "barnesHut",
            "barnesHut": {"gravitationalConstant": -8000, "springLength": 120, "springConstant": 0.03,
                          "damping": 0.2, "avoidOverlap": 0.1},
            "stabilization": {"enabled": True, "iterations": 250, "fit": True},
        })
    return opts


def to_network(view: GraphView, height: str = "640px") -> Any:
    """The pyvis Network of a view (escaped tooltips; styles by who made each link)."""
    from pyvis.network import Network

    net = Network(height=height, width="100%", directed=True, cdn_resources="in_line")
    for nid in view.node_ids:
        note = view.notes[nid]
        deg = view.degrees.get(nid, 0)
        evolved = view.evolved.get(nid, 0)
        opts: dict[str, Any] = {
            "title": html.escape(tooltip_text(note, deg, evolved)),
            "size": view.sizes.get(nid, 12.0),
            "borderWidth": 2 if evolved else 1,
            "color": {"background": view.colours.get(nid, OTHER_COLOUR),
                      "border": EVOLVED_BORDER if evolved else PLAIN_BORDER,
                      "highlight": {"background": view.colours.get(nid, OTHER_COLOUR), "border": "#000000"}},
        }
        if note.needs_enrichment:
            opts["shapeProperties"] = {"borderDashes": [4, 3]}
        if view.positions and nid in view.positions:
            opts["x"], opts["y"] = view.positions[nid]
        shape = "star" if nid == view.focus else "diamond" if evolved else "dot"
        net.add_node(nid, label=note.title, shape=shape, **opts)
    for u, v, attrs in view.edges:
        colour, width, dashes, _meaning = EDGE_STYLES.get(attrs.get("by", ""), OTHER_EDGE)
        net.add_edge(u, v, title=html.escape(edge_text(attrs)), color=colour, width=width, dashes=dashes)
    net.options = vis_options(view.query.physics)
    return net


def to_html(view: GraphView, height: str = "640px") -> str:
    """A self-contained HTML page (vis-network inlined) drawing the view; nothing is written to disk."""
    net = to_network(view, height)
    nodes, edges, _heading, height, _width, _options = net.get_network_data()
    js, css = _assets()
    return _template().render(vis_js=js, vis_css=css, nodes=nodes, edges=edges, options=net.options,
                              height=height, physics=view.query.physics, focus=view.focus)
