"""Where proposals wait: the store's inbox (``store.proposals``, persisted in Chroma beside the log).

One record (``store.proposals.Proposal``) and one inbox: the judging and review code reach it
through ``inbox(store)`` and resolve the short ids people type with ``resolve_pid``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import InputError, NotFoundError
from ..store.proposals import Proposal, ProposalInbox

if TYPE_CHECKING:
    from ..store import Store

__all__ = ["Proposal", "inbox", "resolve_pid"]


def inbox(store: Store) -> ProposalInbox:
    """The store's proposals inbox."""
    return store.proposals


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
