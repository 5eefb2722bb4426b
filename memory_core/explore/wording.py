"""Count phrases that agree with their number: "1 link", "2 links", "1,204 notes".

Why one helper: the pages build dozens of "N things" phrases, and a browser trial found "1 links drawn"
on the Graph page. Hand-written ``'s' if n != 1`` ternaries (or a lazy "note(s)") drift apart and get
forgotten; one function that every page and view model calls keeps the wording right everywhere.
"""

from __future__ import annotations

_VOWELS = set("aeiou")


def plural(noun: str) -> str:
    """The regular English plural of a lower-case noun ("memory" -> "memories", "match" -> "matches").

    Only the regular rules: a noun with an irregular plural passes it to ``count`` explicitly.
    """
    if len(noun) > 1 and noun.endswith("y") and noun[-2] not in _VOWELS:
        return noun[:-1] + "ies"
    if noun.endswith(("s", "x", "z", "ch", "sh")):
        return noun + "es"
    return noun + "s"


def count(n: int, noun: str, plural_form: str | None = None) -> str:
    """``n`` with thousands separators and the noun in the form that agrees with it (1 is singular; 0 and
    every other number plural, as people say "0 notes")."""
    word = noun if n == 1 else (plural_form or plural(noun))
    return f"{n:,} {word}"


def agree(n: int, singular: str, plural_form: str) -> str:
    """The word (usually a verb: "is"/"are", "was"/"were") that agrees with ``n``, for the rest of a sentence
    whose count phrase came from ``count``."""
    return singular if n == 1 else plural_form
