"""Notes page: every note in an editable table, one note in detail (links, history, revert), add a
note, the memory as of a past date (read-only), and what changed between two dates.

Why it is built this way:
- The page lays out widgets; the rules live in memory_core: filtering, sorting and paging in
  ``notes_table`` (one page of 200 rows reaches ``st.data_editor``), before/after diffs in ``diff``,
  the past views in ``timeview`` over the store's ``as_of``/``changes_between``.
- Edits are saved by diffing the edited frame against the frame that was shown
  (``notes_table.cell_changes``): only changed cells reach ``store.update(..., by="person")``.
- The editor's key holds the ids of the rows it shows, so pending edits can never be applied to
  other notes after a page, filter or sort change.
- In the past everything is read-only (no editor, no buttons that write) and a banner says so.
- Note text is data: it is shown with ``st.code``/``st.text`` or through ``md_escape``, never as HTML.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime, time, timezone
from typing import Any

import streamlit as st

from memory_core.diff import field_diff, show_value
from memory_core.errors import MemexError
from memory_core.memory.pipeline import MemoryPipeline
from memory_core.notes import MAX_CONTENT_CHARS, Note
from memory_core.notes_table import (
    ANY,
    PAGE_SIZE,
    SORTS,
    NoteQuery,
    Page,
    cell_changes,
    find_notes,
    form_changes,
    query_page,
    selected_ids,
    table_frame,
    tag_choices,
)
from memory_core.timeview import history_until, incoming, moment, summarise_changes
from pages import common
from pages.common import (
    diff_view,
    flash,
    md_escape,
    note_card,
    open_store_or_stop,
    settings,
    show_error,
    show_flash,
)

TAB_TABLE, TAB_DETAIL, TAB_ADD, TAB_CHANGES = "📋 Table", "🔍 Note", "➕ Add a note", "🕰️ What changed"
HISTORY_SHOWN = 50
CHANGES_SHOWN = 100
COLUMN_CONFIG = {
    "select": st.column_config.CheckboxColumn("✓", help="Select rows to delete or open", width="small"),
    "content": st.column_config.TextColumn("Content", width="large", required=True, max_chars=MAX_CONTENT_CHARS),
    "keywords": st.column_config.ListColumn("Keywords", width="medium"),
    "tags": st.column_config.ListColumn("Tags", width="small"),
    "context": st.column_config.TextColumn("Context", width="medium"),
    "time": st.column_config.DatetimeColumn("Time (UTC)", format="YYYY-MM-DD HH:mm", timezone="UTC"),
    "links": st.column_config.NumberColumn("Links", help="links in + out", disabled=True, width="small"),
    "source": st.column_config.TextColumn("Source", disabled=True, width="small"),
    "retrieved": st.column_config.NumberColumn("Recalled", help="times returned by search/chat", disabled=True,
                                               width="small"),
    "id": st.column_config.TextColumn("Id", disabled=True, width="small"),
}


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


def _back_to_now() -> None:
    st.session_state["notes_past"] = False


def save_changes(store: Any, changes: dict[str, dict[str, Any]]) -> tuple[int, list[str]]:
    saved, errors = 0, []
    view = store.notes_view()
    for nid, fields in changes.items():
        try:
            store.update(nid, by="person", **fields)
            saved += 1
        except MemexError as exc:
            title = view[nid].title if nid in view else nid
            errors.append(f"Not saved: note {nid[:8]} ({md_escape(title)}): {md_escape(str(exc))} "
                          "Nothing was changed in this note.")
    return saved, errors


# ---- the delete confirmation -------------------------------------------------------------------
def _cancel_delete() -> None:
    st.session_state.pop("_notes_delete", None)


@st.dialog("Delete notes?", on_dismiss=_cancel_delete)
def confirm_delete(store: Any, ids: list[str]) -> None:
    view = store.notes_view()
    ids = [i for i in ids if i in view]
    if not ids:
        st.info("These notes are already gone.")
        if st.button("Close", key="notes_delete_close"):
            _cancel_delete()
            st.rerun()
        return
    graph = store.graph_snapshot()
    links = sum(graph.degree(i) for i in ids if i in graph)
    st.write(f"Delete **{len(ids)}** note{'s' if len(ids) > 1 else ''}? This cannot be undone "
             f"(export first if unsure). {links} link{'s' if links != 1 else ''} to or from "
             f"{'them' if len(ids) > 1 else 'it'} will be removed too.")
    for nid in ids[:15]:
        st.text(f"• {label(view[nid])}")
    if len(ids) > 15:
        st.caption(f"… and {len(ids) - 15} more")
    yes, no = st.columns(2)
    if yes.button("Delete", type="primary", key="notes_delete_yes", icon="🗑️", width="stretch"):
        try:
            n = store.delete(ids)
            flash("notes", "success", f"Deleted {n} note{'s' if n != 1 else ''} and the links to them.")
        except MemexError as exc:
            flash("notes", "error", f"Delete failed: {md_escape(str(exc))}")
        _cancel_delete()
        bump_editor()
        st.rerun()
    if no.button("Cancel", key="notes_delete_no", width="stretch"):
        _cancel_delete()
        st.rerun()


# ---- the time control ------------------------------------------------------------------------------
def render_time_control(store: Any) -> str | None:
    """The "as of" control; returns the moment looked at (ISO, UTC) or None for now."""
    can_look_back = hasattr(store, "as_of")
    c_toggle, c_day, c_time = st.columns([2, 1.3, 1], vertical_alignment="bottom")
    past = c_toggle.toggle("🕰️ Show the memory as it was on…", key="notes_past", disabled=not can_look_back,
                           help="Notes, fields and links as they were at that moment, folded from the change log"
                           if can_look_back else "This store cannot look back in time yet.")
    if not past:
        return None
    today = datetime.now(timezone.utc).date()
    day = c_day.date_input("As of (UTC)", value=today, max_value=today, key="notes_as_of_day")
    at = c_time.time_input("at", value=time(23, 59), key="notes_as_of_time", step=60)
    return moment(day, at)


def past_banner(when: str, count: int) -> None:
    c_text, c_btn = st.columns([5, 1], vertical_alignment="center")
    c_text.warning(f"🕰️ **The memory as it was on {md_escape(when.replace('T', ' ')[:16])} UTC** · "
                   f"{count:,} notes then. Read-only: nothing can be edited, linked or deleted in the past.")
    c_btn.button("Back to now", icon="⏩", key="notes_back_to_now", on_click=_back_to_now, width="stretch")


# ---- page sections ---------------------------------------------------------------------------------
def render_filters(view: dict[str, Note]) -> NoteQuery:
    tags = tag_choices(view)
    if st.session_state.get("notes_f_tag") not in (None, *tags):
        st.session_state["notes_f_tag"] = ANY
    c = st.columns([3, 2, 1.3, 1.3, 1.3, 1.3, 1.4], vertical_alignment="bottom")
    text = c[0].text_input("Filter by text", key="notes_f_text", placeholder="words in content, keywords, tags, id")
    tag = c[1].selectbox("Tag", tags, key="notes_f_tag")
    source = c[2].selectbox("Source", [ANY, "chat", "manual", "import"], key="notes_f_source")
    since = c[3].date_input("From", value=None, key="notes_f_since")
    until = c[4].date_input("Until", value=None, key="notes_f_until")
    sort_by = c[5].selectbox("Sort by", SORTS, key="notes_sort")
    descending = c[6].toggle("Desc.", value=True, key="notes_desc", help="Descending order (newest first for time)")
    return NoteQuery(text=text, tag=tag, source=source, since=since, until=until, sort_by=sort_by,
                     descending=descending)


def render_table(store: Any, page: Page, total: int, graph: Any, read_only: bool) -> None:
    if not total:
        st.info("The memory was empty then." if read_only else
                "The memory is empty. Add a note in the **➕ Add a note** tab, chat, or import a file.")
        return
    if not page.matching:
        st.info(f"No note matches these filters ({total:,} notes in memory).")
        return
    c_info, c_page = st.columns([5, 1])
    if page.pages > 1:
        c_page.number_input("Page", min_value=1, max_value=page.pages, step=1, key="notes_page")
    c_info.caption(f"{page.matching:,} of {total:,} notes match · page {page.page} of {page.pages} "
                   f"(rows {page.first_row}–{page.last_row}) · "
                   + ("read-only (the past). " if read_only else
                      "edit cells, then **Save**; tick ✓ to select rows for deletion. ")
                   + "Time is shown in UTC.")
    shown = table_frame(page.rows, graph)
    height = min(600, 35 * (len(shown) + 1) + 3)
    if read_only:
        st.dataframe(shown.drop(columns=["select"]), hide_index=True, width="stretch", height=height,
                     column_config=COLUMN_CONFIG, key="notes_past_table")
        return
    digest = hashlib.sha1("\n".join(shown["id"]).encode()).hexdigest()[:12]
    key = f"notes_editor_{st.session_state.get('_notes_gen', 0)}_{digest}"
    st.session_state["notes_editor_key"] = key
    edited = st.data_editor(shown, key=key, hide_index=True, num_rows="fixed", width="stretch", height=height,
                            column_config=COLUMN_CONFIG)
    changes, invalid = cell_changes(shown, edited)
    selected = selected_ids(shown, edited)
    for problem in invalid:
        st.error(f"Cannot save {problem}.")
    b = st.columns([1.4, 1, 1.6, 1.4, 3])
    n_changed = sum(len(f) for f in changes.values())
    if b[0].button(f"Save {n_changed} change{'s' if n_changed != 1 else ''}", type="primary", icon="💾",
                   disabled=not changes, key="notes_save", width="stretch"):
        saved, errors = save_changes(store, changes)
        if saved:
            flash("notes", "success", f"Saved {saved} note{'s' if saved != 1 else ''} (recorded in history, re-embedded).")
        for err in errors:
            flash("notes", "error", err)
        if not errors:
            bump_editor()
        st.rerun()
    if b[1].button("Discard", disabled=not changes, key="notes_discard", width="stretch"):
        bump_editor()
        st.rerun()
    if b[2].button(f"Delete selected ({len(selected)})", icon="🗑️", disabled=not selected, key="notes_delete",
                   width="stretch"):
        st.session_state["_notes_delete"] = selected
        st.rerun()
    if b[3].button("Open selected", icon="🔍", disabled=len(selected) != 1, key="notes_open_selected",
                   width="stretch", help="Tick exactly one row"):
        focus(selected[0])
        st.rerun()


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
        c_id.error(f"No note with id {md_escape(bad)}.")
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
                st.error(f"Not saved: {md_escape(str(exc))}")
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
        flash("notes", "error", f"Could not remove the link: {md_escape(str(exc))}")
    bump_editor()


def _link_row(arrow: str, other: Note | None, other_id: str, reason: str, by: str, created: str) -> Any:
    """One link line (text left, a button area right); returns the button area."""
    c_text, c_btn = st.columns([5, 2], vertical_alignment="center")
    name = label(other) if other else f"{other_id[:8]} (missing)"
    c_text.markdown(f"{arrow} {md_escape(name)}  \n{md_escape(reason)} · by {md_escape(by)} · {md_escape(created)}")
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
                    flash("notes", "error", f"Could not add the link: {md_escape(str(exc))}")
                bump_editor()
                st.rerun()


def render_history(store: Any, note: Note, history: list[Any], read_only: bool) -> None:
    n = len(history)
    title_of = (lambda i: label(store.notes_view()[i]) if i in store else i[:8])  # noqa: E731
    st.markdown(f"#### History ({n} change{'s' if n != 1 else ''}{' until then' if read_only else ''})")
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
            head.markdown(f"**v{version}** · `{md_escape(change.field)}` · by **{md_escape(change.by)}** · "
                          f"{md_escape(change.at)}")
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
        flash("notes", "error", f"Revert failed: {md_escape(str(exc))}")
    bump_editor()
    st.rerun()


def render_add(store: Any) -> None:
    with st.form("add_note", clear_on_submit=False):
        content = st.text_area("New note", key="add_content", height=140,
                               placeholder="Something worth remembering…")
        mode = st.radio("How", ["full", "fast"], horizontal=True, key="add_mode",
                        format_func=lambda m: {"full": "🧠 With the model: keywords, context, tags, links, evolution",
                                               "fast": "⚡ Fast: no model, links by similarity"}[m])
        submitted = st.form_submit_button("Add note", type="primary", icon="➕")
    if not submitted:
        _open_added_button(store)
        return
    pipeline = MemoryPipeline(store, settings(), llm=common.llm)
    with st.status("Writing the note…" if mode == "fast" else "The model is enriching the note…",
                   expanded=True) as status:
        def progress(stage: str) -> None:
            status.update(label={"enriching": "The model writes keywords, context and tags…",
                                 "linking": "Finding neighbours and deciding links…"}.get(stage, stage))
            st.write(f"· {stage}")

        try:
            report = pipeline.add(content, source="manual", mode=mode, progress=progress)
        except MemexError as exc:
            status.update(label="Not added", state="error")
            show_error(exc, "The note was not added", escape=True)
            return
        status.update(label=f"Added in {report.seconds:.1f} s", state="complete", expanded=False)
    st.session_state["_notes_added"] = report.note_id
    st.session_state["_notes_clear_add"] = True
    bump_editor()
    usage = report.usage
    st.success(f"Added note {report.note_id[:8]} · {len(report.links)} link(s) · {len(report.evolved)} "
               f"neighbour(s) evolved · {usage.calls} model call(s), {usage.prompt_tokens}+"
               f"{usage.completion_tokens} tokens")
    if report.needs_enrichment:
        st.warning("The model's answer was not usable: the note was saved with simple keywords and is marked "
                   "for re-enrichment.")
    for problem in report.problems[:5]:
        st.caption(f"model output problem: {md_escape(problem)}")
    _open_added_button(store)


def _open_added_button(store: Any) -> None:
    last = st.session_state.get("_notes_added")
    if last and last in store and st.button("Open the note just added", icon="🔍", key="open_added"):
        focus(last)
        st.rerun()


def render_changes(store: Any) -> None:
    """What changed between two dates: notes added, removed and changed, with who changed them."""
    if not (hasattr(store, "changes_between") and hasattr(store, "as_of")):
        st.info("This store cannot tell what changed between two dates yet.")
        return
    today = datetime.now(timezone.utc).date()
    c_from, c_to = st.columns(2)
    since_day = c_from.date_input("Changes since (start of day, UTC)", value=None, max_value=today,
                                  key="notes_changes_since")
    until_day = c_to.date_input("until (end of day, UTC)", value=today, max_value=today, key="notes_changes_until")
    if since_day is None:
        st.caption("Pick a start date to see what changed since then.")
        return
    until_day = until_day or today
    if until_day < since_day:
        st.error("The end date is before the start date.")
        return
    since, until = moment(since_day - _DAY, time(23, 59, 59)), moment(until_day)
    try:
        summary = summarise_changes(store.as_of(since), store.as_of(until), since, until,
                                    store.changes_between(since, until))
    except MemexError as exc:
        show_error(exc, "The change log cannot be read", escape=True)
        return
    if summary.empty:
        st.info(f"Nothing changed from {since_day} to {until_day}.")
        return
    st.caption(f"{summary.count('added')} added · {summary.count('changed')} changed · "
               f"{summary.count('removed')} removed, from {since_day} to {until_day} (net change of each note).")
    for item in summary.notes[:CHANGES_SHOWN]:
        icon = {"added": "🆕", "changed": "✏️", "removed": "🗑️"}[item.status]
        who = ", ".join(f"{md_escape(by)} ×{n}" for by, n in sorted(item.actors.items()))
        with st.container(border=True, key=f"chg_{item.note_id}"):
            st.markdown(f"{icon} **{md_escape(item.title)}** · `{item.note_id[:8]}` · {item.status}"
                        + (f" · by {who}" if who else ""))
            for diff in item.diffs:
                st.caption(md_escape(diff.field))
                diff_view(diff, whole=False)
    if len(summary.notes) > CHANGES_SHOWN:
        st.caption(f"… and {len(summary.notes) - CHANGES_SHOWN} more notes.")


_DAY = date(2000, 1, 2) - date(2000, 1, 1)

# ---- the page ----------------------------------------------------------------------------------------
st.title("🗒️ Notes")
store = open_store_or_stop()
when = render_time_control(store)
if when is not None:
    try:
        view = dict(store.as_of(when))
    except MemexError as exc:
        show_error(exc, "The memory cannot be shown as of that date", escape=True)
        st.stop()
    past_banner(when, len(view))
    graph = store.graph_as_of(when) if hasattr(store, "graph_as_of") else None
else:
    view = store.notes_view()
    graph = store.graph_snapshot()

# Which note is in focus: ?note=<id> in the address, focus_note set by another page, or a button here.
qp = st.query_params.get("note")
if qp and qp != st.session_state.get("_notes_qp_seen"):
    st.session_state["_notes_qp_seen"] = qp
    st.session_state["focus_note"] = qp
request = st.session_state.pop("_notes_open_request", None)
wanted = request or st.session_state.get("focus_note")
if wanted and (request or wanted != st.session_state.get("_notes_focus_seen")):
    st.session_state["_notes_focus_seen"] = wanted
    found = resolve(store, wanted, view)
    if found:
        apply_focus(found)
    else:
        st.warning(f"No note with id {md_escape(str(wanted))}: it may have been deleted.")
if st.session_state.pop("_notes_clear_add", False):
    st.session_state["add_content"] = ""

show_flash("notes")
if when is None and st.session_state.get("_notes_delete"):
    confirm_delete(store, list(st.session_state["_notes_delete"]))

query = render_filters(view)
page = query_page(view, query, st.session_state.get("notes_page", 1), graph)
if st.session_state.get("notes_page", 1) != page.page:
    st.session_state["notes_page"] = page.page

tabs = [TAB_TABLE, TAB_DETAIL, TAB_CHANGES] if when else [TAB_TABLE, TAB_DETAIL, TAB_ADD, TAB_CHANGES]
if st.session_state.get("notes_tab") not in (None, *tabs):
    st.session_state["notes_tab"] = TAB_TABLE
sections = dict(zip(tabs, st.tabs(tabs, key="notes_tab", on_change="rerun")))
with sections[TAB_TABLE]:
    render_table(store, page, len(view), graph, read_only=when is not None)
with sections[TAB_DETAIL]:
    render_detail(store, view, page.rows, when)
if TAB_ADD in sections:
    with sections[TAB_ADD]:
        render_add(store)
with sections[TAB_CHANGES]:
    render_changes(store)
