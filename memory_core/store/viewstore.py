"""The notes view in Chroma: one record per current note (text, vector, flat metadata), and reindex.

The view is derived from the log: it exists so that vectors survive a restart without
re-embedding, and so a Chroma server can answer nearest-neighbour queries. Each record names the
last event folded into it and a hash of the embedded text, so a record that lags the log (a crash
between the append and the view update, or a concurrent writer) is found and repaired on open.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import StoreError
from ..notes import Note
from . import backend, snapshot
from .codec import text_hash, view_record
from .events import whole_batches
from .fold import fold


class ViewMixin:
    """``self`` is a MemoryStore."""

    def _view_vectors(self, notes: dict[str, Note], last: dict[str, str]) -> dict[str, np.ndarray]:
        """Vectors from the notes view; notes whose view record lags the log are embedded and repaired."""
        vectors: dict[str, np.ndarray] = {}
        stale: list[str] = []
        try:
            got = self._cols.view.get(include=["embeddings", "metadatas"])
        except Exception as exc:  # noqa: BLE001
            if self.server:
                raise backend.server_problem(self.settings, exc) from exc
            raise StoreError(f"Reading the notes view in {self.home} failed: {type(exc).__name__}: {exc}") from exc
        hashes = {}
        for i, nid in enumerate(got["ids"]):
            meta = got["metadatas"][i] or {}
            hashes[nid] = (meta.get("text_hash"), meta.get("last_event"))
            vector = got["embeddings"][i]  # None from a reader where Chroma no longer logs it
            if nid in notes and meta.get("text_hash") == text_hash(notes[nid]) and vector is not None:
                vectors[nid] = np.asarray(vector, dtype=np.float32)
        for nid in notes:
            if hashes.get(nid, (None, None)) != (text_hash(notes[nid]), last.get(nid)):
                stale.append(nid)
        gone = [nid for nid in hashes if nid not in notes]
        if (stale or gone) and self._writable:
            self._write_view(notes, stale, gone, vectors, embed_missing=True)
            return vectors
        self._repairs = (stale, gone)  # a reader fixes nothing; its first write does (``_settle_repairs``)
        missing = [nid for nid in notes if nid not in vectors]
        if missing:  # vectors a reader cannot read back from Chroma: the same embedder makes them again
            fresh = self.embedder.embed([notes[n].text_for_embedding() for n in missing])
            vectors.update({n: np.asarray(v, dtype=np.float32) for n, v in zip(missing, fresh)})
        return vectors

    def _write_view(self, notes: dict[str, Note], ids: list[str], gone: list[str],
                    vectors: dict[str, np.ndarray], embed_missing: bool) -> None:
        need = [nid for nid in ids if nid not in vectors]
        if need and embed_missing:
            fresh = self.embedder.embed([notes[n].text_for_embedding() for n in need])
            for nid, vec in zip(need, fresh):
                vectors[nid] = np.asarray(vec, dtype=np.float32)
        step = self._cols.max_batch
        for start in range(0, len(ids), step):
            chunk = ids[start:start + step]
            records = [view_record(notes[n], self._fold.last.get(n, "")) for n in chunk]
            metas = [meta | {"text_hash": text_hash(notes[n])} for n, (_doc, meta) in zip(chunk, records)]
            self._cols.view.upsert(ids=chunk, embeddings=[vectors[n].tolist() for n in chunk],
                                   documents=[doc for doc, _meta in records], metadatas=metas)
        if gone:
            self._cols.view.delete(ids=gone)

    def reindex(self) -> dict[str, Any]:
        """Rebuild the notes view and every derived index from the change log alone (``memex reindex``).

        Vectors whose text is unchanged are kept (the text hash says so); the rest are embedded.
        """
        self._go_live()
        with self._lock, self._process_lock():
            self._follow(force=True)
            events = whole_batches(self._read_log())[0]
            notes = fold(events).notes
            got = self._cols.view.get(include=["embeddings", "metadatas"])
            vectors = {nid: np.asarray(got["embeddings"][i], dtype=np.float32)
                       for i, nid in enumerate(got["ids"])
                       if nid in notes and (got["metadatas"][i] or {}).get("text_hash") == text_hash(notes[nid])}
            reused = len(vectors)
            name = backend.VIEW
            self._cols.client.delete_collection(name)
            self._cols.view = self._cols.client.get_or_create_collection(
                name, metadata=backend.VIEW_META, embedding_function=None)
            self._fold = fold(events)
            self._write_view(self._fold.notes, list(self._fold.notes), [], vectors, embed_missing=True)
            self._follower.mark_written()
            snapshot.delete(self.home)
            self._load(use_snapshot=False)
            self._save_snapshot()
        return {"notes": len(self._fold.notes), "events": len(events), "vectors_reused": reused,
                "embedded": len(self._fold.notes) - reused}
