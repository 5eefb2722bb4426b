"""Profile page: what Memex knows about you, and the digests of your days and conversations.

A thin view over ``memory_core.consolidation``: each profile line shows the notes it cites (links to
the note on the Notes page); a line can be edited (kept by every rebuild) or deleted (not made again
from the same notes). "Rebuild now" runs the consolidation at once through the process's runner, which
gives way to any reply streaming meanwhile. Text from notes is shown with ``st.text``/escaped only.
"""

from __future__ import annotations

import streamlit as st

from memory_core.consolidation import (
    SECTION_TITLES,
    SECTIONS,
    cited,
    dismiss,
    edit_line,
    edited_by_person,
    lines_of,
    section_of,
)
from memory_core.errors import MemexError
from memory_core.explore.render import escape_markdown
from memory_core.explore.wording import count
from pages.common import flash, open_store_or_stop, show_error, show_flash

NOTES_PAGE = "pages/notes.py"


def _save(note_id: str, key: str) -> None:
    try:
        edit_line(open_store_or_stop(), note_id, st.session_state.get(key, ""))
        flash("profile", "success", "Saved: your wording is kept by every rebuild.")
    except MemexError as exc:
        flash("profile", "error", str(exc))


def _delete(note_id: str) -> None:
    try:
        dismiss(open_store_or_stop(), note_id)
        flash("profile", "success", "Deleted: it is not made again from the same notes.")
    except MemexError as exc:
        flash("profile", "error", str(exc))


def show_line(note: object, notes: dict, key: str) -> None:
    """One line: its text, the notes it cites, and edit / delete."""
    nid = note.id  # type: ignore[attr-defined]
    with st.container(border=True):
        st.text(note.content)  # type: ignore[attr-defined]
        if edited_by_person(note):
            st.caption("✏️ Edited by you: rebuilds keep it as it is.")
        sources = [c for c in cited(note) if c in notes]  # type: ignore[arg-type]
        if sources:
            st.caption(f"From {count(len(sources), 'note')}:")
            for c in sources[:8]:
                st.page_link(NOTES_PAGE, label=escape_markdown(notes[c].title), icon="🗒️",
                             query_params={"note": c})
        a, b = st.columns(2)
        with a.popover("Edit or correct", icon="✏️"):
            text_key = f"profile_text_{key}"
            st.text_area("Line", value=note.content, key=text_key)  # type: ignore[attr-defined]
            st.button("Save", key=f"profile_save_{key}", on_click=_save, args=(nid, text_key))
        with b.popover("Delete", icon="🗑️"):
            st.write("Delete this line? It is forgotten, and not made again from the same notes.")
            st.button("Delete for good", key=f"profile_del_{key}", type="primary", on_click=_delete, args=(nid,))


def rebuild(store: object) -> None:
    from memory_core.chat.consolidating import get_consolidator

    runner = get_consolidator(store)  # type: ignore[arg-type]
    with st.status("Rebuilding the profile and the digests…", expanded=True) as status:
        bar = st.progress(0.0)

        def progress(fraction: float, what: str) -> None:
            bar.progress(min(1.0, max(0.0, fraction)), text=what)

        try:
            report = runner.run_now(progress=progress)
        except MemexError as exc:
            status.update(label="The rebuild failed", state="error")
            show_error(exc, "Rebuild")
            return
        if report is None:
            status.update(label="A rebuild is already running; it will show here when it is done.", state="running")
            return
        st.write(escape_markdown(report.summary()))
        for line, why in report.rejected[:10]:
            st.caption(f"Rejected (not in its sources: {escape_markdown(why)}): {escape_markdown(line[:200])}")
        status.update(label="Rebuilt", state="complete")


store = open_store_or_stop()
st.title("What Memex knows about you")
st.caption("Built from your own notes when Memex is idle, never while it is replying. Every line cites the "
           "notes it came from; edit a line to correct it (your wording is kept), or delete it.")
show_flash("profile")
if st.button("Rebuild now", icon="🔄", key="profile_rebuild"):
    rebuild(store)

notes = store.notes_view()
profile, digests = lines_of(store, "profile"), lines_of(store, "digest")
tab_profile, tab_days, tab_convs = st.tabs(["Profile", "Days", "Conversations"])
with tab_profile:
    if not profile:
        st.info("Nothing yet: tell Memex about yourself in the Chat, then rebuild.")
    for section in SECTIONS:
        rows = [n for n in profile if section_of(n) == section]
        st.subheader(SECTION_TITLES[section])
        if not rows:
            st.caption("Nothing yet.")
        for i, note in enumerate(rows):
            show_line(note, notes, f"{section}_{i}_{note.id[:8]}")
for tab, kind in ((tab_days, "day"), (tab_convs, "conversation")):
    with tab:
        rows = sorted((n for n in digests if section_of(n) == kind), key=lambda n: n.source_ref, reverse=True)
        if not rows:
            st.info("No digests yet.")
        for note in rows:
            heading = note.content.split("\n", 1)[0]
            with st.expander(escape_markdown(heading)):
                show_line(note, notes, f"{kind}_{note.id[:8]}")
