"""The notes view in Chroma: one record per current note (text, vector, flat metadata).

The view is derived from the log: it exists so that vectors survive a restart without
re-embedding, and so a Chroma server can answer nearest-neighbour queries. Each record names the
last event folded into it and a hash of the embedded text, so a record that lags the log (a crash
between the append and the view update, or a concurrent writer) is found and repaired on open.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..models.embeddings import Embedder
from ..notes import Note
from . import backend
from .codec import text_hash, view_record


@dataclass
class ViewRead:
    """What the view holds for the folded notes: usable vectors, and the records to repair."""

    vectors: dict[str, np.ndarray] = field(default_factory=dict)
    stale: list[str] = field(default_factory=list)  # notes whose record lags the log (or is missing)
    gone: list[str] = field(default_factory=list)  # records of notes that no longer exist


def read_view(cols: backend.Collections, notes: dict[str, Note], last: dict[str, str]) -> ViewRead:
    """The vectors whose record matches the note's text, and which records lag the log."""
    out = ViewRead()
    got = cols.view.get(include=["embeddings", "metadatas"])
    hashes = {}
    for i, nid in enumerate(got["ids"]):
        meta = got["metadatas"][i] or {}
        hashes[nid] = (meta.get("text_hash"), meta.get("last_event"))
        vector = got["embeddings"][i]  # None from a reader where Chroma no longer logs it
        if nid in notes and meta.get("text_hash") == text_hash(notes[nid]) and vector is not None:
            out.vectors[nid] = np.asarray(vector, dtype=np.float32)
    out.stale = [nid for nid in notes if hashes.get(nid, (None, None)) != (text_hash(notes[nid]), last.get(nid))]
    out.gone = [nid for nid in hashes if nid not in notes]
    return out


def embed_into(embedder: Embedder, notes: dict[str, Note], ids: list[str], vectors: dict[str, np.ndarray]) -> None:
    """Embed the notes among ``ids`` that have no vector yet (in one call), into ``vectors``."""
    need = [nid for nid in ids if nid not in vectors]
    if need:
        fresh = embedder.embed([notes[n].text_for_embedding() for n in need])
        vectors.update({n: np.asarray(v, dtype=np.float32) for n, v in zip(need, fresh)})


def write_view(cols: backend.Collections, notes: dict[str, Note], last: dict[str, str], ids: list[str],
               gone: list[str], vectors: dict[str, np.ndarray]) -> None:
    """Upsert the records of ``ids`` (each must have a vector) and delete those of ``gone``."""
    step = cols.max_batch
    for start in range(0, len(ids), step):
        chunk = ids[start:start + step]
        records = [view_record(notes[n], last.get(n, "")) for n in chunk]
        metas = [meta | {"text_hash": text_hash(notes[n])} for n, (_doc, meta) in zip(chunk, records)]
        cols.view.upsert(ids=chunk, embeddings=[vectors[n].tolist() for n in chunk],
                         documents=[doc for doc, _meta in records], metadatas=metas)
    if gone:
        cols.view.delete(ids=gone)


def recreate_view(cols: backend.Collections) -> None:
    """An empty view collection with the settings it is created with (``memex reindex``)."""
    cols.client.delete_collection(backend.VIEW)
    cols.view = cols.client.get_or_create_collection(backend.VIEW, metadata=backend.VIEW_META,
                                                     embedding_function=None)
