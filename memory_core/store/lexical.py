"""An incremental BM25 index over notes (content, keywords, tags, context).

Why our own: on long-conversation recall, BM25 beats dense MiniLM retrieval by a wide margin
(names, dates and rare words matter), and Memex needs an index that is updated note by note as
memories are written, edited and deleted, without rebuilding. Scoring walks only the postings of
the query's terms, so a query costs time in proportion to the notes that share its words, not to
the size of the store.
"""

from __future__ import annotations

import functools
import math
import re
import threading
from collections import Counter, defaultdict
from typing import Any

import numpy as np

TOKEN_RE = re.compile(r"[^\W_]+", re.UNICODE)
STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further had has
    have having he her here hers herself him himself his how i if in into is it its itself just me
    more most my myself no nor not now of off on once only or other our ours ourselves out over own
    same she should so some such than that the their theirs them themselves then there these they this
    those through to too under until up very was we were what when where which while who whom why will
    with would you your yours yourself yourselves s t don ll m re ve d also yes oh ok okay really
    """.split()
)


_LOCAL = threading.local()


def _stemmer() -> Any:
    """The Snowball English stemmer (PyStemmer, the C build of the Snowball stemmers), one per
    thread: PyStemmer's objects are not safe to share between threads (the chat writer and a page
    search run at once)."""
    stemmer = getattr(_LOCAL, "stemmer", None)
    if stemmer is None:
        import Stemmer

        stemmer = _LOCAL.stemmer = Stemmer.Stemmer("english")
    return stemmer


@functools.lru_cache(maxsize=200_000)
def stem(token: str) -> str:
    """Snowball (Porter 2) stem of a lower-case token: "hikes"/"hiking" -> "hike", "speed" stays "speed".

    Why a kept stemmer: the hand-written one before it turned "speed" into "spe" and "news" into
    "new". Non-ASCII tokens pass through (the English stemmer would mangle other scripts).
    """
    if len(token) <= 2 or not token.isascii():
        return token
    return _stemmer().stemWord(token)


def tokenize(text: str) -> list[str]:
    """Lower-cased word tokens without stopwords, Snowball-stemmed; works for non-Latin scripts too."""
    return [stem(t) for t in TOKEN_RE.findall(text.lower()) if t not in STOPWORDS]


class BM25Index:
    """Okapi BM25 (k1=1.5, b=0.75) with postings updated in place.

    Scoring is vectorised: each document has a slot (its first-insertion order, which also breaks
    score ties stably), and each term's postings are turned into (slots, tf) arrays when first
    queried, cached until a document with that term changes. A query then costs a few numpy
    operations per term and a partial sort, not a Python loop over every matching document: at
    100k notes a common word matches tens of thousands of them.
    """

    def __init__(self, k1: float = 1.5, b: float = 0.75) -> None:
        self.k1 = k1
        self.b = b
        self._postings: dict[str, dict[str, int]] = defaultdict(dict)  # term -> {doc: tf}
        self._doc_terms: dict[str, Counter[str]] = {}  # the live documents
        self._order: dict[str, int] = {}  # doc -> slot, in first-insertion order (never reused)
        self._slot_docs: list[str] = []  # slot -> doc
        self._len_by_slot = np.zeros(0, dtype=np.float64)  # slot -> document length (0: removed)
        self._arrays: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # term -> (slots, tf), cached
        self._total_len = 0

    def __len__(self) -> int:
        return len(self._doc_terms)

    def __contains__(self, doc_id: str) -> bool:
        return doc_id in self._doc_terms

    def _slot(self, doc_id: str) -> int:
        slot = self._order.get(doc_id)
        if slot is None:
            slot = self._order[doc_id] = len(self._slot_docs)
            self._slot_docs.append(doc_id)
            if slot >= len(self._len_by_slot):
                grown = np.zeros(max(1024, 2 * len(self._len_by_slot)), dtype=np.float64)
                grown[:len(self._len_by_slot)] = self._len_by_slot
                self._len_by_slot = grown
        return slot

    def upsert(self, doc_id: str, text: str) -> None:
        self.remove(doc_id)
        slot = self._slot(doc_id)
        terms = Counter(tokenize(text))
        self._doc_terms[doc_id] = terms
        length = sum(terms.values())
        self._len_by_slot[slot] = length
        self._total_len += length
        for term, tf in terms.items():
            self._postings[term][doc_id] = tf
            self._arrays.pop(term, None)

    def remove(self, doc_id: str) -> None:
        terms = self._doc_terms.pop(doc_id, None)
        if terms is None:
            return
        slot = self._order[doc_id]
        self._total_len -= int(self._len_by_slot[slot])
        self._len_by_slot[slot] = 0
        for term in terms:
            self._arrays.pop(term, None)
            posting = self._postings.get(term)
            if posting is not None:
                posting.pop(doc_id, None)
                if not posting:
                    del self._postings[term]

    def _term_arrays(self, term: str, posting: dict[str, int]) -> tuple[np.ndarray, np.ndarray]:
        cached = self._arrays.get(term)
        if cached is None:
            order = self._order
            slots = np.fromiter((order[d] for d in posting), dtype=np.int64, count=len(posting))
            tfs = np.fromiter(posting.values(), dtype=np.float64, count=len(posting))
            cached = self._arrays[term] = (slots, tfs)
        return cached

    def document_frequency(self, term: str) -> int:
        """How many documents hold this (stemmed) term: how specific a shared word is."""
        return len(self._postings.get(term, ()))

    def search(self, query: str, k: int, allowed: set[str] | None = None) -> list[tuple[str, float, list[str]]]:
        """Top-k (doc id, score, matched query terms), best first; ties in first-insertion order."""
        q_terms = list(dict.fromkeys(tokenize(query)))
        n_docs = len(self._doc_terms)
        if not q_terms or not n_docs or k <= 0:
            return []
        avg_len = self._total_len / n_docs or 1.0
        scores = np.zeros(len(self._slot_docs), dtype=np.float64)
        postings = []
        for term in q_terms:
            posting = self._postings.get(term)
            if not posting:
                continue
            postings.append((term, posting))
            idf = math.log(1 + (n_docs - len(posting) + 0.5) / (len(posting) + 0.5))
            slots, tfs = self._term_arrays(term, posting)
            norm = tfs + self.k1 * (1 - self.b + self.b * self._len_by_slot[slots] / avg_len)
            scores[slots] += idf * tfs * (self.k1 + 1) / norm  # a term's slots are distinct
        if allowed is not None:
            keep = np.zeros(len(self._slot_docs), dtype=bool)
            keep[[self._order[d] for d in allowed if d in self._doc_terms]] = True
            scores[~keep] = 0.0
        # idf > 0 and tf >= 1, so every matching document scores above 0: the nonzero ones are the matches
        candidates = np.flatnonzero(scores)
        if not len(candidates):
            return []
        if len(candidates) > k:
            cut = -np.partition(-scores[candidates], k - 1)[k - 1]  # the k-th best score
            candidates = candidates[scores[candidates] >= cut]  # ties at the cut stay in
        best = candidates[np.lexsort((candidates, -scores[candidates]))][:k]
        out = []
        for slot in best.tolist():
            doc_id = self._slot_docs[slot]
            out.append((doc_id, float(scores[slot]), [t for t, posting in postings if doc_id in posting]))
        return out
