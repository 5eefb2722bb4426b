"""Retrieval: ranked notes for a query, each with its score and the reason it was returned.

Retrievers are small classes with one ``search`` method so the benchmark can compare them:
``dense`` (MiniLM + Chroma), ``bm25`` (lexical), ``hybrid`` (weighted blend of the two, each scaled
to 0..1), and ``hybrid+links`` (A-MEM's link expansion: the notes linked to the top hits join the
ranking at ``link_weight`` times their parent's score).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .notes import Note
from .store import MemoryStore

RETRIEVERS = ("hybrid+links", "hybrid", "bm25", "dense")


@dataclass
class Hit:
    note: Note
    score: float
    reasons: list[str] = field(default_factory=list)
    lexical: float = 0.0  # BM25 score scaled to 0..1 among the candidates
    dense: float = 0.0  # cosine similarity
    via: str = ""  # id of the note this one was reached from by a link, if any
    matched_terms: list[str] = field(default_factory=list)

    @property
    def kind(self) -> str:
        if self.via:
            return "linked"
        if self.lexical and self.dense:
            return "lexical+dense"
        return "lexical" if self.lexical else "dense"


def _rank_key(hit: Hit) -> tuple[float, str, str]:
    """Best score first; equal scores in time order (ids are random uuids: not a stable order)."""
    return (-hit.score, hit.note.timestamp, hit.note.id)


class Retriever:
    name = "base"

    def __init__(self, store: MemoryStore, settings: Any) -> None:
        self.store = store
        self.settings = settings

    def search(self, query: str, k: int = 5) -> list[Hit]:  # pragma: no cover - abstract
        raise NotImplementedError

    # helpers shared by the retrievers
    def _dense(self, query: str, n: int) -> dict[str, float]:
        if not len(self.store) or n <= 0:
            return {}
        vec = self.store.embedder.embed([query])[0]
        return dict(self.store.nearest_ids(vec, n))

    def _lexical(self, query: str, n: int) -> dict[str, tuple[float, list[str]]]:
        return {doc: (score, terms) for doc, score, terms in self.store.lexical.search(query, n)}


class DenseRetriever(Retriever):
    name = "dense"

    def search(self, query: str, k: int = 5) -> list[Hit]:
        notes = self.store.notes_view()
        return [Hit(notes[i], s, [f"dense: similarity {s:.2f}"], dense=s)
                for i, s in self._dense(query, k).items() if i in notes]


class BM25Retriever(Retriever):
    name = "bm25"

    def search(self, query: str, k: int = 5) -> list[Hit]:
        notes = self.store.notes_view()
        hits = self._lexical(query, k)
        top = max((s for s, _ in hits.values()), default=1.0) or 1.0
        return [Hit(notes[i], s, [f"lexical: matched {', '.join(t)} (bm25 {s:.1f})"], lexical=s / top,
                    matched_terms=t) for i, (s, t) in hits.items() if i in notes]


class HybridRetriever(Retriever):
    """Weighted sum of scaled BM25 and cosine similarity over the union of both candidate lists."""

    name = "hybrid"
    expand_links = False

    def search(self, query: str, k: int = 5) -> list[Hit]:
        if k <= 0:
            return []
        notes = self.store.notes_view()
        pool = max(4 * k, 20)
        dense = self._dense(query, pool)
        lexical = self._lexical(query, pool)
        top_lex = max((s for s, _ in lexical.values()), default=0.0) or 1.0
        wl, wd = self.settings.lexical_weight, self.settings.dense_weight
        hits: dict[str, Hit] = {}
        for nid in set(dense) | set(lexical):
            if nid not in notes:
                continue
            lex_raw, terms = lexical.get(nid, (0.0, []))
            lex = lex_raw / top_lex
            den = max(0.0, dense.get(nid, 0.0))
            reasons = []
            if terms:
                reasons.append(f"lexical: matched {', '.join(terms)} (bm25 {lex_raw:.1f})")
            if nid in dense:
                reasons.append(f"dense: similarity {dense[nid]:.2f}")
            hits[nid] = Hit(notes[nid], wl * lex + wd * den, reasons, lex, den, "", terms)
        ranked = sorted(hits.values(), key=_rank_key)
        if self.expand_links:
            ranked = self._expand(ranked[:k], hits, notes)
        return ranked[:k]

    def _expand(self, top: list[Hit], hits: dict[str, Hit], notes: dict[str, Note]) -> list[Hit]:
        """Add the notes linked to (or from) each top hit, scored at link_weight x the parent's score."""
        graph = self.store.graph_snapshot()
        weight = self.settings.link_weight
        extra: dict[str, Hit] = {}
        for hit in top:
            nid = hit.note.id
            if nid not in graph:
                continue
            for other in set(graph.successors(nid)) | set(graph.predecessors(nid)):
                if other not in notes:
                    continue
                score = weight * hit.score
                direct = hits.get(other)
                if direct is not None and direct.score >= score:
                    continue
                if other in extra and extra[other].score >= score:
                    continue
                reason = f"linked from '{hit.note.title}'"
                base = direct or Hit(notes[other], 0.0)
                extra[other] = Hit(base.note, score, [*base.reasons, reason], base.lexical, base.dense, nid,
                                   base.matched_terms)
        merged = {h.note.id: h for h in top}
        for nid, hit in extra.items():
            if nid not in merged or merged[nid].score < hit.score:
                merged[nid] = hit
        return sorted(merged.values(), key=_rank_key)


class HybridLinksRetriever(HybridRetriever):
    name = "hybrid+links"
    expand_links = True


_CLASSES: dict[str, type[Retriever]] = {
    "dense": DenseRetriever,
    "bm25": BM25Retriever,
    "hybrid": HybridRetriever,
    "hybrid+links": HybridLinksRetriever,
}


def make_retriever(store: MemoryStore, settings: Any, name: str | None = None) -> Retriever:
    """The retriever called ``name`` (default: hybrid with link expansion, or plain hybrid if disabled)."""
    if name is None:
        name = "hybrid+links" if settings.link_expansion else "hybrid"
    if name not in _CLASSES:
        from .errors import InputError

        raise InputError(f"Unknown retriever {name!r}; choose one of {', '.join(RETRIEVERS)}.")
    return _CLASSES[name](store, settings)


def search(store: MemoryStore, settings: Any, query: str, k: int = 5, retriever: str | None = None,
           touch: bool = True) -> list[Hit]:
    """Search the memory; recalled notes get last_accessed and retrieval_count updated."""
    from .errors import InputError

    if not isinstance(query, str) or not query.strip():
        raise InputError("Type something to search for.")
    hits = make_retriever(store, settings, retriever).search(query[:2000], k)
    if touch and hits:
        store.touch([h.note.id for h in hits])
        fresh = store.notes_view()
        for h in hits:
            if h.note.id in fresh:
                h.note = fresh[h.note.id]
    return hits
