"""memory_core.explore.graphdraw: labels, tooltips, link styles and a trace overlay, as the canvas receives them."""

from __future__ import annotations

import json

import networkx as nx

from memory_core.explore import graphdraw as gd
from memory_core.explore import graphstyle as gs
from memory_core.explore import graphview as gv
from memory_core.notes import Link, Note
from memory_core.retrieval import trace as tr
from memory_core.store import build_graph

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"


def note(content: str, nid: str, ts: str = "2024-01-01T10:00:00+00:00") -> Note:
    n = Note(content=content, timestamp=ts)
    n.id = nid
    return n


def test_short_labels_cut_at_word_boundaries() -> None:
    assert gd.short_label("Budget review on Friday") == "Budget review on Friday"
    long = "I went hiking in the Alps with Anna last summer and it rained"
    got = gd.short_label(long)
    assert got.endswith("…") and len(got) <= gd.LABEL_CHARS
    assert long.startswith(got[:-1]) and long[len(got) - 1] == " "  # cut where a word ended
    assert gd.short_label("first line\nsecond line") == "first line"
    assert gd.short_label("   \n  ") == "(empty)"
    word = "x" * 80
    assert gd.short_label(word) == "x" * (gd.LABEL_CHARS - 1) + "…"  # no boundary to cut at
    assert gd.short_label("Spaces    collapse   here") == "Spaces collapse here"


def _notes() -> dict[str, Note]:
    a = note("Hiking in the Alps with Anna", "a")
    b = note("Anna takes photos of glaciers", "b")
    c = note(SCRIPT, "c")
    d = note(IMG, "d")
    e = note("A vault note", "e")
    a.links.append(Link("b", reason="Anna", by="linker"))
    b.links.append(Link("c", reason="person said so " + IMG, by="person"))
    c.links.append(Link("d", reason="wiki", by="wikilink"))
    d.links.append(Link("e", reason="accepted", by="evolver"))
    return {n.id: n for n in (a, b, c, d, e)}


def test_payload_is_plain_json_with_text_tooltips_and_link_styles() -> None:
    notes = _notes()
    view = gv.build_view(notes, build_graph(notes), gv.GraphQuery())
    data = gd.payload(view, selected="b")
    json.dumps(data)  # plain JSON
    nodes = {n["id"]: n for n in data["nodes"]}
    assert nodes["c"]["label"] == SCRIPT and nodes["c"]["title"].startswith(SCRIPT)  # literal text, not markup
    assert data["selected"] == "b"
    edges = {(e["from"], e["to"]): e for e in data["edges"]}
    styles = {by: gs.EDGE_STYLES[by] for by in ("linker", "person", "wikilink", "evolver")}
    assert edges[("a", "b")]["color"] == styles["linker"][0] and edges[("a", "b")]["dashes"] is False
    assert edges[("b", "c")]["color"] == styles["person"][0]
    assert edges[("c", "d")]["color"] == styles["wikilink"][0] and edges[("c", "d")]["dashes"]
    assert edges[("d", "e")]["color"] == styles["evolver"][0]
    assert len({s[0] for s in styles.values()}) == 4  # four different colours
    assert IMG in edges[("b", "c")]["title"]
    legend = {e.style: e.count for e in view.legend if e.kind == "edge"}
    assert legend["wikilink"] == 1 and legend["evolver"] == 1 and legend["person"] == 1
    # the signature changes with the drawing, not with the selection
    assert gd.payload(view, selected="a")["sig"] == data["sig"]
    other = gv.build_view(notes, build_graph(notes), gv.GraphQuery(colour_by="community"))
    assert gd.payload(other)["sig"] != data["sig"]
    assert gd.payload(view, selected="nope")["selected"] == ""


def test_trace_overlay_highlights_recalled_and_fades_the_rest() -> None:
    notes = _notes()
    graph = build_graph(notes)
    trace = tr.from_recalled([
        {"id": "b", "rank": 1, "score": 0.9, "signals": {"dense": 0.9}, "reasons": ["dense: similarity 0.90"]},
        {"id": "c", "rank": 2, "score": 0.5, "signals": {"graph": 0.5}, "via": "b", "reasons": ["linked from b"]},
        {"id": "zz", "rank": 3, "score": 0.1},
    ], query="photos", notes=notes)
    view = gv.build_view(notes, graph, gv.GraphQuery(seeds=tuple(trace.present_ids), depth=1))
    assert set(view.node_ids) == {"a", "b", "c", "d"}  # recalled + one link away; e is 2 away
    assert view.summary.startswith("Showing 4 of 4 notes: the recalled ones")
    over = gd.overlay(view, trace, tr.edges(trace, graph))
    assert over.highlighted == {"b": "#1 · 0.90", "c": "#2 · 0.50"} and over.faded == {"a", "d"}
    data = gd.payload(view, None, trace, over)
    nodes = {n["id"]: n for n in data["nodes"]}
    assert nodes["b"]["label"].startswith("#1 · 0.90\n") and nodes["b"]["color"]["border"] == gd.TRACE_BORDER
    assert nodes["c"]["label"] == "#2 · 0.50\n" + SCRIPT
    assert nodes["c"]["title"].startswith("recalled #2, score 0.500\n  link / graph expansion: 0.50")
    assert nodes["a"]["color"]["background"] == gd.FADED_FILL and "#" not in nodes["a"]["label"]
    edges = {(e["from"], e["to"]): e for e in data["edges"]}
    assert edges[("b", "c")]["color"] == gd.TRACE_EDGE and edges[("b", "c")]["title"].startswith("link expansion")
    assert edges[("a", "b")]["color"] == gd.FADED_EDGE


def test_trace_seeds_respect_the_cap_recalled_first() -> None:
    notes = {f"n{i}": note(f"note {i}", f"n{i}") for i in range(40)}
    for i in range(1, 40):
        notes["n0"].links.append(Link(f"n{i}", by="linker"))
    graph = build_graph(notes)
    assert isinstance(graph, nx.DiGraph)
    view = gv.build_view(notes, graph, gv.GraphQuery(seeds=("n5", "n0"), cap=10))
    assert len(view.node_ids) == 10 and {"n0", "n5"} <= set(view.node_ids)
    assert view.rings["n0"] == 0 and view.rings["n5"] == 0
