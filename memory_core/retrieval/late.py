"""Late interaction: MaxSim over MiniLM's token vectors, to rerank the fused candidates.

Why: one vector per note averages its words away, so "artwork" in a question finds a note about a
"watercolour" only when little else is in the note; matching each query token with its closest
note token (ColBERT's MaxSim, Khattab & Zaharia 2020) keeps the word-level match with MiniLM's
contextual token vectors, and public reports saw dense recall rise with it, no other model needed.
It runs only on the top candidates of the fused signals (a rerank, not a search); each note's token
vectors are kept in memory as int8 with a scale per token (386 bytes a token: 4.8 KB a LoCoMo-style turn, 7.7 KB a store-benchmark note),
made by a bulk import's own model pass or by a background warm-up (TokenCache).
"""

from __future__ import annotations

import atexit
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from ..notes import Note
from .per_object import PerObject

if TYPE_CHECKING:
    from ..store import Store

LATE_POOL = 40  # fused candidates reranked
CACHE_NOTES = 20_000  # notes whose token vectors are kept (~10 KB each for a chat turn)
EMBED_PER_QUERY = 0  # candidates without token vectors a query embeds itself (measured: 3 cost ~35 ms)
WARM_BATCH = 32  # notes the background warm-up embeds at a time
WARM_IDLE = 0.5  # seconds after a search before the warm-up goes on


def token_vectors(embedder: Any, texts: list[str]) -> tuple[np.ndarray, list[np.ndarray]] | None:
    """(sentence vectors, token vectors per text), or None when the embedder has no token vectors
    (a GGUF model, a test's fake): then the reranker stays out and nothing else changes."""
    fn = getattr(embedder, "embed_tokens", None)
    if fn is None:
        return None
    try:
        return fn(texts)
    except (AttributeError, NotImplementedError):
        return None


def maxsim(query: np.ndarray, docs: list[np.ndarray]) -> np.ndarray:
    """Mean over query tokens of the best cosine with any token of each doc (one score per doc).

    One small product per doc, not one product with every doc's tokens stacked: that larger product
    wakes OpenBLAS's threads, and on a busy 2-core machine they cost 22 ms where this loop costs 1.5.
    """
    query = np.asarray(query, dtype=np.float32)
    out = np.zeros(len(docs), dtype=np.float32)
    if not len(query):
        return out
    for i, doc in enumerate(docs):
        if len(doc):
            out[i] = float((query @ np.asarray(doc, dtype=np.float32).T).max(axis=1).mean())
    return out


def quantize(vecs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unit token vectors as int8 with one float16 scale per token: 386 bytes a token instead of 1,536."""
    vecs = np.asarray(vecs, dtype=np.float32)
    scale = np.maximum(np.abs(vecs).max(axis=1, keepdims=True), 1e-8) / 127.0
    return np.round(vecs / scale).astype(np.int8), scale.astype(np.float16)


def dequantize(codes: np.ndarray, scale: np.ndarray) -> np.ndarray:
    return codes.astype(np.float32) * scale.astype(np.float32)


class TokenCache:
    """Each note's token vectors (int8), kept while the note's text is the same; at most ``limit``
    notes, the least recently used go first.

    Why a warm-up thread and no model pass in a search: a note's token vectors cost a model pass
    (measured at 10k notes on this busy machine: a search that embedded 3 of its candidates took
    p50 68 ms instead of 33), so a search reranks only the candidates already cached (the others
    count as neither good nor bad), while one background thread fills the cache, newest notes first,
    a batch at a time with a pause twice as long as the batch took (at most a third of a core), and
    not while searches are going on (beside a running warm-up, a 10k-note search's p50 doubled).
    A bulk import makes them in its own model pass (memory/bulk.py), so imported notes are warm at once.
    """

    def __init__(self, limit: int = CACHE_NOTES) -> None:
        self._lock = threading.Lock()
        self._limit = limit
        self._vecs: OrderedDict[str, tuple[str, np.ndarray, np.ndarray]] = OrderedDict()
        self._warmer: threading.Thread | None = None
        self.warm_seconds = 0.0  # CPU time of the warm-up so far (for `memex bench store`)

    def _missing(self, notes: dict[str, Note], ids: list[str], text_of: Callable[[Note], str]) -> list[str]:
        with self._lock:
            return [i for i in ids if i in notes and (i not in self._vecs or self._vecs[i][0] != text_of(notes[i]))]

    def fill(self, embedder: Any, notes: dict[str, Note], ids: list[str], text_of: Callable[[Note], str]) -> bool:
        """Embed the token vectors of ``ids`` not cached; False when the embedder has none."""
        todo = self._missing(notes, ids, text_of)
        if not todo:
            return True
        texts = [text_of(notes[i]) for i in todo]
        made = token_vectors(embedder, texts)
        if made is None:
            return False
        with self._lock:
            for nid, text, vecs in zip(todo, texts, made[1]):
                self._vecs[nid] = (text, *quantize(vecs))
                self._vecs.move_to_end(nid, last=False)  # a warm-up fill is not a use
            self._trim()
        return True

    def put(self, ids: list[str], texts: list[str], tokens: list[np.ndarray]) -> None:
        """Keep token vectors made elsewhere (a bulk import's own model pass)."""
        with self._lock:
            for nid, text, vecs in zip(ids, texts, tokens):
                self._vecs[nid] = (text, *quantize(vecs))
            self._trim()

    def _trim(self) -> None:
        """Drop the least recently used notes past the limit (the caller holds the lock)."""
        while len(self._vecs) > self._limit:
            self._vecs.popitem(last=False)

    def get(self, embedder: Any, notes: dict[str, Note], ids: list[str], text_of: Callable[[Note], str],
            max_new: int | None = None) -> dict[str, np.ndarray] | None:
        """Token vectors of ``ids`` (those cached, plus up to ``max_new`` made now, best ids first)."""
        todo = self._missing(notes, ids, text_of)
        if todo and not self.fill(embedder, notes, todo[:max_new] if max_new is not None else todo, text_of):
            return None
        with self._lock:
            out = {}
            for i in ids:
                if i in self._vecs:
                    self._vecs.move_to_end(i)
                    _, codes, scale = self._vecs[i]
                    out[i] = dequantize(codes, scale)
            return out

    def warm(self, embedder: Any, notes: dict[str, Note], text_of: Callable[[Note], str]) -> None:
        """Start filling the cache in the background (once at a time; newest notes first)."""
        with self._lock:
            if self._warmer is not None and self._warmer.is_alive():
                return
            if len(self._vecs) >= min(len(notes), self._limit):
                return
            order = sorted(notes, key=lambda i: notes[i].timestamp, reverse=True)[:self._limit]
            self._warmer = threading.Thread(target=self._warm, args=(embedder, dict(notes), order, text_of),
                                            name="memex-token-warmup", daemon=True)
            self._warmer.start()

    def _warm(self, embedder: Any, notes: dict[str, Note], order: list[str], text_of: Callable[[Note], str]) -> None:
        for start in range(0, len(order), WARM_BATCH):
            while not _STOP.is_set() and time.monotonic() - _LAST_SEARCH[0] < WARM_IDLE:
                _STOP.wait(WARM_IDLE)  # a search is going on, or was a moment ago: it goes first
            if _STOP.is_set():
                return
            t0 = time.thread_time()
            w0 = time.perf_counter()
            if not self.fill(embedder, notes, order[start:start + WARM_BATCH], text_of):
                return
            self.warm_seconds += time.thread_time() - t0
            _STOP.wait(2 * (time.perf_counter() - w0))  # at most a third of a core

    def bytes_per_note(self) -> float:
        """Mean bytes of token vectors a cached note holds (codes and scales)."""
        with self._lock:
            if not self._vecs:
                return 0.0
            return sum(c.nbytes + s.nbytes for _, c, s in self._vecs.values()) / len(self._vecs)

    def __len__(self) -> int:
        return len(self._vecs)


_STOP = threading.Event()
_LAST_SEARCH = [0.0]  # time.monotonic() of the last rerank: the warm-up waits WARM_IDLE after it


def _stop_warmers() -> None:
    """At exit: no model run may still be going on a thread while the interpreter shuts down."""
    _STOP.set()
    for thread in threading.enumerate():
        if thread.name == "memex-token-warmup":
            thread.join(timeout=2.0)


atexit.register(_stop_warmers)


_BY_STORE: PerObject[TokenCache] = PerObject(TokenCache)


def token_cache(store: Store) -> TokenCache:
    return _BY_STORE(store)


def late_text(note: Note) -> str:
    """The text whose tokens are matched: what the store embeds (the content, and what enrichment
    adds), so a bulk import's one model pass gives both the note's vector and its token vectors."""
    return note.text_for_embedding()


def late_signal(store: Store, notes: dict[str, Note], query_tokens: np.ndarray, ids: list[str],
                text_of: Callable[[Note], str]) -> dict[str, float]:
    """MaxSim of the query with each of ``ids`` (empty when the embedder has no token vectors).

    A candidate whose token vectors are not made yet (the warm-up has not reached it) gets the
    median of the others: neither lifted nor pushed down by the rerank.
    """
    _LAST_SEARCH[0] = time.monotonic()
    cache = token_cache(store)
    vecs = cache.get(store.embedder, notes, ids, text_of, EMBED_PER_QUERY)
    if vecs is None:
        return {}
    cache.warm(store.embedder, notes, text_of)
    if not vecs:
        return {}
    order = [i for i in ids if i in vecs]
    scores = {i: float(s) for i, s in zip(order, maxsim(query_tokens, [vecs[i] for i in order]))}
    middle = float(np.median(list(scores.values())))
    return {i: scores.get(i, middle) for i in ids}
