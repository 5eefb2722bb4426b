"""``memex bench links`` on a tiny set: hash vectors, no model (the real figures are in docs/benchmarks.md)."""

from __future__ import annotations

import json
from pathlib import Path

import networkx as nx
from fakes import HashEmbedder

from memory_core.bench import links as bl
from memory_core.config import Settings

TINY = {"sessions": [
    {"date": "2026-03-02", "turns": [
        {"text": "Hi!", "kind": "greeting"},
        {"text": "I have a golden retriever called Biscuit.", "kind": "fact", "fact": "dog"},
        {"text": "Biscuit is afraid of thunderstorms.", "kind": "fact", "fact": "dog_fear"},
        {"text": "I grow tomatoes and basil on the balcony.", "kind": "fact", "fact": "garden"},
        {"text": "What is my dog called?", "kind": "question", "asks": "dog"},
    ]},
    {"date": "2026-03-09", "turns": [
        {"text": "The basil needs watering every morning.", "kind": "fact", "fact": "basil"},
        {"text": "My dog is called Biscuit, remember.", "kind": "repeat", "fact": "dog"},
        {"text": "What is Biscuit scared of?", "kind": "question", "asks": "dog_fear"},
        {"text": "What do I grow?", "kind": "question", "asks": "garden"},
        {"text": "What car do I drive?", "kind": "question", "asks": "car"},  # no such fact: not asked
    ]},
]}


def test_the_memory_conversation_becomes_notes_and_questions_with_evidence() -> None:
    conv = bl.memory_conversation(TINY, "tiny")
    assert [i.source_ref for i in conv.items] == ["S1:2", "S1:3", "S1:4", "S2:1", "S2:2"]
    assert conv.questions == [("What is my dog called?", 4, ["S1:2", "S2:2"]),
                              ("What is Biscuit scared of?", 4, ["S1:3"]), ("What do I grow?", 4, ["S1:4"])]


def test_configurations_and_the_kind_filter() -> None:
    assert [c[0] for c in bl.configurations(["entity", "topic"])] == ["no links", "only entity", "only topic",
                                                                       "all links"]
    assert ("all but topic", ("similarity", "entity")) in bl.configurations(["similarity", "entity", "topic"])
    g = nx.DiGraph()
    g.add_edge("a", "b", by="system", reason="similar (cosine 0.70)")
    g.add_edge("a", "c", by="person", reason="mine")
    g.add_node("d")
    kept = bl.only(g, ["person"])
    assert list(kept.edges) == [("a", "c")] and set(kept.nodes) == {"a", "b", "c", "d"}


def test_the_bench_runs_on_a_tiny_set_and_prints_its_table(tmp_path: Path, capsys) -> None:
    conv = bl.memory_conversation(TINY, "tiny")
    res = bl.run_sets([conv], Settings(data_dir=str(tmp_path / "home")), embedder=HashEmbedder())
    assert res["links"].get("entity", 0) >= 1  # Biscuit's notes name him
    table = res["table"]
    assert {"no links", bl.NO_GRAPH, "only entity"} <= set(table)
    for label, by_name in table.items():
        names = {"contextual", "hybrid"} if label == bl.NO_GRAPH else set(bl.GRAPH_RETRIEVERS)
        assert set(by_name) == names
        for cell in by_name.values():
            assert cell["n"] == 3 and 0.0 <= cell["all@10"] <= cell["any@10"] <= 1.0
            assert cell["multi_hop_n"] == 0 and cell["multi_hop_all@10"] is None
    # five notes, k = 10: every evidence turn is found whatever the links
    assert table["no links"]["hybrid+links"]["all@10"] == 1.0
    json.dumps(res)  # saved as JSON
    bl.print_report(res)
    out = capsys.readouterr().out
    assert "contextual+ppr any@10" in out and "only entity" in out and "links by kind: " in out
