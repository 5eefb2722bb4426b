"""Who in the person's words is a person: a name said the way people are spoken of, not any capital.

Why not every capitalised name: ``retrieval.entities`` finds names by their capital, which is right for
linking notes ("Dune" in two notes links them) but wrong for the Profile's People: "We watched The Grand
Budapest Hotel" made people of "Grand", "Budapest" and "Hotel" (issue 26's browser trial). A name is a
person here when the sentence speaks of it as one:

- a relation names it: "my sister Anna", "Anna, my sister", "Anna is my boss", "Anna's husband";
- it keeps someone company: "with Tom", "Tom and I", "met Tom", "told Tom";
- it is the subject of a verb only people do: "Anna said", "Marco lives in Rome", "Lena called".

A title is never a person: a name in quotes, or right after "watched", "read", "saw", "film", "book" and
the like ("read Pride and Prejudice"), is a title even when a cue follows it. A name cued once is a
person wherever the person names it outside a title (``person_keys`` over all notes, then
``name_keys`` per sentence), as the entity links treat a name strong in one note as strong in all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..retrieval.entities import NOT_NAMES, RELATION_KINDS
from ..store.lexical import STOPWORDS

_WORD_RE = re.compile(r"[A-Za-z][A-Za-z'’\-]*")
# Relations that stand for several people are no entity of their own (``retrieval.entities``), but a name
# they introduce is a person all the same ("my friend Lena", "Lena is my colleague").
_SEVERAL = ("friend", "colleague", "cousin", "aunt", "uncle", "classmate", "teammate", "coworker", "co-worker",
            "mentor", "teacher", "coach", "neighbour", "neighbor", "bestie", "ex", "grandson", "granddaughter")
_PEOPLE_WORDS = "|".join(sorted([*(w for w, k in RELATION_KINDS.items() if k in ("person", "pet")), *_SEVERAL],
                                key=len, reverse=True))
_ADJ = r"(?:[\w-]+\s+){0,2}?"
_REL_BEFORE = re.compile(rf"\b(?:my|our|his|her|their|[A-Za-z]+'s)\s+{_ADJ}(?:{_PEOPLE_WORDS})s?,?\s+$", re.IGNORECASE)
_COMPANY_BEFORE = re.compile(r"\b(?:with|met|meet|meeting|told|tell|asked|ask|call|called|calling|phoned|"
                             r"texted|text|texting|emailed|email|invited|invite|hugged|married|marry|marrying|"
                             r"dating|date|visited|visiting|helped|help|thanked|miss|missed|joined|"
                             r"friends? with|(?:a|my|our) friend|called|named)\s+$",
                             re.IGNORECASE)
_PERSONAL_VERBS = r"""said|says|told|tells|asked|asks|thinks|thought|feels|felt|wants|wanted|loves|loved|
likes|liked|hates|hated|lives|lived|works|worked|called|calls|rang|texted|came|comes|visited|visits|went|goes|
wrote|writes|sent|sends|invited|helped|cooked|cooks|baked|bakes|bought|gave|moved|married|met|laughed|cried|
smiled|agreed|promised|suggested|recommended|believes|knows|knew|remembers|remembered|studies|studied|
graduated|retired|turned|turns|passed away|died|broke up|got (?:married|engaged|a|an|the|back|home)|
is (?:coming|getting|pregnant|moving|visiting)|was born|has been|had a baby|joined|quit|started""".replace("\n", "")
_AFTER = re.compile(rf"^(?:'s\s+(?:{_PEOPLE_WORDS}|birthday|wedding|party|kids|children|family)\b"
                    rf"|,?\s+(?:is|was|,)?\s*(?:my|our)\s+{_ADJ}(?:{_PEOPLE_WORDS})\b"
                    rf"|\s+and\s+(?:i|me)\b"
                    rf"|\s+(?:also\s+|just\s+|finally\s+|always\s+|never\s+)?(?:{_PERSONAL_VERBS})\b)",
                    re.IGNORECASE)
_TITLE_BEFORE = re.compile(r"\b(?:watch|watched|watching|rewatched|read|reading|reread|saw|seen|film|films|"
                           r"movie|movies|book|books|novel|series|show|shows|documentary|album|song|podcast|"
                           r"episode|play|musical|opera|game|listened to|listening to|finished|binged)\s+"
                           r"(?:the\s+|a\s+|an\s+)?$", re.IGNORECASE)
_AND_JOIN = re.compile(r"^\s*(?:,|and|&|,\s*and)\s*$")
_TITLE_JOIN = re.compile(r"^\s+(?:(?:and|of|the|a|an|in|on|at|to|for|&)\s+)+$", re.IGNORECASE)
_QUOTES = (('"', '"'), ("“", "”"), ("‘", "’"), ("«", "»"))


@dataclass(frozen=True)
class Name:
    """A run of capitalised words in a sentence ("Grand Budapest Hotel"), keyed by its first word."""

    key: str
    start: int
    end: int
    title: bool
    person: bool


def _clean(token: str) -> str:
    token = token.strip("'’-")
    return token[:-2] if token.lower().endswith(("'s", "’s")) else token


def _is_name(token: str) -> bool:
    word = _clean(token)
    low = word.lower()
    return len(word) >= 2 and word[0].isupper() and low not in STOPWORDS and low not in NOT_NAMES \
        and not (word.isupper() and len(word) > 5)


def _runs(sentence: str) -> list[tuple[str, int, int]]:
    """Capitalised runs as (first word, start, end): "The Grand Budapest Hotel" -> ("Grand", ...)."""
    out: list[tuple[str, int, int]] = []
    for m in _WORD_RE.finditer(sentence):
        if not _is_name(m.group()):
            continue
        if out and not sentence[out[-1][2]:m.start()].strip() and \
                not sentence[:out[-1][2]].endswith(("'s", "’s")):
            out[-1] = (out[-1][0], out[-1][1], m.end())
        else:
            out.append((m.group(), m.start(), m.end()))
    return out


def _quoted(sentence: str, at: int) -> bool:
    before = sentence[:at]
    return any(before.count(a) > before.count(b) if a != b else before.count(a) % 2 == 1 for a, b in _QUOTES)


def names(sentence: str) -> list[Name]:
    """The sentence's capitalised runs, each marked a title or a person (by the cues above), or neither."""
    out: list[Name] = []
    for first, start, end in _runs(sentence):
        before, after = sentence[:start], sentence[end:]
        if sentence[start:end].endswith(("'s", "’s")):
            after = "'s" + after  # "Anna's husband": the possessive is a cue
        title = bool(_TITLE_BEFORE.search(before)) or _quoted(sentence, start) or bool(
            out and out[-1].title and _TITLE_JOIN.match(sentence[out[-1].end:start]))
        person = not title and bool(_REL_BEFORE.search(before) or _COMPANY_BEFORE.search(before)
                                    or _AFTER.match(after)
                                    or out and out[-1].person and _AND_JOIN.match(sentence[out[-1].end:start]))
        out.append(Name(_clean(first).lower(), start, end, title, person))
    return out


def person_keys(sentences: list[str]) -> set[str]:
    """Names spoken of as people somewhere in these sentences."""
    return {n.key for s in sentences for n in names(s) if n.person}


def name_keys(sentence: str) -> set[str]:
    """Every name the sentence says outside a title (a person's or not: the caller knows who are people)."""
    return {n.key for n in names(sentence) if not n.title}


__all__ = ["Name", "name_keys", "names", "person_keys"]
