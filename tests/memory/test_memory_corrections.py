"""Corrections a person actually says, table-driven, with the real MiniLM embedder.

Each row is (older note, new sentence, is it a correction of that note?). Every new sentence is
judged against its older note AND a fixed set of other notes of the same person (``BACKGROUND``),
as in a real memory: closing the wrong note counts as a false positive. Precision and recall are
printed (``pytest -s``) for "sure" verdicts (the old note is closed at once) and for "sure or asked"
(the person is asked in Review), and the floors asserted below are what was measured, rounded down.
The same table is run by ``memex bench memory`` (``correction_table``).
"""

from __future__ import annotations

import pytest

from memory_core.bench.correction_table import BACKGROUND, HELD_OUT, PAIRS, score_table, verdict_for
from memory_core.memory.corrections import attributes, subjects
from memory_core.retrieval.entities import relations

pytestmark = pytest.mark.real_model  # MiniLM


def test_the_table_is_big_enough_and_balanced() -> None:
    yes = sum(1 for _o, _n, c in PAIRS if c)
    assert len(PAIRS) >= 40 and yes >= 20 and len(PAIRS) - yes >= 20
    every = [n for _o, n, _c in PAIRS + HELD_OUT]
    assert len(set(every)) == len(every)  # every new sentence once


def _show(name: str, res: dict) -> None:
    print(f"\n{name}: {res['pairs']} pairs ({res['corrections']} corrections)")
    print(f"  sure:          precision {res['sure_precision']:.3f}  recall {res['sure_recall']:.3f}")
    print(f"  sure or asked: precision {res['any_precision']:.3f}  recall {res['any_recall']:.3f}")
    for row in res["wrong"]:
        print(f"  wrong: {row}")


def test_precision_and_recall_on_the_table(embedder) -> None:
    """The rules were written against this table: measured 2026-12-06 sure P 0.943 R 0.971, sure or
    asked P 0.944 R 1.000; again with the nine errand rows ("I left my phone at home today.", which
    alone took sure P to 0.805 and sure-or-asked P to 0.756 before the errand rule): unchanged.
    Floors sit just below, so a change that loses a case fails."""
    res = score_table(embedder, PAIRS)
    _show("correction table", res)
    assert res["sure_precision"] >= 0.90 and res["sure_recall"] >= 0.90
    assert res["any_precision"] >= 0.90 and res["any_recall"] >= 0.95


def test_precision_and_recall_on_held_out_pairs(embedder) -> None:
    """Pairs written after the rules and scored once: measured 2026-12-06 sure P 0.909 R 0.833,
    sure or asked P 0.833 R 0.833 (misses: a class moved to another weekday, a flight 'changed to'
    a date; false alarms: "Marco now cooks dinner" asked, "I've worked there for six years now")."""
    res = score_table(embedder, HELD_OUT)
    _show("held-out correction table", res)
    assert res["sure_precision"] >= 0.85 and res["sure_recall"] >= 0.80
    assert res["any_precision"] >= 0.80 and res["any_recall"] >= 0.80


def test_subjects_and_attributes_read_from_words() -> None:
    assert subjects("Actually my brother moved to Porto Alegre last month.") == {"my brother"}
    assert "self" in subjects("I no longer work at the university, I'm at the city library now.")
    assert "my sister" in subjects("My sister also lives in Porto.")
    assert subjects("Richard left, my boss is now Priya.") >= {"richard", "my boss"}
    assert "home" in attributes("Actually my brother moved to Porto Alegre last month.")
    assert "home" in attributes("My brother Mateus is a dentist in Curitiba.") or \
        "work" in attributes("My brother Mateus is a dentist in Curitiba.")
    assert relations("My brother Mateus is a dentist in Curitiba.") == {"my brother": "person"}


def test_background_is_not_corrected_by_unrelated_news(embedder) -> None:
    """No background note is closed by a sentence about something else entirely."""
    for text in ("Actually I love pizza.", "I've started going to pottery on Mondays now.",
                 "My cousin Joana moved to Recife."):
        v = verdict_for(embedder, None, text)
        assert v is None, (text, v and v.note.content, v and v.why)
    assert len(BACKGROUND) >= 8


def _at(old: str, similarity: float):
    from memory_core.memory.dedup import Match
    from memory_core.notes import Note

    return Match(Note(old, speaker="person"), similarity)


def test_cosine_decides_sure_asked_or_dropped() -> None:
    """The same words with a marker, the same subject and attribute: closed at once when close in
    meaning, asked about in between, and dropped when the two are too far apart to be one fact."""
    from memory_core.memory.corrections import ASK_FLOOR, SURE_SIMILARITY, judge

    old, new = "My brother Mateus is a dentist in Curitiba.", "Actually my brother moved to Porto Alegre."
    assert judge(new, _at(old, SURE_SIMILARITY + 0.01)).sure
    asked = judge(new, _at(old, (ASK_FLOOR + SURE_SIMILARITY) / 2))
    assert asked is not None and not asked.sure
    assert judge(new, _at(old, ASK_FLOOR - 0.01)) is None


def test_an_errand_with_a_marker_word_is_no_new_value() -> None:
    """"left my phone at home" or "moved my desk" is no new home, phone or car, however close."""
    from memory_core.memory.corrections import judge

    for old, new in (("I have an iPhone 12.", "I left my phone at home today."),
                     ("I live in Porto.", "I moved my desk to the living room."),
                     ("I play tennis on Saturdays.", "I stopped at the bakery on Saturday.")):
        assert judge(new, _at(old, 0.9)) is None, (old, new)
    assert judge("I left my job at the bank, I teach now.", _at("I work at the bank.", 0.6)) is not None


RACE = "I'm running the Leeds half marathon in May."


def test_a_value_named_as_replaced_closes_the_note_that_holds_it(embedder) -> None:
    """A race, a venue or a plan has no attribute word; naming the old value as replaced is what says
    it ("York instead of Leeds", "not Leeds anymore"). The Berlin marathon in the background stays."""
    for new in ("I switched my race: York half marathon instead of Leeds.", "Actually it's York, not Leeds.",
                "Not Leeds anymore, York.", "I moved my race from Leeds to York."):
        v = verdict_for(embedder, RACE, new)
        assert v is not None and v.sure and v.note.content == RACE, (new, v and v.note.content, v and v.why)


def test_a_second_change_told_with_also_still_closes_the_note_it_names(embedder) -> None:
    """The episodes set's own wording: "also" tells of a second change, not a second race; and the new
    sentence sets a pastime ("running") the sign-up does not name, but both are the half marathon."""
    old = "I signed up for the Leeds half marathon in April."
    v = verdict_for(embedder, old, "I also switched my race: I'm running the York half marathon in May instead of Leeds.")
    assert v is not None and v.sure and v.note.content == old, v and v.why
    assert verdict_for(embedder, old, "I also signed up for the York 10K in June.") is None  # an addition


def test_a_move_from_a_city_replaces_a_home_there_not_a_race_there(embedder) -> None:
    new = "I moved from Leeds to York."
    assert verdict_for(embedder, RACE, new) is None
    v = verdict_for(embedder, "I live in Leeds.", new)
    assert v is not None and v.sure and v.note.content == "I live in Leeds."


def test_a_named_value_that_replaces_nothing_is_no_correction(embedder) -> None:
    """Another person's race, a day's trip, the weather, a taste, one meal: the frame alone closes nothing."""
    for old, new in ((RACE, "My sister is running York, not Leeds."),
                     ("I live in Leeds.", "I drove from Leeds to York today."),
                     ("I live in Leeds.", "It's sunny in York, not Leeds."),
                     ("I live in Leeds.", "Actually York is nicer, not Leeds."),
                     ("I take the train to work.", "I took the bus instead of the train today."),
                     ("I love Italian food.", "I ordered Thai instead of Italian.")):
        v = verdict_for(embedder, old, new)
        assert v is None or not v.sure, (new, v.note.content, v.why)


def test_a_value_two_notes_hold_is_asked_about_not_closed() -> None:
    """"Actually it's York, not Leeds." after a home and a race in Leeds: which one? Ask."""
    from memory_core.memory.corrections import find

    v = find("Actually it's York, not Leeds.", [_at("I live in Leeds.", 0.67), _at(RACE, 0.38)])
    assert v is not None and not v.sure
    only = find("Actually it's York, not Leeds.", [_at(RACE, 0.38)])
    assert only is not None and only.sure


def test_the_replacing_frames_read_the_old_value() -> None:
    from memory_core.memory.replaced import given_up

    assert given_up("I switched my race: York half marathon instead of Leeds.") == ["Leeds"]
    assert given_up("Actually it's York, not Leeds.") == ["Leeds"]
    assert given_up("not Leeds anymore, York") == ["Leeds"]
    assert given_up("I moved from Leeds to York.") == ["Leeds"]
    assert given_up("I swapped the Volvo for a Kia.") == ["Volvo"]
    assert given_up("I took the bus instead of the train today.") == []  # one day's choice
    assert given_up("I'm not running Leeds anymore.") == []  # a plain negation: the older rules read it
