"""Graph signals: A-MEM's link expansion, and HippoRAG-style personalized PageRank.

PPR (Gutiérrez et al., HippoRAG, 2024): a graph of notes and the entities they name (plus the
links between notes); a random walk restarts at the best lexical/dense hits, so notes that share
a person, pet or place with them gain weight even when they share no word with the query: the
second hop of a multi-hop question. Entity nodes are weighted by specificity (a name in every
second note says little), and the walk runs on the seeds' two-hop neighbourhood so a query costs
in proportion to what it touches, not to the store.
"""

from __future__ import annotations

import math
from typing import Any

import networkx as nx

from ..notes import Note

PPR_ALPHA = 0.5  # HippoRAG's damping: half the mass returns to the seeds at each step
PPR_SEEDS = 5
MAX_ENTITY_SHARE = 0.2  # an entity named in more than this share of notes is no signal (a speaker name)


def entity_graph(seeds: dict[str, float], entities: dict[str, set[str]], links: nx.DiGraph,
                 notes: dict[str, Note]) -> nx.Graph:
    """The seeds' two-hop neighbourhood: note - entity - note, and note - note along links."""
    df: dict[str, int] = {}
    for found in entities.values():
        for key in found:
            df[key] = df.get(key, 0) + 1
    cap = max(3, int(MAX_ENTITY_SHARE * max(1, len(notes))))
    by_entity: dict[str, list[str]] = {}
    g = nx.Graph()
    frontier, visited = set(seeds), set[str]()
    for _hop in range(2):
        nxt: set[str] = set()
        for nid in frontier - visited:
            visited.add(nid)
            g.add_node(nid)
            for key in entities.get(nid, ()):
                if df.get(key, 0) > cap or df.get(key, 0) < 2:
                    continue
                ent = "entity:" + key
                weight = 1.0 / math.log(1 + df[key])
                g.add_edge(nid, ent, weight=weight)
                if key not in by_entity:
                    by_entity[key] = [o for o, f in entities.items() if key in f]
                for other in by_entity[key]:
                    if other != nid and other in notes:
                        g.add_edge(ent, other, weight=weight)
                        nxt.add(other)
            if nid in links:
                for other in set(links.successors(nid)) | set(links.predecessors(nid)):
                    if other in notes:
                        g.add_edge(nid, other, weight=1.0)
                        nxt.add(other)
        frontier = nxt - visited
    return g


def personalized_pagerank(seeds: dict[str, float], entities: dict[str, set[str]], links: nx.DiGraph,
                          notes: dict[str, Note]) -> tuple[dict[str, float], dict[str, str]]:
    """(PPR mass per note, and for notes reached from a seed: the seed it came through)."""
    seeds = {s: w for s, w in seeds.items() if w > 0}
    if not seeds:
        return {}, {}
    g = entity_graph(seeds, entities, links, notes)
    if g.number_of_edges() == 0:
        return {}, {}
    total = sum(seeds.values())
    personalization = {n: seeds.get(n, 0.0) / total for n in g.nodes}
    try:
        rank = nx.pagerank(g, alpha=PPR_ALPHA, personalization=personalization, weight="weight",
                           max_iter=100, tol=1e-8)
    except nx.PowerIterationFailedConvergence:
        return {}, {}
    scores = {n: s for n, s in rank.items() if not n.startswith("entity:")}
    via: dict[str, str] = {}
    for n in scores:
        if n in seeds:
            continue
        best = max(seeds, key=lambda s: (_shared(s, n, entities, links), seeds[s]))
        via[n] = best
    return scores, via


def _shared(a: str, b: str, entities: dict[str, set[str]], links: nx.DiGraph) -> int:
    linked = int(links.has_edge(a, b) or links.has_edge(b, a)) if a in links and b in links else 0
    return len(entities.get(a, set()) & entities.get(b, set())) + linked


def expand_links(top: list[Any], hits: dict[str, Any], notes: dict[str, Note], links: nx.DiGraph,
                 weight: float, make_hit: Any) -> list[Any]:
    """A-MEM's expansion: the notes linked to (or from) each top hit, at ``weight`` x the parent's score."""
    extra: dict[str, Any] = {}
    for hit in top:
        nid = hit.note.id
        if nid not in links:
            continue
        for other in set(links.successors(nid)) | set(links.predecessors(nid)):
            if other not in notes:
                continue
            score = weight * hit.score
            direct = hits.get(other)
            if direct is not None and direct.score >= score:
                continue
            if other in extra and extra[other].score >= score:
                continue
            extra[other] = make_hit(other, score, direct, hit)
    merged = {h.note.id: h for h in top}
    for nid, hit in extra.items():
        if nid not in merged or merged[nid].score < hit.score:
            merged[nid] = hit
    return list(merged.values())
