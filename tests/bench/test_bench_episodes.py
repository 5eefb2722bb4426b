"""The episodes benchmark's set and scoring (the run itself is `memex bench episodes`, real model)."""

from __future__ import annotations

from datetime import datetime, timezone

from memory_core.bench.episodes import day_phrase, episodes_set, evidence_given, has_answer, render, summarise

TODAY = datetime(2026, 12, 6, 15, 0, tzinfo=timezone.utc)  # a Sunday


def test_set_meets_the_issue_shape() -> None:
    data = episodes_set()
    questions = data["questions"]
    assert len({d["offset"] for d in data["days"]}) >= 10
    assert len(questions) >= 80
    said = sum("said" in q["kinds"] for q in questions)
    dated = sum("dated" in q["kinds"] for q in questions)
    assert said * 3 >= len(questions) and dated * 5 >= len(questions)
    assert any("changed" in q["kinds"] for q in questions) and any("own" in q["kinds"] for q in questions)
    for q in questions:  # every evidence id names a real message
        for d, i in q["evidence"]:
            assert data["days"][d]["messages"][i]["content"]


def test_day_phrases_name_the_day_as_a_person_would() -> None:
    assert day_phrase(datetime(2026, 12, 5, tzinfo=timezone.utc), TODAY, 0) == "yesterday"
    assert day_phrase(datetime(2026, 12, 2, tzinfo=timezone.utc), TODAY, 0) == "on Wednesday"
    assert day_phrase(datetime(2026, 12, 2, tzinfo=timezone.utc), TODAY, 1) == "last Wednesday"
    assert day_phrase(datetime(2026, 11, 22, tzinfo=timezone.utc), TODAY, 0) == "two weeks ago"
    assert day_phrase(datetime(2026, 11, 23, tzinfo=timezone.utc), TODAY, 0) == "on the 23rd"
    assert day_phrase(datetime(2026, 11, 21, tzinfo=timezone.utc), TODAY, 1) == "on November 21st"


def test_render_dates_every_message_and_fills_every_question() -> None:
    history, questions = render(episodes_set(), TODAY)
    stamps = [m["timestamp"] for c in history["conversations"] for m in c["messages"]]
    assert stamps == sorted(stamps) and stamps[-1] < TODAY.isoformat()
    assert all("{d" not in q["question"] for q in questions)
    assert all(q["evidence"] for q in questions)


def test_scoring_reads_what_was_given_and_what_was_said() -> None:
    message = {"recalled": [{"text": "I cooked a Thai green curry with tofu tonight.", "in_prompt": True},
                            {"text": "My flatmate Tom is vegetarian.", "in_prompt": False}]}
    assert evidence_given(message, ["I cooked a Thai green curry with tofu tonight."])
    assert not evidence_given(message, ["My flatmate Tom is vegetarian, so we cook tofu a lot."])
    assert has_answer("You cooked a green CURRY.", ["curry"]) and not has_answer("I don't know.", ["curry"])
    rows = [{"kinds": ["own", "dated"], "given": True, "answered": False, "shown": True},
            {"kinds": ["said"], "given": False, "answered": False, "shown": False}]
    s = summarise(rows)
    assert s["all"] == {"n": 2, "given": 0.5, "answered": 0.0, "shown": 0.5}
    assert s["dated"]["given"] == 1.0 and s["said"]["n"] == 1
