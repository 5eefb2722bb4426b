"""The proposals inbox: changes a model suggested but nobody has applied yet, kept in Chroma.

Why in Chroma next to the log: a proposal waits for the person across restarts and across
instances over one server, exactly like a note. Applying an accepted proposal is the memory
layer's job (memory_core/memory/review.py), through ``store.update/link(..., cause="proposal:<id>")``,
so the applied change is an ordinary event that names the proposal.
"""

from __future__ import annotations

import builtins
import json
import threading
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from ..errors import InputError, NotFoundError, StoreError
from ..notes import now_iso
from .codec import dumps

KINDS = ("context", "tags", "link", "supersede")
STATUSES = ("pending", "accepted", "rejected")


@dataclass
class Proposal:
    target_id: str  # the note to change
    kind: str  # "context" | "tags" | "link" | "supersede" (target: the older note; after: {"by": newer id})
    before: Any  # the current value when proposed
    after: Any  # the proposed value; for a link: {"target": id, "reason": str}
    source_id: str = ""  # the note whose arrival caused it
    proposed_by: str = ""  # e.g. "evolver:SmolLM2-135M"
    grounding: dict[str, Any] = field(default_factory=dict)  # score(s) + a short sentence why
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    created: str = field(default_factory=now_iso)
    status: str = "pending"
    resolved_by: str = ""
    resolved_at: str = ""
    resolution_note: str = ""


class ProposalInbox:
    """``store.proposals``: add, list, get, count, set_status."""

    def __init__(self, read: Callable[[], Any], write: Callable[[], Any], lock: threading.RLock) -> None:
        self._read = read  # the collection to read (a local store reads Chroma's file until it first writes)
        self._live = write  # the collection to write to (opens Chroma if need be)
        self._lock = lock

    def _write(self, p: Proposal) -> None:
        try:
            self._live().upsert(ids=[p.id], embeddings=[[0.0]],
                            metadatas=[{"p": dumps(asdict(p)), "status": p.status, "target": p.target_id,
                                        "source": p.source_id, "created": p.created}])
        except Exception as exc:  # noqa: BLE001
            raise StoreError(f"Saving proposal {p.id} failed: {type(exc).__name__}: {exc}") from exc

    def add(self, p: Proposal) -> str:
        if p.kind not in KINDS:
            raise InputError(f"Unknown proposal kind {p.kind!r}; use one of {', '.join(KINDS)}.")
        with self._lock:
            self._write(p)
        return p.id

    def list(self, status: str | None = "pending") -> list[Proposal]:
        """Proposals with this status (None: all), oldest first."""
        where = {"status": status} if status else None
        try:
            got = self._read().get(where=where, include=["metadatas"])
        except Exception as exc:  # noqa: BLE001
            raise StoreError(f"Reading the proposals failed: {type(exc).__name__}: {exc}") from exc
        out = [_load(m) for m in got["metadatas"]]
        return sorted(out, key=lambda p: (p.created, p.id))

    def get(self, pid: str) -> Proposal:
        got = self._read().get(ids=[pid], include=["metadatas"])
        if not got["ids"]:
            raise NotFoundError(f"No proposal with id {pid!r}.")
        return _load(got["metadatas"][0])

    def count(self, status: str | None = "pending") -> int:
        return len(self.list(status))

    def set_status(self, pid: str, status: str, by: str, note: str = "") -> Proposal:
        if status not in ("accepted", "rejected"):
            raise InputError(f"A proposal can be accepted or rejected, not {status!r}.")
        with self._lock:
            p = self.get(pid)
            p.status, p.resolved_by, p.resolved_at, p.resolution_note = status, by, now_iso(), note
            self._write(p)
        return p

    def forget_notes(self, note_ids: set[str], quoted: Callable[[str], bool] | None = None) -> int:
        """Delete every proposal about (or caused by) these notes, or that ``quoted`` finds quoting them
        (a model proposing another note's context often copies a neighbour's words)."""
        got = self._read().get(include=["metadatas"])
        doomed = [pid for pid, m in zip(got["ids"], got["metadatas"])
                  if m.get("target") in note_ids or m.get("source") in note_ids
                  or any(nid in str(m.get("p", "")) for nid in note_ids)
                  or (quoted is not None and quoted(str(m.get("p", ""))))]
        if doomed:
            self._live().delete(ids=doomed)
        return len(doomed)

    def dump(self) -> builtins.list[dict[str, Any]]:  # ``list`` is a method here
        got = self._read().get(include=["metadatas"])
        return [dict(m) | {"_id": pid} for pid, m in zip(got["ids"], got["metadatas"])]


def _load(meta: dict[str, Any]) -> Proposal:
    try:
        return Proposal(**json.loads(meta["p"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise StoreError(f"A proposal record is damaged: {exc}") from exc
