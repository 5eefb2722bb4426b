"""Closing an older note when a newer one replaces it, at once or after asking the person.

Why one place: a sure correction closes the old note inside the write that stores the new one
(``pipeline.add(supersedes=...)``); an unsure one becomes a "supersede" proposal in Review ("Does
this replace ...?"), and accepting it closes the note the same way, later. Both set ``valid_until``
and ``superseded_by`` on the old note (it is kept: it was true once) and link the new note to it, so
retrieval ranks the old one below the new one and the graph shows what replaced what.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..notes import Note
from .inbox import Proposal, inbox
from .link_kinds import CORRECTS_REASON

if TYPE_CHECKING:
    from ..store import Store

LINK_REASON = CORRECTS_REASON  # link_kinds reads it back as a correction
KIND = "supersede"


def close(w: Any, old_id: str, new: Note, when: str, by: str = "system", cause: str = "") -> bool:
    """Inside a write: mark ``old_id`` as replaced by ``new`` (from ``when``) and link ``new`` to it.
    ``new`` is changed in place; the caller puts it. Returns False when the old note is gone."""
    if not w.exists(old_id) or old_id == new.id:
        return False
    old = w.get(old_id)
    old.set_field("superseded_by", new.id, by)
    old.set_field("valid_until", when, by)
    w.put(old, cause=cause)
    new.add_link(old_id, LINK_REASON, by=by)
    return True


def ask(store: Store, verdict: Any, new_id: str) -> str:
    """Record "Does this replace ...?" for the person (an unsure verdict). Returns the proposal id."""
    old = verdict.note
    p = Proposal(target_id=old.id, kind=KIND, before=old.superseded_by or "",
                 after={"by": new_id, "reason": verdict.why}, source_id=new_id, proposed_by="corrections",
                 grounding={"why": verdict.why, "similarity": round(float(verdict.similarity), 3)})
    return inbox(store).add(p)


def accept(store: Store, p: Any, by: str, cause: str) -> None:
    """Apply an accepted "supersede" proposal: the old note is closed from the new note's time."""
    from ..errors import InputError

    new_id = (p.after or {}).get("by", "") if isinstance(p.after, dict) else ""
    with store.writing() as w:
        if not new_id or not w.exists(new_id) or not w.exists(p.target_id):
            raise InputError("One of the two notes has been deleted; nothing to replace.")
        new = w.get(new_id)
        close(w, p.target_id, new, new.timestamp, by=by, cause=cause)
        w.put(new, cause=cause)


def is_stale(store: Store, p: Any) -> bool:
    """The old note was closed (or reopened) since, or either note is gone."""
    new_id = (p.after or {}).get("by", "") if isinstance(p.after, dict) else ""
    if p.target_id not in store or new_id not in store:
        return True
    return store.get(p.target_id).superseded_by != (p.before or "")
