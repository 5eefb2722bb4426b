"""The model's link and evolution ideas, judged one by one, then applied or left for review.

Each idea becomes a proposal: a link from the new note to a neighbour, or a new context / new tags
for a neighbour. ``proposals.judge_*`` decides whether it is grounded in its target note; what is
not grounded is dropped (counted, with why); what is grounded is applied in the same write as the
new note when the model is capable and the setting allows it, and otherwise waits in the inbox.
Either way every grounded proposal is recorded, and an applied change names it as its cause.
"""

from __future__ import annotations

import copy
import functools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..notes import Note
from .capability import model_label
from .inbox import Proposal, inbox
from .proposals import clean_reason, judge_context, judge_link, judge_tags

if TYPE_CHECKING:
    from ..models.embeddings import Embedder
    from ..store import Store, WriteBatch

JUDGE = "judge"  # resolved_by of a proposal the judge turned down (the person may accept it anyway)
UNREADABLE_REASON = "Related, as the model proposed."


@dataclass
class Judged:
    items: list[Any] = field(default_factory=list)  # grounded Proposal records, not yet stored
    rejected: list[str] = field(default_factory=list)  # "kind target: why" for the others
    declined: list[Any] = field(default_factory=list)  # the others as Proposal records, with why


def _declined(judged: Judged, p: Proposal, why: str) -> None:
    """Keep a turned-down proposal, with why, for the Review page (the person may accept it anyway)."""
    p.status, p.resolved_by, p.resolution_note = "rejected", JUDGE, why
    judged.declined.append(p)


def similarity_fn(embedder: Embedder) -> Any:
    """Cosine of two texts with the store's embedder (cached: a proposal compares a few texts)."""

    @functools.lru_cache(maxsize=256)
    def vec(text: str) -> np.ndarray:
        return np.asarray(embedder.embed([text])[0], dtype=np.float32)

    def sim(a: str, b: str) -> float:
        return float(vec(a) @ vec(b))

    return sim


def judge_decision(pipe: Any, note: Note, neighbours: list[Any], decision: dict[str, Any], report: Any,
                   linked: set[str] | frozenset[str] = frozenset()) -> Judged:
    """Judge every link and evolution the model proposed for ``note``'s neighbours (``linked``: the
    notes the rules already link it to, so a proposal to link them again is no proposal)."""
    judged = Judged()
    sim = similarity_fn(pipe.store.embedder)
    by_id = {nb.note.id: nb for nb in neighbours}
    who = model_label(pipe.llm)
    speakers = {"person"}
    for target, reason in decision.get("links", []):
        report.proposed += 1
        nb = by_id.get(target)
        if nb is None or target in linked:
            continue
        verdict = judge_link(note, nb.note, reason, similarity=nb.similarity)
        if not verdict.ok:
            judged.rejected.append(f"link {target[:8]}: {verdict.why}")
            readable = clean_reason(reason)[0] or UNREADABLE_REASON
            _declined(judged, Proposal(target_id=note.id, kind="link", before=[], source_id=note.id,
                                       after={"target": target, "reason": readable},
                                       proposed_by=f"linker:{who}",
                                       grounding={**verdict.grounding, "proposed_reason": str(reason)[:300]}),
                      verdict.why)
            continue
        judged.items.append(Proposal(target_id=note.id, kind="link", before=[],
                                     after={"target": target, "reason": verdict.value}, source_id=note.id,
                                     proposed_by=f"linker:{who}", grounding=verdict.grounding))
    for target, ctx, tags in decision.get("evolve", []):
        nb = by_id.get(target)
        if nb is None:
            continue
        if ctx:
            report.proposed += 1
            verdict = judge_context(nb.note, ctx, source=note, similarity=sim)
            if verdict.ok:
                judged.items.append(Proposal(target_id=target, kind="context", before=nb.note.context,
                                             after=verdict.value, source_id=note.id,
                                             proposed_by=f"evolver:{who}", grounding=verdict.grounding))
            else:
                judged.rejected.append(f"context {target[:8]}: {verdict.why}")
                _declined(judged, Proposal(target_id=target, kind="context", before=nb.note.context,
                                           after=str(ctx)[:500], source_id=note.id, proposed_by=f"evolver:{who}",
                                           grounding=dict(verdict.grounding)), verdict.why)
        if tags:
            report.proposed += 1
            verdict = judge_tags(nb.note, tags, similarity=sim, speakers=speakers)
            if verdict.ok:
                judged.items.append(Proposal(target_id=target, kind="tags", before=list(nb.note.tags),
                                             after=verdict.value, source_id=note.id,
                                             proposed_by=f"evolver:{who}", grounding=verdict.grounding))
            else:
                judged.rejected.append(f"tags {target[:8]}: {verdict.why}")
                wanted = [str(t)[:40] for t in tags][:5] if isinstance(tags, list) else []
                if wanted:
                    _declined(judged, Proposal(target_id=target, kind="tags", before=list(nb.note.tags),
                                               after=list(dict.fromkeys([*nb.note.tags, *wanted]))[:5],
                                               source_id=note.id, proposed_by=f"evolver:{who}",
                                               grounding=dict(verdict.grounding)), verdict.why)
    report.grounded += len(judged.items)
    report.rejected.extend(judged.rejected)
    return judged


def _put(w: WriteBatch, note: Note, cause: str) -> None:
    try:
        w.put(note, cause=cause)
    except TypeError:  # a store without causes on puts
        w.put(note)


def apply_judged(w: WriteBatch, note: Note, judged: Judged, report: Any) -> None:
    """Apply grounded proposals inside the write that creates ``note`` (capable model only)."""
    for p in judged.items:
        cause = f"proposal:{p.id}"
        if p.kind == "link":
            target = p.after["target"]
            if w.exists(target) and note.add_link(target, p.after["reason"], by="linker"):
                report.links.append(target)
                p.status = "accepted"
            continue
        if not w.exists(p.target_id):
            continue
        other = w.get(p.target_id)
        if getattr(other, p.kind) != p.before:  # changed since the neighbours were read
            continue
        if other.set_field(p.kind, copy.deepcopy(p.after), "evolver"):
            _put(w, other, cause)
            if p.target_id not in report.evolved:
                report.evolved.append(p.target_id)
            p.status = "accepted"
    report.applied += sum(p.status == "accepted" for p in judged.items)


def record_proposals(store: Store, judged: Judged, applied: bool) -> list[str]:
    """Store the grounded proposals: applied ones as accepted (by the system), the rest pending; and
    the turned-down ones as rejected by the judge, with why (not among the returned ids)."""
    box = inbox(store)
    ids: list[str] = []
    for p in judged.declined:
        p.resolved_at = p.created
        box.add(p)
    for p in judged.items:
        if applied and p.status == "accepted":
            p.status = "pending"
            box.add(p)
            box.set_status(p.id, "accepted", by="system", note="applied automatically (capable model)")
        elif not applied:
            box.add(p)
        ids.append(p.id)
    return ids
