"""Recalling episodes: the turns that match a question, each with its neighbours, date and conversation.

Why apart from note recall: notes are what the person told about themselves (one fact each); an
episode is what was *said*, by either speaker, at a time. "What did you suggest for my sleep?" has
no note to find (the assistant's words are never a note), and a turn alone ("Yes, that one!") means
nothing without the turns around it. So a hit here is the best-matching turn of a segment plus its
neighbours in that segment, ranked as notes are (BM25 and MiniLM, min-max fused), held to the same
absolute relevance floor as notes (``retrieval.floor``), one hit per segment.

A time span read from the question (``span``, ``retrieval.timespan.TimeSpan``) keeps only the turns inside it when any of
them matches at all, and otherwise ranks as without it (the date is quoted with every exchange, so a
reply never passes another day's words off as that day's).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..retrieval.floor import floor_for
from ..retrieval.fusion import fuse
from .index import EpisodeIndex, index_for
from .segments import Turn

if TYPE_CHECKING:
    from ..models.embedder_base import Embedder
    from ..retrieval.timespan import TimeSpan

CANDIDATES = 50  # turns each signal proposes before fusion
WEIGHTS = {"lexical": 1.0, "dense": 1.0}
ROLE_BOOST = 0.15  # "what did you say" prefers Memex's turns, "what did I tell you" the person's
NEIGHBOURS = 1  # turns before and after the best one, from the same segment

_ABOUT_ASSISTANT = re.compile(
    r"\b(you|u)\s+(said|say|told|tell|recommend\w*|suggest\w*|advis\w*|mention\w*|propos\w*|thought|"
    r"answer\w*|repl\w*|gave|give|offer\w*|explain\w*|name\w*|list\w*|pick\w*|call\w*)\b"
    r"|\byour\s+(recommendation|suggestion|advice|tip|idea|answer|reply)s?\b", re.IGNORECASE)
_ABOUT_PERSON = re.compile(
    r"\b(did|have|had)\s+i\s+(say|tell|mention|ask|write|type)\b|\bi\s+(told|asked|mentioned)\s+you\b",
    re.IGNORECASE)
_ABOUT_TALK = re.compile(
    r"\b(we|you and i)\s+(talked|talk|discussed|discuss|spoke|chatted|chat)\b|\blast time\b|"
    r"\bour\s+(conversation|chat|talk)s?\b|\bwhen we (talked|spoke|chatted)\b|\b(did|have) we\b",
    re.IGNORECASE)


def asks_about_assistant(text: str) -> bool:
    """The question is about what Memex said ("what did you recommend ...?")."""
    return bool(_ABOUT_ASSISTANT.search(text))


def asks_what_was_said(text: str) -> bool:
    """The question is about what was said in a conversation, by either side."""
    return asks_about_assistant(text) or bool(_ABOUT_PERSON.search(text) or _ABOUT_TALK.search(text))


@dataclass
class EpisodeHit:
    """The best turn of one segment for a query, with its neighbours (in order) and why it matched."""

    turn: Turn
    turns: list[Turn]
    title: str
    score: float
    strength: float  # the unscaled cosine (the turn, or the turn with the one before it)
    signals: dict[str, float] = field(default_factory=dict)
    matched_terms: list[str] = field(default_factory=list)
    in_span: bool | None = None  # None: no span was read from the question
    rank: int = 0

    @property
    def conversation_id(self) -> str:
        return self.turn.conversation_id

    @property
    def day(self) -> str:
        return self.turn.day

    def trace_dict(self) -> dict[str, Any]:
        return {"kind": "episode", "conversation_id": self.conversation_id, "message_id": self.turn.message_id,
                "message_ids": [t.message_id for t in self.turns], "title": self.title,
                "timestamp": self.turn.at, "rank": self.rank, "score": round(self.score, 4),
                "strength": round(self.strength, 4), "signals": {k: round(v, 4) for k, v in self.signals.items()},
                "matched_terms": self.matched_terms, "in_span": self.in_span}


def _dense(index: EpisodeIndex, query_vec: np.ndarray) -> dict[str, float]:
    keys, own, ctx = index.matrix()
    if not keys:
        return {}
    sims = np.maximum(own @ query_vec, ctx @ query_vec)
    return {k: float(s) for k, s in zip(keys, sims.tolist())}


def search_episodes(home: str | Path, embedder: Embedder, query: str, k: int = 3, *,
                    span: TimeSpan | None = None, exclude_conversation: str = "",
                    is_gone: Callable[[str], bool] | None = None, floor: float | None = None,
                    query_vec: np.ndarray | None = None) -> list[EpisodeHit]:
    """The top ``k`` episode hits for ``query`` above the relevance floor, one per segment, best first.

    ``exclude_conversation``: the conversation being had (its turns are in the prompt's history).
    ``is_gone(note_id)``: True for a note deleted since (a process that did not flag the message yet):
    the person's message that made it, and any reply that was given it, are never recalled nor quoted.
    """
    if k <= 0 or not query.strip():
        return []
    index = index_for(home, embedder)
    if not len(index):
        return []
    if query_vec is None:
        query_vec = np.asarray(embedder.embed([query])[0], dtype=np.float32)
    floor = floor_for(embedder) if floor is None else floor
    with index.lock:
        return _rank(index, query, query_vec, k, span, exclude_conversation, is_gone, floor)


def _rank(index: EpisodeIndex, query: str, query_vec: np.ndarray, k: int, span: TimeSpan | None,
          exclude: str, is_gone: Callable[[str], bool] | None, floor: float) -> list[EpisodeHit]:
    def usable(t: Turn) -> bool:
        if t.conversation_id == exclude:
            return False
        return is_gone is None or not any(is_gone(n) for n in (t.note_id, *t.sources) if n)

    found = index.lexical.search(query, CANDIDATES * 4)
    lexical = {key: s for key, s, _ in found}
    terms = {key: m for key, _, m in found}
    dense_all = _dense(index, query_vec)
    pool = [key for key in dense_all if usable(index.turns[key])]
    if span is not None:
        inside = [key for key in pool if span.contains(index.turns[key].at)]
        if any(dense_all[key] >= floor for key in inside):
            pool = inside
    allowed = set(pool)
    top_dense = sorted(pool, key=lambda key: -dense_all[key])[:CANDIDATES]
    top_lex = [key for key in sorted(lexical, key=lambda key: -lexical[key]) if key in allowed][:CANDIDATES]
    signals = {"lexical": {key: lexical[key] for key in top_lex},
               "dense": {key: dense_all[key] for key in dict.fromkeys(top_dense + top_lex)}}
    scores, scaled = fuse(signals, WEIGHTS)
    prefer = "assistant" if asks_about_assistant(query) else ("user" if _ABOUT_PERSON.search(query) else "")
    for key in scores:
        if prefer and index.turns[key].role == prefer:
            scores[key] += ROLE_BOOST
    hits: list[EpisodeHit] = []
    seen_segments: set[tuple[str, int]] = set()
    for key in sorted(scores, key=lambda key: -scores[key]):
        turn = index.turns[key]
        where = (turn.conversation_id, turn.segment)
        if where in seen_segments or dense_all[key] < floor:
            continue
        seen_segments.add(where)
        segment = index.segment(turn)
        lo, hi = max(0, turn.position - NEIGHBOURS), turn.position + NEIGHBOURS + 1
        around = [t for t in segment.turns[lo:hi] if t is turn or usable(t)]
        hits.append(EpisodeHit(turn, around, segment.title, scores[key], dense_all[key], scaled[key],
                               terms.get(key, []), None if span is None else span.contains(turn.at),
                               rank=len(hits) + 1))
        if len(hits) >= k:
            break
    return hits
