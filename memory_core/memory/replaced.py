"""The value a sentence names as given up: "York instead of Leeds", "it's York, not Leeds",
"not Leeds anymore, York", "moved from Leeds to York", "swapped the Volvo for a Kia".

Why its own reading: the corrections rule (``memory.corrections``) decides from who a sentence is
about and which attribute it sets, and a race, a venue or a plan has no attribute word ("I switched
my race: York half marathon instead of Leeds." sets neither a home nor a date). But a person who
names the old value in a replacing frame says outright what is replaced; when an older note holds
that value, that is the strongest evidence a correction can carry. This module only reads the frame;
``corrections.judge`` decides whether the older note holds the value and what else must agree.

A replacement told of one occasion ("I took the bus instead of the car today") is an exception, not a
new standing value, so it is read as none.
"""

from __future__ import annotations

import re

# A value: one to three words, stopping at punctuation, a preposition or a conjunction.
_VALUE = r"(?:the |my |a |an |our )?(?P<old>[\w'-]+(?: (?!(?:to|for|with|and|but|now|any ?more|this|next|in|on|at)\b)[\w'-]+){0,2})"
_FRAMES = [
    re.compile(r"\b(?:instead of|rather than) " + _VALUE, re.IGNORECASE),
    # ", not Leeds" closing a clause ("it's York, not Leeds"); "not Leeds anymore, York" opening one
    re.compile(r"(?:^|[,;:]\s*|\s-\s*)not " + _VALUE + r"(?: any ?more| now)?\s*(?:[,;:.!?]|\s-|$)", re.IGNORECASE),
    re.compile(r"\b(?:moved|moving|switched|switching|changed|changing|transferred)\b.{0,30}?\bfrom "
               + _VALUE + r" to\b", re.IGNORECASE),
    re.compile(r"\b(?:swapped|swapping|traded|exchanged|replaced|switched|changed) " + _VALUE + r" (?:for|with)\b",
               re.IGNORECASE),
]
_CHANGE_RE = re.compile(r"\b(switched|swapped|traded|exchanged|replaced|moved|changed|change of plans?)\b",
                        re.IGNORECASE)
_THING_RE = re.compile(r"\b(?:moved|switched|changed|swapped) (?:my|our|the) (\w+)(?= from\b)", re.IGNORECASE)
_ONE_OFF_RE = re.compile(r"\b(today|tonight|yesterday|this (morning|afternoon|evening|time)|for once|just once|"
                         r"for the day)\b", re.IGNORECASE)


def given_up(text: str) -> list[str]:
    """The values ``text`` names as replaced, in order ("Leeds"); none for a one-off."""
    if one_off(text):
        return []
    found: list[str] = []
    for frame in _FRAMES:
        found += [m.group("old").strip() for m in frame.finditer(text)]
    return list(dict.fromkeys(found))


def changes(text: str) -> bool:
    """Does ``text`` say something changed ("switched", "swapped", "change of plan")? A frame alone
    ("Thai instead of Italian") may be one choice among many; with a change word it replaces."""
    return bool(_CHANGE_RE.search(text))


def one_off(text: str) -> bool:
    """Is ``text`` told of one occasion ("today", "tonight", "for once")?"""
    return bool(_ONE_OFF_RE.search(text))


def changed_thing(text: str) -> set[str]:
    """What "moved my race from Leeds to York" says was changed ("race"): the thing, not a new value."""
    return {m.group(1).lower() for m in _THING_RE.finditer(text)}
