"""The steps of recall after the four-signal fusion, each an option of the contextual retriever.

* ``names`` - query-side names: a name that most notes carry (a speaker's: every LoCoMo turn opens
  with "Caroline:") says little about which note is meant, so it is taken out of the text the query
  vector is made from; a rarer name the question holds (a friend, a pet, a place) is what it is
  about (the hop below leaves it out of its names).
* ``speaker`` - the other half of a speaker's name in a question: "What did Caroline misplace?" asks
  about Caroline's own words, so among the fused candidates the notes she said gain
  (``SPEAKER_WEIGHT``). Soft, not a filter: the answer may sit in what the other one said to her.
  It changes nothing when the question names no speaker, or every candidate is the speaker's.
* ``late`` - MaxSim late interaction over MiniLM token vectors (late.py) reranks the top fused
  candidates (``LATE_WEIGHT``).
* ``hop`` - a second step for questions whose answer sits in a note that shares no word with the
  question ("where does the friend who gave her the painting live?"): the names in the first hits
  (not in the question, and not in most notes) bring in the notes that share them, scored by the
  seed's score and the name's rarity (``HOP_WEIGHT``). Cheaper than a PageRank walk: one look-up
  per name.
* ``ppr`` - the PageRank walk (graph.py), kept for comparison.

Each step blends its 0..1 signal into the score as ``(score + w * signal) / (1 + w)``, so scores stay
in 0..1 and a step that finds nothing leaves the order as it was.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..notes import Note
from .entities import mentions
from .graph import MAX_ENTITY_SHARE
from .late import LATE_POOL, late_signal, late_text, token_vectors
from .signals import context_text

if TYPE_CHECKING:
    from ..store import Store
    from .signals import ContextIndex

OPTIONS = ("ppr", "late", "hop", "names", "speaker")
DEFAULT_OPTIONS = frozenset({"names", "speaker", "late", "hop"})  # the ``recall`` retriever's
LATE_WEIGHT = 1.0
SPEAKER_WEIGHT = 1.0  # 0.3: +0.054 turn any@10; 1.0: +0.093; 2.0: no more (docs/benchmarks.md)
HOP_WEIGHT = 0.6
HOP_SEEDS = 3
HOP_MAX_NOTES = 50  # a name in more notes than this is too common to say which note is meant
HOP_KEEP = 20  # notes the hop adds or lifts, at most
STRIP_SPEAKERS = 1  # 0: keep speaker names in the query vector (for the ablation)
LATE_TEXT = 0  # 1: token vectors of note+context; 0: of the note alone


@dataclass
class QueryParts:
    """The query as each signal reads it."""

    text: str
    vector: np.ndarray
    tokens: np.ndarray | None = None
    speakers: set[str] = field(default_factory=set)  # names most notes carry
    entities: set[str] = field(default_factory=set)  # the rarer names the question is about

    @property
    def lexical_text(self) -> str:
        """What the word search reads: the whole question, speaker names kept (only the vector drops them)."""
        return self.text


@dataclass
class Extra:
    raw: dict[str, dict[str, float]] = field(default_factory=dict)
    via: dict[str, str] = field(default_factory=dict)


def _without(text: str, names: set[str]) -> str:
    for name in names:
        text = re.sub(rf"\b{re.escape(name)}(?:'s|s')?\b", " ", text, flags=re.IGNORECASE)
    return " ".join(text.split()) or text


def query_parts(store: Store, index: ContextIndex, query: str, options: frozenset[str]) -> QueryParts:
    """The query's vector (and token vectors for ``late``), its speaker names and its entities."""
    speakers: set[str] = set()
    entities: set[str] = set()
    if options & {"names", "hop", "speaker"}:
        df, total = index.entity_df(), max(1, len(index.entities()))
        cap = max(3, int(MAX_ENTITY_SHARE * total))
        spoken = index.speakers()
        for key in mentions(query):
            if df.get(key, 0) > cap or key in spoken:
                speakers.add(key)
            elif df.get(key, 0):
                entities.add(key)
    vec_text = _without(query, speakers) if "names" in options and speakers and STRIP_SPEAKERS else query
    tokens = None
    made = token_vectors(store.embedder, [vec_text]) if "late" in options else None
    if made is not None:
        vector, tokens = made[0][0], made[1][0]
    else:
        vector = store.embedder.embed([vec_text])[0]
    return QueryParts(query, vector, tokens, speakers, entities)


def _blend(scores: dict[str, float], signal: dict[str, float], weight: float) -> None:
    for nid in set(scores) | set(signal):
        scores[nid] = (scores.get(nid, 0.0) + weight * signal.get(nid, 0.0)) / (1 + weight)


def _scaled(values: dict[str, float]) -> dict[str, float]:
    if not values:
        return {}
    lo, hi = min(values.values()), max(values.values())
    if hi - lo < 1e-12:
        return dict.fromkeys(values, 1.0 if hi > 0 else 0.0)
    return {i: (v - lo) / (hi - lo) for i, v in values.items()}


def refine(store: Store, notes: dict[str, Note], index: ContextIndex, q: QueryParts, scores: dict[str, float],
           scaled: dict[str, dict[str, float]], options: frozenset[str]) -> Extra:
    """Apply the chosen steps to ``scores`` (and record their signals in ``scaled``), in place."""
    extra = Extra()

    def record(name: str, raw: dict[str, float], signal: dict[str, float]) -> None:
        extra.raw[name] = raw
        for nid, value in signal.items():
            scaled.setdefault(nid, {})[name] = value

    if "speaker" in options and q.speakers:
        said = {nid: 1.0 for nid in scores if index.speaker(nid) in q.speakers}
        if said and len(said) < len(scores):
            _blend(scores, said, SPEAKER_WEIGHT)
            record("speaker", said, said)
    if "late" in options and q.tokens is not None:
        pool = [nid for nid, _ in sorted(scores.items(), key=lambda kv: -kv[1])[:LATE_POOL] if nid in notes]
        raw = late_signal(store, notes, q.tokens, pool, context_text if LATE_TEXT else late_text)
        signal = _scaled(raw)
        _blend(scores, signal, LATE_WEIGHT)
        record("late", raw, signal)
    if "hop" in options:
        hop, via = entity_hop(index, scores, q, len(notes))
        signal = _scaled(hop) if hop else {}
        before = dict(scores)
        _blend(scores, signal, HOP_WEIGHT)
        _below_seeds(scores, before, via)
        record("hop", hop, signal)
        extra.via.update(via)
    return extra


def _below_seeds(scores: dict[str, float], before: dict[str, float], via: dict[str, str]) -> None:
    """Keep a note the hop lifted below the seed that brought it in, unless it ranked above it already.

    The hop's signal is scaled 0..1 over the notes it reached, so a lone hopped note gets the full
    weight while its seed gets none: a note sharing only "Tom" with the one hit that names "Pergamon"
    came out first for "Pergamon". A second step may bring in what the first missed; it may not put
    it ahead of the note that led there.
    """
    for nid, seed in sorted(via.items(), key=lambda kv: -before.get(kv[1], 0.0)):  # the best seed settles first
        if before.get(nid, 0.0) < before.get(seed, 0.0) and scores[nid] >= scores[seed]:
            scores[nid] = math.nextafter(scores[seed], -math.inf)


def entity_hop(index: ContextIndex, scores: dict[str, float], q: QueryParts, total: int
               ) -> tuple[dict[str, float], dict[str, str]]:
    """Notes that share a specific name with the top hits: (score per note, the seed it came from)."""
    df, by_entity, ents = index.entity_df(), index.by_entity(), index.entities()
    cap = max(3, int(MAX_ENTITY_SHARE * max(1, total)))
    seeds = sorted(scores.items(), key=lambda kv: -kv[1])[:HOP_SEEDS]
    known = q.entities | q.speakers | index.speakers()
    hop: dict[str, float] = {}
    via: dict[str, str] = {}
    for seed, seed_score in seeds:
        for key in ents.get(seed, set()) - known:
            n = df.get(key, 0)
            if n < 2 or n > min(cap, HOP_MAX_NOTES):
                continue
            weight = seed_score / math.log(1 + n)
            for other in by_entity.get(key, ()):
                if other != seed and weight > hop.get(other, 0.0):
                    hop[other], via[other] = weight, seed
    if len(hop) > HOP_KEEP:  # the best by hop score, then by their own score: a query costs what it keeps
        kept = sorted(hop, key=lambda i: (-hop[i], -scores.get(i, 0.0), i))[:HOP_KEEP]
        hop = {i: hop[i] for i in kept}
        via = {i: via[i] for i in kept}
    return hop, via


def describe(options: Any) -> str:
    return "+".join(sorted(options))
