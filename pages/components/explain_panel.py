""""Why (not) this note?": pick any note, recalled or not, and see why it ranks where it does.

Used by the Search page (for its query) and the Graph page's trace (for a chat reply's question or
a search). The numbers come from ``memory_core.retrieval.explain``, the sentences from
``explain_text``; note text is shown only as dataframe cells, code-block text or escaped Markdown,
so a note's own words (HTML, scripts, Markdown) stay words.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
import streamlit as st

from memory_core.errors import MemexError
from memory_core.explore.render import escape_markdown
from memory_core.notes import Note
from memory_core.retrieval.explain import Explanation, explain
from memory_core.retrieval.explain_text import explanation_lines, plain, signal_rows
from memory_core.retrieval.timespan import TimeSpan
from memory_core.store.note_filter import NoteFilter
from pages.common import settings

MAX_CHOICES = 300  # notes offered in the picker at once; the search box narrows the rest


def choices(notes: Mapping[str, Note], first: Sequence[str], find: str, keep: str | None) -> list[str]:
    """Note ids to offer: the recalled ones first (when nothing is searched), then the notes matching
    ``find`` (an id prefix or words, the Notes page's text filter), newest first; ``keep`` (the note
    already picked) is never dropped."""
    find = find.strip()
    head = [] if find else [i for i in first if i in notes]
    others = NoteFilter(text=find).apply(notes.values()) if find else list(notes.values())
    others.sort(key=lambda n: n.timestamp, reverse=True)
    ids = list(dict.fromkeys([*head, *(n.id for n in others)]))[:MAX_CHOICES]
    if keep and keep in notes and keep not in ids:
        ids.insert(0, keep)
    return ids


def explain_panel(store: Any, notes: Mapping[str, Note], query: str, *, first: Sequence[str], key: str,
                  k: int | None = None, retriever: str | None = None, chat: bool = False,
                  span: TimeSpan | None = None) -> None:
    """The picker and, once a note is picked, its explanation. ``first``: the recalled notes' ids."""
    pick_key = f"{key}_pick"
    preset = st.session_state.pop(f"{key}_preset", None)  # another page asked about a note ("Why" on Chat)
    if preset:
        if preset in notes:
            st.session_state[pick_key] = preset
            st.session_state[f"{key}_find"] = ""
        else:
            st.caption("That note no longer exists (deleted since): pick another one.")
    if st.session_state.get(pick_key) and st.session_state[pick_key] not in notes:
        st.session_state[pick_key] = None  # deleted meanwhile: nothing to explain
    find = st.text_input("Find a note", key=f"{key}_find", placeholder="words from it, or its id",
                         help="Any note can be explained, recalled or not. The recalled ones are listed first.")
    ranks = {nid: i + 1 for i, nid in enumerate(first)}
    ids = choices(notes, first, find, st.session_state.get(pick_key))

    def label(nid: str) -> str:
        mark = f"#{ranks[nid]} · " if nid in ranks else ""
        return f"{mark}{plain(notes[nid].title, 70)} · {nid[:8]}" if nid in notes else nid[:8]

    if not ids:
        st.caption("No note matches these words.")
        return
    pick = st.selectbox("Why (not) this note?", ids, index=None, format_func=label, key=pick_key,
                        placeholder="Pick a note")
    if not pick:
        return
    try:
        e = explain(store, settings(), query, pick, k=k, retriever=retriever, chat=chat, span=span)
    except MemexError as exc:
        st.error(f"Cannot explain this note: {escape_markdown(str(exc))}")
        return
    show_explanation(e, key=key)


def show_explanation(e: Explanation, key: str) -> None:
    """The verdict, the signals table, and the full explanation as plain text."""
    good = e.recalled and not e.excluded_by
    (st.success if good else st.warning)(escape_markdown(e.verdict()), icon="✅" if good else "🔎")
    if e.signals:
        df = pd.DataFrame(signal_rows(e), columns=["signal", "this note", "raw", f"#{e.found or e.k} hit",
                                                   "raw (#k)"])
        st.dataframe(df, hide_index=True, width="stretch", key=f"{key}_signals")
    if e.words:
        st.caption("Query words it has: " + (escape_markdown(", ".join(e.has)) or "none")
                   + " · lacks: " + (escape_markdown(", ".join(e.lacks)) or "none"))
    st.code("\n".join(explanation_lines(e)), language=None, wrap_lines=True)
