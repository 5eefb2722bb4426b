"""What consolidation reads: the person's own sentences, what they name, and what Memex recommended.

Why rules and not a model here: on the bundled 135M model a digest or a profile must be built without
free generation (issue 26), so the parts are read exactly: sentences are the person's own words,
names are capitalised words and relations (``retrieval.entities``), and a line's section is decided
by cue words ("I love" -> likes, "next month" -> plans). What the assistant said comes from the
conversation files (``episodes.conversations``): never from a note, since the assistant's words are
never stored as facts about the person.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from ..episodes.conversations import ConversationStore
from ..memory.worth import judge_turn
from ..notes import Note, is_derived
from ..retrieval.entities import mentions, relations

SECTIONS = ("people", "places", "work", "likes", "plans")
SECTION_TITLES = {"people": "People", "places": "Places", "work": "Work", "likes": "Likes and dislikes",
                  "plans": "Plans"}
MAX_SENTENCE = 220
_SENTENCE_RE = re.compile(r"(?<=[.!?])\s+|\n+")
_FIRST_PERSON = re.compile(r"\b(i|i'm|i've|i'd|i'll|my|me|mine|we|we're|our|us)\b", re.IGNORECASE)
CUES: dict[str, re.Pattern[str]] = {
    "work": re.compile(r"\b(job|jobs|work(?:s|ing|ed)?\s+(?:as|at|for|in|on)|my work|office|colleagues?|"
                       r"co-?workers?|boss|manager|career|shifts?|company|employer|promot\w+|salary|interview\w*|"
                       r"clients?|freelanc\w*|profession|retired|hired|quit|i'?m an? \w+ by trade|deadline)\b",
                       re.IGNORECASE),
    "likes": re.compile(r"\b(?:i|we)\s+(?:really\s+|absolutely\s+|do\s+|don't\s+|do not\s+|can't\s+|cannot\s+)?"
                        r"(?:love|loves|like|enjoy|adore|hate|dislike|prefer|stand)\b|\bfavou?rites?\b|"
                        r"\ballergic\b|\bfan of\b|\bcan'?t stand\b|\bpassionate about\b|\bobsessed with\b",
                        re.IGNORECASE),
    "plans": re.compile(r"\b(plan(?:s|ning|ned)?\s+to|planning|going to|gonna|i'll|we'll|i will|we will|"
                        r"next (?:week|month|year|weekend|summer|spring|autumn|fall|winter|time)|tomorrow|"
                        r"hope to|hoping to|want to|intend to|thinking (?:of|about)|booked|signed up|about to|"
                        r"decided to|i've decided|goal)\b", re.IGNORECASE),
}
_PLACE_BEFORE = re.compile(r"\b(?:in|to|from|near|visit(?:ed|ing)?|around|across|trip to|flew to|moved to|"
                           r"hik(?:e|ed|ing)|climb(?:ed|ing)?|ski(?:ed|ing)? in|explor(?:e|ed|ing))\s+"
                           r"(?:the\s+)?([A-Z][\w'-]+(?:\s+[A-Z][\w'-]+)?)")
RECOMMEND = re.compile(r"\b(recommend\w*|suggest\w*|try|trying|you (?:could|might|should|can|may want)|how about|"
                       r"consider|why not|worth|make sure|remember to|i'd)\b", re.IGNORECASE)
DECIDED = re.compile(r"\b(decided|decide|going to|i'll|we'll|i will|we will|agreed|booked|signed up|chose|"
                     r"picked|settled on|plan to|planning to)\b", re.IGNORECASE)


def sentences(text: str) -> list[str]:
    """The text's sentences, whitespace tidied, each cut at MAX_SENTENCE characters."""
    out = []
    for raw in _SENTENCE_RE.split(text or ""):
        s = " ".join(raw.split())
        if len(s) < 3:
            continue
        out.append(s if len(s) <= MAX_SENTENCE else s[:MAX_SENTENCE - 1].rsplit(" ", 1)[0] + "…")
    return out


def told(text: str) -> list[str]:
    """The sentences of a note that tell something: not its questions, requests or greetings.

    Why per sentence: a note may hold a question beside a fact ("What did I tell you about my sister? She
    moved."), or be all question when the person stored it anyway (the chat's "Remember" offer, ``memex
    add``). A digest lists what the person told, and "What did I tell you about my sister?" tells nothing;
    the chat's own rule (``memory.worth``) says which sentences do."""
    return list(_told(text or ""))


@lru_cache(maxsize=8192)
def _told(text: str) -> tuple[str, ...]:  # a rebuild asks for each note's sentences several times
    return tuple(s for s in sentences(text) if judge_turn(s).worth)


def about_person(sentence: str) -> bool:
    """Said by the person about themselves or their own (first person, or a relation such as "my sister")."""
    return bool(_FIRST_PERSON.search(sentence)) or bool(relations(sentence))


def person_notes(notes: Iterable[Note], current_only: bool = True) -> list[Note]:
    """The person's own notes, oldest first: not Memex's digests, not another speaker's turns (imported
    dialogues name their speakers), and (``current_only``) not a belief a correction replaced."""
    out = [n for n in notes if not is_derived(n) and n.speaker in ("", "person")
           and not (current_only and n.superseded_by)]
    return sorted(out, key=lambda n: (n.timestamp, n.id))


def section_of(sentence: str) -> list[str]:
    """The sentence-line sections (work, likes, plans) a sentence belongs to, by its cue words."""
    if not about_person(sentence):
        return []
    return [name for name, rx in CUES.items() if rx.search(sentence)]


def place_names(text: str) -> set[str]:
    """Entity keys the text puts after a place word ("in Lisbon", "moved to Porto"): places, not people."""
    found = mentions(text)
    keys = (m.group(1).split()[0].lower().strip("'-") for m in _PLACE_BEFORE.finditer(text))
    return {k for k in keys if k in found}


def named(text: str) -> set[str]:
    """Entity keys the text names strongly (names inside a sentence, and relations: "my sister")."""
    return {k for k, strong in mentions(text).items() if strong}


@dataclass(frozen=True)
class Said:
    """A sentence the assistant said in a conversation, with when and where."""

    conversation_id: str
    message_id: str
    at: str
    text: str


def recommendations(conversations: ConversationStore, alive: set[str] | None = None) -> list[Said]:
    """What Memex recommended or suggested: the assistant's sentences with a recommending cue, from every
    conversation the person lets Memex remember.

    A reply to a message whose note was deleted is skipped (``alive``: the store's note ids): it may
    repeat what the person asked to forget."""
    out: list[Said] = []
    for summary in conversations.list():
        try:
            conv = conversations.load(summary.id)
        except Exception:  # noqa: BLE001 - a damaged conversation is reported by the chat, not here
            continue
        if not conv.remember:
            continue
        previous: dict[str, Any] = {}
        for message in conv.messages:
            if message.get("role") == "user":
                previous = message
                continue
            memory = previous.get("memory")
            note_id = str(memory.get("note_id", "")) if isinstance(memory, dict) else ""
            if alive is not None and note_id and note_id not in alive:
                continue
            for sentence in sentences(str(message.get("content", ""))):
                if RECOMMEND.search(sentence) and len(sentence.split()) >= 4:
                    out.append(Said(conv.id, str(message.get("id", "")), str(message.get("at", "")), sentence))
    return out


__all__ = ["CUES", "DECIDED", "SECTIONS", "SECTION_TITLES", "Said", "about_person", "named", "person_notes",
           "place_names", "recommendations", "section_of", "sentences", "told"]
