"""The retrievers, side by side so the benchmark can compare them; ``search`` is the way in.

``recall`` (the default: what the chat uses) is ``contextual`` plus the steps of recall.py.

``dense`` (MiniLM), ``bm25`` (lexical), ``hybrid`` (weighted blend of the two, each scaled 0..1),
``hybrid+links`` (A-MEM's link expansion), ``contextual`` (min-max fusion of four signals: lexical
and dense on the note, and on the note with its conversational context) and ``contextual+ppr``
(plus personalized PageRank over notes and the entities they name, seeded from the fused top hits).
Every retriever ends in ``finalize``: superseded notes rank below their replacement. Given a time
span read from the message (``timespan.read_span``), the notes inside it come first (``spanrank``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..notes import Note, is_derived
from .fusion import fuse
from .graph import PPR_SEEDS, expand_links, personalized_pagerank
from .hit import Hit, finalize, rank_key
from .recall import DEFAULT_OPTIONS, OPTIONS, query_parts, refine
from .signals import context_index, dense_signal, lexical_signal, speaker_of
from .spanrank import apply_span

if TYPE_CHECKING:
    from ..config import Settings
    from ..store import Store
    from .timespan import TimeSpan

RETRIEVERS = ("recall", "contextual+ppr", "contextual", "hybrid+links", "hybrid", "bm25", "dense")
DEFAULT_RETRIEVER = "recall"
FUSION_WEIGHTS = {"lexical": 1.0, "dense": 1.0, "context_lexical": 1.0, "context_dense": 1.0}
DERIVED_MARGIN = 20  # extra candidates asked for when digests and profile lines exist
GRAPH_WEIGHT = 0.5  # the PPR signal's weight next to the four fused signals (which sum to 1)


class Retriever:
    name = "base"

    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings
        self._last_vec: tuple[str, Any] | None = None

    def search(self, query: str, k: int = 5, span: TimeSpan | None = None) -> list[Hit]:
        if k <= 0:
            return []
        notes = self.store.notes_view()
        hits = self._candidates(query, k, notes, span)
        return finalize(hits, notes, k)

    def pool(self, query: str, k: int = 5, span: TimeSpan | None = None) -> list[Hit]:
        """Every candidate the search at ``k`` scored, best first; the first k are ``search``'s result.

        Why: ``explain`` ranks a note that missed the cut against the hits it missed, and a score is
        only comparable with another from the same run (each signal is scaled over that run's
        candidates)."""
        if k <= 0:
            return []
        notes = self.store.notes_view()
        hits = self._candidates(query, k, notes, span)
        return finalize(hits, notes, len(hits) + len(notes))

    def _candidates(self, query: str, k: int, notes: dict[str, Note], span: TimeSpan | None) -> list[Hit]:
        """The scored candidates, before ``finalize``: the span's notes put first when a span was read.

        Digests and profile lines are Memex's summaries of notes, not what the person said: recall
        leaves them out, so they never stand in front of the person's own notes (a few more candidates
        are asked for, to keep k once they are dropped)."""
        derived = sum(1 for n in notes.values() if is_derived(n))
        hits = self._search(query, max(k, 1) + min(derived, DERIVED_MARGIN), notes)
        if span is not None and notes:
            hits = apply_span(hits, notes, span, self.store, self._query_vec(query))
        return [h for h in hits if not is_derived(h.note)] if derived else hits

    def _search(self, query: str, k: int, notes: dict[str, Note]) -> list[Hit]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _query_vec(self, query: str) -> Any:
        """The query's vector (kept for the last query: the span step needs it after the signals)."""
        if self._last_vec is None or self._last_vec[0] != query:
            self._last_vec = (query, self.store.embedder.embed([query])[0])
        return self._last_vec[1]


def _lex_reason(terms: list[str], raw: float, label: str = "lexical") -> str:
    return f"{label}: matched {', '.join(terms)} (bm25 {raw:.1f})"


class DenseRetriever(Retriever):
    name = "dense"

    def _search(self, query: str, k: int, notes: dict[str, Note]) -> list[Hit]:
        found = dense_signal(self.store, self._query_vec(query), k) if len(notes) else {}
        return [Hit(notes[i], s, [f"dense: similarity {s:.2f}"], dense=s, signals={"dense": max(0.0, s)})
                for i, s in found.items() if i in notes]


class BM25Retriever(Retriever):
    name = "bm25"

    def _search(self, query: str, k: int, notes: dict[str, Note]) -> list[Hit]:
        hits = lexical_signal(self.store, query, k)
        top = max((s for s, _ in hits.values()), default=1.0) or 1.0
        return [Hit(notes[i], s, [_lex_reason(t, s)], lexical=s / top, matched_terms=t,
                    signals={"lexical": s / top}) for i, (s, t) in hits.items() if i in notes]


class HybridRetriever(Retriever):
    """Weighted sum of scaled BM25 and cosine similarity over the union of both candidate lists."""

    name = "hybrid"
    expand = False

    def _search(self, query: str, k: int, notes: dict[str, Note]) -> list[Hit]:
        pool = max(4 * k, 20)
        dense = dense_signal(self.store, self._query_vec(query), pool) if len(notes) else {}
        lexical = lexical_signal(self.store, query, pool)
        top_lex = max((s for s, _ in lexical.values()), default=0.0) or 1.0
        wl, wd = self.settings.lexical_weight, self.settings.dense_weight
        hits: dict[str, Hit] = {}
        for nid in set(dense) | set(lexical):
            if nid not in notes:
                continue
            lex_raw, terms = lexical.get(nid, (0.0, []))
            lex, den = lex_raw / top_lex, max(0.0, dense.get(nid, 0.0))
            reasons = ([_lex_reason(terms, lex_raw)] if terms else []) + \
                ([f"dense: similarity {dense[nid]:.2f}"] if nid in dense else [])
            hits[nid] = Hit(notes[nid], wl * lex + wd * den, reasons, lex, den, "", terms,
                            signals={"lexical": lex, "dense": den})
        ranked = sorted(hits.values(), key=rank_key)
        if not self.expand:
            return ranked
        graph = self.store.graph_snapshot()

        def make(other: str, score: float, direct: Hit | None, parent: Hit) -> Hit:
            base = direct or Hit(notes[other], 0.0)
            return Hit(base.note, score, [*base.reasons, f"linked from '{parent.note.title}'"], base.lexical,
                       base.dense, parent.note.id, base.matched_terms,
                       signals={**base.signals, "graph": self.settings.link_weight})

        return expand_links(ranked[:k], hits, notes, graph, self.settings.link_weight, make)


class HybridLinksRetriever(HybridRetriever):
    name = "hybrid+links"
    expand = True


class ContextualRetriever(Retriever):
    """Min-max fusion of four signals over the union of their candidate lists; options (``+late``,
    ``+hop``, ``+names``, ``+ppr``) add the steps of recall.py on top."""

    name = "contextual"
    ppr = False

    def __init__(self, store: Store, settings: Settings, options: frozenset[str] = frozenset()) -> None:
        super().__init__(store, settings)
        self.options = options | ({"ppr"} if self.ppr else set())

    def _search(self, query: str, k: int, notes: dict[str, Note]) -> list[Hit]:
        if not notes:
            return []
        pool = max(4 * k, 20)
        index = context_index(self.store, notes)
        q = query_parts(self.store, index, query, self.options)
        self._last_vec = (query, q.vector)  # the span step reads it: no second model pass
        lexical = lexical_signal(self.store, q.lexical_text, pool)
        ctx_lexical = index.lexical(q.lexical_text, pool)
        dense = dense_signal(self.store, q.vector, pool)
        ctx_dense = index.dense(q.vector, pool)
        for nid, sim in dense.items():  # a note without context: note+context is the note
            if nid in notes and not notes[nid].turn_context:
                ctx_dense.setdefault(nid, sim)
        signals = {"lexical": {i: s for i, (s, _) in lexical.items()},
                   "dense": dense,
                   "context_lexical": {i: s for i, (s, _) in ctx_lexical.items()},
                   "context_dense": ctx_dense}
        scores, scaled = fuse(signals, FUSION_WEIGHTS)
        via: dict[str, str] = {}
        if "ppr" in self.options:
            self._add_ppr(scores, scaled, signals, index, notes, via)
        raw = {name: dict(values) for name, values in signals.items()}
        extra = refine(self.store, notes, index, q, scores, scaled, self.options)
        raw.update(extra.raw)
        via.update(extra.via)
        return self._hits(notes, scores, scaled, raw, lexical, ctx_lexical, dense, via)

    def _add_ppr(self, scores: dict[str, float], scaled: dict[str, dict[str, float]],
                 signals: dict[str, dict[str, float]], index: Any, notes: dict[str, Note],
                 via: dict[str, str]) -> None:
        seeds = dict(sorted(scores.items(), key=lambda kv: -kv[1])[:PPR_SEEDS])
        ppr, found = personalized_pagerank(seeds, index.entities(), self.store.graph_snapshot(), notes)
        via.update(found)
        if ppr:
            extra, _ = fuse({"graph": ppr}, {"graph": 1.0})
            for nid in set(scores) | set(extra):
                g = extra.get(nid, 0.0)
                scores[nid] = (scores.get(nid, 0.0) + GRAPH_WEIGHT * g) / (1 + GRAPH_WEIGHT)
                scaled.setdefault(nid, {name: 0.0 for name in signals})["graph"] = g

    def _hits(self, notes: dict[str, Note], scores: dict[str, float], scaled: dict[str, dict[str, float]],
              raw_all: dict[str, dict[str, float]], lexical: Any, ctx_lexical: Any, dense: dict[str, float],
              via: dict[str, str]) -> list[Hit]:
        hits: list[Hit] = []
        for nid, score in scores.items():
            if nid not in notes:
                continue
            sig = scaled.get(nid, {})
            terms = list(dict.fromkeys(lexical.get(nid, (0.0, []))[1] + ctx_lexical.get(nid, (0.0, []))[1]))
            reasons = []
            if nid in lexical:
                reasons.append(_lex_reason(lexical[nid][1], lexical[nid][0]))
            if nid in ctx_lexical and nid not in lexical:
                reasons.append(_lex_reason(ctx_lexical[nid][1], ctx_lexical[nid][0], "context"))
            if nid in dense:
                reasons.append(f"dense: similarity {dense[nid]:.2f}")
            if sig.get("speaker", 0.0) > 0:
                reasons.append(f"speaker: said by {speaker_of(notes[nid]).title()}, whom the question names")
            if sig.get("late", 0.0) > 0:
                reasons.append(f"late: token match {raw_all['late'][nid]:.2f}")
            if sig.get("hop", 0.0) > 0 and nid in via and via[nid] in notes:
                reasons.append(f"hop: shares a name with '{notes[via[nid]].title}'")
            if sig.get("graph", 0.0) > 0 and nid in via:
                reasons.append(f"graph: shares a name with '{notes[via[nid]].title}'" if via[nid] in notes
                               else "graph")
            from_graph = nid in via and not (nid in lexical or nid in dense or nid in ctx_lexical)
            raw = {name: float(values[nid]) for name, values in raw_all.items() if nid in values}
            hits.append(Hit(notes[nid], score, reasons, sig.get("lexical", 0.0), max(0.0, dense.get(nid, 0.0)),
                            via.get(nid, "") if from_graph else "", terms, signals=sig, raw=raw))
        return hits


class ContextualPPRRetriever(ContextualRetriever):
    name = "contextual+ppr"
    ppr = True


class RecallRetriever(ContextualRetriever):
    """The chat's retriever: contextual fusion, speaker names out of the query vector, MaxSim rerank
    and the entity hop (recall.py; each measurably helped on the tuning sets, docs/benchmarks.md)."""

    name = "recall"

    def __init__(self, store: Store, settings: Settings, options: frozenset[str] = frozenset()) -> None:
        super().__init__(store, settings, options | DEFAULT_OPTIONS)


_CLASSES: dict[str, type[Retriever]] = {
    "dense": DenseRetriever,
    "bm25": BM25Retriever,
    "hybrid": HybridRetriever,
    "hybrid+links": HybridLinksRetriever,
    "contextual": ContextualRetriever,
    "contextual+ppr": ContextualPPRRetriever,
    "recall": RecallRetriever,
}


def make_retriever(store: Store, settings: Settings, name: str | None = None) -> Retriever:
    """The retriever called ``name`` (default: the contextual fusion; PPR is opt-in, it lost MRR on LoCoMo)."""
    if name is None:
        name = DEFAULT_RETRIEVER
    if name in _CLASSES:
        return _CLASSES[name](store, settings)
    options = _contextual_options(name)
    if options:
        return ContextualRetriever(store, settings, options)
    from ..errors import InputError

    raise InputError(f"Unknown retriever {name!r}; choose one of {', '.join(RETRIEVERS)} "
                     f"(or contextual with any of {', '.join('+' + o for o in OPTIONS)}).")


def is_retriever(name: str) -> bool:
    """Does ``make_retriever`` know ``name`` (a listed retriever, or contextual with options)?"""
    return name in _CLASSES or bool(_contextual_options(name))


def _contextual_options(name: str) -> frozenset[str]:
    """The steps named by ``contextual+late+hop`` and the like; empty when ``name`` is not of that form."""
    base, *options = name.split("+")
    return frozenset(options) if base == "contextual" and options and all(o in OPTIONS for o in options) \
        else frozenset()


def search(store: Store, settings: Settings, query: str, k: int = 5, retriever: str | None = None,
           touch: bool = True, span: TimeSpan | None = None) -> list[Hit]:
    """Search the memory. ``touch`` asks the store to count the recall (the store keeps those stats
    outside its write path: a search never writes a note). ``span``: the time the query speaks of
    (read by the caller, who knows the message's clock); its notes rank first (``spanrank``)."""
    from ..errors import InputError

    if not isinstance(query, str) or not query.strip():
        raise InputError("Type something to search for.")
    hits = make_retriever(store, settings, retriever).search(query[:2000], k, span=span)
    if touch and hits:
        store.touch([h.note.id for h in hits])
    return hits
