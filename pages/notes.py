"""Notes page: every note in an editable table, one note in detail (links, history, revert), add a
note, the memory as of a past date (read-only), and what changed between two dates.

Why it is built this way:
- The page lays out widgets; the rules live in memory_core: filtering, sorting and paging in
  ``notes_table`` (one page of 200 rows reaches ``st.data_editor``), before/after diffs in ``diff``,
  the past views in ``timeview`` over the store's ``as_of``/``changes_between``. The detail section
  is in ``pages/notes_detail.py``; the time views are the shared ``pages/components/time_travel.py``.
- Edits are saved by diffing the edited frame against the frame that was shown
  (``notes_table.cell_changes``): only changed cells reach ``store.update(..., by="person")``.
- The editor's key holds the ids of the rows it shows, so pending edits can never be applied to
  other notes after a page, filter or sort change.
- In the past everything is read-only (no editor, no buttons that write) and a banner says so.
- Note text is data: it is shown with ``st.code``/``st.text`` or through ``escape_markdown``, never as HTML.
"""

from __future__ import annotations

import hashlib
from typing import Any

import streamlit as st

from memory_core.chat.forgetting import delete_notes
from memory_core.episodes.conversations import ConversationStore
from memory_core.errors import MemexError
from memory_core.explore.notes_table import (
    ANY,
    SORTS,
    NoteQuery,
    Page,
    cell_changes,
    query_page,
    selected_ids,
    table_frame,
    tag_choices,
)
from memory_core.explore.render import escape_markdown
from memory_core.explore.wording import agree, count
from memory_core.memory.pipeline import MemoryPipeline
from memory_core.notes import MAX_CONTENT_CHARS, Note, try_parse_time
from pages import common
from pages.common import flash, open_store_or_stop, settings, show_error, show_flash
from pages.components.time_travel import banner, changes_view, past_view, time_control
from pages.notes_deleted import render_deleted
from pages.notes_detail import (
    TAB_ADD,
    TAB_CHANGES,
    TAB_DETAIL,
    TAB_TABLE,
    apply_focus,
    bump_editor,
    focus,
    label,
    render_detail,
    resolve,
)

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
    "strength": st.column_config.ProgressColumn(
        "Strength", min_value=0.0, max_value=1.0, format="%.2f", width="small",
        help="How fresh the memory is (MemoryBank's curve): 1 when just told or recalled, lower as it goes "
             "unused; each recall or retelling makes it fade more slowly. Only shown and used to break ties: "
             "nothing is ever deleted for fading."),
    "id": st.column_config.TextColumn("Id", disabled=True, width="small"),
}


def save_changes(store: Any, changes: dict[str, dict[str, Any]]) -> tuple[int, list[str]]:
    saved, errors = 0, []
    view = store.notes_view()
    for nid, fields in changes.items():
        try:
            store.update(nid, by="person", **fields)
            saved += 1
        except MemexError as exc:
            title = view[nid].title if nid in view else nid
            errors.append(f"Not saved: note {nid[:8]} ({escape_markdown(title)}): {escape_markdown(str(exc))} "
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
    st.write(f"Delete **{count(len(ids), 'note')}**? This cannot be undone "
             f"(export first if unsure). {count(links, 'link')} to or from "
             f"{'them' if len(ids) > 1 else 'it'} will be removed too.")
    for nid in ids[:15]:
        st.text(f"• {label(view[nid])}")
    if len(ids) > 15:
        st.caption(f"… and {len(ids) - 15} more")
    yes, no = st.columns(2)
    if yes.button("Delete", type="primary", key="notes_delete_yes", icon="🗑️", width="stretch"):
        try:
            n = delete_notes(store, ConversationStore(settings().home), ids)
            flash("notes", "success", f"Deleted {count(n, 'note')} and the links to them. Their "
                  "words are gone from other notes, search, exports and the store's files; your conversations "
                  "keep what you typed.")
        except MemexError as exc:
            flash("notes", "error", f"Delete failed: {escape_markdown(str(exc))}")
        _cancel_delete()
        bump_editor()
        st.rerun()
    if no.button("Cancel", key="notes_delete_no", width="stretch"):
        _cancel_delete()
        st.rerun()


# ---- page sections ---------------------------------------------------------------------------------
def render_filters(view: dict[str, Note]) -> NoteQuery:
    tags = tag_choices(view)
    if st.session_state.get("notes_f_tag") not in (None, *tags):
        st.session_state["notes_f_tag"] = ANY
    # Fixed widths in a wrapping row, not st.columns: eight columns left "Sourc/e" and date boxes too narrow
    # for a date at 800 px, and hid the toggles' labels; here a filter that does not fit moves to a new line.
    c = st.container(horizontal=True, vertical_alignment="bottom", gap="small")
    text = c.text_input("Filter by text", key="notes_f_text", placeholder="words in content, keywords, tags, id",
                        width=280)
    tag = c.selectbox("Tag", tags, key="notes_f_tag", width=170)
    source = c.selectbox("Source", [ANY, "chat", "manual", "import"], key="notes_f_source", width=120)
    since = c.date_input("From", value=None, key="notes_f_since", width=140)
    until = c.date_input("Until", value=None, key="notes_f_until", width=140)
    sort_by = c.selectbox("Sort by", SORTS, key="notes_sort", width=150)
    descending = c.toggle("Desc.", value=True, key="notes_desc", help="Descending order (newest first for time)")
    fading = c.toggle("Fading", key="notes_f_fading",
                      help="Only the memories whose strength fell below 0.3: told long ago and rarely recalled since")
    return NoteQuery(text=text, tag=tag, source=source, since=since, until=until, sort_by=sort_by,
                     descending=descending, fading=fading)


def render_table(store: Any, page: Page, total: int, graph: Any, read_only: bool, now: Any = None) -> None:
    if not total:
        st.info("The memory was empty then." if read_only else
                "The memory is empty. Add a note in the **➕ Add a note** tab, chat, or import a file.")
        return
    if not page.matching:
        st.info(f"No note matches these filters ({count(total, 'note')} in memory).")
        return
    c_info, c_page = st.columns([5, 1])
    if page.pages > 1:
        c_page.number_input("Page", min_value=1, max_value=page.pages, step=1, key="notes_page")
    c_info.caption(f"{page.matching:,} of {count(total, 'note')} {agree(page.matching, 'matches', 'match')} · page {page.page} of {page.pages} "
                   f"(rows {page.first_row}–{page.last_row}) · "
                   + ("read-only (the past). " if read_only else
                      "edit cells, then **Save**; tick ✓ to select rows for deletion. ")
                   + "Time is shown in UTC.")
    shown = table_frame(page.rows, graph, now)
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
    b = st.container(horizontal=True, gap="small")  # each button as wide as its label (never "Save 0 ch…")
    n_changed = sum(len(f) for f in changes.values())
    if b.button(f"Save {count(n_changed, 'change')}", type="primary", icon="💾",
                disabled=not changes, key="notes_save"):
        saved, errors = save_changes(store, changes)
        if saved:
            flash("notes", "success", f"Saved {count(saved, 'note')} (recorded in history, re-embedded).")
        for err in errors:
            flash("notes", "error", err)
        if not errors:
            bump_editor()
        st.rerun()
    if b.button("Discard", disabled=not changes, key="notes_discard"):
        bump_editor()
        st.rerun()
    if b.button(f"Delete selected ({len(selected)})", icon="🗑️", disabled=not selected, key="notes_delete"):
        st.session_state["_notes_delete"] = selected
        st.rerun()
    if b.button("Open selected", icon="🔍", disabled=len(selected) != 1, key="notes_open_selected",
                help="Tick exactly one row"):
        focus(selected[0])
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
    st.success(f"Added note {report.note_id[:8]} · {count(len(report.links), 'link')} · "
               f"{count(len(report.evolved), 'neighbour')} evolved · {count(usage.calls, 'model call')}, "
               f"{usage.prompt_tokens}+"
               f"{usage.completion_tokens} tokens")
    if report.needs_enrichment:
        st.warning("The model's answer was not usable: the note was saved with simple keywords and is marked "
                   "for re-enrichment.")
    for problem in report.problems[:5]:
        st.caption(f"model output problem: {escape_markdown(problem)}")
    _open_added_button(store)


def _open_added_button(store: Any) -> None:
    last = st.session_state.get("_notes_added")
    if last and last in store and st.button("Open the note just added", icon="🔍", key="open_added"):
        focus(last)
        st.rerun()


# ---- the page ----------------------------------------------------------------------------------------
st.title("🗒️ Notes")
store = open_store_or_stop()
notes_now = store.notes_view()
when = time_control(store, notes_now, "notes")
if when is not None:
    try:
        view, graph = past_view(store, when, notes_now, "notes")
    except MemexError as exc:
        show_error(exc, "The memory cannot be shown as of that date", escape=True)
        st.stop()
    banner(when, len(view), len(notes_now), "notes")
else:
    view = notes_now
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
        st.warning(f"No note with id {escape_markdown(str(wanted))}: it may have been deleted.")
if st.session_state.pop("_notes_clear_add", False):
    st.session_state["add_content"] = ""

show_flash("notes")
if when is None and st.session_state.get("_notes_delete"):
    confirm_delete(store, list(st.session_state["_notes_delete"]))

query = render_filters(view)
as_of = try_parse_time(when) if when else None  # in the past, strength as it was then
page = query_page(view, query, st.session_state.get("notes_page", 1), graph, now=as_of)
if st.session_state.get("notes_page", 1) != page.page:
    st.session_state["notes_page"] = page.page

tabs = [TAB_TABLE, TAB_DETAIL, TAB_CHANGES] if when else [TAB_TABLE, TAB_DETAIL, TAB_ADD, TAB_CHANGES]
if st.session_state.get("notes_tab") not in (None, *tabs):
    st.session_state["notes_tab"] = TAB_TABLE
sections = dict(zip(tabs, st.tabs(tabs, key="notes_tab", on_change="rerun")))
with sections[TAB_TABLE]:
    render_table(store, page, len(view), graph, read_only=when is not None, now=as_of)
    if when is None:
        render_deleted(store, settings().home)
with sections[TAB_DETAIL]:
    render_detail(store, view, page.rows, when)
if TAB_ADD in sections:
    with sections[TAB_ADD]:
        render_add(store)
with sections[TAB_CHANGES]:
    changes_view(store, store.notes_view(), "notes")
