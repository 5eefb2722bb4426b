"""Derived views kept in memory: the link graph, the BM25 index and the stacked vectors.

All three are functions of the folded notes (and their vectors), updated note by note after each
change and rebuilt from scratch on open or ``memex reindex``: nothing here is ever a source of truth.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass

import networkx as nx
import numpy as np

from ..notes import Note
from .lexical import BM25Index


def build_graph(notes: dict[str, Note]) -> nx.DiGraph:
    """The link graph derived from the notes: a node per note, an edge per link whose target exists."""
    graph = nx.DiGraph()
    graph.add_nodes_from(notes)
    for note in notes.values():
        for link in note.links:
            if link.target in notes:
                graph.add_edge(note.id, link.target, reason=link.reason, by=link.by, created=link.created)
    return graph


def lexical_text(note: Note) -> str:
    return " ".join([note.content, " ".join(note.keywords), " ".join(note.tags), note.context])


@dataclass
class Neighbour:
    note: Note
    similarity: float


_REVISIONS = itertools.count(1)  # one sequence for every DerivedViews: a revision is never reused


class DerivedViews:
    """Graph + lexical index + vectors for a dict of notes.

    ``revision`` changes whenever a note does: indexes derived further out (the retrieval's
    note+context index) compare it to skip a scan of every note when nothing changed.
    """

    def __init__(self) -> None:
        self.revision = next(_REVISIONS)
        self.graph: nx.DiGraph = nx.DiGraph()
        self.lexical = BM25Index()
        self.vectors: dict[str, np.ndarray] = {}
        self._matrix: tuple[list[str], np.ndarray] | None = None
        self._graph_copy: nx.DiGraph | None = None

    def rebuild(self, notes: dict[str, Note], vectors: dict[str, np.ndarray]) -> None:
        self.revision = next(_REVISIONS)
        self.graph = build_graph(notes)
        self.lexical = BM25Index()
        for note in notes.values():
            self.lexical.upsert(note.id, lexical_text(note))
        self.vectors = dict(vectors)
        self._matrix = None
        self._graph_copy = None

    def update(self, notes: dict[str, Note], changed: Iterable[str], vectors: dict[str, np.ndarray]) -> None:
        """Bring the views in line with ``notes`` for the ids in ``changed`` (changed, new or gone)."""
        changed = list(dict.fromkeys(changed))
        for nid in changed:
            note = notes.get(nid)
            if note is None:
                self.lexical.remove(nid)
                self.vectors.pop(nid, None)
                if self.graph.has_node(nid):
                    self.graph.remove_node(nid)
                continue
            self.lexical.upsert(nid, lexical_text(note))
            if nid in vectors:
                self.vectors[nid] = vectors[nid]
            if self.graph.has_node(nid):
                self.graph.remove_edges_from(list(self.graph.out_edges(nid)))
            self.graph.add_node(nid)
        for nid in changed:
            note = notes.get(nid)
            for link in note.links if note else []:
                if link.target in notes:
                    self.graph.add_edge(nid, link.target, reason=link.reason, by=link.by, created=link.created)
        if changed:
            self.revision = next(_REVISIONS)
            self._matrix = None
            self._graph_copy = None

    def stacked(self) -> tuple[list[str], np.ndarray]:
        """All vectors as one matrix (cached until a change touches a vector)."""
        if self._matrix is None:
            ids = list(self.vectors)
            matrix = np.vstack([self.vectors[i] for i in ids]) if ids else np.zeros((0, 1), dtype=np.float32)
            self._matrix = (ids, matrix)
        return self._matrix

    def graph_copy(self) -> nx.DiGraph:
        if self._graph_copy is None:
            self._graph_copy = self.graph.copy()
        return self._graph_copy
