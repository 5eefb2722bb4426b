"""One rule for "which notes match": the store's filter, the Notes table and the Graph page agree.

Notes are built in memory; each case states what exists. The three callers are asked the same
question and must give the same notes, including for a note whose time cannot be read.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from pathlib import Path

import networkx as nx
import pytest
from fakes import HashEmbedder

from memory_core.config import Settings
from memory_core.errors import InputError
from memory_core.explore import graphview as gv
from memory_core.explore.notes_table import NoteQuery, filter_notes, sort_notes
from memory_core.notes import Note, try_parse_time
from memory_core.store import MemoryStore
from memory_core.store.note_filter import OLDEST, NoteFilter, day_range, note_time, ranked_tags, time_bound


def notes() -> list[Note]:
    return [
        Note("Hiking in the Alps", id="n-alps", tags=["Travel"], source="chat", timestamp="2024-03-01T10:00:00+00:00",
             keywords=["mountains"]),
        Note("Budget review on Friday", id="n-budget", tags=["work"], source="manual",
             timestamp="2024-03-02T23:59:59+00:00", context="with the finance team"),
        Note("A note with a damaged time", id="n-broken", tags=["travel", "work"], source="import",
             timestamp="not a time"),
    ]


def ids(found: list[Note]) -> list[str]:
    return sorted(n.id for n in found)


def test_text_searches_every_field_and_the_id_but_never_across_fields() -> None:
    ns = notes()
    assert ids(NoteFilter(text="MOUNTAINS").apply(ns)) == ["n-alps"]  # keywords
    assert ids(NoteFilter(text="finance").apply(ns)) == ["n-budget"]  # context
    assert ids(NoteFilter(text="n-bud").apply(ns)) == ["n-budget"]  # the id
    assert ids(NoteFilter(text="travel").apply(ns)) == ["n-alps", "n-broken"]  # tags
    assert NoteFilter(text="alps mountains").apply(ns) == []  # content + keywords: two fields


def test_tags_and_sources_are_any_of() -> None:
    ns = notes()
    assert ids(NoteFilter(tags=("TRAVEL",)).apply(ns)) == ["n-alps", "n-broken"]
    assert ids(NoteFilter(tags=("travel", "work")).apply(ns)) == ["n-alps", "n-broken", "n-budget"]
    assert ids(NoteFilter(sources=("chat", "manual")).apply(ns)) == ["n-alps", "n-budget"]


def test_days_are_inclusive_and_a_broken_time_is_the_oldest() -> None:
    ns = notes()
    assert ids(NoteFilter(since=date(2024, 3, 2)).apply(ns)) == ["n-budget"]  # the last second of the day counts
    assert ids(NoteFilter(until=date(2024, 3, 1)).apply(ns)) == ["n-alps", "n-broken"]
    assert ids(NoteFilter(until="2024-03-01").apply(ns)) == ["n-alps", "n-broken"]  # an ISO day is a day
    assert ids(NoteFilter(until="2024-03-01T09:00:00Z").apply(ns)) == ["n-broken"]  # a time is a time
    assert note_time(ns[2]) == OLDEST
    assert time_bound(datetime(2024, 1, 1), end=False) == datetime(2024, 1, 1, tzinfo=timezone.utc)


def test_a_bound_a_person_typed_badly_says_so() -> None:
    with pytest.raises(InputError, match="ISO 8601"):
        NoteFilter(since="last tuesday").apply(notes())
    with pytest.raises(InputError):
        gv.build_view({}, nx.DiGraph(), gv.GraphQuery(until="2024-13-45"))


def test_the_three_views_give_the_same_notes(tmp_path: Path) -> None:
    """store.filter, the Notes table and the Graph page, asked the same thing, answer the same."""
    hstore = MemoryStore(Settings(data_dir=str(tmp_path / "home")), HashEmbedder())
    ns = notes()[:2]
    with hstore.writing() as w:
        for n in ns:
            w.put(n)
    view = hstore.notes_view()
    for text, tag, since, until in (("n-bud", None, None, None), ("travel", None, None, None),
                                    ("", "work", None, "2024-03-01"), ("", None, "2024-03-02", None), ("", "travel", None, "2024-03-02")):
        store_ids = ids(hstore.filter(text=text, tag=tag, since=since, until=until))
        day = {k: date.fromisoformat(v) for k, v in (("since", since), ("until", until)) if v}
        table_ids = ids(filter_notes(view.values(), NoteQuery(text=text, tag=tag or "(any)", **day)))
        graph = gv.build_view(view, hstore.graph_snapshot(),
                              gv.GraphQuery(text=text, tags=(tag,) if tag else (), **day))
        assert store_ids == table_ids == sorted(graph.node_ids), (text, tag, since, until)


def test_a_broken_time_sorts_first_everywhere() -> None:
    ns = notes()
    assert [n.id for n in sort_notes(ns, "time", descending=False)][0] == "n-broken"
    view = gv.build_view({n.id: n for n in ns}, nx.DiGraph(), gv.GraphQuery(rank="newest"))
    assert view.node_ids[-1] == "n-broken"


def test_filter_choices() -> None:
    ns = notes()
    assert ranked_tags({n.id: n for n in ns}) == ["work", "Travel", "travel"]  # most used, then by name
    assert ranked_tags({n.id: n for n in ns}, limit=1, keep=["zzz", "work"]) == ["work", "zzz"]
    assert day_range({n.id: n for n in ns}) == (date(2024, 3, 1), date(2024, 3, 2))  # the broken time is not a day
    assert day_range({}) == (None, None)


def test_try_parse_time() -> None:
    assert try_parse_time("2024-03-01T10:00:00Z") == datetime(2024, 3, 1, 10, tzinfo=timezone.utc)
    assert try_parse_time("2024-03-01") == datetime(2024, 3, 1, tzinfo=timezone.utc)  # no zone: UTC
    for bad in ("", "yesterday", None, "2024-02-30", 12):
        assert try_parse_time(bad) is None
