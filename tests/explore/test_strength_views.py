"""Memory strength where a person sees it: the Notes table (column, sort, "fading" filter) and the Graph."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from memory_core.explore import graphdraw as gd
from memory_core.explore import graphstyle as gs
from memory_core.explore import graphview as gv
from memory_core.explore.notes_table import NoteQuery, query_page, sort_notes, table_frame
from memory_core.notes import Note
from memory_core.retrieval import trace as tr
from memory_core.store import build_graph

NOW = datetime(2024, 6, 1, 12, tzinfo=timezone.utc)


def _notes() -> dict[str, Note]:
    def make(nid: str, days_ago: float, recalls: int = 0, recalled_days_ago: float | None = None) -> Note:
        n = Note(f"note {nid}", timestamp=(NOW - timedelta(days=days_ago)).isoformat(), retrieval_count=recalls)
        if recalled_days_ago is not None:
            n.last_accessed = (NOW - timedelta(days=recalled_days_ago)).isoformat()
        n.id = nid
        return n

    notes = [make("fresh", 1), make("old", 200), make("old-but-recalled", 200, recalls=3, recalled_days_ago=2),
             make("month", 30)]
    return {n.id: n for n in notes}


def test_the_table_shows_strength_and_sorts_by_it() -> None:
    notes = _notes()
    frame = table_frame(list(notes.values()), now=NOW)
    by_id = dict(zip(frame["id"], frame["strength"]))
    # recalled three times, last two days ago: fresher than a note told yesterday and never recalled
    assert by_id["old-but-recalled"] > by_id["fresh"] > by_id["month"] > by_id["old"]
    assert 0.0 <= min(by_id.values()) and max(by_id.values()) <= 1.0
    ordered = [n.id for n in sort_notes(list(notes.values()), "strength", True, now=NOW)]
    assert ordered == ["old-but-recalled", "fresh", "month", "old"]


def test_the_fading_filter_keeps_only_the_faded_notes() -> None:
    notes = _notes()
    page = query_page(notes, NoteQuery(fading=True, sort_by="strength", descending=False), now=NOW)
    assert [n.id for n in page.rows] == ["old"]
    assert query_page(notes, NoteQuery(), now=NOW).matching == 4
    # The same notes a year on: all of them fade; nothing is removed from the store's view.
    later = query_page(notes, NoteQuery(fading=True), now=NOW + timedelta(days=365))
    assert later.matching == 4 and len(notes) == 4


def test_the_graph_draws_fading_notes_fainter_and_can_size_by_strength() -> None:
    notes = _notes()
    view = gv.build_view(notes, build_graph(notes), gv.GraphQuery(size_by="strength"), now=NOW)
    assert view.strengths["fresh"] > view.strengths["old"]
    assert view.sizes["fresh"] > view.sizes["old"]
    data = gd.payload(view)
    nodes = {n["id"]: n for n in data["nodes"]}
    assert nodes["fresh"]["opacity"] > nodes["old"]["opacity"] >= 0.35
    assert "strength" in nodes["old"]["title"] and "(fading)" in nodes["old"]["title"]
    fading = [e for e in view.legend if e.style == "opacity"]
    assert fading and fading[0].count == 1  # only "old" is below FADING
    by_degree = gv.build_view(notes, build_graph(notes), gv.GraphQuery(), now=NOW)
    assert by_degree.sizes["fresh"] == by_degree.sizes["old"]  # size by links: strength only sets opacity
    assert gs.node_opacity(0.0) == 0.35 and gs.node_opacity(1.0) == 1.0


def test_a_recalled_note_is_drawn_in_full_in_a_trace() -> None:
    notes = _notes()
    trace = tr.from_recalled([{"id": "old", "rank": 1, "score": 0.9}], "q", notes)
    graph = build_graph(notes)
    view = gv.build_view(notes, graph, gv.GraphQuery(seeds=("old",)), now=NOW)
    data = gd.payload(view, trace=trace, over=gd.overlay(view, trace, tr.edges(trace, graph)))
    nodes = {n["id"]: n for n in data["nodes"]}
    assert nodes["old"]["opacity"] == 1.0
