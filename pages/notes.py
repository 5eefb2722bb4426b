"""Notes page: every note in an editable table, one note in detail (links, history, revert), add a note.

Why it is built this way:
- Only one page of the filtered, sorted notes (200 rows) goes into ``st.data_editor``; filtering and
  sorting run over the store's live view (``notes_view()``, no copies), so the page stays fast at
  10,000 notes.
- Edits are saved by diffing the edited frame against the frame that was shown: only changed cells
  reach ``store.update(..., by="person")``, which validates, records history and re-embeds. A note
  whose edit is invalid (empty content, no time) gets a message and keeps its stored values.
- The editor's key holds the ids of the rows it shows, so pending edits can never be applied to
  other notes after a page, filter or sort change.
- Note text is data: it is shown with ``st.code``/``st.text`` or through ``md_escape``, never as HTML.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import Counter
from datetime import date, datetime, timezone
from typing import Any

import pandas as pd
import streamlit as st

from memory_core.errors import InputError, MemexError
from memory_core.notes import MAX_CONTENT_CHARS, Note, parse_time
from memory_core.memory.pipeline import MemoryPipeline
from pages import common
from pages.common import flash, md_escape, open_store_or_stop, settings, show_error, show_flash

PAGE_SIZE = 200
TAB_TABLE, TAB_DETAIL, TAB_ADD = "📋 Table", "🔍 Note", "➕ Add a note"
ANY = "(any)"
EDITABLE_COLUMNS = ("content", "keywords", "tags", "context", "time")
SORTS = ("time", "links", "retrievals", "content", "source")
HISTORY_SHOWN = 50


# ---- small helpers -------------------------------------------------------------------------------
def label(note: Note) -> str:
    return f"{note.title} · {note.id[:8]}"


def safe_ts(note: Note) -> datetime:
    try:
        return parse_time(note.timestamp)
    except InputError:
        return datetime.min.replace(tzinfo=timezone.utc)


def as_list(value: Any) -> list[str]:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return []
    if isinstance(value, str):
        return [x.strip() for x in value.split(",") if x.strip()]
    return [str(x).strip() for x in list(value) if str(x).strip()]


def as_text(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value)


def bump_editor() -> None:
    """Start the editor afresh (pending edits dropped): after a save, a delete or 'Discard'."""
    st.session_state["_notes_gen"] = st.session_state.get("_notes_gen", 0) + 1


def resolve(store: Any, note_id: str) -> str | None:
    try:
        return store.resolve_id(str(note_id))
    except MemexError:
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


def show_value(value: Any) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(x, str) for x in value):
        return ", ".join(value) if value else "(empty)"
    return json.dumps(value, ensure_ascii=False, indent=1)


# ---- filtering and the table ---------------------------------------------------------------------
def filtered(view: dict[str, Note], text: str, tag: str, source: str, since: date | None,
             until: date | None) -> list[Note]:
    needle = text.strip().lower()
    tag_l = tag.lower() if tag != ANY else ""
    out = []
    for note in view.values():
        if source != ANY and note.source != source:
            continue
        if tag_l and tag_l not in (t.lower() for t in note.tags):
            continue
        if needle and needle not in (note.content + "\n" + note.context + "\n" + " ".join(note.keywords) + "\n"
                                     + " ".join(note.tags) + "\n" + note.id).lower():
            continue
        if since or until:
            day = safe_ts(note).date()
            if (since and day < since) or (until and day > until):
                continue
        out.append(note)
    return out


def sort_notes(notes: list[Note], by: str, descending: bool, graph: Any) -> list[Note]:
    keys = {
        "time": lambda n: (safe_ts(n), n.id),
        "links": lambda n: (graph.degree(n.id) if n.id in graph else 0, n.id),
        "retrievals": lambda n: (n.retrieval_count, n.id),
        "content": lambda n: (n.content.lower(), n.id),
        "source": lambda n: (n.source, n.source_ref, n.id),
    }
    return sorted(notes, key=keys[by], reverse=descending)


def table_frame(notes: list[Note], graph: Any) -> pd.DataFrame:
    return pd.DataFrame({
        "select": [False] * len(notes),
        "content": [n.content for n in notes],
        "keywords": [list(n.keywords) for n in notes],
        "tags": [list(n.tags) for n in notes],
        "context": [n.context for n in notes],
        "time": pd.to_datetime([safe_ts(n) for n in notes], utc=True),
        "links": [graph.degree(n.id) if n.id in graph else 0 for n in notes],
        "source": [n.source + (f" · {n.source_ref}" if n.source_ref else "") for n in notes],
        "retrieved": [n.retrieval_count for n in notes],
        "id": [n.id for n in notes],
    })


def cell_changes(shown: pd.DataFrame, edited: pd.DataFrame) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Changed editable cells per note id (as store.update fields), and edits that cannot be saved."""
    changes: dict[str, dict[str, Any]] = {}
    invalid: list[str] = []
    for pos in range(len(shown)):
        nid = shown["id"].iat[pos]
        fields: dict[str, Any] = {}
        for col in EDITABLE_COLUMNS:
            before, after = shown[col].iat[pos], edited[col].iat[pos]
            if col in ("keywords", "tags"):
                if as_list(before) != as_list(after):
                    fields[col] = as_list(after)
            elif col == "time":
                if after is None or pd.isna(after):
                    invalid.append(f"note {nid[:8]}: the time cannot be empty")
                    continue
                after_ts = pd.Timestamp(after)
                after_ts = after_ts.tz_localize("UTC") if after_ts.tzinfo is None else after_ts
                if after_ts != pd.Timestamp(before):
                    fields["timestamp"] = after_ts.to_pydatetime().isoformat()
            elif as_text(before) != as_text(after):
                fields[col] = as_text(after)
        if fields:
            changes[nid] = fields
    return changes, invalid


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


# ---- page sections ---------------------------------------------------------------------------------
def render_filters(view: dict[str, Note]) -> dict[str, Any]:
    tag_counts = Counter(t for n in view.values() for t in n.tags)
    tags = [ANY] + [t for t, _ in tag_counts.most_common(1000)]
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
    return {"text": text, "tag": tag, "source": source, "since": since, "until": until, "sort_by": sort_by,
            "descending": descending}


def render_table(store: Any, rows: list[Note], shown_notes: list[Note], page: int, n_pages: int,
                 total: int) -> None:
    graph = store.graph_snapshot()
    if not total:
        st.info("The memory is empty. Add a note in the **➕ Add a note** tab, chat, or import a file.")
        return
    if not rows:
        st.info(f"No note matches these filters ({total:,} notes in memory).")
        return
    c_info, c_page = st.columns([5, 1])
    if n_pages > 1:
        c_page.number_input("Page", min_value=1, max_value=n_pages, step=1, key="notes_page")
    start = (page - 1) * PAGE_SIZE
    c_info.caption(f"{len(rows):,} of {total:,} notes match · page {page} of {n_pages} "
                   f"(rows {start + 1}–{start + len(shown_notes)}) · edit cells, then **Save**; tick ✓ to "
                   "select rows for deletion. Time is shown in UTC.")
    shown = table_frame(shown_notes, graph)
    digest = hashlib.sha1("\n".join(shown["id"]).encode()).hexdigest()[:12]
    key = f"notes_editor_{st.session_state.get('_notes_gen', 0)}_{digest}"
    st.session_state["notes_editor_key"] = key
    edited = st.data_editor(
        shown, key=key, hide_index=True, num_rows="fixed", width="stretch", height=min(600, 35 * (len(shown) + 1) + 3),
        column_order=["select", "content", "keywords", "tags", "context", "time", "links", "source", "retrieved",
                      "id"],
        column_config={
            "select": st.column_config.CheckboxColumn("✓", help="Select rows to delete or open", width="small"),
            "content": st.column_config.TextColumn("Content", width="large", required=True,
                                                   max_chars=MAX_CONTENT_CHARS),
            "keywords": st.column_config.ListColumn("Keywords", width="medium"),
            "tags": st.column_config.ListColumn("Tags", width="small"),
            "context": st.column_config.TextColumn("Context", width="medium"),
            "time": st.column_config.DatetimeColumn("Time (UTC)", format="YYYY-MM-DD HH:mm", timezone="UTC"),
            "links": st.column_config.NumberColumn("Links", help="links in + out", disabled=True, width="small"),
            "source": st.column_config.TextColumn("Source", disabled=True, width="small"),
            "retrieved": st.column_config.NumberColumn("Recalled", help="times returned by search/chat",
                                                       disabled=True, width="small"),
            "id": st.column_config.TextColumn("Id", disabled=True, width="small"),
        },
    )
    changes, invalid = cell_changes(shown, edited)
    selected = [shown["id"].iat[i] for i in range(len(shown)) if bool(edited["select"].iat[i])]
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


def render_detail(store: Any, view: dict[str, Note], candidates: list[Note]) -> None:
    pick = st.session_state.get("notes_pick")
    if pick not in view:
        pick = resolve(store, st.session_state.get("focus_note") or "")
    options = list(dict.fromkeys(([pick] if pick else []) + [n.id for n in candidates[:PAGE_SIZE]]))
    if not options:
        st.info("No note to show yet.")
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

    st.subheader(md_escape(note.title))
    meta = [f"id `{nid}`", f"source {md_escape(note.source)}"]
    if note.source_ref:
        meta.append(f"ref {md_escape(note.source_ref)}")
    meta.append(f"time {md_escape(note.timestamp)}")
    meta.append(f"recalled {note.retrieval_count}×" + (f" (last {md_escape(note.last_accessed)})"
                                                      if note.last_accessed else ""))
    st.caption(" · ".join(meta))
    if note.needs_enrichment:
        st.warning("The model could not enrich this note; it is marked for re-enrichment (`memex reenrich`).")
    st.code(note.content, language=None, wrap_lines=True)
    c1, c2 = st.columns(2)
    c1.markdown("**Keywords:** " + (md_escape(", ".join(note.keywords)) or "—"))
    c1.markdown("**Tags:** " + (md_escape(", ".join(note.tags)) or "—"))
    c2.markdown("**Context:** " + (md_escape(note.context) or "—"))

    with st.container(horizontal=True):
        if st.button("Open in Graph", icon="🕸️", key=f"graph_{nid}"):
            st.session_state["focus_note"] = nid
            st.switch_page("pages/graph.py")
        if st.button("Delete…", icon="🗑️", key=f"delete_one_{nid}"):
            st.session_state["_notes_delete"] = [nid]
            st.rerun()

    with st.expander("✏️ Edit this note"):
        render_edit_form(store, note)
    render_links(store, view, note, candidates)
    render_history(store, note)


def render_edit_form(store: Any, note: Note) -> None:
    with st.form(f"edit_{note.id}_{len(note.history)}"):
        content = st.text_area("Content", value=note.content, height=160)
        keywords = st.text_input("Keywords (comma-separated)", value=", ".join(note.keywords))
        tags = st.text_input("Tags (comma-separated)", value=", ".join(note.tags))
        context = st.text_input("Context", value=note.context)
        when = st.text_input("Time (ISO 8601)", value=note.timestamp)
        if st.form_submit_button("Save", type="primary", icon="💾"):
            fields: dict[str, Any] = {}
            if content != note.content:
                fields["content"] = content
            for name, value in (("keywords", keywords), ("tags", tags)):
                if as_list(value) != list(getattr(note, name)):
                    fields[name] = as_list(value)
            if " ".join(context.split()) != note.context:
                fields["context"] = context
            if when.strip() != note.timestamp:
                fields["timestamp"] = when.strip()
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


def render_links(store: Any, view: dict[str, Note], note: Note, candidates: list[Note]) -> None:
    nid = note.id
    graph = store.graph_snapshot()
    st.markdown(f"#### Links out ({len(note.links)})")
    if not note.links:
        st.caption("None.")
    for link in note.links:
        target = view.get(link.target)
        c_text, c_btn = st.columns([5, 2], vertical_alignment="center")
        c_btn = c_btn.container(horizontal=True, horizontal_alignment="right")
        name = label(target) if target else f"{link.target[:8]} (missing)"
        c_text.markdown(f"→ {md_escape(name)}  \n{md_escape(link.reason)} · by {md_escape(link.by)} · "
                        f"{md_escape(link.created)}")
        if c_btn.button("Remove", key=f"unlink_out_{nid}_{link.target}"):
            _remove_link(store, nid, link.target)
            st.rerun()
        if target is not None and c_btn.button("Open", key=f"open_out_{nid}_{link.target}"):
            focus(link.target)
            st.rerun()
    incoming = sorted(graph.predecessors(nid)) if nid in graph else []
    st.markdown(f"#### Links in ({len(incoming)})")
    if not incoming:
        st.caption("None.")
    for src in incoming:
        source = view.get(src)
        if source is None:
            continue
        edge = graph.edges[src, nid]
        c_text, c_btn = st.columns([5, 2], vertical_alignment="center")
        c_btn = c_btn.container(horizontal=True, horizontal_alignment="right")
        c_text.markdown(f"← {md_escape(label(source))}  \n{md_escape(edge.get('reason', ''))} · by "
                        f"{md_escape(edge.get('by', ''))} · {md_escape(edge.get('created', ''))}")
        if c_btn.button("Remove", key=f"unlink_in_{nid}_{src}"):
            _remove_link(store, src, nid)
            st.rerun()
        if c_btn.button("Open", key=f"open_in_{nid}_{src}"):
            focus(src)
            st.rerun()

    with st.expander("➕ Add a link"):
        find = st.text_input("Find the other note", key=f"link_find_{nid}", placeholder="words or id")
        if find.strip():
            needle = find.strip().lower()
            pool = [n for n in view.values() if needle in n.content.lower() or n.id.startswith(needle)][:100]
        else:
            pool = candidates[:PAGE_SIZE]
        pool = [n for n in pool if n.id != nid]
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


def render_history(store: Any, note: Note) -> None:
    n = len(note.history)
    st.markdown(f"#### History ({n} change{'s' if n != 1 else ''})")
    st.caption("Version v*k* is the note after its *k*-th change; v0 is the note as first stored. "
               "Reverting is itself recorded, so it can be undone.")
    if not n:
        st.caption("No recorded change.")
        return
    first = max(0, n - HISTORY_SHOWN)
    if first:
        st.caption(f"Showing the latest {HISTORY_SHOWN} of {n} changes.")
    for idx in range(n - 1, first - 1, -1):
        change = note.history[idx]
        version = idx + 1
        with st.container(border=True, key=f"hist_{note.id}_{version}"):
            head, btn = st.columns([5, 1])
            head.markdown(f"**v{version}** · `{md_escape(change.field)}` · by **{md_escape(change.by)}** · "
                          f"{md_escape(change.at)}")
            if version < n and btn.button(f"Revert to v{version}", key=f"revert_{note.id}_{version}",
                                          width="stretch"):
                _revert(store, note.id, version)
            if change.field in ("created", "evolution"):
                st.code(show_value(change.new), language=None, wrap_lines=True)
                continue
            before, after = st.columns(2)
            before.caption("before")
            before.code(show_value(change.old), language=None, wrap_lines=True)
            after.caption("after")
            after.code(show_value(change.new), language=None, wrap_lines=True)
    if first == 0 and note.history[0].field != "created" and st.button(
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
            show_error(exc, "The note was not added")
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


# ---- the page ----------------------------------------------------------------------------------------
st.title("🗒️ Notes")
store = open_store_or_stop()
view = store.notes_view()

# Which note is in focus: ?note=<id> in the address, focus_note set by another page, or a button here.
qp = st.query_params.get("note")
if qp and qp != st.session_state.get("_notes_qp_seen"):
    st.session_state["_notes_qp_seen"] = qp
    st.session_state["focus_note"] = qp
request = st.session_state.pop("_notes_open_request", None)
wanted = request or st.session_state.get("focus_note")
if wanted and (request or wanted != st.session_state.get("_notes_focus_seen")):
    st.session_state["_notes_focus_seen"] = wanted
    found = resolve(store, wanted)
    if found:
        apply_focus(found)
    else:
        st.warning(f"No note with id {md_escape(str(wanted))}: it may have been deleted.")
if st.session_state.pop("_notes_clear_add", False):
    st.session_state["add_content"] = ""

show_flash("notes")
if st.session_state.get("_notes_delete"):
    confirm_delete(store, list(st.session_state["_notes_delete"]))

f = render_filters(view)
matching = sort_notes(filtered(view, f["text"], f["tag"], f["source"], f["since"], f["until"]),
                      f["sort_by"], f["descending"], store.graph_snapshot())
n_pages = max(1, math.ceil(len(matching) / PAGE_SIZE))
if not 1 <= st.session_state.get("notes_page", 1) <= n_pages:
    st.session_state["notes_page"] = n_pages if st.session_state.get("notes_page", 1) > n_pages else 1
page_no = st.session_state.get("notes_page", 1) if n_pages > 1 else 1
page_rows = matching[(page_no - 1) * PAGE_SIZE:page_no * PAGE_SIZE]

tab_table, tab_detail, tab_add = st.tabs([TAB_TABLE, TAB_DETAIL, TAB_ADD], key="notes_tab", on_change="rerun")
with tab_table:
    render_table(store, matching, page_rows, page_no, n_pages, len(view))
with tab_detail:
    render_detail(store, view, page_rows)
with tab_add:
    render_add(store)
