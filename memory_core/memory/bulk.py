"""Fast bulk add (imports, benchmarks): no model, one store write per batch; links by the rules (the same
names, a shared topic word: ``import_links``) and by similarity.

Why a pipeline: per note, embedding costs ~6 ms of CPU here (ONNX Runtime, which releases the GIL),
YAKE keywords ~1.2 ms (pure Python) and linking plus the store write ~2.8 ms (Chroma, which holds
the GIL). A worker thread embeds batch k+1 while this thread writes batch k and enriches batch
k+2, so the embedding runs beside everything else instead of after it. (Enriching on the worker
as well was tried: YAKE then waits for the GIL while Chroma writes, and took 3.8 ms a note.)
Linking still sees every note before it, stored or earlier in the same batch: it runs here, on
``ImportLinker``'s postings, which grow note by note.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from ..notes import Change, Link, Note, clean_content, creator, normalise_time, now_iso
from ..retrieval.late import token_cache, token_vectors
from .import_links import ImportLinker
from .link_kinds import similar_reason
from .validation import fallback_enrichment

if TYPE_CHECKING:
    from ..store import Store
    from .records import BulkReport, NewItem


@dataclass
class Prepared:
    """One enriched batch: where it starts among the items, its size, its notes, the items that failed."""

    start: int
    size: int
    notes: list[Note]
    errors: list[str] = field(default_factory=list)


def enrich(chunk: list[NewItem], offset: int) -> Prepared:
    """Clean and enrich (YAKE) one batch; an item that fails is named, not fatal. No vectors yet."""
    notes: list[Note] = []
    errors: list[str] = []
    for i, item in enumerate(chunk):
        try:
            content = clean_content(item.content)
            note = Note(content=content, source=item.source, source_ref=item.source_ref,
                        timestamp=normalise_time(item.timestamp) if item.timestamp else now_iso(),
                        turn_context=item.turn_context, speaker=item.speaker,
                        conversation_id=item.conversation_id, message_id=item.message_id)
        except Exception as exc:  # noqa: BLE001 - one bad item must not stop an import
            errors.append(f"item {offset + i + 1}: {exc}")
            continue
        note.history.append(Change("created", None, item.source, by=creator(item.source)))
        fb = fallback_enrichment(content) if None in (item.keywords, item.tags, item.context) else {}
        note.keywords = item.keywords if item.keywords is not None else fb["keywords"]
        note.tags = item.tags if item.tags is not None else fb["tags"]
        note.context = item.context if item.context is not None else fb["context"]
        notes.append(note)
    return Prepared(offset, len(chunk), notes, errors)


def embed(store: Store, batch: Prepared) -> np.ndarray:
    """The batch's vectors; with MiniLM the same pass gives each note's token vectors, which recall's
    rerank keeps (retrieval/late.py), so imported notes need no second pass when first searched."""
    if not batch.notes:
        return np.zeros((0, 0), dtype=np.float32)
    texts = [n.text_for_embedding() for n in batch.notes]
    made = token_vectors(store.embedder, texts)
    if made is None:
        return np.asarray(store.embedder.embed(texts), dtype=np.float32)
    token_cache(store).put([n.id for n in batch.notes], texts, made[1])
    return np.asarray(made[0], dtype=np.float32)


def link_and_write(store: Store, batch: Prepared, vecs: np.ndarray, *, k: int, threshold: float,
                   linker: ImportLinker) -> None:
    """Link each note to the notes before it (the rules' links first, then its nearest stored notes and
    earlier notes of this batch above ``threshold``), then write the batch.

    A note's links are set in one change (one history entry), not one change per link; one link per
    target, the rule's reason winning (it says more than a cosine).
    """
    notes = batch.notes
    stored = store.nearest_many(vecs, k)
    for j, note in enumerate(notes):
        links = [Link(target, reason, by="system") for target, reason in linker.links(note, vecs[j])]
        taken = {x.target for x in links}
        candidates: list[tuple[float, str]] = [(sim, nid) for nid, sim in stored[j]]
        if j:
            sims = vecs[:j] @ vecs[j]
            for idx in np.argsort(-sims)[:k]:
                candidates.append((float(sims[idx]), notes[idx].id))
        links += [Link(target, similar_reason(sim), by="system")
                  for sim, target in sorted(candidates, reverse=True)[:k]
                  if sim >= threshold and target != note.id and target not in taken]
        if links:
            note.set_field("links", links, by="system")
        linker.add(note, vecs[j])
    with store.writing() as w:
        for note, vec in zip(notes, vecs):
            w.put(note, vec)


def add_fast(store: Store, items: list[NewItem], report: BulkReport, *, k: int, threshold: float,
             batch_size: int, total: int, progress: Callable[[int, int], None] | None = None,
             cancel: threading.Event | None = None) -> None:
    """Add ``items`` batch by batch: embed batch k+1 on a worker while batch k is written (module doc)."""
    starts = iter(range(0, len(items), batch_size))

    def enrich_next() -> Prepared | None:
        start = next(starts, None)
        return None if start is None else enrich(items[start:start + batch_size], start)

    linker = ImportLinker(store)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="memex-embed") as worker:
        current = enrich_next()
        vectors: Future[np.ndarray] | None = worker.submit(embed, store, current) if current else None
        upcoming = enrich_next()
        while current is not None and vectors is not None:
            if cancel is not None and cancel.is_set():
                report.cancelled = True
                break
            vecs = vectors.result()
            vectors = worker.submit(embed, store, upcoming) if upcoming else None
            report.errors.extend(current.errors)
            if current.notes:
                link_and_write(store, current, vecs, k=k, threshold=threshold, linker=linker)
                report.added += len(current.notes)
                report.note_ids.extend(n.id for n in current.notes)
            if progress:
                progress(min(current.start + current.size, total), total)
            current, upcoming = upcoming, enrich_next()
