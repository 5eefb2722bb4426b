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
    """Okapi BM25 (k1=1.5, b=0.75) with postings updated in place."""

    def __init__(self, k1: float = 1.5, b: float = 0.75) -> None:
        self.k1 = k1
        self.b = b
        self._postings: dict[str, dict[str, int]] = defaultdict(dict)  # term -> {doc: tf}
        self._doc_terms: dict[str, Counter[str]] = {}
        self._doc_len: dict[str, int] = {}
        self._order: dict[str, int] = {}  # first-insertion order: breaks score ties stably
        self._total_len = 0

    def __len__(self) -> int:
        return len(self._doc_len)

    def __contains__(self, doc_id: str) -> bool:
        return doc_id in self._doc_len

    def upsert(self, doc_id: str, text: str) -> None:
        self.remove(doc_id)
        self._order.setdefault(doc_id, len(self._order))
        terms = Counter(tokenize(text))
        self._doc_terms[doc_id] = terms
        length = sum(terms.values())
        self._doc_len[doc_id] = length
        self._total_len += length
        for term, tf in terms.items():
            self._postings[term][doc_id] = tf

    def remove(self, doc_id: str) -> None:
        terms = self._doc_terms.pop(doc_id, None)
        if terms is None:
            return
        self._total_len -= self._doc_len.pop(doc_id, 0)
        for term in terms:
            posting = self._postings.get(term)
            if posting is not None:
                posting.pop(doc_id, None)
                if not posting:
                    del self._postings[term]

    def search(self, query: str, k: int, allowed: set[str] | None = None) -> list[tuple[str, float, list[str]]]:
        """Top-k (doc id, score, matched query terms), best first."""
        q_terms = list(dict.fromkeys(tokenize(query)))
        n_docs = len(self._doc_len)
        if not q_terms or not n_docs:
            return []
        avg_len = self._total_len / n_docs or 1.0
        scores: dict[str, float] = defaultdict(float)
        matched: dict[str, list[str]] = defaultdict(list)
        for term in q_terms:
            posting = self._postings.get(term)
            if not posting:
                continue
            idf = math.log(1 + (n_docs - len(posting) + 0.5) / (len(posting) + 0.5))
            for doc_id, tf in posting.items():
                if allowed is not None and doc_id not in allowed:
                    continue
                norm = tf + self.k1 * (1 - self.b + self.b * self._doc_len[doc_id] / avg_len)
                scores[doc_id] += idf * tf * (self.k1 + 1) / norm
                matched[doc_id].append(term)
        best = sorted(scores.items(), key=lambda kv: (-kv[1], self._order.get(kv[0], 0)))[:k]
        return [(doc_id, score, matched[doc_id]) for doc_id, score in best]
