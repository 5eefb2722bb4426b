"""End to end with the real bundled model and MiniLM: five related notes get linked, evolved, found."""

from __future__ import annotations

import pytest

from memory_core.memory.pipeline import MemoryPipeline
from memory_core.retrieval import search
from memory_core.store import MemoryStore, build_graph

NOTES = [
    "Anna and I went hiking in the Swiss Alps last July.",
    "Anna bought new hiking boots for our next mountain trip.",
    "We plan to climb Mont Blanc with Anna next summer.",
    "The Alps trip photos are in the shared album with Anna.",
    "Anna says altitude sickness hit her near the Matterhorn hut.",
]


@pytest.mark.real_model
def test_five_related_notes_are_linked_evolved_and_found(settings, embedder, real_llm) -> None:
    store = MemoryStore(settings, embedder)
    pipe = MemoryPipeline(store, settings, real_llm)
    reports = [pipe.add(text) for text in NOTES]

    assert len(store) == 5
    for r in reports:
        note = store.get(r.note_id)
        assert note.keywords and note.tags and note.context  # enriched by the model or the fallback
    # the model was asked (one enrichment each, plus a link/evolve decision once neighbours exist)
    assert all(r.usage.calls >= 1 for r in reports) and all(r.usage.calls >= 2 for r in reports[1:])
    assert sum(r.usage.completion_tokens for r in reports) > 0
    assert pipe.writes == 5 and pipe.totals.calls == sum(r.usage.calls for r in reports)

    # links exist and are by id, in the store and in the graph
    assert store.graph.number_of_edges() >= 1
    assert all(link.target in store for n in store.all_notes() for link in n.links)
    # every write after the first recorded its link/evolution decision
    attempts = [c for n in store.all_notes() for c in n.history if c.field == "evolution" and c.by == "evolver"]
    assert len(attempts) == 4
    assert all(set(a.new["shown"]) <= {r.note_id for r in reports} for a in attempts)

    hits = search(store, settings, "hiking in the Alps with Anna", k=5)
    assert len({h.note.id for h in hits} & {r.note_id for r in reports}) == 5
    assert hits[0].reasons

    # the rebuilt graph equals the live one
    reopened = MemoryStore(settings, embedder)
    assert set(build_graph(reopened.notes_view()).edges) == set(store.graph.edges)
