"""The second step of a chat write: the model's enrichment of a note that is already stored.

Why two steps: storing a sentence without the model (the worth rule, duplicates, corrections, YAKE
keywords, one embedding, links by rule) takes about a second; the model's keywords, context and tags,
its link ideas and its evolution of the neighbours take 20-100 s on the bundled model, and minutes
with a backlog. A person should find what they said at once, so the chat stores first
(``remember_turn(mode="fast")``) and this step runs later, behind every new store. It changes the
note through ordinary events (by ``enricher``, ``linker``, ``evolver``), so each change is in the
note's history and can be reverted, and it never overwrites a field the person edited meanwhile.

Exactly once: every event it commits carries ``enrich_key(note_id)``, and the commit first asks the
store (under its write lock, which is held across processes) whether an event with that key exists.
A resumed or doubled enrichment therefore commits nothing the second time. It always commits at least
one event (the "evolution" record of what it did), so its key is found even when the model added
nothing.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..notes import Change, Note
from .evolve import Judged, apply_judged, judge_decision, record_proposals
from .records import WriteReport

ENRICHED_FIELDS = ("keywords", "context", "tags")


def enrich_key(note_id: str) -> str:
    """The cause recorded on every event of a note's enrichment step."""
    return f"enrich:{note_id}"


def enrichment_done(store: Any, note_id: str) -> bool:
    """Did some process already commit this note's enrichment step?"""
    return bool(store.caused_by(enrich_key(note_id)))


def enrich_stored(pipe: Any, note_id: str, progress: Any = None) -> dict[str, Any]:
    """Ask the model to enrich a stored note, judge its link and evolution ideas, and commit the result.

    Returns what it did: ``status`` "enriched", "gone" (the note was deleted meanwhile) or "already"
    (another process did it), with the counts a write reports (links, proposals, proposed, grounded,
    applied) and where the keywords came from (``enrichment_source``: model, model-retry, fallback).
    Model trouble is reported, not raised: the note keeps its deterministic keywords and is marked
    for re-enrichment."""
    say = progress or (lambda _stage: None)
    store = pipe.store
    if note_id not in store.notes_view():
        return {"status": "gone", "note_id": note_id}
    if enrichment_done(store, note_id):
        return {"status": "already", "note_id": note_id}
    say("enriching")
    stored = store.get(note_id)
    report = WriteReport(note_id=note_id, mode="enrich")
    scratch = Note(content=stored.content, id=stored.id)
    pipe._enrich(scratch, report)  # the model's keywords, context and tags (or the fallback's)
    usable = report.enrichment_source != "fallback"
    candidate = _with_enrichment(stored, scratch) if usable else stored
    vec = np.asarray(store.embedder.embed([candidate.text_for_embedding()])[0], dtype=np.float32)
    neighbours = store.nearest(vec, pipe.settings.neighbours_k, exclude={note_id})
    decision = pipe._decide(candidate, neighbours, report)
    judged = Judged() if decision is None else judge_decision(pipe, candidate, neighbours, decision, report,
                                                                set(stored.link_targets))
    auto = pipe.auto_apply()
    key = enrich_key(note_id)
    with store.writing() as w:
        if enrichment_done(store, note_id):
            return {"status": "already", "note_id": note_id}
        if not w.exists(note_id):
            return {"status": "gone", "note_id": note_id}
        note = w.get(note_id)
        edited = {c.field for c in note.history if c.by == "person"}
        if usable:
            for name in ENRICHED_FIELDS:
                if name not in edited:
                    note.set_field(name, getattr(scratch, name), "enricher")
        note.needs_enrichment = not usable and not edited.intersection(ENRICHED_FIELDS)
        if auto:
            apply_judged(w, note, judged, report)
        note.history.append(Change("evolution", None, {
            "shown": [nb.note.id for nb in neighbours], "linked": list(report.links), "evolved": report.evolved,
            "ignored_ids": report.ignored_ids, "proposed": len(judged.items), "rejected": judged.rejected,
            "enrichment": report.enrichment_source}, by="evolver"))
        same_text = note.text_for_embedding() == candidate.text_for_embedding()
        w.put(note, vec if same_text else None, cause=key)
    report.proposals = record_proposals(store, judged, applied=auto)
    return {"status": "enriched", "note_id": note_id, "links": list(report.links),
            "proposals": list(report.proposals), "proposed": report.proposed, "grounded": report.grounded,
            "applied": report.applied, "evolved": list(report.evolved),
            "enrichment_source": report.enrichment_source, "llm_calls": report.usage.calls,
            "problems": list(report.problems)[:5]}


def _with_enrichment(stored: Note, scratch: Note) -> Note:
    """The stored note as it would read with the model's keywords, context and tags (for its vector and
    the link decision), fields the person edited kept as they are."""
    from ..store.codec import note_copy

    out = note_copy(stored)
    edited = {c.field for c in stored.history if c.by == "person"}
    for name in ENRICHED_FIELDS:
        if name not in edited:
            value = getattr(scratch, name)
            setattr(out, name, list(value) if isinstance(value, list) else value)
    return out
