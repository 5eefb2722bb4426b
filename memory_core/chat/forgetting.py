"""Forgetting a note the chat made: the words it held, found in the conversation it came from.

Why here: a deleted note's own events are redacted, so the store alone no longer knows what it said;
a store whose delete predates the rule that cleans other notes' retrieval contexts (issue 24) may
still hold those words there. The conversation is the person's own record of what they typed (kept
until they delete the conversation), and each message records which note its memory write made, so
``memex forget ID`` and the Notes page's "Recently deleted" list can look the words up and purge
every copy outside the conversations.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..episodes.conversations import ConversationStore
from ..episodes.segments import mark_forgotten

if TYPE_CHECKING:
    from ..store import Store
    from ..store.forget import ForgetReport


def words_by_note(conversations: ConversationStore, note_ids: list[str]) -> dict[str, list[str]]:
    """Each given id (a full id, or a prefix of six characters or more) -> the person's messages whose
    memory write made that note or was merged into it, oldest first. One pass over the conversations."""
    keys = [i.strip() for i in note_ids if len(i.strip()) >= 6]
    out: dict[str, list[str]] = {k: [] for k in keys}
    if not keys:
        return out
    for summary in conversations.list():
        try:
            conv = conversations.load(summary.id)
        except Exception:  # noqa: BLE001 - a damaged or vanished conversation holds nothing to look up
            continue
        for m in conv.messages:
            note_id = str((m.get("memory") or {}).get("note_id") or "")
            text = str(m.get("content", ""))
            if m.get("role") != "user" or not note_id or not text.strip():
                continue
            for k in keys:
                if note_id.startswith(k) and text not in out[k]:
                    out[k].append(text)
    return out


def words_of_notes(conversations: ConversationStore, note_ids: list[str]) -> list[str]:
    """Every message ``words_by_note`` finds for these ids, once."""
    found = words_by_note(conversations, note_ids)
    return list(dict.fromkeys(t for texts in found.values() for t in texts))


def forget_notes(store: Store, conversations: ConversationStore, note_ids: list[str]) -> ForgetReport:
    """``store.forget`` for notes alive or already deleted, with the words the chat knows they held;
    the messages that made them are flagged so no episode recalls them again (episodes.segments)."""
    report = store.forget(note_ids, words=words_of_notes(conversations, note_ids))
    mark_forgotten(conversations, note_ids)
    return report


def delete_notes(store: Store, conversations: ConversationStore, note_ids: list[str]) -> int:
    """Delete live notes (an unknown id is an error, as for any edit), purging the words they held from
    other notes' contexts: the note's text, and the person's messages that made it or were merged into it
    (a reworded near-duplicate merged into the note is quoted in the next note's context as typed).
    Returns how many were deleted. The messages that made them are flagged so no episode recalls them."""
    resolved = [store.resolve_id(i) for i in note_ids]
    forgotten = store.forget(resolved, words=words_of_notes(conversations, resolved)).forgotten
    mark_forgotten(conversations, resolved)
    return len(forgotten)
