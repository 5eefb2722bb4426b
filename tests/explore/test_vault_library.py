"""Unit tests of the page-free library modules the explorer pages use: diff, notes_table, timeview."""

from __future__ import annotations

from datetime import date, time

import networkx as nx
import pandas as pd
import pytest

from memory_core.errors import InputError
from memory_core.explore.diff import Segment, field_diff, list_diff, note_diff, show_value, text_diff
from memory_core.explore.notes_table import (
    ANY,
    NoteQuery,
    as_list,
    cell_changes,
    filter_notes,
    find_notes,
    form_changes,
    paginate,
    query_page,
    selected_ids,
    sort_notes,
    table_frame,
    tag_choices,
)
from memory_core.explore.timeview import history_until, incoming, is_past, moment, summarise_changes
from memory_core.notes import Change, Link, Note

HOSTILE = "<script>alert(1)</script> [x](http://evil) ![i](http://e/x.png) **b** :red[r]"


# ---- diff ----------------------------------------------------------------------------------------
def rebuild(segments: list[Segment]) -> tuple[str, str]:
    old = "".join(s.text for s in segments if s.op != "insert")
    new = "".join(s.text for s in segments if s.op != "delete")
    return old, new


@pytest.mark.parametrize("old,new", [
    ("I went hiking in the Alps.", "I went skiing in the Alps with Anna."),
    ("", "all new"), ("all gone", ""), ("same", "same"),
    ("line one\nline two\n", "line one\nline 2\nline three\n"),
    (HOSTILE, HOSTILE.replace("evil", "good")),
])
def test_text_diff_rebuilds_both_sides(old: str, new: str) -> None:
    segs = text_diff(old, new)
    assert rebuild(segs) == (old, new)
    assert all(a.op != b.op for a, b in zip(segs, segs[1:]))  # merged runs
    if old == new:
        assert all(s.op == "equal" for s in segs)


def test_text_diff_is_word_level_and_keeps_hostile_text_literal() -> None:
    segs = text_diff("hiking in the Alps", "skiing in the Alps")
    assert segs[0] == Segment("delete", "hiking ") and segs[1] == Segment("insert", "skiing ")
    assert segs[2] == Segment("equal", "in the Alps")
    segs = text_diff("note", HOSTILE)
    assert "".join(s.text for s in segs if s.op == "insert") == HOSTILE  # data, not markup


def test_list_and_link_diffs() -> None:
    assert list_diff(["a", "b", "c"], ["c", "d", "a"]) == (["d"], ["b"], ["c", "a"])
    d = field_diff("tags", ["travel", "alps"], ["travel", "<b>x</b>"])
    assert (d.kind, d.added, d.removed, d.kept) == ("list", ["<b>x</b>"], ["alps"], ["travel"])
    assert d.old_text == "travel, alps" and d.changed and d.summary() == "+1 −1 tags"
    old = [{"target": "n1", "reason": "same trip", "by": "linker", "created": "x"}]
    new = [Link("n1", "same trip", by="linker"), Link("n2", "Anna", by="wikilink")]
    d = field_diff("links", old, new, title_of={"n1": "Alps", "n2": "Anna's birthday"}.get)
    assert d.added == ["→ Anna's birthday (Anna) · by wikilink"] and not d.removed
    assert d.kept == ["→ Alps (same trip) · by linker"]


def test_value_and_text_kinds() -> None:
    assert field_diff("content", "a", "b").kind == "text"
    assert field_diff("context", None, "new").kind == "text"
    v = field_diff("evolution", None, {"linked": ["x"]})
    assert v.kind == "value" and v.old_text == "(none)" and '"linked"' in v.new_text
    assert show_value([]) == "(empty)" and show_value(["a", "b"]) == "a, b" and show_value(3) == "3"


def test_note_diff_lists_only_changed_fields() -> None:
    a = Note("Hiking in the Alps", id="n1", tags=["travel"], keywords=["hike"])
    b = Note("Hiking in the Alps", id="n1", tags=["travel", "alps"], keywords=["hike"], timestamp=a.timestamp,
             links=[Link("n2", "Anna")])
    diffs = note_diff(a, b)
    assert [d.field for d in diffs] == ["tags", "links"]
    assert note_diff(a, a) == []
    created = note_diff(None, a)
    assert {d.field for d in created} >= {"content", "tags", "timestamp"}
    assert note_diff(a.state_at(0), b) == diffs  # state dicts work as well as notes


# ---- notes_table ------------------------------------------------------------------------------------
def notes() -> list[Note]:
    return [Note(f"Note {i:02d} about {'hiking' if i % 2 else 'budget'}", id=f"id{i:02d}",
                 tags=["even" if i % 2 == 0 else "odd"], source="import" if i % 3 else "manual",
                 timestamp=f"2024-0{1 + i // 10}-{1 + i % 10:02d}T10:00:00+00:00", retrieval_count=i % 4)
            for i in range(25)]


def test_filters_combine() -> None:
    ns = notes()
    assert [n.id for n in filter_notes(ns, NoteQuery(text="HIKING", tag="odd"))] == [
        n.id for n in ns if int(n.id[2:]) % 2]
    assert all(n.source == "manual" for n in filter_notes(ns, NoteQuery(source="manual")))
    inside = filter_notes(ns, NoteQuery(since=date(2024, 2, 1), until=date(2024, 2, 28)))
    assert {n.id for n in inside} == {f"id{i:02d}" for i in range(10, 20)}
    assert filter_notes(ns, NoteQuery(text="id07")) == [ns[7]]  # the id is searched too
    assert len(filter_notes(ns, NoteQuery())) == 25


def test_sort_and_page() -> None:
    ns = notes()
    graph = nx.DiGraph([("id03", "id04"), ("id05", "id04")])
    assert sort_notes(ns, "links", True, graph)[0].id == "id04"
    assert [n.id for n in sort_notes(ns, "time", False)][:2] == ["id00", "id01"]
    assert sort_notes(ns, "retrievals", True)[0].retrieval_count == 3
    with pytest.raises(InputError):
        sort_notes(ns, "colour", True)
    page = paginate(ns, 3, size=10)
    assert (page.page, page.pages, len(page.rows), page.first_row, page.last_row) == (3, 3, 5, 21, 25)
    assert paginate(ns, 99, size=10).page == 3 and paginate(ns, 0, size=10).page == 1
    empty = paginate([], 5, size=10)
    assert (empty.page, empty.pages, empty.rows, empty.first_row) == (1, 1, [], 0)
    view = {n.id: n for n in ns}
    q = query_page(view, NoteQuery(tag="even", sort_by="content", descending=False), 1, size=5)
    assert q.matching == 13 and [n.id for n in q.rows] == sorted(
        [n.id for n in ns if int(n.id[2:]) % 2 == 0], key=lambda i: view[i].content.lower())[:5]


def test_tag_choices_and_find() -> None:
    view = {n.id: n for n in notes()}
    assert tag_choices(view) == [ANY, "even", "odd"]
    assert [n.id for n in find_notes(view, "id0", exclude="id01")][:2] == ["id00", "id02"]
    assert all("budget" in n.content for n in find_notes(view, "BUDGET"))


def test_cell_changes_only_real_edits() -> None:
    ns = notes()[:3]
    shown = table_frame(ns)
    assert list(shown.columns)[:3] == ["select", "content", "keywords"]
    edited = shown.copy()
    edited.at[0, "content"] = HOSTILE
    edited.at[1, "tags"] = ["odd", "new"]
    edited.at[1, "select"] = True
    edited.at[2, "time"] = pd.NaT
    changes, invalid = cell_changes(shown, edited)
    assert changes == {"id00": {"content": HOSTILE}, "id01": {"tags": ["odd", "new"]}}
    assert invalid == ["note id02: the time cannot be empty"]
    assert selected_ids(shown, edited) == ["id01"]
    same, none = cell_changes(shown, shown.copy())
    assert same == {} and none == []
    edited = shown.copy()
    edited["time"] = edited["time"].astype(object)
    edited.at[0, "time"] = pd.Timestamp("2023-12-24T18:30:00")  # naive: read as UTC
    assert cell_changes(shown, edited)[0] == {"id00": {"timestamp": "2023-12-24T18:30:00+00:00"}}
    assert as_list("a, b,,c ") == ["a", "b", "c"] and as_list(float("nan")) == []


def test_form_changes() -> None:
    note = Note("text", keywords=["a"], tags=["t"], context="ctx")
    assert form_changes(note, content="text", keywords="a", tags=" t ", context=" ctx ", when=note.timestamp) == {}
    got = form_changes(note, content="new", keywords="a, b", tags="", context="other", when="2024-01-01")
    assert got == {"content": "new", "keywords": ["a", "b"], "tags": [], "context": "other",
                   "timestamp": "2024-01-01"}


# ---- timeview ----------------------------------------------------------------------------------------
def test_moment_and_past() -> None:
    assert moment(date(2024, 3, 1)) == "2024-03-01T23:59:59+00:00"
    assert moment(date(2024, 3, 1), time(8, 30)) == "2024-03-01T08:30:00+00:00"
    assert is_past("2024-03-01T00:00:00+00:00") and not is_past("2999-01-01T00:00:00+00:00")


def test_incoming_and_history_until() -> None:
    a, b, c = Note("a", id="a"), Note("b", id="b"), Note("c", id="c")
    a.links = [Link("c", "ac")]
    b.links = [Link("c", "bc"), Link("a", "ba")]
    assert [(s, x.reason) for s, x in incoming({"a": a, "b": b, "c": c}, "c")] == [("a", "ac"), ("b", "bc")]
    a.history = [Change("tags", [], ["x"], "enricher", at="2024-01-01T00:00:00+00:00"),
                 Change("content", "a", "A", "person", at="2024-02-01T00:00:00+00:00")]
    assert [x.field for x in history_until(a, "2024-01-15T00:00:00+00:00")] == ["tags"]


class Ev:
    def __init__(self, note_id: str, by: str) -> None:
        self.note_id, self.by = note_id, by


def test_summarise_changes_is_the_net_change() -> None:
    t = "2024-01-01T00:00:00+00:00"
    before = {"keep": Note("Keep", id="keep", timestamp=t), "edit": Note("Old text", id="edit", timestamp=t),
              "gone": Note("Gone", id="gone", timestamp=t), "undone": Note("Same", id="undone", timestamp=t)}
    after = {"keep": before["keep"], "edit": Note("New text", id="edit", tags=["x"], timestamp=t),
             "undone": Note("Same", id="undone", timestamp=t), "new": Note(HOSTILE, id="new", timestamp=t)}
    events = [Ev("edit", "person"), Ev("edit", "person"), Ev("edit", "enricher"), Ev("gone", "person"),
              Ev("undone", "person"), Ev("undone", "person"), Ev("new", "import")]
    s = summarise_changes(before, after, "a", "b", events)
    assert [(c.note_id, c.status) for c in s.notes] == [("new", "added"), ("edit", "changed"), ("gone", "removed")]
    edit = s.notes[1]
    assert [d.field for d in edit.diffs] == ["content", "tags"]
    assert edit.actors == {"person": 2, "enricher": 1} and edit.events == 3
    assert s.notes[0].title == HOSTILE[:57].rstrip() + "..."
    assert (s.count("added"), s.count("changed"), s.count("removed")) == (1, 1, 1)
    # without events every note is compared: same answer here
    assert [(c.note_id, c.status) for c in summarise_changes(before, after, "a", "b").notes] == [
        (c.note_id, c.status) for c in s.notes]
    assert summarise_changes(before, before, "a", "b").empty


# ---- insights --------------------------------------------------------------------------------------
def test_time_axis_suits_the_span() -> None:
    from datetime import datetime, timedelta, timezone

    from memory_core.explore.insights import time_axis

    t0 = datetime(2024, 7, 14, 8, 0, tzinfo=timezone.utc)
    day = time_axis([t0 + timedelta(hours=h) for h in (0, 3, 9)])
    assert (day.freq, day.unit, day.tickformat) == ("h", "hour", "%H:%M") and "14 Jul 2024" in day.title
    assert time_axis([t0, t0]).unit == "hour"  # every note at the same moment
    month = time_axis([t0 + timedelta(days=d) for d in (0, 10, 29)])
    assert (month.unit, month.tickformat) == ("day", "%d %b")
    year = time_axis([t0, t0 + timedelta(days=300)])
    assert year.unit == "week"
    years = time_axis([t0, t0 + timedelta(days=3 * 365)])
    assert (years.unit, years.tickformat) == ("month", "%b %Y")
    assert time_axis([t0, t0 + timedelta(days=20 * 365)]).unit == "year"
    assert time_axis([]).unit == "day"


def test_growth_bins_and_axis_range() -> None:
    from datetime import datetime, timezone

    from memory_core.explore.insights import growth

    t = [datetime(2024, 7, 14, h, 30, tzinfo=timezone.utc) for h in (8, 8, 11)]
    axis, created, changes = growth([(t[0], "a", "created"), (t[1], "b", "created"), (t[2], "c", "created"),
                                     (t[2], "a", "link")])
    assert axis.unit == "hour"
    assert list(created["notes"]) == [2, 1] and list(created["total"]) == [2, 3]
    assert [p.hour for p in created["period"]] == [8, 11]
    assert list(changes["kind"]) == ["link"] and list(changes["count"]) == [1]
    layout = axis.layout(created["period"])
    lo, hi = (pd.Timestamp(x) for x in layout["range"])
    assert lo < pd.Timestamp("2024-07-14T08:00") and hi > pd.Timestamp("2024-07-14T12:00")
    assert layout["tickformat"] == "%H:%M" and axis.bar_width == 0.8 * 3_600_000
    one, created, _ = growth([(t[0], "a", "created")])  # a single bin still spans an hour and more
    lo, hi = (pd.Timestamp(x) for x in one.layout(created["period"])["range"])
    assert hi - lo >= pd.Timedelta(hours=2)


def test_plotly_text_is_escaped() -> None:
    import numpy as np

    from memory_core.explore.insights import esc, hover_text, map_frame, pca_2d, sample_ids

    assert esc("<b>x</b> & <a href='y'>") == "&lt;b&gt;x&lt;/b&gt; &amp; &lt;a href='y'&gt;"
    note = Note("<img src=x onerror=alert(1)>\nsecond <br> line", id="hostile-1", tags=["<i>t</i>"])
    assert hover_text(note) == "&lt;img src=x onerror=alert(1)&gt;<br>second &lt;br&gt; line"
    notes = {note.id: note, "b": Note("plain", id="b"), "c": Note("other", id="c", tags=["<i>t</i>"])}
    ids = sample_ids(list(notes), 10)
    coords, share = pca_2d(np.eye(3))
    df, order = map_frame(notes, ids, coords)
    assert order[0] == "&lt;i&gt;t&lt;/i&gt;" and set(df["tag"]) == {"&lt;i&gt;t&lt;/i&gt;", "(no tags)"}
    assert "<" not in ("".join(df["text"]) + "".join(df["tags"])).replace("<br>", "")
    assert len(sample_ids([str(i) for i in range(50)], 10, seed=1)) == 10
    assert sample_ids([str(i) for i in range(50)], 10, seed=1) == sample_ids([str(i) for i in range(50)], 10, seed=1)


def test_graph_of_a_past_view() -> None:
    """The past has no live graph: the time views build it from the folded notes (store.build_graph)."""
    from memory_core.store import build_graph

    a, b = Note("a", id="a", links=[Link("b", "x"), Link("gone", "y")]), Note("b", id="b")
    g = build_graph({"a": a, "b": b})
    assert set(g.nodes) == {"a", "b"} and list(g.edges) == [("a", "b")]
