"""Retrieval parts without a model: min-max fusion, superseded notes below their replacement, PPR, entities."""

from __future__ import annotations

from pathlib import Path

import networkx as nx
from fakes import HashEmbedder, ScriptedLLM

from memory_core.config import Settings
from memory_core.memory import MemoryPipeline, NewItem
from memory_core.notes import Note
from memory_core.retrieval import RETRIEVERS, Hit, make_retriever
from memory_core.retrieval.entities import entities, mentions
from memory_core.retrieval.fusion import fuse, minmax
from memory_core.retrieval.graph import personalized_pagerank
from memory_core.retrieval.hit import finalize
from memory_core.store import MemoryStore
from memory_core.store.lexical import stem, tokenize


def test_snowball_stemmer_keeps_words_whole() -> None:
    assert stem("speed") == "speed" and stem("hikes") == stem("hiking") == "hike"
    assert tokenize("The thunderstorms scared Biscuit") == ["thunderstorm", "scare", "biscuit"]
    assert stem("łódź") == "łódź"  # other scripts pass through


def test_minmax_fusion_scales_each_signal_over_the_candidates() -> None:
    assert minmax({"a": 10.0, "b": 5.0}, ["a", "b", "c"]) == {"a": 1.0, "b": 0.0, "c": 0.0}
    assert minmax({"a": 3.0}, ["a", "b"]) == {"a": 1.0, "b": 0.0}
    scores, scaled = fuse({"lexical": {"a": 9.0, "b": 1.0}, "dense": {"b": 0.8, "c": 0.2}},
                          {"lexical": 1.0, "dense": 1.0})
    assert scores == {"a": 0.5, "b": 0.5, "c": 0.0}
    assert scaled["b"] == {"lexical": 0.0, "dense": 1.0}


def test_a_superseded_note_ranks_right_below_its_replacement() -> None:
    old, new, other = Note("Lena lives in Porto."), Note("Actually Lena moved to Lisbon."), Note("Porto wine")
    old.superseded_by = new.id
    notes = {n.id: n for n in (old, new, other)}
    ranked = finalize([Hit(old, 0.9), Hit(other, 0.5), Hit(new, 0.2)], notes, 3)
    assert [h.note.id for h in ranked] == [new.id, old.id, other.id]
    assert [h.rank for h in ranked] == [1, 2, 3] and ranked[0].score > ranked[1].score >= ranked[2].score
    assert any("superseded by" in r for r in ranked[1].reasons)
    alone = finalize([Hit(old, 0.9)], notes, 5)  # only the old note matched: the current one comes too
    assert [h.note.id for h in alone] == [new.id, old.id] and alone[0].via == old.id


def test_entities_strong_and_weak_mentions() -> None:
    assert mentions("Biscuit is afraid of thunderstorms.") == {"biscuit": False}
    # the person's own pet is an entity too ("my dog"), as "my brother" is (issue 24)
    assert mentions("I have a golden retriever called Biscuit") == {"my dog": True, "biscuit": True}
    assert entities("Biscuit is afraid of thunderstorms.") == set()
    assert entities("Biscuit is afraid of thunderstorms.", strong_elsewhere={"biscuit"}) == {"biscuit"}
    assert entities("Caroline: I met Melanie in Paris on Monday.") == {"melanie", "paris"}  # no speaker, no day


def test_ppr_reaches_the_second_hop_through_a_shared_name() -> None:
    a, b, c = Note("I met Omar at the chess club."), Note("Omar moved to Cairo."), Note("Tax forms due.")
    notes = {n.id: n for n in (a, b, c)}
    ents = {a.id: {"omar"}, b.id: {"omar", "cairo"}, c.id: set()}
    scores, via = personalized_pagerank({a.id: 1.0}, ents, nx.DiGraph(), notes)
    assert scores[b.id] > 0 and c.id not in scores and via[b.id] == a.id


def test_every_retriever_ranks_and_traces(tmp_path: Path) -> None:
    settings = Settings(data_dir=str(tmp_path / "home"))
    store = MemoryStore(settings, HashEmbedder())
    MemoryPipeline(store, settings, ScriptedLLM()).add_many(
        [NewItem("I have a golden retriever called Biscuit", turn_context="Memex: any pets?"),
         NewItem("Biscuit is afraid of thunderstorms."), NewItem("Tax forms are due in April.")], mode="fast")
    for name in RETRIEVERS:
        hits = make_retriever(store, settings, name).search("Biscuit thunderstorms", 3)
        assert hits and [h.rank for h in hits] == list(range(1, len(hits) + 1)), name
        assert all(0.0 <= v <= 1.0 + 1e-9 for h in hits for v in h.signals.values()), name
        assert hits[0].note.content == "Biscuit is afraid of thunderstorms.", name
        assert set(hits[0].trace_dict()) == {"id", "rank", "score", "signals", "via", "reasons", "matched_terms"}
