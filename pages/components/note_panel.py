"""The note beside the graph: details, links in and out, history, and an edit form.

Shared by the Graph page's live view and its "as of" view: ``read_only`` (a moment in the past)
shows the note as it was and hides everything that would write. Links in are computed from the
drawn graph (live, or folded as of the moment), so they agree with what the canvas shows.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

import networkx as nx
import pandas as pd
import streamlit as st

from memory_core.errors import MemexError
from memory_core.explore.notes_table import form_changes
from memory_core.explore.wording import count
from memory_core.notes import Note
from pages.common import flash, note_card, show_error


def _plain(value: Any) -> str:
    if isinstance(value, list) and all(isinstance(x, str) for x in value):
        return ", ".join(value)
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)


def note_panel(store: Any, notes: Mapping[str, Note], graph: nx.DiGraph, nid: str, *, read_only: bool,
               on_focus: Callable[[str], None], on_unfocus: Callable[[], None], focused: bool) -> None:
    note = notes[nid]
    note_card(note, key=f"graph_card_{nid}")
    row = st.container(horizontal=True)  # wraps in a narrow panel instead of clipping the labels
    row.button("Focus here", icon="🎯", key="graph_focus_btn", on_click=on_focus, args=(nid,),
               help="Draw only this note and its neighbours (or double-click it in the graph)")
    if row.button("Open in Notes", icon="🗒️", key="graph_open_notes"):
        st.session_state["focus_note"] = nid
        st.switch_page("pages/notes.py")
    row.button("All notes", icon="🌐", key="graph_unfocus", on_click=on_unfocus,
               disabled=not focused, help="Leave the neighbourhood view")

    def title_of(other: str) -> str:
        return notes[other].title if other in notes else "(deleted note)"

    out_rows = [{"to": title_of(x.target), "by": x.by, "reason": x.reason, "created": x.created, "id": x.target}
                for x in note.links]
    in_rows = []
    if nid in graph:
        for src, _dst, attrs in list(graph.in_edges(nid, data=True)):
            in_rows.append({"from": title_of(src), "by": attrs.get("by", ""), "reason": attrs.get("reason", ""),
                            "created": attrs.get("created", ""), "id": src})
    st.markdown(f"**Links out ({len(out_rows)})**")
    if out_rows:
        st.dataframe(pd.DataFrame(out_rows), hide_index=True, width="stretch")
    st.markdown(f"**Links in ({len(in_rows)})**")
    if in_rows:
        st.dataframe(pd.DataFrame(in_rows), hide_index=True, width="stretch")

    evolved = [c for c in note.history if c.by == "evolver" and c.field != "evolution"]
    st.markdown(f"**Changed by evolution ({len(evolved)})**")
    if evolved:
        st.dataframe(pd.DataFrame([{"field": c.field, "before": _plain(c.old), "after": _plain(c.new), "at": c.at}
                                   for c in evolved]), hide_index=True, width="stretch")
    for c in note.history:
        if c.field == "evolution" and isinstance(c.new, dict):
            d = c.new
            st.caption(f"When this note was written the model was shown {count(len(d.get('shown', [])), 'neighbour')}, "
                       f"linked {len(d.get('linked', []))}, evolved {len(d.get('evolved', []))}"
                       + (f", and named {count(len(d.get('ignored_ids', [])), 'id')} it was not offered (ignored)"
                          if d.get("ignored_ids") else "") + ".")
    with st.expander(f"History ({count(len(note.history), 'change')})"):
        if note.history:
            st.dataframe(pd.DataFrame([{"at": c.at, "field": c.field, "by": c.by, "before": _plain(c.old),
                                        "after": _plain(c.new)} for c in reversed(note.history)]),
                         hide_index=True, width="stretch")
        else:
            st.caption("No recorded changes.")
    if read_only:
        st.caption("🔒 Read-only: this is the note as it was at the chosen moment.")
        return
    with st.expander("✏️ Edit this note"):
        edit_form(store, note)


def edit_form(store: Any, note: Note) -> None:
    with st.form(f"graph_edit_{note.id}"):
        content = st.text_area("Content", value=note.content, height=140, key=f"graph_ed_content_{note.id}")
        keywords = st.text_input("Keywords (comma-separated)", value=", ".join(note.keywords),
                                 key=f"graph_ed_keywords_{note.id}")
        tags = st.text_input("Tags (comma-separated)", value=", ".join(note.tags), key=f"graph_ed_tags_{note.id}")
        context = st.text_input("Context", value=note.context, key=f"graph_ed_context_{note.id}")
        saved = st.form_submit_button("Save", type="primary")
    if not saved:
        return
    # the same rule as the Notes page's form: whitespace-only changes and unchanged lists are no change
    changes = form_changes(note, content=content, keywords=keywords, tags=tags, context=context, when=note.timestamp)
    if not changes:
        st.info("Nothing changed.")
        return
    try:
        store.update(note.id, by="person", **changes)
    except MemexError as exc:
        show_error(exc, "Not saved")
        return
    flash("graph", "success", f"Saved: {', '.join(changes)} (recorded in the note's history).")
    st.rerun()

