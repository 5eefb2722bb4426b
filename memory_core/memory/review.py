"""The review inbox: accept, reject or edit-then-accept what the model proposed for a note.

Applying is done here, through the store's ordinary edits (``store.update``/``store.link``) with
``cause="proposal:<id>"``, so the applied change is a normal, revertible history entry that says
which proposal it came from. A proposal whose note changed since it was made (the person edited
that field, or another proposal got there first) is not applied: it is rejected as stale, and the
person's version stays.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import InputError, MemexError
from . import supersede
from .evolve import JUDGE
from .inbox import inbox, resolve_pid
from .proposals import clean_reason, has_fragment

if TYPE_CHECKING:
    from ..store import Proposal, Store


@dataclass
class ReviewResult:
    accepted: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)  # rejected because the note changed since
    problems: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"accepted": self.accepted, "rejected": self.rejected, "stale": self.stale,
                "problems": self.problems}


def pending(store: Store) -> list[Any]:
    return inbox(store).list("pending")


def is_declined(p: Proposal) -> bool:
    """Turned down by the judge when it was made (not by the person): it may still be accepted."""
    return p.status == "rejected" and p.resolved_by == JUDGE


def declined(store: Store) -> list[Any]:
    """The model's proposals the judge turned down, newest first, each with why (``resolution_note``)."""
    return sorted((p for p in inbox(store).list("rejected") if is_declined(p)), key=lambda p: p.created,
                  reverse=True)


def _current(store: Store, p: Proposal) -> Any:
    note = store.get(p.target_id)
    if p.kind == "link":
        return [x.target for x in note.links]
    return getattr(note, p.kind)


def is_stale(store: Store, p: Proposal) -> bool:
    """Has the field changed since the proposal was made? (Then applying it would overwrite that change.)"""
    if p.target_id not in store:
        return True
    if p.kind == supersede.KIND:
        return supersede.is_stale(store, p)
    if p.kind == "link":
        target = (p.after or {}).get("target", "")
        return target not in store or target in _current(store, p)
    return _current(store, p) != p.before


def apply(store: Store, p: Proposal, value: Any = None, by: str = "evolver") -> None:
    """Write the proposal's change (or ``value``, the person's edited version) to its note."""
    value = p.after if value is None else value
    cause = f"proposal:{p.id}"
    if p.kind == "link":
        target = value.get("target") if isinstance(value, dict) else None
        reason, problems = clean_reason(value.get("reason", "") if isinstance(value, dict) else "")
        if not target or not reason:
            raise InputError("A link needs a target note and a short readable reason" +
                             (f" ({problems[0]})." if problems else "."))
        store.link(p.target_id, target, reason, by="linker" if by == "evolver" else by, cause=cause)
    elif p.kind == supersede.KIND:
        supersede.accept(store, p, by="person" if by == "person" else "system", cause=cause)
    elif p.kind == "context":
        if not isinstance(value, str) or not value.strip() or has_fragment(value):
            raise InputError("A context must be a plain sentence.")
        store.update(p.target_id, by=by, cause=cause, context=value)
    elif p.kind == "tags":
        if isinstance(value, str):
            value = [t.strip() for t in value.split(",")]
        if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
            raise InputError("Tags must be a list of words.")
        store.update(p.target_id, by=by, cause=cause, tags=value)
    else:
        raise InputError(f"Unknown proposal kind {p.kind!r}.")


def accept(store: Store, pid: str, edited_after: Any = None, by: str = "person") -> Any:
    """Apply one pending proposal (``edited_after``: the person's corrected value) and mark it accepted.

    The change is written by the evolver (it is the model's change, and the person approved it);
    an edited value is the person's own words and is written as theirs.
    """
    box = inbox(store)
    p = box.get(resolve_pid(box, pid))
    if p.status != "pending" and not is_declined(p):
        raise InputError(f"Proposal {p.id} is already {p.status}.")
    if store.caused_by(f"proposal:{p.id}"):  # applied by a process that was killed before it could say so
        return box.set_status(p.id, "accepted", by=by, note="applied earlier; recorded now")
    if is_stale(store, p):
        if not is_declined(p):
            box.set_status(p.id, "rejected", by="system", note="the note changed since this was proposed")
        raise InputError(f"Proposal {p.id} is out of date: the note changed since; it was not applied.")
    apply(store, p, edited_after, by="person" if edited_after is not None else "evolver")
    note = "edited before accepting" if edited_after is not None else ""
    if is_declined(p):
        note = f"accepted although the judge turned it down ({p.resolution_note})" + (f"; {note}" if note else "")
    return box.set_status(p.id, "accepted", by=by, note=note)


def reject(store: Store, pid: str, by: str = "person", note: str = "") -> Any:
    box = inbox(store)
    p = box.get(resolve_pid(box, pid))
    if p.status != "pending":
        raise InputError(f"Proposal {p.id} is already {p.status}.")
    return box.set_status(p.id, "rejected", by=by, note=note)


def decide_many(store: Store, pids: list[str], action: str, by: str = "person") -> ReviewResult:
    """Accept (``action="accept"``) or reject every proposal in ``pids``, one by one: one that cannot be
    applied does not stop the others. Out-of-date ones end in ``stale`` (they were rejected); the rest
    that failed in ``problems``, as "<id>: <why>"."""
    if action not in ("accept", "reject"):
        raise InputError(f"Unknown decision {action!r}; accept or reject.")
    result = ReviewResult()
    for pid in pids:
        try:
            if action == "accept":
                accept(store, pid, by=by)
                result.accepted.append(pid)
            else:
                reject(store, pid, by=by)
                result.rejected.append(pid)
        except MemexError as exc:
            stale = action == "accept" and "out of date" in str(exc)
            (result.stale if stale else result.problems).append(pid if stale else f"{pid}: {exc}")
    return result


def accept_all(store: Store, by: str = "person") -> dict[str, int]:
    """Accept every pending proposal that still applies; stale ones are rejected. Returns counts."""
    result = decide_many(store, [p.id for p in pending(store)], "accept", by=by)
    return {"accepted": len(result.accepted), "stale": len(result.stale), "failed": len(result.problems)}


def describe(p: Proposal) -> dict[str, Any]:
    """A proposal as plain JSON, with the before/after the person decides on."""
    return {"id": p.id, "target_id": p.target_id, "kind": p.kind, "before": p.before, "after": p.after,
            "source_id": p.source_id, "proposed_by": p.proposed_by, "grounding": p.grounding,
            "created": p.created, "status": p.status, "resolved_by": p.resolved_by,
            "resolved_at": p.resolved_at, "resolution_note": p.resolution_note}
