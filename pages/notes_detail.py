"""The Notes page's detail view: one note (card), its links in and out, its history with diffs, edits.

Why a module of its own: the Notes page file stays a layout of sections; this holds the widgets of
the detail section and the small session-state helpers that choose which note is open (a note in
focus survives reruns and other pages set it). In the past (``when`` given) it only shows: no
button that writes is drawn.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from memory_core.errors import MemexError
from memory_core.explore.diff import field_diff, show_value
from memory_core.explore.notes_table import PAGE_SIZE, find_notes, form_changes
from memory_core.explore.render import escape_markdown
from memory_core.explore.timeview import history_until, incoming
from memory_core.explore.wording import count
from memory_core.notes import Note
from pages.common import diff_view, flash, note_card

TAB_TABLE, TAB_DETAIL, TAB_ADD, TAB_CHANGES = "📋 Table", "🔍 Note", "➕ Add a note", "🕰️ What changed"
HISTORY_SHOWN = 50


# ---- small helpers -------------------------------------------------------------------------------
def label(note: Note) -> str:
    return f"{note.title} · {note.id[:8]}"


def bump_editor() -> None:
    """Start the editor afresh (pending edits dropped): after a save, a delete or 'Discard'."""
    st.session_state["_notes_gen"] = st.session_state.get("_notes_gen", 0) + 1


def resolve(store: Any, note_id: str, view: dict[str, Note] | None = None) -> str | None:
    if view is not None and note_id in view:
        return note_id
    try:
        return store.resolve_id(str(note_id))
    except MemexError:
        if view is not None:  # the past view may hold notes deleted since: a unique prefix of those
            found = [i for i in view if i.startswith(str(note_id))] if len(str(note_id)) >= 6 else []
            return found[0] if len(found) == 1 else None
        return None


def focus(note_id: str) -> None:
    """Ask for a note to be opened in the detail tab on the next run (widgets cannot change mid-run)."""
    st.session_state["_notes_open_request"] = note_id


def apply_focus(note_id: str) -> None:
    """Open a note in the detail tab (and tell the other pages it is the note in focus).

    Called before the widgets exist (top of the run, or a widget callback)."""
    st.session_state["focus_note"] = note_id
    st.session_state["_notes_focus_seen"] = note_id
    st.session_state["notes_pick"] = note_id
    st.session_state["notes_tab"] = TAB_DETAIL


def _open_typed_id(store: Any) -> None:
    typed = st.session_state.get("notes_open_id", "").strip()
    if not typed:
        return
    nid = resolve(store, typed)
    if nid is None:
        st.session_state["_notes_open_error"] = typed
        return
    st.session_state["notes_open_id"] = ""
    apply_focus(nid)


def _picked() -> None:
    st.session_state["focus_note"] = st.session_state["notes_pick"]
    st.session_state["_notes_focus_seen"] = st.session_state["notes_pick"]


def render_detail(store: Any, view: dict[str, Note], candidates: list[Note], when: str | None) -> None:
    pick = st.session_state.get("notes_pick")
    if pick not in view:
        pick = resolve(store, st.session_state.get("focus_note") or "", view)
        pick = pick if pick in view else None
    options = list(dict.fromkeys(([pick] if pick else []) + [n.id for n in candidates[:PAGE_SIZE]]))
    if not options:
        st.info("No note to show yet." if when is None else "No note existed then.")
        return
    if st.session_state.get("notes_pick") not in options:
        st.session_state["notes_pick"] = options[0]
    c_pick, c_id = st.columns([3, 1])
    c_pick.selectbox("Note", options, key="notes_pick", format_func=lambda i: label(view[i]) if i in view else i,
                     on_change=_picked, help="The notes of the table's current page, plus the note in focus")
    c_id.text_input("…or open by id", key="notes_open_id", placeholder="id or first 6+ characters",
                    on_change=_open_typed_id, args=(store,))
    bad = st.session_state.pop("_notes_open_error", None)
    if bad:
        c_id.error(f"No note with id {escape_markdown(bad)}.")
    note = view.get(st.session_state["notes_pick"])
    if note is None:
        return
    nid = note.id
    if st.session_state.get("focus_note") == nid:  # a note chosen by the person: make the address point at it
        st.query_params["note"] = nid
        st.session_state["_notes_qp_seen"] = nid

    note_card(note, key=f"card_{nid}")
    if when is not None:  # the past: look, do not touch
        render_links(store, view, note, candidates, read_only=True)
        render_history(store, note, history_until(note, when), read_only=True)
        return
    with st.container(horizontal=True):
        if st.button("Open in Graph", icon="🕸️", key=f"graph_{nid}"):
            st.session_state["focus_note"] = nid
            st.switch_page("pages/graph.py")
        if st.button("Delete…", icon="🗑️", key=f"delete_one_{nid}"):
            st.session_state["_notes_delete"] = [nid]
            st.rerun()
    with st.expander("✏️ Edit this note"):
        render_edit_form(store, note)
    render_links(store, view, note, candidates, read_only=False)
    render_history(store, note, note.history, read_only=False)


def render_edit_form(store: Any, note: Note) -> None:
    with st.form(f"edit_{note.id}_{len(note.history)}"):
        content = st.text_area("Content", value=note.content, height=160)
        keywords = st.text_input("Keywords (comma-separated)", value=", ".join(note.keywords))
        tags = st.text_input("Tags (comma-separated)", value=", ".join(note.tags))
        context = st.text_input("Context", value=note.context)
        when = st.text_input("Time (ISO 8601)", value=note.timestamp)
        if st.form_submit_button("Save", type="primary", icon="💾"):
            fields = form_changes(note, content=content, keywords=keywords, tags=tags, context=context, when=when)
            if not fields:
                st.info("Nothing changed.")
                return
            try:
                store.update(note.id, by="person", **fields)
            except MemexError as exc:
                st.error(f"Not saved: {escape_markdown(str(exc))}")
                return
            flash("notes", "success", f"Saved {', '.join(fields)} (recorded in history, re-embedded).")
            bump_editor()
            st.rerun()


def _remove_link(store: Any, source: str, target: str) -> None:
    """Remove exactly the link source -> target (store.unlink would remove both directions)."""
    try:
        with store.writing() as w:
            note = w.get(source)
            if note.remove_link(target, by="person"):
                w.put(note)
        flash("notes", "success", "Link removed (recorded in the note's history).")
    except MemexError as exc:
        flash("notes", "error", f"Could not remove the link: {escape_markdown(str(exc))}")
    bump_editor()


def _link_row(arrow: str, other: Note | None, other_id: str, reason: str, by: str, created: str) -> Any:
    """One link line (text left, a button area right); returns the button area."""
    c_text, c_btn = st.columns([5, 2], vertical_alignment="center")
    name = label(other) if other else f"{other_id[:8]} (missing)"
    c_text.markdown(f"{arrow} {escape_markdown(name)}  \n{escape_markdown(reason)} · by {escape_markdown(by)} · {escape_markdown(created)}")
    return c_btn.container(horizontal=True, horizontal_alignment="right")


def render_links(store: Any, view: dict[str, Note], note: Note, candidates: list[Note], read_only: bool) -> None:
    nid = note.id
    st.markdown(f"#### Links out ({len(note.links)})")
    if not note.links:
        st.caption("None.")
    for link in note.links:
        target = view.get(link.target)
        buttons = _link_row("→", target, link.target, link.reason, link.by, link.created)
        if read_only:
            continue
        if buttons.button("Remove", key=f"unlink_out_{nid}_{link.target}"):
            _remove_link(store, nid, link.target)
            st.rerun()
        if target is not None and buttons.button("Open", key=f"open_out_{nid}_{link.target}"):
            focus(link.target)
            st.rerun()
    links_in = incoming(view, nid)
    st.markdown(f"#### Links in ({len(links_in)})")
    if not links_in:
        st.caption("None.")
    for src, link in links_in:
        buttons = _link_row("←", view.get(src), src, link.reason, link.by, link.created)
        if read_only:
            continue
        if buttons.button("Remove", key=f"unlink_in_{nid}_{src}"):
            _remove_link(store, src, nid)
            st.rerun()
        if buttons.button("Open", key=f"open_in_{nid}_{src}"):
            focus(src)
            st.rerun()
    if not read_only:
        render_add_link(store, view, note, candidates)


def render_add_link(store: Any, view: dict[str, Note], note: Note, candidates: list[Note]) -> None:
    nid = note.id
    with st.expander("➕ Add a link"):
        find = st.text_input("Find the other note", key=f"link_find_{nid}", placeholder="words or id")
        pool = find_notes(view, find, exclude=nid) if find.strip() else [n for n in candidates[:PAGE_SIZE]
                                                                          if n.id != nid]
        if not pool:
            st.caption("No other note found.")
            return
        with st.form(f"link_form_{nid}"):
            target = st.selectbox("Other note", [n.id for n in pool],
                                  format_func=lambda i: label(view[i]) if i in view else i)
            direction = st.radio("Direction", ["this note → other", "other → this note"], horizontal=True)
            reason = st.text_input("Reason", placeholder="why these notes belong together")
            if st.form_submit_button("Add link", icon="🔗"):
                src, dst = (nid, target) if direction.startswith("this") else (target, nid)
                try:
                    if store.link(src, dst, reason.strip() or "linked by hand", by="person"):
                        flash("notes", "success", "Link added (recorded in the note's history).")
                    else:
                        flash("notes", "info", "That link already exists.")
                except MemexError as exc:
                    flash("notes", "error", f"Could not add the link: {escape_markdown(str(exc))}")
                bump_editor()
                st.rerun()


def render_history(store: Any, note: Note, history: list[Any], read_only: bool) -> None:
    n = len(history)
    title_of = (lambda i: label(store.notes_view()[i]) if i in store else i[:8])  # noqa: E731
    st.markdown(f"#### History ({count(n, 'change')}{' until then' if read_only else ''})")
    st.caption("Version v*k* is the note after its *k*-th change; v0 is the note as first stored."
               + ("" if read_only else " Reverting is itself recorded, so it can be undone."))
    if not n:
        st.caption("No recorded change.")
        return
    first = max(0, n - HISTORY_SHOWN)
    if first:
        st.caption(f"Showing the latest {HISTORY_SHOWN} of {n} changes.")
    total = len(note.history)
    for idx in range(n - 1, first - 1, -1):
        change = history[idx]
        version = idx + 1
        with st.container(border=True, key=f"hist_{note.id}_{version}"):
            head, btn = st.columns([5, 1])
            head.markdown(f"**v{version}** · `{change.field.replace('`', '')}` · by **{escape_markdown(change.by)}** · "
                          f"{escape_markdown(change.at)}")
            if not read_only and version < total and btn.button(f"Revert to v{version}",
                                                                key=f"revert_{note.id}_{version}", width="stretch"):
                _revert(store, note.id, version)
            if change.field in ("created", "evolution"):
                st.code(show_value(change.new), language=None, wrap_lines=True)
                continue
            diff_view(field_diff(change.field, change.old, change.new, title_of))
    if not read_only and first == 0 and history[0].field != "created" and st.button(
            "Revert to v0 (as first stored)", key=f"revert_{note.id}_0"):
        _revert(store, note.id, 0)


def _revert(store: Any, note_id: str, version: int) -> None:
    try:
        store.revert(note_id, version, by="person")
        flash("notes", "success", f"Reverted to v{version}.")
    except MemexError as exc:
        flash("notes", "error", f"Revert failed: {escape_markdown(str(exc))}")
    bump_editor()
    st.rerun()
