"""How a graph view looks: colours by tag or community, link styles by who made them, the legend,
tooltip text, a fixed layout, and vis-network's options.

Why a module apart from ``graphview`` (which notes to draw): the look is shared by the Graph page's
clickable canvas (``graphdraw``) and the standalone HTML download (``graphhtml``), and it has its own
rules worth testing: the same view always gets the same colours (ties broken by name, Louvain with a
fixed seed), ten distinct colours at most, and a legend that counts what is drawn. Nothing here
renders HTML: tooltips are plain text that the callers escape or show with ``textContent``.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import networkx as nx

from memory_core.explore.wording import count

from ..notes import Note
from ..retrieval.strength import FADING

TOOLTIP_CHARS = 600
SEED = 42

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
    "system": ("#9e9e9e", 1.0, [6, 6], "dashed grey: drawn by a rule (a shared name or topic word, similarity, "
               "one fact continuing another)"),
    "import": ("#805ad5", 1.5, [2, 4], "dotted purple: came with an import"),
    "wikilink": ("#2f855a", 2.0, [10, 5], "dashed green: a [[wikilink]] in the vault"),
    "evolver": ("#c53030", 2.5, [3, 3], "dotted red: added by evolution (an accepted proposal)"),
}
OTHER_EDGE = ("#4a5568", 1.5, [10, 4], "long dashes: other")

SPECIAL_GROUPS = frozenset({"(no tags)", "(other tags)", "not linked in this view", "(smaller communities)"})


@dataclass
class LegendEntry:
    """One line of the legend. ``label`` may hold a tag (note data): show it as text, never as HTML."""

    kind: str  # "node" (fill colour), "edge" (link style) or "marker" (border/shape)
    label: str
    colour: str
    count: int = 0
    style: str = ""



def colour_groups(chosen: list[str], notes: Mapping[str, Note], edges: list[tuple[str, str, dict[str, Any]]],
                  colour_by: str) -> tuple[dict[str, str], dict[str, str]]:
    """(group, colour) of each drawn note: its most common tag in the view, or its community."""
    if colour_by == "tag":
        return _tag_groups(chosen, notes)
    groups: dict[str, str] = {}
    colours: dict[str, str] = {}
    sub = nx.Graph()
    sub.add_nodes_from(chosen)
    sub.add_edges_from((u, v) for u, v, _ in edges)
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
            groups[nid], colours[nid] = group, colour
    return groups, colours


def _tag_groups(chosen: list[str], notes: Mapping[str, Note]) -> tuple[dict[str, str], dict[str, str]]:
    groups: dict[str, str] = {}
    colours: dict[str, str] = {}
    counts = Counter(t for nid in chosen for t in dict.fromkeys(notes[nid].tags))
    order = {t: i for i, (t, _c) in enumerate(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))}
    for nid in chosen:
        tags = notes[nid].tags
        if not tags:
            groups[nid], colours[nid] = "(no tags)", NONE_COLOUR
            continue
        best = min(tags, key=lambda t: order[t])
        if order[best] < len(PALETTE):
            groups[nid], colours[nid] = best, PALETTE[order[best]]
        else:
            groups[nid], colours[nid] = "(other tags)", OTHER_COLOUR
    return groups, colours


def legend(chosen: list[str], groups: Mapping[str, str], colours: Mapping[str, str],
           edges: list[tuple[str, str, dict[str, Any]]], evolved: int, focused: bool, size_by: str,
           fading: int = 0) -> list[LegendEntry]:
    """The legend of a view: its colour groups (largest first), every link style, then the markers."""
    entries: list[LegendEntry] = []
    seen: dict[str, LegendEntry] = {}
    for nid in chosen:
        group = groups[nid]
        if group not in seen:
            seen[group] = LegendEntry("node", group, colours[nid])
            entries.append(seen[group])
        seen[group].count += 1
    entries.sort(key=lambda e: (e.label in SPECIAL_GROUPS, -e.count, e.label))
    by = Counter(attrs.get("by", "") for _u, _v, attrs in edges)
    for who, (colour, _w, _d, meaning) in EDGE_STYLES.items():
        entries.append(LegendEntry("edge", meaning, colour, by.pop(who, 0), style=who))
    other = sum(by.values())
    if other:
        entries.append(LegendEntry("edge", OTHER_EDGE[3], OTHER_EDGE[0], other, style="other"))
    entries.append(LegendEntry("marker", "diamond with a dark border: changed by evolution", EVOLVED_BORDER,
                               evolved, style="diamond"))
    if focused:
        entries.append(LegendEntry("marker", "star: the focused note", PALETTE[0], 1, style="star"))
    size = {"degree": "links in the whole store", "retrievals": "times recalled by search",
            "strength": "memory strength (recalled or told again, recently)"}.get(size_by, size_by)
    entries.append(LegendEntry("marker", f"node size: {size}", OTHER_COLOUR, len(chosen), style="size"))
    entries.append(LegendEntry("marker", "faint: a fading memory (told long ago, rarely recalled since)",
                               OTHER_COLOUR, fading, style="opacity"))
    return entries


def node_size(value: int) -> float:
    """A node's radius from its links or recalls: grows with the square root, capped at 50."""
    return min(50.0, 10.0 + 5.0 * math.sqrt(max(0, value)))


def strength_size(value: float) -> float:
    """A node's radius from its memory strength (0..1): 10 for a faded memory, 40 for a fresh one."""
    return 10.0 + 30.0 * max(0.0, min(1.0, value))


def node_opacity(value: float) -> float:
    """How opaque a node is drawn from its memory strength: a faded memory stays visible (0.35), never gone."""
    return round(0.35 + 0.65 * max(0.0, min(1.0, value)), 3)


def layout(node_ids: list[str], edges: list[tuple[str, str, dict[str, Any]]]) -> dict[str, tuple[float, float]]:
    """Fixed positions for physics off: a seeded spring layout, scaled to the number of nodes."""
    g = nx.Graph()
    g.add_nodes_from(node_ids)
    g.add_edges_from((u, v) for u, v, _ in edges)
    scale = 80.0 * math.sqrt(len(node_ids)) + 100.0
    pos = nx.spring_layout(g, seed=SEED, iterations=50, scale=scale)
    return {n: (float(x), float(y)) for n, (x, y) in pos.items()}


def tooltip_text(note: Note, degree: int = 0, evolved: int = 0, strength: float | None = None) -> str:
    """The plain text of a node's tooltip (not escaped yet)."""
    content = note.content if len(note.content) <= TOOLTIP_CHARS else note.content[:TOOLTIP_CHARS] + " …"
    lines = [content, ""]
    if note.keywords:
        lines.append("keywords: " + ", ".join(note.keywords))
    if note.tags:
        lines.append("tags: " + ", ".join(note.tags))
    if note.context:
        lines.append("context: " + note.context)
    meta = [f"{note.source}", note.timestamp, count(degree, "link"), f"recalled {note.retrieval_count}x"]
    if strength is not None:
        meta.append(f"strength {strength:.2f}" + (" (fading)" if strength < FADING else ""))
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
