"""models.embedder_base.VectorCache: kept vectors are the computed ones, only misses are computed."""

from __future__ import annotations

import numpy as np

from memory_core.models.embedder_base import VectorCache


def fake_compute(calls: list[list[str]]):
    def compute(texts: list[str]) -> np.ndarray:
        calls.append(list(texts))
        return np.asarray([[len(t), ord(t[0]) if t else 0, 1.0] for t in texts], dtype=np.float32)
    return compute


def test_only_texts_not_seen_are_computed_and_rows_keep_their_order() -> None:
    calls: list[list[str]] = []
    cache = VectorCache(size=10)
    first = cache.embed(["ab", "c", "ab"], fake_compute(calls), 3)
    assert calls == [["ab", "c"]]  # a text twice in one call is computed once
    assert first.tolist() == [[2, 97, 1], [1, 99, 1], [2, 97, 1]]
    again = cache.embed(["c", "new", "ab"], fake_compute(calls), 3)
    assert calls[-1] == ["new"]
    assert again.tolist() == [[1, 99, 1], [3, 110, 1], [2, 97, 1]]
    again[0, 0] = 99.0  # a caller changing its array does not change what is kept
    assert cache.embed(["c"], fake_compute(calls), 3).tolist() == [[1, 99, 1]]


def test_the_least_recently_used_goes_first_and_long_texts_are_not_kept() -> None:
    calls: list[list[str]] = []
    cache = VectorCache(size=2, max_chars=5)
    cache.embed(["a", "b"], fake_compute(calls), 3)
    cache.embed(["a"], fake_compute(calls), 3)  # "a" used again: "b" is now the oldest
    cache.embed(["c"], fake_compute(calls), 3)
    cache.embed(["a", "b"], fake_compute(calls), 3)
    assert calls[-1] == ["b"]
    cache.embed(["longer text"], fake_compute(calls), 3)
    cache.embed(["longer text"], fake_compute(calls), 3)
    assert calls[-2:] == [["longer text"], ["longer text"]]


def test_the_real_embedder_gives_the_same_vectors_from_its_cache(embedder) -> None:
    texts = ["My sister Ana lives in Porto.", "I ride a green Brompton to work."]
    fresh = embedder._embed(texts)  # the model itself, without the cache
    assert np.allclose(embedder.embed(texts), fresh, atol=1e-6)
    assert np.allclose(embedder.embed(list(reversed(texts))), fresh[::-1], atol=1e-6)
