"""Time spans read from a message: the phrase table, the no-year rule, false positives, the saved form."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from memory_core.retrieval.timespan import TimeSpan, memory_times, read_span

UTC = timezone.utc
NOW = datetime(2023, 5, 20, 14, 0, tzinfo=UTC)  # a Saturday afternoon: the message's own clock
MEMORIES = [datetime(2022, 5, 2, 10, tzinfo=UTC), datetime(2023, 3, 4, 9, tzinfo=UTC),
            datetime(2023, 4, 4, 18, tzinfo=UTC), datetime(2023, 5, 19, 8, tzinfo=UTC)]


def d(y: int, m: int, day: int) -> datetime:
    return datetime(y, m, day, tzinfo=UTC)


# message -> (phrase read, first day, last day inclusive, unit)
PHRASES = [
    ("What did I do on May 2nd?", "May 2nd", d(2022, 5, 2), d(2022, 5, 2), "day"),  # 2023-05-02 holds nothing
    ("what did we talk about yesterday", "yesterday", d(2023, 5, 19), d(2023, 5, 19), "day"),
    ("Where did I go last week?", "last week", d(2023, 5, 8), d(2023, 5, 14), "week"),
    ("What did I read in March?", "in March", d(2023, 3, 1), d(2023, 3, 31), "month"),
    ("I told you two weeks ago", "two weeks ago", d(2023, 5, 3), d(2023, 5, 9), "week"),
    ("What did I cook on the 4th?", "on the 4th", d(2023, 4, 4), d(2023, 4, 4), "day"),  # 4 May holds nothing
    ("what did I say the first time we talked?", "the first time we talked", d(2022, 5, 2), d(2022, 5, 2), "day"),
    ("Which film did you suggest last Wednesday?", "last Wednesday", d(2023, 5, 17), d(2023, 5, 17), "day"),
    ("What happened on 2023-05-03?", "2023-05-03", d(2023, 5, 3), d(2023, 5, 3), "day"),
    ("we met on May 2, 2021", "May 2, 2021", d(2021, 5, 2), d(2021, 5, 2), "day"),
    ("the 5th of May 2022 was fun", "the 5th of May 2022", d(2022, 5, 5), d(2022, 5, 5), "day"),
    ("3 days ago I ran", "3 days ago", d(2023, 5, 17), d(2023, 5, 17), "day"),
    ("what did I eat the day before yesterday", "the day before yesterday", d(2023, 5, 18), d(2023, 5, 18), "day"),
    ("how did I sleep last night", "last night", d(2023, 5, 19), d(2023, 5, 19), "day"),
    ("what did I plan last month", "last month", d(2023, 4, 1), d(2023, 4, 30), "month"),
    ("where did I travel last year", "last year", d(2022, 1, 1), d(2022, 12, 31), "year"),
    ("what did I do in 2022", "in 2022", d(2022, 1, 1), d(2022, 12, 31), "year"),
    ("did I call mum on Monday?", "on Monday", d(2023, 5, 15), d(2023, 5, 15), "day"),
    ("what did I do last weekend", "last weekend", d(2023, 5, 13), d(2023, 5, 14), "weekend"),
    ("a couple of weeks ago I moved", "a couple of weeks ago", d(2023, 5, 3), d(2023, 5, 9), "week"),
    ("when we first met I said", "when we first met", d(2022, 5, 2), d(2022, 5, 2), "day"),
    ("what did I say the last time we talked", "the last time we talked", d(2023, 5, 19), d(2023, 5, 19), "day"),
    ("what did I say this morning", "this morning", d(2023, 5, 20), d(2023, 5, 20), "day"),
    ("what did we do on the 14th of June?", "the 14th of June", d(2022, 6, 14), d(2022, 6, 14), "day"),
    ("what did I eat on the 3rd of may?", "the 3rd of may", d(2023, 5, 3), d(2023, 5, 3), "day"),
]


@pytest.mark.parametrize(("text", "phrase", "first", "last", "unit"), PHRASES, ids=[p[0] for p in PHRASES])
def test_phrase_table(text: str, phrase: str, first: datetime, last: datetime, unit: str) -> None:
    span = read_span(text, NOW, MEMORIES)
    assert span is not None
    assert (span.phrase, span.start, span.end - timedelta(days=1), span.unit) == (phrase, first, last, unit)


NOT_DATES = ["May I ask you something?", "may i ask something", "wait a second", "hold on a second please",
             "now tell me about my sister", "I have 3 cats and 2 dogs", "this may be hard", "that may help",
             "It costs 5 may", "I live on the 4th floor", "the 4th time I asked", "I ran 2022 meters",
             "we met at 3:30", "see section 4.2", "I march every Sunday", "what is my second name?",
             "we talked about it for a while", "Do you remember what I like?", "the 1st place went to me",
             "I'm 30 years old", "it took 2 days", "on Mondays I swim", "I will go next week", "", "   "]


@pytest.mark.parametrize("text", NOT_DATES)
def test_false_positives_read_no_span(text: str) -> None:
    assert read_span(text, NOW, MEMORIES) is None


def test_the_clock_is_the_messages_not_the_wall_clock() -> None:
    old = datetime(2019, 1, 10, 9, tzinfo=UTC)
    span = read_span("what did I do yesterday?", old)
    assert span is not None and span.start == d(2019, 1, 9)
    naive = read_span("what did I do yesterday?", datetime(2019, 1, 10, 9))
    assert naive is not None and naive.start == d(2019, 1, 9)


def test_no_year_means_the_most_recent_date_holding_memories() -> None:
    # Without memories on any 2 May: the most recent 2 May not after the message.
    bare = read_span("on May 2nd", NOW, [])
    assert bare is not None and bare.start == d(2023, 5, 2) and "none holds memories" in bare.why
    # With memories on 2 May 2021 only, that one; never a date after the message.
    span = read_span("on May 2nd", NOW, [datetime(2021, 5, 2, 12, tzinfo=UTC), datetime(2024, 5, 2, tzinfo=UTC)])
    assert span is not None and span.start == d(2021, 5, 2) and "holds memories" in span.why
    # A December date asked in May is last year's.
    dec = read_span("on December 25th", NOW, [])
    assert dec is not None and dec.start == d(2022, 12, 25)
    # "in March" with memories in March 2021 and none in March 2023 or 2022.
    march = read_span("in March", NOW, [datetime(2021, 3, 9, tzinfo=UTC)])
    assert march is not None and march.start == d(2021, 3, 1)
    # "last May" said in May: never the month we are in.
    last_may = read_span("last May", NOW, [datetime(2023, 5, 1, tzinfo=UTC), datetime(2022, 5, 7, tzinfo=UTC)])
    assert last_may is not None and last_may.start == d(2022, 5, 1)


def test_a_lone_ordinal_skips_months_without_that_day() -> None:
    span = read_span("on the 31st", NOW, [])
    assert span is not None and span.start == d(2023, 3, 31)  # April has no 31st


def test_memory_times_are_read_only_when_needed() -> None:
    calls = []

    def times() -> list[datetime]:
        calls.append(1)
        return MEMORIES

    assert read_span("what did I do yesterday", NOW, times) is not None
    assert read_span("tell me about my sister", NOW, times) is None
    assert calls == []
    assert read_span("on the 4th", NOW, times) is not None
    assert calls == [1]


def test_first_time_without_memories_is_no_span() -> None:
    assert read_span("the first time we talked", NOW, []) is None


def test_span_contains_and_round_trips() -> None:
    span = read_span("yesterday", NOW)
    assert span is not None
    assert span.contains("2023-05-19T23:59:59+00:00") and not span.contains("2023-05-20T00:00:00+00:00")
    assert not span.contains("not a time") and not span.contains(None)
    assert TimeSpan.from_dict(span.to_dict()) == span
    assert "Fri 19 May 2023" in span.describe()
    assert TimeSpan.from_dict({"start": "garbage"}) is None and TimeSpan.from_dict(None) is None


def test_memory_times_skips_unreadable_values() -> None:
    assert memory_times(["2023-05-02T10:00:00+00:00", "", "nonsense"]) == [d(2023, 5, 2) + timedelta(hours=10)]
