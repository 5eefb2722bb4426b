"""The Insights figures count the person's notes; Memex's digests and profile lines are counted apart."""

from __future__ import annotations

import networkx as nx

from memory_core.explore.insights import memories, memory_stats, summary_counts
from memory_core.notes import Change, Link, Note


def test_summaries_and_their_cites_are_not_notes_or_links() -> None:
    a, b = Note("I love sushi.", tags=["food"]), Note("Anna lives in Lisbon.", tags=["family"])
    b.links.append(Link(a.id, "both mine", by="person"))
    a.history.append(Change("tags", [], ["food"], by="evolver"))
    digest = Note("Digest of 2024-05-01\nTold: I love sushi.", source="digest", tags=["digest"],
                  links=[Link(a.id, "cites"), Link(b.id, "cites")])
    line = Note("Anna: Anna lives in Lisbon.", source="profile", tags=["profile"], links=[Link(b.id, "cites")])
    every = {n.id: n for n in (a, b, digest, line)}
    graph = nx.DiGraph()
    graph.add_nodes_from(every)
    graph.add_edges_from((n.id, link.target) for n in every.values() for link in n.links)
    mine = memories(every)
    assert set(mine) == {a.id, b.id}
    stats = memory_stats(mine, graph)
    assert (stats["notes"], stats["links"], stats["tags"], stats["evolutions"], stats["isolated"]) == (2, 1, 2, 1, 0)
    assert stats["sources"] == {"manual": 2}
    assert summary_counts(every) == {"digest": 1, "profile": 1}
