"""Recall within a time span, without a model: the span's notes first, the rest kept below, the trace."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from fakes import HashEmbedder

from memory_core.config import Settings
from memory_core.memory import MemoryPipeline, NewItem
from memory_core.notes import Note
from memory_core.retrieval import search
from memory_core.retrieval.floor import above_floor
from memory_core.retrieval.spanrank import in_span, note_day
from memory_core.retrieval.timespan import read_span
from memory_core.retrieval.trace import from_message
from memory_core.store import MemoryStore

NOW = datetime(2023, 5, 20, 14, tzinfo=timezone.utc)


def _store(tmp_path: Path) -> tuple[MemoryStore, Settings, list[str]]:
    settings = Settings(data_dir=str(tmp_path / "home"))
    store = MemoryStore(settings, HashEmbedder())
    ids = MemoryPipeline(store, settings).add_many([
        NewItem("I cooked a mushroom risotto for dinner.", timestamp="2023-05-10T19:00:00+00:00"),
        NewItem("I cooked lentil soup for dinner tonight.", timestamp="2023-05-04T19:00:00+00:00"),
        NewItem("Went to the climbing gym with Ana.", timestamp="2023-05-04T09:00:00+00:00"),
        NewItem("My sister Ana moved to Lisbon.", timestamp="2023-04-02T09:00:00+00:00"),
    ], mode="fast").note_ids
    return store, settings, ids


def test_notes_inside_the_span_come_first_and_the_rest_stay_below(tmp_path: Path) -> None:
    store, settings, ids = _store(tmp_path)
    question = "what did I cook for dinner on the 4th?"
    span = read_span(question, NOW)
    assert span is not None and span.start.day == 4 and span.start.month == 5
    plain = search(store, settings, question, 4, touch=False)
    hits = search(store, settings, question, 4, touch=False, span=span)
    order = [h.note.id for h in hits]
    # inside: the soup (matches the words) then the gym (same day, no shared words, added by the span)
    assert order[:2] == [ids[1], ids[2]]
    assert ids[0] in order[2:]  # the same topic on another day is kept, below the day's notes
    assert all(h.signals.get("time") == 1.0 for h in hits[:2]) and "time" not in hits[2].signals
    assert any("read from \u201con the 4th\u201d" in r for r in hits[0].reasons)
    assert ids[2] not in [h.note.id for h in plain[:2]]  # without the span the gym note was not near the top


def test_a_span_holding_no_note_changes_nothing(tmp_path: Path) -> None:
    store, settings, _ = _store(tmp_path)
    span = read_span("what did I cook in 2019?", NOW)
    assert span is not None
    with_span = search(store, settings, "what did I cook in 2019?", 4, touch=False, span=span)
    without = search(store, settings, "what did I cook in 2019?", 4, touch=False)
    assert [(h.note.id, h.score) for h in with_span] == [(h.note.id, h.score) for h in without]


def test_the_floor_lets_a_note_of_the_span_through(tmp_path: Path) -> None:
    store, settings, ids = _store(tmp_path)
    question = "what happened on the 4th?"
    hits = search(store, settings, question, 4, touch=False, span=read_span(question, NOW))
    passed = [p.hit.note.id for p in above_floor(question, hits, store.embedder, floor=0.99)]
    assert set(passed) == {ids[1], ids[2]}


def test_a_note_telling_of_yesterday_counts_for_that_day() -> None:
    note = Note("Yesterday I went hiking with Sam.", timestamp="2023-05-03T10:00:00+00:00")
    may2 = read_span("what did I do on May 2nd?", NOW)
    may3 = read_span("what did I do on May 3rd?", NOW)
    assert may2 is not None and may3 is not None
    assert in_span(note, may2) and in_span(note, may3)
    wide = Note("In 2023 I want to run a marathon.", timestamp="2023-01-01T10:00:00+00:00")
    assert note_day(wide.content, wide.timestamp) is None and not in_span(wide, may2)
    late = Note("Yesterday I went hiking with Sam.", timestamp="2023-05-05T10:00:00+00:00")
    assert not in_span(late, may2)  # told on the 5th: its yesterday is the 4th
    local = Note("The day before yesterday I went hiking.", timestamp="2023-05-04T09:00:00-07:00")
    assert in_span(local, may2)  # not the store's UTC form: parsed; its day is the person's 2 May
    day = note_day(local.content, local.timestamp)
    assert day is not None and day.start.isoformat() == "2023-05-02T00:00:00-07:00"


def test_the_saved_span_reaches_the_trace() -> None:
    span = read_span("what did I do yesterday?", NOW)
    assert span is not None
    message = {"role": "assistant", "recalled": [{"id": "n1", "rank": 1, "score": 1.5,
                                                  "signals": {"dense": 0.4, "time": 1.0}}],
               "query": "what did I do yesterday?", "time_span": span.to_dict()}
    trace = from_message(message)
    assert trace.span == span.describe() and "Fri 19 May 2023" in trace.span
    assert trace.entries[0].main_signal == "dense"  # the time boost says when, not what
    assert from_message({**message, "time_span": "junk"}).span == ""
