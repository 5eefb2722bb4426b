"""Where proposals wait: the store's inbox (``store.proposals``), and the Proposal record.

The inbox and the record are the store's (memory_core/store/proposals.py, persisted in Chroma).
A store without one (an older store build, a test double) gets a process-local stand-in with the
same five methods, so the judging and review code runs the same either way; nothing in it
survives a restart, which ``persistent`` says.
"""

from __future__ import annotations

import threading
import uuid
import weakref
from dataclasses import dataclass, field
from typing import Any

from ..errors import InputError, NotFoundError
from ..notes import now_iso

try:  # the store's record, when the store package provides it
    from ..store.proposals import Proposal  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - exercised only against stores without an inbox

    @dataclass
    class Proposal:  # type: ignore[no-redef]
        target_id: str
        kind: str
        before: Any
        after: Any
        source_id: str = ""
        proposed_by: str = ""
        grounding: dict[str, Any] = field(default_factory=dict)
        id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
        created: str = field(default_factory=now_iso)
        status: str = "pending"
        resolved_by: str = ""
        resolved_at: str = ""
        resolution_note: str = ""


class LocalInbox:
    """The in-memory stand-in for ``store.proposals`` (same methods, not persisted)."""

    persistent = False

    def __init__(self) -> None:
        self._items: dict[str, Any] = {}
        self._lock = threading.RLock()

    def add(self, p: Any) -> str:
        if p.kind not in ("context", "tags", "link"):
            raise InputError(f"Unknown proposal kind {p.kind!r}.")
        with self._lock:
            self._items[p.id] = p
        return p.id

    def list(self, status: str | None = "pending") -> list[Any]:
        with self._lock:
            items = [p for p in self._items.values() if status is None or p.status == status]
        return sorted(items, key=lambda p: (p.created, p.id))

    def get(self, pid: str) -> Any:
        with self._lock:
            if pid not in self._items:
                raise NotFoundError(f"No proposal with id {pid!r}.")
            return self._items[pid]

    def count(self, status: str | None = "pending") -> int:
        return len(self.list(status))

    def set_status(self, pid: str, status: str, by: str, note: str = "") -> Any:
        if status not in ("accepted", "rejected"):
            raise InputError(f"A proposal can be accepted or rejected, not {status!r}.")
        with self._lock:
            p = self.get(pid)
            p.status, p.resolved_by, p.resolved_at, p.resolution_note = status, by, now_iso(), note
        return p


_LOCAL: weakref.WeakKeyDictionary[Any, LocalInbox] = weakref.WeakKeyDictionary()
_LOCAL_LOCK = threading.Lock()


def inbox(store: Any) -> Any:
    """The store's proposals inbox, or the process-local stand-in for a store without one."""
    found = getattr(store, "proposals", None)
    if found is not None:
        return found
    with _LOCAL_LOCK:
        if store not in _LOCAL:
            _LOCAL[store] = LocalInbox()
        return _LOCAL[store]


def resolve_pid(box: Any, prefix: str) -> str:
    """A full proposal id from a unique prefix (the CLI shows 8 characters)."""
    prefix = (prefix or "").strip()
    if not prefix:
        raise InputError("Give a proposal id (see `memex review list`).")
    matches = [p.id for p in box.list(None) if p.id.startswith(prefix)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise NotFoundError(f"No proposal with id {prefix!r}.")
    raise InputError(f"Proposal id {prefix!r} is ambiguous ({len(matches)} match); give more characters.")
