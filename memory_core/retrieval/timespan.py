"""The time span a message speaks of: "on May 2nd", "yesterday", "last week", "two weeks ago".

Why a grammar in front of dateparser: ``dateparser.search.search_dates`` reads far too much as a
date in chat text ("may I ask" is May, "a second" is a second ago, "we" is Wednesday, "now" is now),
and a false date would push the right memories out of recall. So a small set of patterns finds
the phrases that are surely about time, and dateparser turns each phrase into a date against the
conversation's own clock (``RELATIVE_BASE`` = when the message was written, never the wall clock:
an imported chat from 2023 that says "yesterday" means a day in 2023). The pattern also says how
wide the span is (a day, a week, a month, a year), which a bare date cannot.

A date without a year ("on May 2nd", "in March", "on the 4th") means the most recent such date,
not after the message, that holds memories; with none holding any, the most recent one. "The
first time we talked" is the earliest day with memories; "the last time we talked" the latest
one before the message's day. The times of the memories are a parameter (notes, episodes, or
both), read lazily: most messages name no date, and then nothing is read.

``TimeSpan`` is shared with episode search and the trace: ``start`` inclusive, ``end`` exclusive,
``phrase`` the words read, ``unit`` its width, ``why`` how a missing year or month was chosen.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from ..notes import try_parse_time

Times = Iterable[datetime] | Callable[[], Iterable[datetime]] | None

_MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september",
           "october", "november", "december")
_MONTH_ABBR = {m[:3]: i + 1 for i, m in enumerate(_MONTHS)} | {"sept": 9}
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_NUMBER_WORDS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
                 "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "a couple of": 2,
                 "couple of": 2, "a few": 3, "few": 3}
_FULL_MONTH = "|".join(_MONTHS)
_ANY_MONTH = r"(?:" + _FULL_MONTH + r"|jan|feb|mar|apr|jun|jul|aug|sept|sep|oct|nov|dec)\.?"
_DAY = r"(?:[12][0-9]|3[01]|0?[1-9])"
_ORD = r"(?:st|nd|rd|th)"
_YEAR = r"(?:19|20)\d\d"
_NUM = r"(?:\d{1,3}|a couple of|couple of|a few|few|an?|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)"
_TALK = r"(?:talked|spoke|chatted|met|talked to each other)"

# Order matters: at one position the first alternative that matches wins, so longer forms come first.
_PATTERN = re.compile(
    r"\b(?:"
    r"(?P<iso>\d{4}-\d{2}-\d{2})"
    r"|(?P<first>the\s+(?:very\s+)?first\s+time\s+(?:we|i|you)\s+" + _TALK + r"|when\s+we\s+first\s+" + _TALK + r")"
    r"|(?P<lasttalk>the\s+last\s+time\s+(?:we|i|you)\s+" + _TALK + r")"
    r"|(?P<md>(?P<md_m>" + _ANY_MONTH + r")\s+(?:the\s+)?(?P<md_d>" + _DAY + r")(?P<md_o>" + _ORD + r")?"
    r"(?:,?\s+(?P<md_y>" + _YEAR + r"))?)(?![\d:.,]\d)"
    r"|(?P<dm>(?:the\s+)?(?P<dm_d>" + _DAY + r")(?P<dm_o>" + _ORD + r")?\s+(?:of\s+)?(?P<dm_m>" + _ANY_MONTH + r")"
    r"(?:,?\s+(?P<dm_y>" + _YEAR + r"))?)"
    r"|(?P<ago>(?P<ago_n>" + _NUM + r")\s+(?P<ago_u>day|week|month|year)s?\s+ago)"
    r"|(?P<dby>the\s+day\s+before\s+yesterday)"
    r"|(?P<rel>yesterday|today|tonight|last\s+night|this\s+(?:morning|afternoon|evening))"
    r"|(?P<weekend>(?:last|this|past|over\s+the)\s+weekend)"
    r"|(?P<lastunit>(?P<lu_w>last|this|past)\s+(?P<lu_u>week|month|year))"
    r"|(?P<wd>(?P<wd_p>last|this|past|on)\s+(?P<wd_d>" + "|".join(_WEEKDAYS) + r"))"
    r"|(?P<ord>(?P<ord_p>on)\s+the\s+(?P<ord_d>" + _DAY + r")" + _ORD + r"(?!\s+(?:of\s+)?" + _ANY_MONTH + r"))"
    r"|(?P<mon>(?P<mon_p>in|during|last|this|early|late|mid|of|back\s+in)[\s-]+"
    r"(?P<mon_m>" + _FULL_MONTH + r"|sept)(?:\s+(?P<mon_y>" + _YEAR + r"))?)"
    r"|(?P<year>(?:in|during|back\s+in)\s+(?P<year_y>" + _YEAR + r"))"
    r")\b",
    re.IGNORECASE,
)
# After a lone ordinal ("on the 4th") only these words keep it a date: "on the 4th floor" is a place.
_AFTER_ORDINAL = {"", "of", "at", "in", "when", "and", "or", "but", "with", "i", "we", "you", "he", "she", "they",
                  "did", "was", "were", "for", "about", "so", "because", "that", "what", "last", "this", "my"}
# "may" in lower case is a month only before these (or a digit): "this may be", "in may I" are not dates.
_AFTER_MAY = {"", "and", "or", "last", "this", "of", "when", "while", "before", "after", "at", "on", "to", "we",
              "with"}


@dataclass(frozen=True)
class TimeSpan:
    """A stretch of time read from a message: ``start`` <= t < ``end`` (aware datetimes)."""

    start: datetime
    end: datetime
    phrase: str  # the words read, as written
    unit: str = "day"  # "day", "weekend", "week", "month", "year"
    why: str = ""  # how a missing year or month was chosen, when it was

    def contains(self, when: datetime | str | None) -> bool:
        """Whether a time (an ISO string is read leniently; unreadable: False) falls inside."""
        dt = when if isinstance(when, datetime) else try_parse_time(when)
        if dt is None:
            return False
        dt = dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)
        return self.start <= dt < self.end

    @property
    def label(self) -> str:
        """The span as a person reads it: "Tue 2 May 2023", "week of 8 May 2023", "March 2023"."""
        s = self.start
        if self.unit == "day":
            return s.strftime("%a %-d %b %Y")
        if self.unit == "month":
            return s.strftime("%B %Y")
        if self.unit == "year":
            return s.strftime("%Y")
        last = self.end - timedelta(days=1)
        return f"{s.strftime('%-d %b %Y')} – {last.strftime('%-d %b %Y')}"

    def describe(self) -> str:
        """One line for the trace: '"on May 2nd" → Tue 2 May 2023 (no year: ...)'."""
        tail = f" ({self.why})" if self.why else ""
        return f"\u201c{self.phrase}\u201d \u2192 {self.label}{tail}"

    def to_dict(self) -> dict[str, str]:
        return {"start": self.start.isoformat(), "end": self.end.isoformat(), "phrase": self.phrase,
                "unit": self.unit, "why": self.why, "label": self.label}

    @classmethod
    def from_dict(cls, data: Any) -> TimeSpan | None:
        """A saved span back; None for anything unreadable (a trace from an older version, a hand edit)."""
        if not isinstance(data, dict):
            return None
        start, end = try_parse_time(data.get("start")), try_parse_time(data.get("end"))
        if start is None or end is None or end <= start:
            return None
        return cls(start, end, str(data.get("phrase", "")), str(data.get("unit", "day")), str(data.get("why", "")))


class _Memories:
    """The memory times, read once on first need and kept sorted."""

    def __init__(self, times: Times) -> None:
        self._source = times
        self._sorted: list[datetime] | None = None

    def sorted(self) -> list[datetime]:
        if self._sorted is None:
            raw = self._source() if callable(self._source) else (self._source or [])
            self._sorted = sorted(t if t.tzinfo else t.replace(tzinfo=timezone.utc) for t in raw
                                  if isinstance(t, datetime))
        return self._sorted

    def any_in(self, start: datetime, end: datetime) -> bool:
        times = self.sorted()
        i = bisect.bisect_left(times, start)
        return i < len(times) and times[i] < end


def read_span(text: str, now: datetime, times: Times = None) -> TimeSpan | None:
    """The first time span ``text`` speaks of, resolved against ``now`` (the message's time), or None.

    ``times``: when memories were made (or a function giving them), read only to choose a missing
    year or month and for "the first time we talked"."""
    if not isinstance(text, str) or not text.strip():
        return None
    now = now if now.tzinfo else now.replace(tzinfo=timezone.utc)
    memories = _Memories(times)
    for match in _PATTERN.finditer(text[:2000]):
        span = _resolve(match, text, now, memories)
        if span is not None:
            return span
    return None


def _day(d: date, tz: Any) -> datetime:
    return datetime.combine(d, time(0), tzinfo=tz)


def _span(d: date, days: int, now: datetime, phrase: str, unit: str, why: str = "") -> TimeSpan:
    return TimeSpan(_day(d, now.tzinfo), _day(d + timedelta(days=days), now.tzinfo), phrase, unit, why)


def _month_span(year: int, month: int, now: datetime, phrase: str, why: str = "") -> TimeSpan:
    nxt = date(year + (month == 12), month % 12 + 1, 1)
    return TimeSpan(_day(date(year, month, 1), now.tzinfo), _day(nxt, now.tzinfo), phrase, "month", why)


def _year_span(year: int, now: datetime, phrase: str) -> TimeSpan:
    return TimeSpan(_day(date(year, 1, 1), now.tzinfo), _day(date(year + 1, 1, 1), now.tzinfo), phrase, "year")


def _parse(phrase: str, now: datetime) -> datetime | None:
    """dateparser's reading of one phrase, relative to the message's time, preferring the past."""
    import dateparser  # ~80 ms to import: only when a message names a time

    base = now.replace(tzinfo=None)
    return dateparser.parse(phrase, languages=["en"],
                            settings={"RELATIVE_BASE": base, "PREFER_DATES_FROM": "past"})


def _next_word(text: str, end: int) -> str:
    found = re.match(r"\s*([A-Za-z]+|\d)", text[end:])
    return found.group(1).lower() if found else ""


def _month_number(word: str) -> int:
    word = word.lower().rstrip(".")
    return _MONTHS.index(word) + 1 if word in _MONTHS else _MONTH_ABBR[word[:4] if word == "sept" else word[:3]]


def _resolve(m: re.Match[str], text: str, now: datetime, memories: _Memories) -> TimeSpan | None:
    phrase = m.group(0)
    kind = m.lastgroup or ""
    if kind in ("md", "dm", "mon"):
        return _named_month(m, kind, text, now, memories)
    if kind == "iso":
        parsed = try_parse_time(phrase)
        return None if parsed is None else _span(parsed.date(), 1, now, phrase, "day")
    if kind == "first":
        times = memories.sorted()
        return _span(times[0].astimezone(now.tzinfo).date(), 1, now, phrase, "day",
                     "the earliest day with memories") if times else None
    if kind == "lasttalk":
        before = [t for t in memories.sorted() if t < _day(now.date(), now.tzinfo)]
        return _span(before[-1].astimezone(now.tzinfo).date(), 1, now, phrase, "day",
                     "the latest earlier day with memories") if before else None
    if kind == "ord":
        if _next_word(text, m.end()) not in _AFTER_ORDINAL:
            return None
        return _ordinal_day(int(m.group("ord_d")), now, phrase, memories)
    if kind == "year":
        return _year_span(int(m.group("year_y")), now, phrase)
    return _relative(m, kind, now)


def _relative(m: re.Match[str], kind: str, now: datetime) -> TimeSpan | None:
    """Phrases fully fixed by the message's time: dateparser reads them, the pattern gives the width."""
    phrase = m.group(0)
    lowered = " ".join(phrase.lower().split())
    if kind == "ago":
        count = m.group("ago_n").lower()
        n = int(count) if count.isdigit() else _NUMBER_WORDS.get(" ".join(count.split()), 0)
        unit = m.group("ago_u").lower()
        if n <= 0 or n > 400:
            return None
        parsed = _parse(f"{n} {unit}s ago", now)
        if parsed is None:
            return None
        d = parsed.date()
        if unit == "day":
            return _span(d, 1, now, phrase, "day")
        if unit == "week":  # "two weeks ago" is loose: the seven days around that day
            return _span(d - timedelta(days=3), 7, now, phrase, "week")
        if unit == "month":
            return _month_span(d.year, d.month, now, phrase)
        return _year_span(d.year, now, phrase)
    if kind == "weekend":
        last_saturday = now.date() - timedelta(days=(now.weekday() - 5) % 7)
        if lowered.startswith("last") and now.weekday() >= 5:  # said on a weekend: the one before
            last_saturday -= timedelta(days=7)
        return _span(last_saturday, 2, now, phrase, "weekend")
    if kind == "lastunit":
        which, unit = m.group("lu_w").lower(), m.group("lu_u").lower()
        if which == "past":  # "the past week": the days up to the message, not a calendar unit
            days = {"week": 7, "month": 30, "year": 365}[unit]
            return _span(now.date() - timedelta(days=days - 1), days, now, phrase, unit)
        parsed = now if which == "this" else _parse(f"last {unit}", now)
        if parsed is None:
            return None
        d = parsed.date()
        if unit == "week":
            return _span(d - timedelta(days=d.weekday()), 7, now, phrase, "week")
        return _month_span(d.year, d.month, now, phrase) if unit == "month" else _year_span(d.year, now, phrase)
    if kind == "wd":
        day = m.group("wd_d").lower()
        if m.group("wd_p").lower() == "this":  # "this Monday": the one of this week, possibly today
            d = now.date() - timedelta(days=now.weekday()) + timedelta(days=_WEEKDAYS.index(day))
            return _span(d, 1, now, phrase, "day")
        parsed = _parse(day, now)  # the most recent such weekday before today
        return None if parsed is None else _span(parsed.date(), 1, now, phrase, "day")
    parsed = now if lowered in ("today", "tonight") or lowered.startswith("this ") else _parse(lowered, now)
    if lowered == "last night":
        parsed = now - timedelta(days=1) if now.hour >= 12 else now
    if kind == "dby":
        parsed = _parse("2 days ago", now)
    return None if parsed is None else _span(parsed.date(), 1, now, phrase, "day")


def _named_month(m: re.Match[str], kind: str, text: str, now: datetime, memories: _Memories) -> TimeSpan | None:
    """"May 2nd", "the 5th of May 2022", "in March": a year given is kept; else the no-year rule."""
    prefix = {"md": "md_", "dm": "dm_", "mon": "mon_"}[kind]
    word = m.group(prefix + "m")
    phrase = m.group(0)
    if _may_is_a_verb(word, text, m.end(), kind, has_ordinal=bool(m.groupdict().get(prefix + "o")),
                      has_year=bool(m.group(prefix + "y"))):
        return None
    month = _month_number(word)
    year = m.group(prefix + "y")
    if kind == "mon":
        if year:
            return _month_span(int(year), month, now, phrase)
        strict = m.group("mon_p").lower() == "last"  # "last March": never the month we are in
        candidates = []
        for back in range(0, 40):
            y = now.year - back
            if (y, month) > (now.year, now.month) or (strict and (y, month) == (now.year, now.month)):
                continue
            candidates.append(_month_span(y, month, now, phrase))
        return _most_recent_with_memories(candidates, memories, f"no year: the most recent {word.title()}")
    day = int(m.group(prefix + "d"))
    if year:
        try:
            return _span(date(int(year), month, day), 1, now, phrase, "day")
        except ValueError:
            return None
    candidates = []
    for back in range(0, 40):
        try:
            d = date(now.year - back, month, day)
        except ValueError:  # 29 February in a common year
            continue
        if d <= now.date():
            candidates.append(_span(d, 1, now, phrase, "day"))
    label = date(2000, month, day).strftime("%-d %B")
    return _most_recent_with_memories(candidates, memories, f"no year: the most recent {label}")


def _may_is_a_verb(word: str, text: str, end: int, kind: str, *, has_ordinal: bool, has_year: bool) -> bool:
    """A lower-case "may" is the month only with an ordinal or a year ("may 2nd", "5 may 2022"), or
    after a preposition and before a word that cannot follow the verb ("in may and june"): "this
    may be", "2 may help", "costs 5 may" are not dates. A capital "May" after a preposition or with
    a day is the month ("in May I went"); alone ("May I ask") it never matches a pattern."""
    if word != "may" or has_ordinal or has_year:
        return False
    return kind != "mon" or _next_word(text, end) not in _AFTER_MAY


def _ordinal_day(day: int, now: datetime, phrase: str, memories: _Memories) -> TimeSpan | None:
    """"on the 4th": the most recent 4th of a month, not after the message, that holds memories."""
    candidates = []
    y, mo = now.year, now.month
    for _ in range(120):
        try:
            d = date(y, mo, day)
        except ValueError:  # the 31st of a 30-day month
            d = None
        if d is not None and d <= now.date():
            candidates.append(_span(d, 1, now, phrase, "day"))
        y, mo = (y - 1, 12) if mo == 1 else (y, mo - 1)
    suffix = _ORDINAL_SUFFIX.get(day % 10 if day not in (11, 12, 13) else 0, "th")
    return _most_recent_with_memories(candidates, memories, f"no month: the most recent {day}{suffix}")


_ORDINAL_SUFFIX = {1: "st", 2: "nd", 3: "rd"}


def _most_recent_with_memories(candidates: list[TimeSpan], memories: _Memories, rule: str) -> TimeSpan | None:
    """The first candidate (they come newest first) holding a memory; without any, the newest one."""
    if not candidates:
        return None
    for span in candidates:
        if memories.any_in(span.start, span.end):
            newest = span is candidates[0]
            why = rule if newest else f"{rule} that holds memories"
            return TimeSpan(span.start, span.end, span.phrase, span.unit, why)
    first = candidates[0]
    return TimeSpan(first.start, first.end, first.phrase, first.unit, f"{rule} (none holds memories)")


def memory_times(timestamps: Iterable[str]) -> list[datetime]:
    """Readable times among ISO strings (a note's or an episode's ``timestamp``); the rest are skipped."""
    out = []
    for value in timestamps:
        dt = try_parse_time(value)
        if dt is not None:
            out.append(dt)
    return out
