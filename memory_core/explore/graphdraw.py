"""What the Graph page's clickable canvas receives: nodes, edges and options as plain JSON data.

Why a module apart from ``graphview``: ``graphview`` decides *which* notes to draw (filters, cap,
ego graph) and ``graphstyle`` how any view looks; this module makes what the interactive component
takes (labels never clipped mid-word, tooltips, a recall trace highlighted over a faded rest). It holds no Streamlit and no HTML: the component builds every tooltip with
``textContent`` and vis-network draws labels on a canvas, so note text is always text; the data
travels as JSON in Streamlit's protocol, never spliced into a page. ``signature`` lets the
browser redraw only when the drawing really changed (a click alone does not re-layout the graph).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from ..retrieval.trace import SIGNALS, Trace
from .graphstyle import (
    EDGE_STYLES,
    EVOLVED_BORDER,
    OTHER_COLOUR,
    OTHER_EDGE,
    PLAIN_BORDER,
    edge_text,
    node_opacity,
    tooltip_text,
    vis_options,
)
from .graphview import GraphView

LABEL_CHARS = 28
FADED_FILL = "rgba(200, 200, 200, 0.35)"
FADED_BORDER = "rgba(160, 160, 160, 0.35)"
FADED_FONT = "rgba(90, 90, 90, 0.45)"
FADED_EDGE = "rgba(170, 170, 170, 0.25)"
TRACE_BORDER = "#d69e2e"
TRACE_EDGE = "#d69e2e"


def short_label(text: str, limit: int = LABEL_CHARS) -> str:
    """The first line of ``text`` cut at a word boundary to at most ``limit`` characters, with '…'.

    A short title is returned whole. A single word longer than the limit (a URL, say) is the one
    case cut mid-word, since there is no boundary to cut at.
    """
    lines = [ln.strip() for ln in str(text).strip().splitlines() if ln.strip()]
    first = " ".join(lines[0].split()) if lines else "(empty)"
    if len(first) <= limit:
        return first
    cut = first[: limit - 1]
    space = cut.rfind(" ")
    if space >= limit // 3:
        cut = cut[:space]
    return cut.rstrip(" ,;:.-") + "…"


@dataclass
class TraceOverlay:
    """A trace laid over a view: which drawn notes are highlighted, with their badges; the rest fade."""

    highlighted: dict[str, str] = field(default_factory=dict)  # note id -> "#1 · 0.82"
    faded: set[str] = field(default_factory=set)
    edges: list[tuple[str, str, str]] = field(default_factory=list)  # (u, v, "expansion" | "link")


def overlay(view: GraphView, trace: Trace, trace_edges: list[tuple[str, str, str]]) -> TraceOverlay:
    drawn = set(view.node_ids)
    hi = {nid: trace.badge(nid) for nid in trace.present_ids if nid in drawn}
    return TraceOverlay(hi, trace.faded(view.node_ids),
                        [(u, v, k) for u, v, k in trace_edges if u in drawn and v in drawn])


def trace_tooltip(trace: Trace, nid: str) -> str:
    e = trace.entry(nid)
    if e is None:
        return ""
    lines = [f"recalled #{e.rank}, score {e.score:.3f}"]
    for name, label in SIGNALS.items():
        if name in e.signals:
            lines.append(f"  {label}: {e.signals[name]:.2f}")
    lines.extend(f"  {r}" for r in e.reasons)
    return "\n".join(lines) + "\n\n"


def node_look(view: GraphView, nid: str) -> dict[str, Any]:
    """How a drawn note looks, the same on the canvas and in the downloaded file: filled by its group,
    sized by links or recalls, a star when focused, a diamond with a dark border when evolution changed
    it, a dashed border while it waits for re-enrichment, fainter as its memory strength fades, a fixed
    place when physics is off."""
    evolved = view.evolved.get(nid, 0)
    fill = view.colours.get(nid, OTHER_COLOUR)
    look: dict[str, Any] = {
        "size": view.sizes.get(nid, 12.0),
        "shape": "star" if nid == view.focus else "diamond" if evolved else "dot",
        "borderWidth": 2 if evolved else 1,
        "color": {"background": fill, "border": EVOLVED_BORDER if evolved else PLAIN_BORDER,
                  "highlight": {"background": fill, "border": "#000000"}},
    }
    if nid in view.strengths:
        look["opacity"] = node_opacity(view.strengths[nid])
    if view.notes[nid].needs_enrichment:
        look["shapeProperties"] = {"borderDashes": [4, 3]}
    if view.positions and nid in view.positions:
        look["x"], look["y"] = view.positions[nid]
    return look


def edge_look(attrs: dict[str, Any]) -> dict[str, Any]:
    """A link's colour, width and dashes by who made it."""
    colour, width, dashes, _meaning = EDGE_STYLES.get(attrs.get("by", ""), OTHER_EDGE)
    return {"color": colour, "width": width, "dashes": dashes}


def payload(view: GraphView, selected: str | None = None, trace: Trace | None = None,
            over: TraceOverlay | None = None) -> dict[str, Any]:
    """The component's data: nodes, edges, vis options, the selected note and a drawing signature."""
    nodes = []
    for nid in view.node_ids:
        note = view.notes[nid]
        tip = tooltip_text(note, view.degrees.get(nid, 0), view.evolved.get(nid, 0), view.strengths.get(nid))
        fill = view.colours.get(nid, OTHER_COLOUR)
        label = short_label(note.content)
        node: dict[str, Any] = {"id": nid, "label": label, **node_look(view, nid)}
        if over is not None and trace is not None:
            if nid in over.highlighted:
                node["label"] = f"{over.highlighted[nid]}\n{label}"
                node["borderWidth"] = 4
                node["color"] = {"background": fill, "border": TRACE_BORDER,
                                 "highlight": {"background": fill, "border": "#000000"}}
                node["font"] = {"size": 15, "bold": True}
                node["size"] = max(node["size"], 22.0)
                node["opacity"] = 1.0  # a recalled note is drawn in full, however faded
                tip = trace_tooltip(trace, nid) + tip
            elif nid in over.faded:
                node["color"] = {"background": FADED_FILL, "border": FADED_BORDER,
                                 "highlight": {"background": fill, "border": "#000000"}}
                node["font"] = {"color": FADED_FONT}
        node["title"] = tip  # plain text: the component shows it with textContent
        nodes.append(node)
    bold = {(u, v): k for u, v, k in (over.edges if over else [])}
    edges = []
    drawn_pairs = set()
    for u, v, attrs in view.edges:
        edge: dict[str, Any] = {"from": u, "to": v, "title": edge_text(attrs), **edge_look(attrs)}
        width = edge["width"]
        kind = bold.get((u, v)) or bold.get((v, u))
        if over is not None:
            if kind:
                edge.update(color=TRACE_EDGE, width=width + 3)
                if kind == "expansion":
                    edge["title"] = "link expansion: recalled through this link\n" + edge["title"]
            else:
                edge["color"] = FADED_EDGE
        drawn_pairs.add((u, v))
        edges.append(edge)
    for (u, v), kind in bold.items():  # an expansion whose link is gone (or filtered): still show the path
        if (u, v) not in drawn_pairs and (v, u) not in drawn_pairs:
            edges.append({"from": u, "to": v, "title": f"recalled through a link ({kind})", "color": TRACE_EDGE,
                          "width": 4, "dashes": [2, 6]})
    options = vis_options(view.query.physics)
    options["nodes"]["font"]["multi"] = False
    data = {"nodes": nodes, "edges": edges, "options": options,
            "focus": view.focus or "", "selected": selected if selected in view.notes else ""}
    drawing = json.dumps({"n": nodes, "e": edges, "o": options}, sort_keys=True, default=str)
    data["sig"] = hashlib.sha1(drawing.encode("utf-8")).hexdigest()[:16]
    return data
