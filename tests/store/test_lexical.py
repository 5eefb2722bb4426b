"""The BM25 index: its vectorised scoring against BM25 computed from scratch, and its update rules."""

from __future__ import annotations

import math
import random
from collections import Counter

from memory_core.store.lexical import BM25Index, tokenize


def reference(docs: dict[str, str], order: list[str], query: str, k: int,
              allowed: set[str] | None = None) -> list[tuple[str, float, list[str]]]:
    """Okapi BM25 (k1=1.5, b=0.75) straight from its definition, over the live documents."""
    k1, b = 1.5, 0.75
    terms = {d: Counter(tokenize(t)) for d, t in docs.items()}
    n = len(terms)
    avg = sum(sum(c.values()) for c in terms.values()) / n or 1.0
    scores: dict[str, float] = {}
    matched: dict[str, list[str]] = {}
    for q in dict.fromkeys(tokenize(query)):
        df = sum(1 for c in terms.values() if q in c)
        if not df:
            continue
        idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
        for d, c in terms.items():
            if q not in c or (allowed is not None and d not in allowed):
                continue
            tf, length = c[q], sum(c.values())
            scores[d] = scores.get(d, 0.0) + idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * length / avg))
            matched.setdefault(d, []).append(q)
    best = sorted(scores, key=lambda d: (-scores[d], order.index(d)))[:k]
    return [(d, scores[d], matched[d]) for d in best]


def test_scores_and_order_match_bm25_from_its_definition_through_edits_and_deletes() -> None:
    rng = random.Random(5)
    vocab = [f"word{i}" for i in range(25)] + ["hiking", "hikes", "Anna", "budget", "the"]
    for _ in range(60):
        index, docs, order = BM25Index(), {}, []
        ids = [f"n{i}" for i in range(rng.randint(1, 40))]
        for _ in range(rng.randint(1, 80)):
            d = rng.choice(ids)
            if rng.random() < 0.2:
                index.remove(d)
                docs.pop(d, None)
                continue
            text = " ".join(rng.choice(vocab) for _ in range(rng.randint(0, 9)))
            index.upsert(d, text)
            docs[d] = text
            if d not in order:
                order.append(d)  # a re-added note keeps its first place for ties
        if not docs:
            assert index.search("word1", 5) == []
            continue
        for _ in range(4):
            query = " ".join(rng.choice(vocab) for _ in range(rng.randint(1, 3)))
            k = rng.randint(1, 12)
            allowed = set(rng.sample(ids, rng.randint(0, len(ids)))) if rng.random() < 0.3 else None
            got, want = index.search(query, k, allowed), reference(docs, order, query, k, allowed)
            assert [g[0] for g in got] == [w[0] for w in want], (query, k)
            assert all(math.isclose(g[1], w[1], rel_tol=1e-9) and g[2] == w[2] for g, w in zip(got, want))


def test_stemmed_terms_ties_and_removed_notes() -> None:
    index = BM25Index()
    index.upsert("a", "We went hiking in the Alps")
    index.upsert("b", "Hikes with Anna")
    index.upsert("c", "budget meeting")
    assert {d for d, _, _ in index.search("hike", 5)} == {"a", "b"}
    index.upsert("d", "budget meeting")  # same text as c: a tie, broken by first insertion
    assert [d for d, _, _ in index.search("budget", 5)] == ["c", "d"]
    index.remove("c")
    assert [d for d, _, _ in index.search("budget", 5)] == ["d"]
    index.upsert("c", "budget meeting")  # back, in its old place
    assert [d for d, _, _ in index.search("budget", 5)] == ["c", "d"]
    assert index.search("budget", 0) == [] and index.search("the", 5) == []  # a stop word alone
