"""Is a new sentence a correction of an older note? Same subject, same attribute, a new value.

Why rules and not only similarity: "Actually my brother moved to Porto Alegre last month." is a
correction of "My brother Mateus is a dentist in Curitiba." (cosine 0.36 with MiniLM), while "My
sister also lives in Porto." is no correction of "I live in Porto." (cosine 0.79). What decides is
who the sentence is about (the person, "my brother", a name, "the concert") and which of their
attributes it sets (where they live, their work, a date, what they drive, ...). Both are read from
the words; the embedding only weighs how sure we are.

A verdict is ``sure`` (the old note is closed at once: ``valid_until``/``superseded_by``, a link)
or unsure (the new note is stored and the person is asked in Review "Does this replace ...?"). Far
apart in meaning (below ``ASK_FLOOR``) it is no verdict at all: a question about two unrelated notes
costs the person more than a missed correction. A marker word used for an errand ("I left my phone
at home", "I moved my desk") sets no new value and is read as no marker.
The tables in memory_core/bench/correction_table.py (tests/memory/test_memory_corrections.py) measure precision and recall of both.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ..retrieval.entities import mentions, relations
from ..store.lexical import STOPWORDS, TOKEN_RE, stem
from .replaced import changed_thing, changes, given_up, one_off

SURE_SIMILARITY = 0.35  # marker + subject + attribute: below this cosine, ask instead
ASK_FLOOR = 0.25  # marker + subject + attribute: below this cosine the two are unrelated, no question
MARKER_SIMILARITY = 0.60  # marker + subject, no attribute evidence: sure above this cosine
ASK_SIMILARITY = 0.45  # marker + subject, no attribute evidence: ask above this cosine
NO_MARKER_ASK = 0.50  # no marker, one-valued attribute set to a new value: ask above this cosine

MARKER_RE = re.compile(
    r"\b(actually|no longer|not anymore|any ?more|instead|correction|turns out|i was wrong|that's wrong|"
    r"that was wrong|i meant|scratch that|moved|moving|changed|switched|quit|not true|sold|no more|"
    r"used to|stopped|gave up|left|retired|now|these days|nowadays|since then|new|only|died|"
    r"(isn't|aren't|don't|doesn't|not) .{0,30}(anymore|any more|now))\b", re.IGNORECASE)
WEAK_MARKERS = frozenset({"actually", "now", "new", "these days", "nowadays", "only"})
OPINION_RE = re.compile(r"\b(love|loved|hate|hated|best|worst|amazing|great|enjoy\w*|like|liked|awful|"
                        r"beautiful|fun|tired|late)\b", re.IGNORECASE)
INTENT_RE = re.compile(r"\b(saving (up )?for|planning|plan to|want to|wants to|would like|thinking about|"
                       r"hope to|hoping|going to|will|might|maybe|next (year|month|week))\b", re.IGNORECASE)
PAST_RE = re.compile(r"\b(used to|years ago|as a (kid|child|teenager)|when i was)\b", re.IGNORECASE)
ADDITIVE_RE = re.compile(r"\b(also|too|as well|another|second|both|either)\b", re.IGNORECASE)
NEGATION_RE = re.compile(r"\b(no longer|not anymore|any ?more|no more|quit|stopped|gave up|sold|left|retired|"
                         r"used to|isn't|aren't|don't|doesn't|not|died)\b", re.IGNORECASE)
# A marker word used for something else than a change: "left my phone at home", "left work early",
# "moved my desk", "stopped at the bakery", "a new case for my laptop". The verb is dropped before
# markers, negation and attributes are read, so an errand is not taken for a new home, job or car.
_INCIDENTAL_RE = re.compile(
    r"\b(left)(?= (?:my|the|our|his|her|their|a|an|some) (?!(?:job|position|role|company|firm|team|band|club|"
    r"school|university|college|country|city|wife|husband|partner|boyfriend|girlfriend)\b)\w+(?: \w+)? "
    r"(?:at|on|in|behind|outside|under|by|with)\b)"
    r"|\b(left)(?= (?:work|home|the office|school|class) (?:early|late|at|before|after|around|today|on time)\b)"
    r"|\b(moved)(?= (?:my|the|our|his|her|their|a|an|some) (?!(?:appointment|meeting|flight|concert|date|class|"
    r"lesson|booking|party|wedding|stuff|things|family)\b)\w+)"
    r"|\b(stopped)(?= (?:at|by|in|off|for)\b)"
    r"|\b(now)(?= (?:feel|feels|felt|think|know|remember|realis|realiz))"
    r"|\b(new)(?= (?!(?:job|home|house|flat|apartment|car|phone|laptop|bike|partner|boyfriend|"
    r"girlfriend|school|place|address|boss|name)\b)\w+)", re.IGNORECASE)
# Words of a replacing frame ("switched", "swapped", "change of plan"), never a value.
_FRAME_STEMS = {stem(w) for w in "switch switched swapped swap traded changed change plan replaced rather moved "
                "transferred".split()}
_YEAR_RE = re.compile(r"^(19|20)\d\d$")
# Attributes a sentence sets, read from its predicate. "when" holds dates, days and times.
ATTRIBUTES: dict[str, re.Pattern[str]] = {name: re.compile(rx, re.IGNORECASE) for name, rx in {
    "home": r"\b(live[sd]?|living(?! room)|moved?|moving|relocat\w*|based in|rent\w*|flat|house|apartment|home)\b|"
            r"(?-i:\bin (?!(?:January|February|March|April|May|June|July|August|September|October|"
            r"November|December|Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)\b)[A-Z][a-z]+)",
    "work": r"\b(works?|worked|working|(quit|left|lost|new|changed) (my |his |her )?job|employ\w*|retired?|runs? (a|an|the)|teach\w*|office|boss|hired|"
            r"promot\w*|freelanc\w*|shifts?|(is|am|'m|are|'re) (a|an) (\w+ )?(\w+(er|or|ist|ian|ant|ent)|nurse|"
            r"chef|midwife|doctor|dentist|pilot|judge|cook|vet|student))\b",
    "travel": r"\b(drives?|driving|drove|car|bike|cycl\w*|bus|train|commut\w*|walk\w* to)\b",
    "food": r"\b(vegetarian|vegan|eats?|eating|meat|fish|diet|drinks?|drinking|coffees?|tea|smok\w*|"
            r"cigarettes?|alcohol|sugar)\b",
    "pastime": r"\b(play\w*|learn\w*|stud\w*|course|class(es)?|lessons?|practi[cs]\w*|train\w*|swim\w*|"
               r"running|support\w*|follow\w*|fan|listen\w*|watch\w*)\b",
    "reading": r"\breading\b",
    "when": r"\b(monday|tuesday|wednesday|thursday|friday|saturday|sunday)s?\b|\b\d{1,2}(st|nd|rd|th)? "
            r"(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)\w*|\b\d{1,2}(:\d\d)? ?(am|pm)\b|"
            r"\b(appointment|concert|flight|meeting|date)\b",
    "name": r"\b(called|named|name is|name's)\b|\b(boss|partner|manager|teacher|doctor) is (now )?[A-Z]",
    "pet": r"\b(dogs?|cats?|puppy|kitten|pets?)\b",
    "school": r"\b(school|university|college|year \d+|grade)\b",
    "relationship": r"\b(married|engaged|divorced|single|dating|separated|together)\b",
    "sleep": r"\b(sleeps?|sleeping)\b",
    "weight": r"\b(weigh\w*|kilos?|kg|pounds)\b",
    "device": r"\b(phone|iphone|pixel|laptop|computer)\b",
}.items()}
# One value at a time: a new value replaces the old. The others ("when", "pastime", "food", "pet") hold
# many values at once, so they count only with a shared object ("swimming", "the concert", "German").
ONE_VALUED = frozenset({"home", "work", "name", "travel", "device", "relationship", "school", "sleep", "weight",
                        "reading"})
_FAVOURITE_RE = re.compile(r"\bfavou?rite\s+(\w+)", re.IGNORECASE)
_LEAD_RE = re.compile(r"^\s*((actually|well|oh|so|and|but|also|btw|by the way|update|correction|no|yes|hey|"
                      r"okay|ok|fyi|just so you know|not anymore|these days|nowadays|now|since then)\b[\s,:;.!-]*)+",
                      re.IGNORECASE)
_CLAUSE_RE = re.compile(r"[,;:]|\s-\s|\b(?:but|and then|so|because)\b", re.IGNORECASE)
_SELF_RE = re.compile(r"^\s*(i|i'm|i've|i'd|i'll|im|we|we're|we've|me)\b", re.IGNORECASE)
# "it's", "that's", "there's": a pronoun and "is", never an owner ("it's York" is no one's York)
_POSSESSIVE_RE = re.compile(r"^\s*(my|our|the)?\s*(?!(?:it|that|this|there|here|what|who|he|she|where|how)'s\b)"
                            r"([a-z]+|[A-Z][a-z]+)'s\s+([a-z]+)", re.IGNORECASE)
_THE_RE = re.compile(r"^\s*the\s+((?:[A-Z][\w'-]*\s+){0,3}[a-z][\w'-]*)")
# Words that only say which attribute is set, never its value ("lives", "moved", "drives").
TRIGGER_RE = re.compile(r"\b(live[sd]?|living|moved?|moving|relocat\w*|rent\w*|works?|worked|working|drives?|"
                        r"driving|drove|eats?|eating|drinks?|drinking|play\w*|learn\w*|read\w*|sleeps?|"
                        r"sleeping|weigh\w*|called|named|support\w*|follow\w*|teach\w*|based|take|taking|goes|go)\b",
                        re.IGNORECASE)
_COMMON = frozenset("""night day morning evening work home school weather traffic rain summer winter spring
autumn life food music coffee tea bus train car dinner lunch breakfast everything nothing""".split())
_FILLER = frozenset("""actually now anymore any more longer instead these days nowadays since then used
month week year last ago really just still also""".split())


@dataclass
class Verdict:
    """The note a sentence corrects, how close it is, whether we are sure, and why (shown in Review)."""

    note: Any
    similarity: float
    sure: bool
    why: str = ""
    attributes: list[str] = field(default_factory=list)
    alone: bool = False  # read only from a value named as replaced, with nothing else in common


def _stems(text: str) -> set[str]:
    words = {stem(w) for w in (t.lower() for t in TOKEN_RE.findall(text))
             if w not in STOPWORDS and w not in _FILLER and len(w) > 2}
    return words | set(re.findall(r"\d+", text))


def attributes(text: str) -> set[str]:
    """The attributes a sentence sets ("home", "work", "when", "favourite band", ...)."""
    found = {name for name, rx in ATTRIBUTES.items() if rx.search(text)}
    return found | {f"favourite {m.group(1).lower()}" for m in _FAVOURITE_RE.finditer(text)}


def _triggers(text: str) -> set[str]:
    """Stems of the words that only say which attribute is set ("lives", "moved", "drive")."""
    return {stem(m.group(0).lower()) for m in TRIGGER_RE.finditer(text)}


def _markers(text: str) -> set[str]:
    return {m.group(0).lower() for m in MARKER_RE.finditer(text)}


def _clause_subject(clause: str) -> set[str]:
    """Who or what one clause is about: "self", relation keys ("my brother"), names, things."""
    clause = _LEAD_RE.sub("", clause).strip()
    if not clause:
        return set()
    if _SELF_RE.match(clause) or re.match(r"(?i)^(my|our) favou?rite\b", clause):
        return {"self"}
    owned = _POSSESSIVE_RE.match(clause)
    if owned:  # "my brother's wife", "Tom's restaurant": someone else's person or thing
        return {f"{owned.group(2).lower()}'s {owned.group(3).lower()}"}
    head = clause.split()[:4]
    rels = relations(" ".join(head))
    if rels:
        return set(rels) | set(mentions(" ".join(head)))
    the = _THE_RE.match(clause)
    if the:
        words = [w for w in the.group(1).split() if w.lower() not in STOPWORDS]
        return {w.lower() if w[:1].isupper() else "thing:" + stem(w.lower()) for w in words}
    first = TOKEN_RE.findall(clause)[:1]
    if first and first[0][:1].isupper() and first[0].lower() not in STOPWORDS:
        word = first[0].removesuffix("'s")
        return {word.lower()} if _is_name(word) else {"thing:" + stem(word.lower())}
    return set()


def _is_name(word: str) -> bool:
    """A capitalised first word is a name unless it is an ordinary word (one MiniLM's vocabulary lists
    in lower case is too much to load here; a plural or a common suffix says "ordinary" well enough)."""
    low = word.lower()
    return not (low.endswith(("s", "ing", "ed", "ly", "tion")) and len(low) > 4) and low not in _COMMON


def subjects(text: str) -> set[str]:
    """Every clause's subject ("Richard left, my boss is now Priya." -> richard, my boss)."""
    out: set[str] = set()
    for clause in _CLAUSE_RE.split(text):
        if clause:
            out |= _clause_subject(clause)
    return out


def _about(note_text: str) -> set[str]:
    """Everything a note could be said to be about: its subjects, relations, names and words."""
    return subjects(note_text) | set(relations(note_text)) | set(mentions(note_text)) | _stems(note_text)


def same_subject(new_subjects: set[str], old_text: str) -> set[str]:
    """The subjects of the new sentence the old note is also about ("self" matches the person's own
    sentences and their things, not their people or pets)."""
    old_subjects = subjects(old_text)
    about = _about(old_text)
    shared = {s for s in new_subjects - {"self"} if s in about or s.removeprefix("thing:") in about}
    if "self" in new_subjects:
        kinds = relations(old_text)
        people = {s for s in old_subjects if kinds.get(s, "thing") != "thing"}
        mine = {s for s in old_subjects if s.startswith("my ")}  # "My car is ...": the person's own thing
        if "self" in old_subjects or (mine and not people):
            shared.add("self")
    return shared


def _new_value(text: str, old_text: str, subject: set[str]) -> bool:
    """Does the new sentence carry a word the old one lacks (a new value), beyond its subject?"""
    new = _stems(text) - {stem(w) for s in subject for w in s.split()} - _triggers(text)
    return any(not _YEAR_RE.match(w) for w in new - _stems(old_text))


def judge(text: str, match: Any) -> Verdict | None:
    """Is ``text`` a correction of ``match.note``? None when not.

    No correction: another subject; an addition ("also", "too"); a plan ("saving for", "next year");
    an opinion with only a weak marker ("Actually I love my job."); a past told as past with no other
    marker ("I used to speak French as a kid."); an errand ("I left my phone at home."). Sure: a
    marker, the same subject and the same attribute with a new value at ``SURE_SIMILARITY`` or more
    (asked between ``ASK_FLOOR`` and it, none below). Asked: a marker and the same subject close in
    meaning, or no marker but a new value for an attribute that holds one value at a time ("Lena
    lives in Lisbon.").
    """
    old = match.note.content
    sim = float(match.similarity)
    plain = _INCIDENTAL_RE.sub("", text)
    errand = plain != text  # "left my phone at home": tells of a day, sets nothing unless a marker remains
    said, gone = text, given_up(text)  # "York instead of Leeds": read before an errand verb is dropped ("moved my race from")
    text = plain
    markers = _markers(text)
    shared = same_subject(subjects(text), old)
    # "also"/"too" add a fact, unless the sentence names what it replaces: "I also switched my race: York
    # ... instead of Leeds" is a second change, not a second race.
    if (ADDITIVE_RE.search(text) and not gone) or INTENT_RE.search(text) or (errand and not markers and not gone):
        return None
    if markers and markers <= WEAK_MARKERS and OPINION_RE.search(text):
        return None
    if markers <= WEAK_MARKERS | {"instead"} and one_off(text):
        return None  # "I took the bus instead of the car today.": that day's choice, not a new habit
    if PAST_RE.search(text) and markers <= {"used to"}:
        return None
    swap = _replaces(said, text, gone, old, sim, shared)
    if swap is not None or not shared or ADDITIVE_RE.search(text):  # with "also", only the note it names
        return Verdict(match.note, sim, *swap) if swap is not None else None
    masked = _mask(text, shared)
    common = sorted(attributes(masked) & attributes(_mask(old, shared)))
    objects = (_stems(text) & _stems(old)) - {stem(w) for s in shared for w in s.split()} \
        - _triggers(text) - _triggers(old)
    negated = bool(NEGATION_RE.search(text))
    who = ", ".join(sorted(s.removeprefix("thing:") for s in shared))
    event = "self" not in shared  # a thing's or another person's date is one date ("the concert moved")
    one_valued = [a for a in common if a in ONE_VALUED or a.startswith("favourite ") or (event and a == "when")]
    evidence = bool(one_valued) or bool(common and objects) or (negated and bool(objects))
    new_value = _new_value(text, old, shared)
    if markers and evidence and (negated or new_value) and sim >= ASK_FLOOR:
        what = ", ".join(common) if common else "the same " + ", ".join(sorted(objects)[:3])
        return Verdict(match.note, sim, sim >= SURE_SIMILARITY,
                       f"same subject ({who}), same attribute ({what}), new value", common)
    if markers and common and sim >= MARKER_SIMILARITY and (negated or new_value):
        return Verdict(match.note, sim, True, f"same subject ({who}), close in meaning (cosine {sim:.2f})", common)
    if markers and sim >= ASK_SIMILARITY and (negated or new_value):
        return Verdict(match.note, sim, False, f"same subject ({who}), close in meaning (cosine {sim:.2f})",
                       common)
    person = any(not s.startswith("thing:") for s in shared)
    if one_valued and person and sim >= NO_MARKER_ASK and new_value:
        return Verdict(match.note, sim, False, f"same subject ({who}), a new {', '.join(one_valued)}", common)
    return None


def _replaces(said: str, text: str, gone: list[str], old: str, sim: float, shared: set[str]
              ) -> tuple[bool, str, list[str], bool] | None:
    """(sure, why, attributes, alone) when ``text`` names a value of the old note as replaced ("York instead of
    Leeds" after "I'm running the Leeds half marathon"); None when it names none, or not this note's.
    ``said``: the sentence as said; ``text``: without an errand verb ("moved my race" keeps "my race").

    The named value must be in the old note and a new one in the sentence. The subject is the
    sentence's own, shared with the note, or none but its values ("Actually it's York, not Leeds.").
    An attribute the sentence sets must be one the note holds: "I moved from Leeds to York." replaces
    where the person lives, not the Leeds race. Sure when the two share words beside the value ("half
    marathon"); a sentence that shares nothing else must add only names or numbers and carry a change
    marker beside "instead" ("Actually it's York, not Leeds."): sure when close in meaning, else asked."""
    old_stems = _stems(old)
    named = [v for v in gone if (vs := _stems(v)) and vs <= old_stems]
    if not named or sim < ASK_FLOOR:
        return None
    given = set().union(*(_stems(v) for v in named))
    fresh = _stems(text) - old_stems - _FRAME_STEMS - _triggers(text)
    if not fresh:
        return None
    if not shared:
        own = {stem(w) for s in subjects(text) for w in s.removeprefix("thing:").split()}
        if not own <= given | fresh:
            return None
        shared = subjects(old) or {"self"}
    set_now = attributes(_mask(text, shared))
    held = attributes(_mask(old, shared))
    kept = (_stems(text) & old_stems) - given - _FRAME_STEMS  # "plays", "half marathon": the same role
    if set_now and not set_now & held and not kept:  # "I'm running the York half marathon ... instead of
        return None  # Leeds" sets a pastime the Leeds sign-up does not name, but both are the half marathon
    names = {stem(w.lower()) for w in TOKEN_RE.findall(said) if w[:1].isupper() or w.isdigit()} \
        | {stem(w) for w in changed_thing(said)}
    if not kept and (not fresh <= names or not (_markers(text) - {"instead"} or changes(said))):
        return None  # "I ordered Thai instead of Italian.", "York is nicer, not Leeds": no value given up
    why = f"names {', '.join(repr(v) for v in named)} of this note as replaced"
    return bool(kept) or sim >= SURE_SIMILARITY, why, sorted(set_now & held), not kept


def _mask(text: str, subject: set[str]) -> str:
    """The text without its subject's words, so "the bus" as a subject does not make "travel" an attribute."""
    words = {w for s in subject if s != "self" for w in s.removeprefix("thing:").replace("my ", "").split()}
    if not words:
        return text
    return " ".join(t for t in text.split() if stem(t.strip(".,!?;:").lower().removesuffix("'s")) not in
                    {stem(w) for w in words} and t.strip(".,!?;:").lower() not in words)


def find(text: str, matches: list[Any]) -> Verdict | None:
    """The best correction verdict among the candidate notes: sure ones first, then the closest.

    "Actually it's York, not Leeds." with two notes naming Leeds (the home, the race) could mean
    either: a verdict read from the named value alone is then asked, not sure."""
    verdicts = [v for m in matches if (v := judge(text, m)) is not None]
    if not verdicts:
        return None
    best = max(verdicts, key=lambda v: (v.sure, len(v.attributes), v.similarity))
    if best.alone and best.sure and sum(v.why == best.why for v in verdicts) > 1:
        best.sure = False
    return best
