"""Recalled exchanges in a chat turn: what was said earlier, quoted with its date, for questions about it.

Why apart from ``prompt.py``: notes are the person's facts; an exchange is what both speakers said on
a day, and it is quoted differently (who said what), chosen by a different rule (the question asks
about a conversation, or the exchange matches better than any note) and saved apart from notes with
the reply, so the page shows it under "From your memory" as a conversation, not as a fact.

The prompt form was chosen on real SmolLM2-135M replies (``python -m memory_core.bench.episode_forms``, see
``EXCHANGE_FORM``): the forms quote the same exchanges and differ in how. The chosen one names Memex in
the third person: ``On 2023-05-03 I asked: "..."`` / ``Memex answered: "..."`` and the question
"What did you suggest?" asked as "What did Memex suggest?" (in the prompt only).
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ..episodes.recall import asks_what_was_said
from .fallback import is_acknowledgement

if TYPE_CHECKING:
    from ..episodes.recall import EpisodeHit
    from ..models.embedder_base import Embedder
    from ..retrieval.timespan import TimeSpan
    from ..store import Store

Message = dict[str, str]


class NoteLike(Protocol):
    """What the choice of exchanges reads of a recalled note (``prompt.Recalled``; not imported: prompt
    imports this module)."""

    id: str
    timestamp: str
    strength: float


MAX_EXCHANGES = 2  # exchanges given to the model at most
EXCHANGE_KEEP_RATIO = 0.75  # a second exchange is given only when it scores this share of the first
TURN_CHARS = 400  # one quoted turn is cut to this
BEAT_MARGIN = 0.1  # an exchange is given instead of notes when its cosine beats the best note's by this
EXCHANGE_SYSTEM = "Answer the user's question from the earlier conversation quoted."
ANSWER_LINE = "Answer in one short sentence."
SPEAKER = {"user": "Me", "assistant": "You"}  # as the person would say it, in their own turn


@dataclass
class RecalledExchange:
    """A recalled episode as the chat keeps it: the turns quoted, where they live, and why recalled."""

    conversation_id: str
    message_id: str  # the best-matching turn
    title: str
    timestamp: str
    score: float
    strength: float
    turns: list[dict[str, str]] = field(default_factory=list)  # {message_id, role, text, at}
    signals: dict[str, float] = field(default_factory=dict)
    matched_terms: list[str] = field(default_factory=list)
    in_span: bool | None = None
    rank: int = 0
    in_prompt: bool = False
    note_id: str = ""  # the note the best turn made, when it is the person's message that made one

    @classmethod
    def from_hit(cls, hit: EpisodeHit) -> RecalledExchange:
        return cls(conversation_id=hit.conversation_id, message_id=hit.turn.message_id, title=hit.title,
                   timestamp=hit.turn.at, score=float(hit.score), strength=float(hit.strength),
                   turns=[{"message_id": t.message_id, "role": t.role, "text": t.text, "at": t.at}
                          for t in hit.turns],
                   signals=dict(hit.signals), matched_terms=list(hit.matched_terms), in_span=hit.in_span,
                   rank=hit.rank, note_id=hit.turn.note_id)

    @property
    def day(self) -> str:
        return self.timestamp[:10]

    def shown_text(self) -> str:
        """The exchange as the page shows it under the reply (the person is "You" there, Memex "Memex")."""
        who = {"user": "You", "assistant": "Memex"}
        return "\n".join(f"{who.get(t['role'], t['role'])}: {_cut(t['text'])}" for t in self.turns)

    def brief(self) -> dict[str, Any]:
        """What is saved with the reply (``episodes``): enough to show it, find it again and trace it."""
        return {"kind": "episode", "conversation_id": self.conversation_id, "message_id": self.message_id,
                "message_ids": [t["message_id"] for t in self.turns], "title": self.title,
                "timestamp": self.timestamp, "rank": self.rank, "score": round(self.score, 4),
                "strength": round(self.strength, 4), "signals": {k: round(v, 4) for k, v in self.signals.items()},
                "matched_terms": self.matched_terms, "in_span": self.in_span, "in_prompt": self.in_prompt,
                "text": self.shown_text()}


EXCHANGE_FALLBACK_LEAD = "I could not answer that well from our earlier conversation, so here it is as it was said:"


def exchange_fallback_text(ex: RecalledExchange) -> str:
    """The reply saved instead of a model answer that used nothing of the exchange it was given."""
    when = f" on {ex.day}" if ex.day else ""
    return f"{EXCHANGE_FALLBACK_LEAD}\n\nFrom our conversation{when}:\n\n" + "  \n".join(ex.shown_text().splitlines())


def _cut(text: str, limit: int = TURN_CHARS) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[:limit - 1].rstrip() + "…"


# -- the prompt forms compared on the bundled model ------------------------------------------------------
def transcript_lines(ex: RecalledExchange) -> list[str]:
    """``Our conversation on 2023-05-03:`` then ``Me: ...`` / ``You: ...`` lines."""
    head = f"Our conversation on {ex.day}:" if ex.day else "An earlier conversation:"
    return [head, *(f"{SPEAKER.get(t['role'], t['role'])}: {_cut(t['text'])}" for t in ex.turns)]


def quoted_lines(ex: RecalledExchange) -> list[str]:
    """One sentence per turn: ``On 2023-05-03 I said: "..."`` / ``You answered: "..."``."""
    out = []
    for i, t in enumerate(ex.turns):
        if t["role"] == "user":
            out.append((f"On {ex.day} I said" if i == 0 and ex.day else "I said") + f': "{_cut(t["text"])}"')
        else:
            out.append((f"On {ex.day} you said" if i == 0 and ex.day else "You answered") + f': "{_cut(t["text"])}"')
    return out


def told_lines(ex: RecalledExchange) -> list[str]:
    """Only what Memex said, as the person would report it: ``On 2023-05-03 you told me: "..."``; the
    person's own turns are left out (a small model answered them back instead of the reply)."""
    said = [t for t in ex.turns if t["role"] == "assistant"] or ex.turns
    lead = f"On {ex.day} you told me" if ex.day else "Earlier you told me"
    return [f'{lead}: "{_cut(" ".join(t["text"] for t in said))}"']


def _asked_then_answered(ex: RecalledExchange, asked: str, said: str, answered: str) -> list[str]:
    """The person's first turn as the lead (``On 2023-05-03 {asked}: "..."``), then each reply (``{answered}:
    "..."``, or ``On 2023-05-03 {said}`` when no turn of the person's came first)."""
    out: list[str] = []
    for t in ex.turns:
        if t["role"] == "user" and not out:
            out.append((f"On {ex.day} {asked}" if ex.day else asked) + f': "{_cut(t["text"])}"')
        elif t["role"] == "assistant":
            out.append((f"On {ex.day} {said}" if ex.day and not out else answered) + f': "{_cut(t["text"])}"')
    return out


def asked_lines(ex: RecalledExchange) -> list[str]:
    """``On 2023-05-03 I asked you: "..."`` then ``You answered: "..."`` (the person's turn as the lead)."""
    return _asked_then_answered(ex, "I asked you", "you told me", "You answered")


_YOU = re.compile(r"\b(you|your|yours)\b", re.IGNORECASE)


def third_person(question: str) -> str:
    """The question with Memex named instead of "you" ("What did you suggest?" -> "What did Memex
    suggest?"): for the prompt only, so the model does not read the question as about itself now."""
    return _YOU.sub(lambda m: "Memex's" if m.group(1).lower().startswith("your") else "Memex", question)


def memex_lines(ex: RecalledExchange) -> list[str]:
    """``On 2023-05-03 I asked: "..."`` then ``Memex answered: "..."``, Memex named in the third person."""
    return _asked_then_answered(ex, "I asked", "Memex said", "Memex answered")


def exchange_messages(form: str, question: str, exchanges: list[RecalledExchange], system: str = EXCHANGE_SYSTEM
                      ) -> list[Message]:
    """The messages of one form: ``transcript`` or ``quoted`` (one user turn, the question last), or
    ``replay`` (the exchanges as earlier chat turns, dated in the system text, then the question)."""
    if form == "replay":
        days = ", ".join(dict.fromkeys(ex.day for ex in exchanges if ex.day))
        msgs: list[Message] = [{"role": "system", "content": f"{system} It took place on {days}." if days else system}]
        for ex in exchanges:
            for t in ex.turns:
                role = "user" if t["role"] == "user" else "assistant"
                if msgs[-1]["role"] == role:
                    msgs[-1] = {"role": role, "content": msgs[-1]["content"] + "\n" + _cut(t["text"])}
                else:
                    msgs.append({"role": role, "content": _cut(t["text"])})
        if msgs[-1]["role"] == "user":
            msgs.append({"role": "assistant", "content": "OK."})
        return [*msgs, {"role": "user", "content": f"{question}\n{ANSWER_LINE}"}]
    render = {"quoted": quoted_lines, "told": told_lines, "asked": asked_lines, "memex": memex_lines}.get(
        form, transcript_lines)
    lines = [line for ex in exchanges for line in [*render(ex), ""]]
    if form == "memex":
        question = third_person(question)
    return [{"role": "system", "content": system},
            {"role": "user", "content": "\n".join([*lines, f"Question: {question}", ANSWER_LINE])}]


FORMS = ("transcript", "quoted", "replay", "told", "asked", "memex")
# Measured on the 18 questions of ``bench/data/episode_forms.json`` (SmolLM2-135M, greedy, the same
# exchanges given; evidence given 18/18): memex 15/18, quoted 9/18, transcript 8/18, told 7/18,
# asked 6/18, replay 5/18. Asked "what did *you* suggest?", the small model answered about itself now
# ("I'm sorry for your loss, but as an AI I cannot recommend ..."); with Memex named in the third
# person, in the quote and in the question, it copied the recommendation.
EXCHANGE_FORM = "memex"


# -- which exchanges are given ---------------------------------------------------------------------------
def offered_exchanges(question: str, exchanges: list[RecalledExchange], notes: Sequence[NoteLike],
                      span: TimeSpan | None = None, max_exchanges: int = MAX_EXCHANGES,
                      keep_ratio: float = EXCHANGE_KEEP_RATIO) -> list[int]:
    """Indexes of the exchanges to give the model (best first), or none: then the notes are given.

    Exchanges are given when the question asks about a conversation ("what did you suggest ...",
    "what did we talk about ..."), when no note was recalled, when the question names a time
    (``span``) and the best exchange is from it while no recalled note is, or when the best exchange
    matches clearly better than the best note (``BEAT_MARGIN`` in cosine). After the first,
    only those scoring ``keep_ratio`` of it (a small model answers from the wrong one of several).
    An exchange found by the very message that made a recalled note does not count as beating it (it
    is the same words, with a neighbour's words around them).
    """
    if not exchanges or max_exchanges <= 0:
        return []
    best_note = max((n.strength for n in notes), default=0.0)
    recalled_notes = {n.id for n in notes}
    beats = any(ex.strength >= best_note + BEAT_MARGIN and ex.note_id not in recalled_notes for ex in exchanges[:1])
    # A time named in the question: an exchange from that time beats notes from none of it.
    in_time = span is not None and bool(exchanges[0].in_span) and not any(span.contains(n.timestamp) for n in notes)
    if not (asks_what_was_said(question) or in_time or not notes or beats):
        return []
    top = exchanges[0].score
    return [i for i, ex in enumerate(exchanges)
            if i < max_exchanges and (i == 0 or ex.score >= keep_ratio * top)]


# -- recall ----------------------------------------------------------------------------------------------
def recall_exchanges(home: str | Path, store: Store, text: str, k: int = MAX_EXCHANGES + 1, *,
                     conversation_id: str = "", span: TimeSpan | None = None, floor: float | None = None
                     ) -> list[RecalledExchange]:
    """The earlier exchanges (episodes) for ``text`` above the relevance floor, best first; none for an
    acknowledgement. The conversation being had is left out (its turns are the prompt's history), and
    so is any person's message whose note was deleted since, and any reply that was given such a note
    (``is_gone``), even in a process that has not flagged the message yet: nothing deleted lingers."""
    from ..episodes.recall import search_episodes

    if k <= 0 or not text.strip() or is_acknowledgement(text):
        return []
    hits = search_episodes(home, store.embedder, text, k, span=span, exclude_conversation=conversation_id,
                           is_gone=lambda nid: nid not in store, floor=floor)
    return [RecalledExchange.from_hit(h) for h in hits]


def warm(home: str | Path, embedder: Embedder) -> threading.Thread:
    """Bring the episode index up to date in a background thread (embedding a long imported history takes
    seconds; the first question should not wait for it). Reads only; a failure is left to recall."""
    from ..episodes.index import index_for

    def run() -> None:
        with contextlib.suppress(Exception):
            index_for(home, embedder)

    thread = threading.Thread(target=run, name="memex-episodes-warm", daemon=True)
    thread.start()
    return thread
