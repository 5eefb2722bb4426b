"""The Notes page's "Recently deleted" list: notes deleted, each with a Forget button.

Why: a delete already removes a note's words from other notes, views, caches, exports, search and
the store's files; Forget purges again what a note deleted by an older Memex may have left (its
words in other notes' contexts, found through the conversation it came from). The words shown come
from the person's own conversation, which keeps them until the conversation is deleted.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import streamlit as st

from memory_core.chat.forgetting import forget_notes, words_by_note
from memory_core.episodes.conversations import ConversationStore
from memory_core.errors import MemexError
from memory_core.explore.render import escape_markdown
from memory_core.explore.wording import count
from pages.common import flash

if TYPE_CHECKING:
    from memory_core.store import Store

SHOWN = 10


def _folder_mark(folder: Path) -> int:
    """Changes when a conversation is written (files are replaced by a rename, which touches the folder)."""
    try:
        return folder.stat().st_mtime_ns
    except OSError:
        return 0


@st.cache_data(max_entries=8, show_spinner=False)
def _said(home: str, note_ids: tuple[str, ...], mark: int) -> dict[str, list[str]]:
    """``words_by_note`` reads every conversation: an expander's body runs on every rerun of the page,
    so the lookup is kept until a conversation changes (``mark`` is part of the cache key)."""
    return words_by_note(ConversationStore(Path(home)), list(note_ids))


def render_deleted(store: Store, home: Path) -> None:
    """The newest deleted notes; Forget purges one (a write, so only on a click)."""
    try:
        deleted = store.deleted_notes()
    except MemexError as exc:
        st.caption(f"The deleted notes cannot be listed: {escape_markdown(str(exc))}")
        return
    with st.expander(f"🗑️ Recently deleted ({len(deleted)})"):
        if not deleted:
            st.caption("No note has been deleted.")
            return
        st.caption("A deleted note's words are gone from your notes, search, exports and the store's files. "
                   "**Forget** purges them again, also from notes a Memex before this one left them in. "
                   "Your conversations keep what you typed until you delete the conversation.")
        conversations = ConversationStore(home)
        shown = deleted[:SHOWN]
        words = _said(str(home), tuple(d.id for d in shown), _folder_mark(conversations.folder))
        for d in shown:
            said = words.get(d.id) or []
            row = st.columns([5, 1], vertical_alignment="center")
            row[0].markdown(f"`{d.id[:8]}` · deleted {escape_markdown(d.deleted_at)}"
                            + (f" · you said: {escape_markdown(said[0][:120])}" if said else ""))
            if row[1].button("Forget", key=f"notes_forget_{d.id}", icon="🧹"):
                try:
                    report = forget_notes(store, conversations, [d.id])
                    flash("notes", "success", f"Forgot note {d.id[:8]}: {count(report.events_redacted, 'change')} "
                          f"redacted, {count(len(report.notes_scrubbed), 'other note')} cleaned.")
                except MemexError as exc:
                    flash("notes", "error", f"Forget failed: {escape_markdown(str(exc))}")
                st.rerun()
        if len(deleted) > SHOWN:
            st.caption(f"… and {len(deleted) - SHOWN} older; `memex forget ID` takes any of them.")
