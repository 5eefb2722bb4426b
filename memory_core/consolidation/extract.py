"""The extractive consolidation: digests and profile lines made of the person's own words, no model.

Why extractive on the bundled model: SmolLM2-135M writes fluent sentences that are not in its
sources (the issue's trial: other notes' text written into a note). A digest of the person's own
sentences, the names they used and the text's keywords can be wrong only by leaving something out.
Each line cites the notes it was taken from, so the Profile page can show where it came from.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from ..notes import Note
from ..retrieval.entities import display, relations
from .people import name_keys, person_keys
from .sources import DECIDED, Said, about_person, place_names, section_of, told

MAX_PER_SECTION = 15  # profile lines per section (the most recent)
MAX_CITES = 8  # notes cited by one line
MAX_TOLD = 6  # the person's sentences in one digest
MAX_RECOMMENDED = 4
MAX_KEYWORDS = 6


@dataclass
class Line:
    """One consolidated line: a profile line or a digest, before it is stored as a note.

    ``key`` names it across rebuilds ("people:anna", "day:2024-05-03", "conversation:<id>"), so a
    rebuild updates the same note, and a line the person edited is found and kept."""

    kind: str  # "profile" or "digest"
    key: str
    section: str  # a profile section, or "day" / "conversation" for a digest
    text: str
    cites: list[str]
    timestamp: str
    conversation_id: str = ""
    written_by: str = "extract"  # or the model's name when a capable model wrote it
    title: str = ""  # a digest's heading (the day, or the conversation's title)
    parts: dict[str, list[str]] = field(default_factory=dict)  # a digest's told/decided/recommended/...

    @property
    def ref(self) -> str:
        return f"{self.kind}:{self.key}"


def _short_hash(text: str) -> str:
    return hashlib.sha1(" ".join(text.lower().split()).encode("utf-8")).hexdigest()[:12]


def _newest(notes: list[Note]) -> list[Note]:
    return sorted(notes, key=lambda n: (n.timestamp, n.id), reverse=True)


def _keys(sentence: str, people: set[str], places: set[str]) -> set[str]:
    """The people and places a sentence names: the person's people and pets ("my sister"), names spoken
    of as people somewhere (``people``), and places; never a title nor a thing ("my car", "Dune")."""
    relation = {k for k, kind in relations(sentence).items() if kind in ("person", "pet")}
    return relation | (name_keys(sentence) & (people | places))


def _people_and_places(notes: list[Note]) -> tuple[set[str], set[str]]:
    places = set().union(*(place_names(n.content) for n in notes)) if notes else set()
    people = person_keys([s for n in notes for s in told(n.content)]) - places
    return people, places


def entity_lines(notes: list[Note]) -> list[Line]:
    """People and places: one line per person or place the person told of, with their latest sentence naming
    it. A capitalised name is not enough to be a person (``people``): a film is not one of the person's people."""
    people, places = _people_and_places(notes)
    holders: dict[str, list[Note]] = defaultdict(list)
    keys_of: dict[str, set[str]] = {}
    for note in notes:
        keys_of[note.id] = set().union(*(_keys(s, people, places) for s in told(note.content)))
        for key in keys_of[note.id]:
            holders[key].append(note)
    out: list[Line] = []
    for key, held in holders.items():
        if key.startswith("my ") and all(keys_of[n.id] - {key} - places for n in held):
            continue  # "my sister" always said with her name: the line under "Anna" says it
        section = "places" if key in places else "people"
        held = _newest(held)
        said = next((s for n in held for s in told(n.content) if key in _keys(s, people, places)), held[0].content)
        name = display(key)
        text = f"{name[:1].upper()}{name[1:]}: {said}"
        out.append(Line("profile", f"{section}:{key}", section, text, [n.id for n in held[:MAX_CITES]],
                        held[0].timestamp))
    return out


def sentence_lines(notes: list[Note]) -> list[Line]:
    """Work, likes and dislikes, plans: the person's own sentences with the section's cue words; one line
    per distinct sentence, citing every note that says it."""
    found: dict[tuple[str, str], Line] = {}
    for note in notes:
        for sentence in told(note.content):
            for section in section_of(sentence):
                key = (section, _short_hash(sentence))
                line = found.get(key)
                if line is None:
                    found[key] = Line("profile", f"{section}:{key[1]}", section, sentence, [note.id], note.timestamp)
                elif note.id not in line.cites:
                    line.cites.append(note.id)
                    line.timestamp = max(line.timestamp, note.timestamp)
    return list(found.values())


def profile_lines(notes: list[Note]) -> list[Line]:
    """Every profile line from the person's current notes, at most MAX_PER_SECTION per section (newest)."""
    by_section: dict[str, list[Line]] = defaultdict(list)
    for line in [*entity_lines(notes), *sentence_lines(notes)]:
        by_section[line.section].append(line)
    out: list[Line] = []
    for lines in by_section.values():
        lines.sort(key=lambda x: (len(x.cites), x.timestamp), reverse=True)
        out.extend(lines[:MAX_PER_SECTION])
    return out


def _keywords(text: str) -> list[str]:
    from ..memory.validation import extract_keywords

    try:
        return extract_keywords(text, MAX_KEYWORDS)
    except Exception:  # noqa: BLE001 - keywords are a nicety; a digest without them is still right
        return []


def digest_text(parts: dict[str, list[str]]) -> str:
    """A digest note's content: one labelled line per part that has something."""
    labels = (("told", "Told"), ("decided", "Decided"), ("recommended", "Memex recommended"),
              ("names", "Names"), ("keywords", "Keywords"))
    rows = []
    for name, label in labels:
        items = parts.get(name) or []
        if items:
            sep = ", " if name in ("names", "keywords") else " · "
            rows.append(f"{label}: {sep.join(items)}")
    return "\n".join(rows)


def digest_parts(notes: list[Note], said: list[Said],
                 known: tuple[set[str], set[str]] | None = None) -> dict[str, list[str]]:
    """What a digest holds, read from its notes and the assistant's recommendations. Only sentences that
    tell something are "Told" (a question the person asked is not something they told); "Names" are the
    people and places (``known``: from every note, as the profile finds them), not every capital."""
    people, places = known if known is not None else _people_and_places(notes)
    facts: list[str] = []
    decided: list[str] = []
    for note in notes:
        for sentence in told(note.content):
            if not about_person(sentence) and len(notes) > 1:
                continue
            (decided if DECIDED.search(sentence) else facts).append(sentence)
    facts = list(dict.fromkeys(facts))
    names = sorted({display(k) for n in notes for s in told(n.content) for k in _keys(s, people, places)})
    more = len(facts) - MAX_TOLD
    return {"told": facts[:MAX_TOLD] + ([f"(and {more} more)"] if more > 0 else []),
            "decided": list(dict.fromkeys(decided))[:MAX_TOLD],
            "recommended": list(dict.fromkeys(s.text for s in said))[:MAX_RECOMMENDED],
            "names": names[:10], "keywords": _keywords(" ".join(s for n in notes for s in told(n.content)))}


def day_of(timestamp: str) -> str:
    """The day a time falls on, as written (its own zone: "2024-05-03T23:30+02:00" is the 3rd)."""
    return str(timestamp)[:10]


def digest_lines(notes: list[Note], said: list[Said], titles: dict[str, str] | None = None,
                 pause: Callable[[], None] = lambda: None) -> list[Line]:
    """A digest per day and per conversation with notes in it (the assistant's recommendations join
    the day they were said on, and their conversation). ``pause`` runs before each digest: keywords
    take tens of milliseconds a digest, and a reply must not wait for hundreds of them."""
    titles = titles or {}
    days: dict[str, list[Note]] = defaultdict(list)
    convs: dict[str, list[Note]] = defaultdict(list)
    for note in (n for n in notes if told(n.content)):  # a note all question tells nothing to digest
        days[day_of(note.timestamp)].append(note)
        if note.conversation_id:
            convs[note.conversation_id].append(note)
    said_day: dict[str, list[Said]] = defaultdict(list)
    said_conv: dict[str, list[Said]] = defaultdict(list)
    for s in said:
        said_day[day_of(s.at)].append(s)
        said_conv[s.conversation_id].append(s)
    known = _people_and_places(notes)
    out: list[Line] = []
    for day, held in sorted(days.items()):
        pause()
        parts = digest_parts(held, said_day.get(day, []), known)
        out.append(Line("digest", f"day:{day}", "day", f"Digest of {day}\n" + digest_text(parts), [n.id for n in held],
                        max(n.timestamp for n in held), title=day, parts=parts))
    for cid, held in convs.items():
        pause()
        parts = digest_parts(held, said_conv.get(cid, []), known)
        title = titles.get(cid, "") or f"conversation {cid[:8]}"
        out.append(Line("digest", f"conversation:{cid}", "conversation", f"Digest of “{title}”\n" + digest_text(parts),
                        [n.id for n in held], max(n.timestamp for n in held), conversation_id=cid, title=title,
                        parts=parts))
    return out


__all__ = ["Line", "day_of", "digest_lines", "digest_parts", "digest_text", "entity_lines", "profile_lines",
           "sentence_lines"]
