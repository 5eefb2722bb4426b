"""Why (not) this note: ranks, gaps, words, exclusions, checked against the retrievers' own output."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from memory_core.errors import InputError, NotFoundError
from memory_core.notes import Note
from memory_core.retrieval import make_retriever
from memory_core.retrieval.explain import chat_span, explain, query_words
from memory_core.retrieval.explain_text import explanation_lines, plain
from memory_core.retrieval.timespan import TimeSpan
from memory_core.store.note_filter import NoteFilter

# Ten notes about the garden, each with "tomato" a different number of times, so BM25 ranks them
# in a known order; and notes that share no word with the query.
GARDEN = [f"Garden log {i}: " + " ".join(["tomato"] * (10 - i)) + " and other things grew" for i in range(10)]
OTHER = ["My sister Ana married Tom in Porto in June.", "The quarterly budget review is on Friday.",
         "Greta walked the dogs by the river."]


@pytest.fixture
def seeded(store):
    notes = [Note(t, timestamp=f"2024-03-{i + 1:02d}T10:00:00+00:00") for i, t in enumerate(GARDEN + OTHER)]
    with store.writing() as w:
        for n in notes:
            w.put(n)
    return store, {n.content: n.id for n in notes}


def test_query_words_are_bm25s_tokens() -> None:
    words, ignored = query_words("Who walked Pepper near the rivers, and who WALKS?")
    assert words == [("walked", "walk"), ("pepper", "pepper"), ("near", "near"), ("rivers", "river")]
    assert ignored == ["who", "the", "and"]


def test_a_recalled_note_has_its_search_rank_and_score(seeded, settings) -> None:
    store, ids = seeded
    for retriever in ("contextual", "bm25", "hybrid", "dense"):
        hits = make_retriever(store, settings, retriever).search("tomato garden", 5)
        third = hits[2]
        e = explain(store, settings, "tomato garden", third.note.id, k=5, retriever=retriever)
        assert e.recalled and e.rank == 3 and e.score == pytest.approx(third.score), retriever
        assert e.kth_id == hits[4].note.id and e.rank_gap == -2 and e.score_gap == pytest.approx(
            hits[4].score - third.score)
        assert e.verdict().startswith("recalled: rank 3 of 13 notes")
        assert {s.name for s in e.signals} >= set(third.signals), retriever


def test_a_note_below_the_cut_has_the_right_gap_bm25(seeded, settings) -> None:
    # BM25 scores do not depend on the other candidates: the full ranking is the order to check against.
    store, ids = seeded
    full = make_retriever(store, settings, "bm25").search("tomato", 50)
    target = full[6]  # 7th: 4 places below a cut of 3
    e = explain(store, settings, "tomato", target.note.id, k=3, retriever="bm25")
    assert not e.recalled and e.rank == 7 and e.rank_gap == 4
    assert e.score == pytest.approx(target.score)
    assert e.kth_id == full[2].note.id and e.score_gap == pytest.approx(full[2].score - target.score) and e.score_gap > 0
    assert "4 place(s) below the cut (k = 3)" in e.verdict()
    lexical = next(s for s in e.signals if s.name == "lexical")
    assert lexical.raw == pytest.approx(target.score) and lexical.kth_raw == pytest.approx(full[2].score)


def test_a_note_below_the_cut_on_the_contextual_run(seeded, settings) -> None:
    # At k <= 5 the contextual search scores the same 20 candidates, so the search at k = 5 shows the
    # ranks and scores a note at rank 4 has when the cut is 2.
    store, ids = seeded
    hits = make_retriever(store, settings, "contextual").search("tomato garden log", 5)
    e = explain(store, settings, "tomato garden log", hits[3].note.id, k=2, retriever="contextual")
    assert not e.recalled and e.rank == 4 and e.rank_gap == 2 and e.scored_on == "search at k"
    assert e.score_gap == pytest.approx(hits[1].score - hits[3].score)
    assert {s.name for s in e.signals} == {"lexical", "dense", "context_lexical", "context_dense"}
    assert all(s.scaled is not None and s.raw is not None for s in e.signals)


def test_a_note_that_shares_no_word_has_no_bm25_rank(seeded, settings) -> None:
    store, ids = seeded
    e = explain(store, settings, "tomato", ids[OTHER[1]], k=3, retriever="bm25")
    assert e.rank is None and not e.recalled and e.has == [] and e.lacks == ["tomato"]
    assert "it shares no query word" in e.verdict()
    # ... while the dense retriever ranks every note: it has a rank, below the ten garden notes.
    dense = explain(store, settings, "tomato", ids[OTHER[1]], k=3, retriever="dense")
    assert dense.rank is not None and dense.rank > 3 and dense.scored_on == "all notes"


def test_words_it_has_and_lacks_content_vs_context(store, settings) -> None:
    note = Note("Greta looked after her while I was away.", turn_context="Bob: How was Lisbon? Did Pepper come?",
                keywords=["neighbour"])
    with store.writing() as w:
        w.put(note)
        w.put(Note("Something else entirely."))
    e = explain(store, settings, "Who looked after Pepper in Lisbon, the neighbour?", note.id, k=1)
    where = {w.word: w.where for w in e.words}
    assert where == {"looked": ["content"], "pepper": ["conversation context"], "lisbon": ["conversation context"],
                     "neighbour": ["keywords/tags/summary"]}
    assert e.has == ["looked", "pepper", "lisbon", "neighbour"] and e.lacks == []
    assert "who" in e.ignored_words and "the" in e.ignored_words


def test_a_superseded_note_ranks_below_its_correction(store, settings) -> None:
    old, new = Note("My brother lives in Curitiba."), Note("My brother moved to Recife.")
    old.superseded_by = new.id
    with store.writing() as w:
        for n in (old, new, Note("I like tea."), Note("Bikes are fun.")):
            w.put(n)
    e = explain(store, settings, "Where does my brother live in Curitiba?", old.id, k=1)
    (x,) = e.exclusions
    assert x.kind == "superseded" and x.effect == "lowered" and new.id[:8] in x.detail
    assert not e.recalled and e.rank == 2  # its correction took the first place
    assert explain(store, settings, "Where does my brother live in Curitiba?", new.id, k=1).rank == 1


def test_relevance_floor_span_and_filter(seeded, settings) -> None:
    store, ids = seeded
    weak = ids[OTHER[1]]  # the budget note, for a question about a bike
    e = explain(store, settings, "What colour is my bike?", weak, k=13, chat=True)
    assert e.recalled  # k covers every note ...
    assert [x.kind for x in e.excluded_by] == ["floor"] and e.floor["strength"] < e.floor["value"]
    assert e.verdict().startswith("in the top k but left out")
    search_view = explain(store, settings, "What colour is my bike?", weak, k=13)
    assert search_view.excluded_by == [] and search_view.exclusions[0].effect == "none"
    march = TimeSpan(datetime(2024, 3, 1, tzinfo=timezone.utc), datetime(2024, 3, 5, tzinfo=timezone.utc), "early March")
    garden0 = ids[GARDEN[0]]  # 2024-03-01: inside; the budget note (2024-03-12): outside
    assert explain(store, settings, "tomato", garden0, k=3, span=march).exclusions == []
    out = explain(store, settings, "tomato", weak, k=3, span=march, note_filter=NoteFilter(tags=("garden",)))
    assert [x.kind for x in out.excluded_by] == ["filter"]  # the floor only informs outside the chat
    outside = next(x for x in out.exclusions if x.kind == "span")  # a span ranks its notes first, keeps the rest
    assert outside.effect == "lowered" and "2024-03-12 10:00" in outside.detail


def test_bad_input_is_refused_clearly(seeded, settings) -> None:
    store, ids = seeded
    some = ids[GARDEN[0]]
    with pytest.raises(InputError, match="query to explain"):
        explain(store, settings, "   ", some)
    with pytest.raises(NotFoundError, match="No note with id 'deadbeef-nope'"):
        explain(store, settings, "tomato", "deadbeef-nope")
    with pytest.raises(NotFoundError, match="at least 6 characters"):
        explain(store, settings, "tomato", some[:4])
    with pytest.raises(InputError, match="at least 1"):
        explain(store, settings, "tomato", some, k=0)
    assert explain(store, settings, "tomato", some[:8], k=3).note_id == some  # a prefix is enough


def test_text_lines_keep_hostile_text_plain(store, settings) -> None:
    note = Note("\x1b[31mred\x1b[0m <script>alert(1)</script>\rover tomato")
    with store.writing() as w:
        w.put(note)
    lines = explanation_lines(explain(store, settings, "tomato", note.id, k=1))
    text = "\n".join(lines)
    assert "\x1b" not in text and "\r" not in text and "<script>alert(1)</script>" in text
    assert plain("a\tb\nc" + "x" * 100, 10) == "a b cxxxx…"


def test_a_time_span_ranks_as_the_search_with_that_span(seeded, settings) -> None:
    # "garden log 8" (2024-03-09) has few "tomato"s: 9th without a span; the span of its day puts it first.
    store, ids = seeded
    day = TimeSpan(datetime(2024, 3, 9, tzinfo=timezone.utc), datetime(2024, 3, 10, tzinfo=timezone.utc), "on March 9th")
    target = ids[GARDEN[8]]
    plain_rank = explain(store, settings, "tomato garden", target, k=3, retriever="bm25").rank
    assert plain_rank is not None and plain_rank > 3
    hits = make_retriever(store, settings, "bm25").search("tomato garden", 3, span=day)
    e = explain(store, settings, "tomato garden", target, k=3, retriever="bm25", span=day, chat=True)
    assert hits[0].note.id == target and e.recalled and e.rank == 1 and "on March 9th" in e.span
    assert e.floor["in_span"] and e.floor["passes"]  # the chat lets the span's notes past the floor
    assert "time span read from the question" in "\n".join(explanation_lines(e))
    # outside the span, a note that shares the words ranks below the span's notes: lowered, with a reason
    other = explain(store, settings, "tomato garden", ids[GARDEN[0]], k=3, retriever="bm25", span=day)
    assert not other.recalled and other.rank > 1 and [x.kind for x in other.exclusions] == ["span"]


def test_chat_span_reads_the_question_as_the_chat_does(seeded) -> None:
    store, _ = seeded
    span = chat_span(store, "What did I plant on March 9th?", datetime(2024, 6, 1, tzinfo=timezone.utc))
    assert span is not None and span.start == datetime(2024, 3, 9, tzinfo=timezone.utc)
    assert chat_span(store, "What did I plant?") is None


def test_a_digest_is_left_out_by_recall_and_says_so(store, settings) -> None:
    from memory_core.notes import DERIVED_SOURCES

    digest = Note("Digest: tomato planting all week.", source=sorted(DERIVED_SOURCES)[0])
    with store.writing() as w:
        for n in (digest, Note("I planted a tomato."), Note("Tea time.")):
            w.put(n)
    e = explain(store, settings, "tomato planting", digest.id, k=3, retriever="bm25")
    assert not e.recalled and e.rank is None and [x.kind for x in e.excluded_by] == ["derived"]
    assert e.verdict().startswith("not recalled, and would be left out")
