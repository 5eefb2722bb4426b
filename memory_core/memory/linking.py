"""Links without the model: the links a person would draw between their own notes.

Three rules, each a fact of the words (``by="system"``, with a reason the person reads):

* **the same person, pet, place or thing**: "Biscuit is afraid of thunderstorms" and "I have a golden
  retriever called Biscuit" both name Biscuit; "My brother Mateus is a dentist" and "Actually my
  brother moved to Porto Alegre" are both about my brother (the person's relations are entities,
  ``retrieval.entities.relations``); and "my dog" is Pipoca once a note says "a dog called Pipoca".
  A name in a large share of the notes (the person's own name, a speaker label) links nothing; each
  name links to the few most recent notes that carry it.
* **the same topic**: a specific content word both notes use ("basil", "tomatoes": a word in at most
  ``TOPIC_MAX_SHARE`` of the notes), and close enough in meaning (cosine >= ``TOPIC_FLOOR``). Measured
  with MiniLM on pairs sharing a word: the garden notes 0.475 and 0.477, "tomato soup" 0.43, two
  notes about tickets or birthdays 0.41-0.42; a shared word only ("painting the kitchen" / "my dog
  sleeps in the kitchen", "broke my phone" / "called me on the phone", Berlin marathon / business
  trip to Berlin, working nights / the neighbour who feeds the dog when I work nights) 0.27-0.36.
* **one fact continuing another**: the note right after another in the same conversation that opens
  with "She", "It was", "They", ... ("Lena is coming to visit." -> "She wants to see the market.",
  cosine 0.39) or is close to it in meaning ("We're planning a trip to Japan." -> "Anna wants to see
  Kyoto first.", 0.46). Floors from the memory bench conversation: a pronoun sentence that continues
  its note 0.16-0.39, one that does not ("It's raining again today.") 0.09; consecutive notes on one
  thing without a pronoun 0.42-0.46, on different things at most 0.19.

The model's link ideas come on top of these (``evolve``), judged one by one.
"""

from __future__ import annotations

import re
from collections.abc import Set as AbstractSet
from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np

from ..notes import Note, is_derived
from ..retrieval.entities import display, entities, mentions, relations
from ..retrieval.signals import context_index
from ..store.lexical import STOPWORDS, TOKEN_RE, stem
from .link_kinds import CONTINUES_PREFIX

if TYPE_CHECKING:
    from ..store import Store

MAX_PER_ENTITY = 3
MAX_LINKS = 5  # entity links per new note
MAX_SHARE = 0.2
TOPIC_FLOOR = 0.40  # MiniLM cosine of the two contents (the pairs above)
TOPIC_MAX_SHARE = 0.1  # a word in more notes than this (and more than TOPIC_MIN_DF) is no topic
TOPIC_MIN_DF = 4
MAX_TOPIC_LINKS = 3
TOPIC_CANDIDATES = 12
CONTINUATION_SECONDS = 30 * 60  # the note before, in the same conversation, at most this long ago
CONTINUATION_PRONOUN_FLOOR = 0.12
CONTINUATION_FLOOR = 0.40
GENERIC = frozenset("""like love want need think know feel make made take took get got go going went come
time day days week weeks month months year years tomorrow yesterday morning evening thing
things lot good great nice bad really much many little big new old first last next every always never
people person home work job life friend friends family way back still even well right sure told say said
today finally again
""".split())
_ANAPHOR_RE = re.compile(r"^\s*(he|she|it|they|his|her|their|its|him|them|both of them|"
                         r"(this|that|these|those|there|it)(\s+(is|was|were|are|has|had|will|would))|"
                         r"(this|that|it|there)'s)\b", re.IGNORECASE)
_WEATHER_RE = re.compile(r"^\s*it(\s+is|'s|\s+was)\s+(\w+\s+)?(raining|snowing|sunny|cold|hot|warm|windy|"
                         r"freezing|cloudy|late|early)\b", re.IGNORECASE)
_ALIAS_RE = re.compile(r"\b(?i:my|our)\s+(?:[\w-]+\s+){0,2}?(\w+)\s*,?\s+([A-Z][\w'-]+)|"
                       r"\b(?i:a|an|my|our)\s+(?:[\w-]+\s+){0,3}?(\w+)\s+(?i:called|named)\s+([A-Z][\w'-]+)")


def entity_reason(key: str, alias: str = "") -> str:
    if key.startswith("my "):
        return f"Both are about {key}" + (f" ({display(alias)})." if alias else ".")
    return f"Both name {display(key)}" + (f" ({alias})." if alias else ".")


def aliases(text: str) -> dict[str, str]:
    """Name <-> relation pairs a text states: "my brother Mateus", "a dog called Pipoca"."""
    out: dict[str, str] = {}
    for m in _ALIAS_RE.finditer(text):
        word, name = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
        rel = relations(f"my {word}")
        if rel and name.lower() not in STOPWORDS:
            key = next(iter(rel))
            out[key], out[name.lower().removesuffix("'s")] = name.lower().removesuffix("'s"), key
    return out


def entity_links(note: Note, store: Store) -> list[tuple[str, str, str]]:
    """(target id, reason, actor) for the notes that name an entity this note names."""
    notes = store.notes_view()
    if not notes:
        return []
    index = context_index(store, notes)
    known = index.entities()
    strong_anywhere = {k for found in known.values() for k in found}
    mine = entities(note.content, strong_elsewhere=strong_anywhere)
    mine |= {k for k, strong in mentions(note.content).items() if not strong and k in strong_anywhere}
    if not mine:
        return []
    via = _expand(note, mine, known, notes)
    cap = max(MAX_PER_ENTITY, int(MAX_SHARE * len(notes)))
    out: list[tuple[str, str, str]] = []
    taken: set[str] = set()
    for key in sorted(mine | set(via), key=lambda k: (k in via, k)):
        holders = [nid for nid, found in known.items() if key in found and nid in notes and nid != note.id
                   and not notes[nid].superseded_by and not is_derived(notes[nid])]
        if not holders or len(holders) > cap:
            continue
        holders.sort(key=lambda nid: notes[nid].timestamp, reverse=True)
        for nid in holders[:MAX_PER_ENTITY]:
            if nid not in taken and len(out) < MAX_LINKS:
                taken.add(nid)
                out.append((nid, entity_reason(via[key], key) if key in via else entity_reason(key), "system"))
    return out


def _expand(note: Note, mine: set[str], known: dict[str, set[str]], notes: dict[str, Note]) -> dict[str, str]:
    """Other names of what this note names (alias -> the key of this note it stands for), read from this
    note and from the notes sharing a key with it ("I have a dog called Pipoca" makes "my dog" Pipoca)."""
    said = dict(aliases(note.content))
    for nid, found in known.items():
        if found & mine and nid in notes and not notes[nid].superseded_by:
            said.update({k: v for k, v in aliases(notes[nid].content).items() if v in mine or k in mine})
    return {other: key for key, other in said.items() if key in mine and other not in mine}


def content_stems(text: str) -> set[str]:
    return {stem(w) for w in (t.lower() for t in TOKEN_RE.findall(text))
            if w not in STOPWORDS and w not in GENERIC and len(w) > 3 and not w.isdigit()}


def topic_links(note: Note, store: Store, exclude: AbstractSet[str] = frozenset()) -> list[tuple[str, str, str]]:
    """(target id, reason, actor) for notes sharing a specific content word and close in meaning."""
    mine = content_stems(note.content)
    notes = store.notes_view()
    if not mine or not notes:
        return []
    lexical = store.lexical
    limit = max(TOPIC_MIN_DF, int(TOPIC_MAX_SHARE * len(notes)))
    specific = {w for w in mine if 0 < lexical.document_frequency(w) <= limit}
    if not specific:
        return []
    pool: list[tuple[Note, list[str]]] = []
    for nid, _score, _terms in lexical.search(" ".join(sorted(specific)), TOPIC_CANDIDATES):
        other = notes.get(nid)
        if other is None or nid == note.id or nid in exclude or other.superseded_by or is_derived(other):
            continue
        shared = sorted(specific & content_stems(other.content))  # the words, not the model's context
        if shared:
            pool.append((other, shared))
    if not pool:
        return []
    vecs = np.asarray(store.embedder.embed([note.content, *(o.content for o, _ in pool)]), dtype=np.float32)
    sims = vecs[1:] @ vecs[0]
    ranked = sorted(zip(pool, sims), key=lambda x: -float(x[1]))
    out: list[tuple[str, str, str]] = []
    for (other, shared), sim in ranked:
        if float(sim) >= TOPIC_FLOOR and len(out) < MAX_TOPIC_LINKS:
            out.append((other.id, topic_reason(surface_words(note.content, shared), float(sim)), "system"))
    return out


def topic_reason(words: str, cosine: float) -> str:
    """A topic link's reason (``link_kinds`` reads "Both ... (cosine" back as a topic link)."""
    return f"Both are about {words} (cosine {cosine:.2f})."


def surface_words(text: str, stems: list[str]) -> str:
    """The shared words as the note spells them ("tomatoes"), not as stems ("tomato")."""
    seen: dict[str, str] = {}
    for t in TOKEN_RE.findall(text):
        s = stem(t.lower())
        if s in stems and s not in seen:
            seen[s] = t.lower()
    words = [seen.get(s, s) for s in stems][:3]
    return " and ".join([", ".join(words[:-1]), words[-1]]) if len(words) > 1 else words[0]


def continuation_link(note: Note, store: Store) -> list[tuple[str, str, str]]:
    """The note this one continues: it follows it in the conversation and opens with "She", "It was", ...
    or is close to it in meaning."""
    if not note.conversation_id or _WEATHER_RE.match(note.content):
        return []
    notes = store.notes_view()
    same = [n for n in notes.values() if n.conversation_id == note.conversation_id and n.id != note.id
            and n.timestamp <= note.timestamp]
    if not same:
        return []
    before = same[0]
    for n in same:  # the latest; on equal times the later written (the view keeps the order of writing)
        if n.timestamp >= before.timestamp:
            before = n
    if _seconds(before.timestamp, note.timestamp) > CONTINUATION_SECONDS:
        return []
    vecs = np.asarray(store.embedder.embed([note.content, before.content]), dtype=np.float32)
    sim = float(vecs[0] @ vecs[1])
    floor = CONTINUATION_PRONOUN_FLOOR if _ANAPHOR_RE.match(note.content) else CONTINUATION_FLOOR
    if sim < floor:
        return []
    return [(before.id, f"{CONTINUES_PREFIX}“{before.title}”.", "system")]


def _seconds(a: str, b: str) -> float:
    try:
        return abs((datetime.fromisoformat(b) - datetime.fromisoformat(a)).total_seconds())
    except ValueError:
        return float("inf")


def rule_links(note: Note, store: Store) -> list[tuple[str, str, str]]:
    """Every link the rules draw for a new note, one per target (the most telling reason wins: a shared
    name, then a shared word, then "continues")."""
    out: dict[str, tuple[str, str, str]] = {}
    for link in entity_links(note, store):
        out.setdefault(link[0], link)
    for link in [*topic_links(note, store, exclude=set(out)), *continuation_link(note, store)]:
        out.setdefault(link[0], link)
    return list(out.values())
