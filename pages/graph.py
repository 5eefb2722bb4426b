"""Graph page: the notes and their links as a network, filtered and capped, with one note in detail.

Why it is built this way:
- What to draw is decided by ``memory_core.graphview`` (tested without Streamlit): at most the cap
  (default 300) of the notes matching the filters, or the neighbourhood of one note up to 3 links
  away; the page says "showing N of M" and how the N were chosen. At 10,000 notes this stays fast
  because nothing draws more than the cap.
- The drawing is vis-network (through pyvis) in an iframe, fully inlined: it works offline.
  Tooltips are escaped by graphview and shown as text; the legend and the note details are
  Streamlit elements (dataframes, ``st.code``, ``md_escape``), never HTML built from note text.
- The iframe cannot report clicks back, so a note is chosen with the picker beside the graph (the
  notes drawn, or any note found by text or id); ``focus_note`` from another page or ``?note=<id>``
  chooses it too and centres the graph on it.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import date
from typing import Any

import pandas as pd
import streamlit as st

from memory_core import graphview as gv
from memory_core.errors import MemexError
from memory_core.notes import SOURCES, Note
from pages.common import flash, md_escape, open_store_or_stop, show_error, show_flash

TAG_OPTIONS = 500  # the most frequent tags offered in the filter (a store can hold thousands)
FIND_LIMIT = 50
GRAPH_HEIGHT = 640


def label(note: Note) -> str:
    return f"{note.title} · {note.id[:8]}"


def resolve(store: Any, note_id: str) -> str | None:
    try:
        return store.resolve_id(str(note_id))
    except MemexError:
        return None


def _picked() -> None:
    pick = st.session_state.get("graph_pick") or None
    if pick:
        st.session_state["focus_note"] = pick
        st.session_state["_graph_focus_seen"] = pick


def _focus_here(nid: str) -> None:
    st.session_state["graph_pick"] = nid
    st.session_state["graph_ego"] = True
    st.session_state["focus_note"] = nid
    st.session_state["_graph_focus_seen"] = nid


def _clear_focus() -> None:
    st.session_state["graph_ego"] = False


def take_incoming_focus(store: Any) -> None:
    """``?note=<id>`` or ``focus_note`` set by another page: pick that note and centre the graph on it."""
    qp = st.query_params.get("note")
    if qp and qp != st.session_state.get("_graph_qp_seen"):
        st.session_state["_graph_qp_seen"] = qp
        st.session_state["focus_note"] = qp
    wanted = st.session_state.get("focus_note")
    if wanted and wanted != st.session_state.get("_graph_focus_seen"):
        st.session_state["_graph_focus_seen"] = wanted
        nid = resolve(store, wanted)
        if nid:
            st.session_state["graph_pick"] = nid
            st.session_state["graph_ego"] = True
        else:
            st.warning(f"No note with id {md_escape(str(wanted))}: it may have been deleted.")


def sidebar_query(notes: dict[str, Note], pick: str | None) -> gv.GraphQuery:
    sb = st.sidebar
    sb.header("Graph filters")
    text = sb.text_input("Text contains", key="graph_text", placeholder="words, or an id")
    counts = Counter(t for n in notes.values() for t in n.tags)
    tag_options = [t for t, _ in counts.most_common(TAG_OPTIONS)]
    for t in st.session_state.get("graph_tags", []):
        if t not in tag_options:
            tag_options.append(t)
    tags = sb.multiselect("Tags (any of)", tag_options, key="graph_tags",
                          help=f"The {TAG_OPTIONS} most used tags are offered.")
    sources = sb.multiselect("Source", list(SOURCES), key="graph_sources")
    days = sorted(n.timestamp[:10] for n in notes.values())
    lo = _day(days[0]) if days else None
    hi = _day(days[-1]) if days else None
    rng = sb.date_input("Time range (empty: all)", value=(), min_value=lo, max_value=hi, key="graph_dates")
    since = rng[0] if isinstance(rng, (tuple, list)) and len(rng) >= 1 else None
    until = rng[1] if isinstance(rng, (tuple, list)) and len(rng) == 2 else None

    sb.header("Focus")
    ego = sb.toggle("Only the selected note's neighbourhood", key="graph_ego", disabled=not pick,
                    help="The notes linked to the selected note (either direction), up to the depth below.")
    depth = sb.slider("Depth (links away)", 1, gv.MAX_DEPTH, 1, key="graph_depth")

    sb.header("Drawing")
    cap = sb.slider("Node cap", 25, gv.MAX_CAP, gv.DEFAULT_CAP, step=25, key="graph_cap",
                    help="Never more notes than this are drawn.")
    rank = sb.selectbox("Which notes when over the cap", list(gv.RANKS), key="graph_rank",
                        format_func=lambda r: gv.RANKS[r])
    colour_by = sb.radio("Colour by", gv.COLOUR_BY, key="graph_colour", horizontal=True)
    size_by = sb.radio("Size by", gv.SIZE_BY, key="graph_size", horizontal=True,
                       format_func=lambda s: {"degree": "links", "retrievals": "recalls"}[s])
    physics = sb.toggle("Physics", value=True, key="graph_physics",
                        help="On: nodes settle by simulation and can be dragged. Off: a fixed layout.")
    return gv.GraphQuery(tags=tuple(tags), sources=tuple(sources), since=since, until=until, text=text,
                         focus=pick if (ego and pick) else None, depth=depth, cap=cap, rank=rank,
                         colour_by=colour_by, size_by=size_by, physics=physics)


def _day(ts: str) -> date | None:
    try:
        return date.fromisoformat(ts[:10])
    except ValueError:
        return None


def show_graph(view: gv.GraphView) -> None:
    st.caption(view.summary)
    if not view.node_ids:
        st.info("No note matches these filters.")
        return
    page = gv.to_html(view, height=f"{GRAPH_HEIGHT}px")
    if hasattr(st, "iframe"):
        st.iframe(page, height=GRAPH_HEIGHT + 12)
    else:  # Streamlit before st.iframe
        import streamlit.components.v1 as components

        components.html(page, height=GRAPH_HEIGHT + 12)
    show_legend(view)


def show_legend(view: gv.GraphView) -> None:
    rows = [{"": e.colour, "legend": e.label, "kind": {"node": "colour", "edge": "link", "marker": "mark"}[e.kind],
             "count": e.count} for e in view.legend]
    df = pd.DataFrame(rows)
    styled = df.style.map(lambda c: f"background-color: {c}; color: {c}", subset=[""])
    with st.expander("Legend", expanded=True):
        st.dataframe(styled, hide_index=True, width="stretch")


def picker(store: Any, notes: dict[str, Note], view: gv.GraphView) -> str | None:
    find = st.text_input("Find a note", key="graph_find", placeholder="words or id (any note, drawn or not)")
    if find.strip():
        needle = find.strip().lower()
        found = [nid for nid, n in notes.items() if needle in nid.lower() or needle in n.content.lower()]
        options = found[:FIND_LIMIT]
        if len(found) > FIND_LIMIT:
            st.caption(f"{len(found):,} notes match; the first {FIND_LIMIT} are offered.")
    else:
        options = list(view.node_ids)
    pick = st.session_state.get("graph_pick") or ""
    options = ["", *([pick] if pick and pick not in options else []), *options]
    st.selectbox("Note", options, key="graph_pick", on_change=_picked,
                 format_func=lambda i: "(choose a note)" if not i else label(notes[i]) if i in notes else i,
                 help="The notes drawn (or found above). The picked note can become the graph's focus.")
    return st.session_state.get("graph_pick") or None


def show_details(store: Any, notes: dict[str, Note], nid: str) -> None:
    note = notes[nid]
    st.subheader(md_escape(note.title))
    meta = [f"id `{nid}`", f"source {md_escape(note.source)}", f"time {md_escape(note.timestamp)}",
            f"recalled {note.retrieval_count}×"]
    st.caption(" · ".join(meta))
    if note.needs_enrichment:
        st.warning("The model could not enrich this note; it is marked for re-enrichment.")
    b1, b2, b3 = st.columns(3)
    b1.button("Focus here", icon="🎯", key="graph_focus_btn", on_click=_focus_here, args=(nid,),
              width="stretch", help="Draw only this note and its neighbours (depth in the sidebar)")
    if b2.button("Open in Notes", icon="🗒️", key="graph_open_notes", width="stretch"):
        st.session_state["focus_note"] = nid
        st.switch_page("pages/notes.py")
    b3.button("All notes", icon="🌐", key="graph_unfocus", on_click=_clear_focus, width="stretch",
              disabled=not st.session_state.get("graph_ego"), help="Leave the neighbourhood view")
    st.code(note.content, language=None, wrap_lines=True)
    st.markdown("**Keywords:** " + (md_escape(", ".join(note.keywords)) or "—"))
    st.markdown("**Tags:** " + (md_escape(", ".join(note.tags)) or "—"))
    st.markdown("**Context:** " + (md_escape(note.context) or "—"))

    def title_of(other: str) -> str:
        return notes[other].title if other in notes else "(deleted note)"

    out_rows = [{"to": title_of(x.target), "by": x.by, "reason": x.reason, "created": x.created, "id": x.target}
                for x in note.links]
    graph = store.graph_snapshot()
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
            st.caption(f"When this note was written the model was shown {len(d.get('shown', []))} neighbour(s), "
                       f"linked {len(d.get('linked', []))}, evolved {len(d.get('evolved', []))}"
                       + (f", and named {len(d.get('ignored_ids', []))} id(s) it was not offered (ignored)"
                          if d.get("ignored_ids") else "") + ".")
    with st.expander("✏️ Edit this note"):
        edit_form(store, note)


def _plain(value: Any) -> str:
    if isinstance(value, list) and all(isinstance(x, str) for x in value):
        return ", ".join(value)
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


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
    changes: dict[str, Any] = {}
    if content != note.content:
        changes["content"] = content
    for name, raw, old in (("keywords", keywords, note.keywords), ("tags", tags, note.tags)):
        new = [x.strip() for x in raw.split(",") if x.strip()]
        if new != old:
            changes[name] = new
    if " ".join(context.split()) != note.context:
        changes["context"] = context
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


# ---- the page ----------------------------------------------------------------------------------------
st.title("🕸️ Graph")
store = open_store_or_stop()
notes = store.notes_view()
take_incoming_focus(store)
show_flash("graph")
if not notes:
    st.info("The memory is empty: chat, add a note in Notes, or import some, and the graph appears here.")
    st.stop()

pick = st.session_state.get("graph_pick") or None
if pick and pick not in notes:
    st.warning("The selected note no longer exists (deleted).")
    st.session_state["graph_pick"] = ""
    st.session_state["graph_ego"] = False
    pick = None

query = sidebar_query(notes, pick)
try:
    view = gv.build_view(notes, store.graph_snapshot(), query)
except MemexError as exc:
    show_error(exc, "Cannot draw the graph")
    st.stop()

col_graph, col_detail = st.columns([3, 2], gap="medium")
with col_graph:
    show_graph(view)
with col_detail:
    chosen = picker(store, notes, view)
    if chosen and chosen in notes:
        st.query_params["note"] = chosen  # a shareable address for this note
        st.session_state["_graph_qp_seen"] = chosen
        show_details(store, notes, chosen)
    else:
        if "note" in st.query_params:
            del st.query_params["note"]
        st.caption("Choose a note to see its content, links and history, and to edit it.")
