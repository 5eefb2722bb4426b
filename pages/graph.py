"""Graph page: the notes and their links as a network you click, with the clicked note beside it.

Why it is built this way:
- What to draw is decided by ``memory_core.explore.graphview`` (tested without Streamlit): at most the cap
  (default 300) of the notes matching the filters, or the neighbourhood of one note, or a recall
  trace's notes and their neighbours; the page says "showing N of M" and how the N were chosen.
  At 10,000 notes this stays fast because nothing draws more than the cap.
- The canvas is a bidirectional component (``pages/components/graph_canvas``, vis-network from
  pyvis, inlined): a click on a node reruns the page with that note chosen, a double-click focuses
  its neighbourhood. The choice is kept in session state and in the URL (``?note=<id>``).
- ``?trace=<conversation>:<message>`` (from a chat reply) or ``?query=<text>`` (from Search) draws
  what was recalled: highlighted with rank and score, the rest faded (``memory_core.retrieval.trace``).
- "Look back in time" draws the memory as it was (``store.as_of``), read-only under a banner.
- "Download this view" gives the drawn notes as one standalone HTML file (``graphhtml``, with pyvis).
- Note text reaches the page as text only: tooltips through ``textContent``, details through
  ``st.code``/``escape_markdown``, tables as dataframe cells.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pandas as pd
import streamlit as st

from memory_core.errors import MemexError
from memory_core.explore import graphdraw, graphhtml
from memory_core.explore import graphview as gv
from memory_core.explore.render import escape_markdown
from memory_core.explore.wording import count
from memory_core.memory.link_kinds import KINDS, LABELS
from memory_core.notes import SOURCES, Note
from memory_core.retrieval import trace as tr
from memory_core.store.note_filter import day_range, ranked_tags
from pages.common import open_store_or_stop, show_error, show_flash
from pages.components.graph_canvas import graph_canvas, trigger
from pages.components.note_panel import note_panel
from pages.components.time_travel import banner, changes_view, past_view, time_control
from pages.components.trace_panel import incoming_trace, trace_explain, trace_header, trace_table

TAG_OPTIONS = 500  # the most frequent tags offered in the filter (a store can hold thousands)
FIND_LIMIT = 50
CANVAS_KEY = "graph_canvas"
# At 1400 px the default sidebar (300 px) and side padding leave the canvas too little room beside
# the note panel. On this page only, the sidebar starts narrower (the person can still drag it) and
# the main column's side padding is trimmed, so the canvas gets >= 60 % of the window.
PAGE_CSS = """<style>
section[data-testid="stSidebar"] { width: 220px !important; min-width: 220px !important; }
[data-testid="stMainBlockContainer"] { padding-left: 1rem; padding-right: 1rem; max-width: 100%; }
</style>"""


def label(note: Note) -> str:
    return f"{note.title} · {note.id[:8]}"


def resolve(store: Any, notes: dict[str, Note], note_id: str) -> str | None:
    if note_id in notes:
        return note_id
    try:
        nid = store.resolve_id(str(note_id))
    except MemexError:
        return None
    return nid if nid in notes else None


# ---- callbacks: run before the rerun they cause --------------------------------------------------------
def _choose(nid: str) -> None:
    st.session_state["graph_pick"] = nid
    st.session_state["focus_note"] = nid
    st.session_state["_graph_focus_seen"] = nid


def _clicked() -> None:
    nid = trigger(CANVAS_KEY, "clicked")
    if nid:
        _choose(nid)


def _double_clicked() -> None:
    nid = trigger(CANVAS_KEY, "focus")
    if nid:
        _focus_here(nid)


def _picked() -> None:
    pick = st.session_state.get("graph_pick") or None
    if pick:
        st.session_state["focus_note"] = pick
        st.session_state["_graph_focus_seen"] = pick


def _focus_here(nid: str) -> None:
    _choose(nid)
    st.session_state["graph_ego"] = True


def _clear_focus() -> None:
    st.session_state["graph_ego"] = False


def _clear_trace() -> None:
    for name in ("trace", "query"):
        if name in st.query_params:
            del st.query_params[name]


def take_incoming_focus(store: Any, notes: dict[str, Note]) -> None:
    """``?note=<id>`` or ``focus_note`` set by another page: pick that note and centre the graph on it."""
    qp = st.query_params.get("note")
    if qp and qp != st.session_state.get("_graph_qp_seen"):
        st.session_state["_graph_qp_seen"] = qp
        if qp != st.session_state.get("graph_pick"):
            st.session_state["focus_note"] = qp
    wanted = st.session_state.get("focus_note")
    if wanted and wanted != st.session_state.get("_graph_focus_seen"):
        st.session_state["_graph_focus_seen"] = wanted
        nid = resolve(store, notes, wanted)
        if nid:
            st.session_state["graph_pick"] = nid
            st.session_state["graph_ego"] = True
        else:
            st.warning(f"No note with id {escape_markdown(str(wanted))}: it may have been deleted.")


def sidebar_query(notes: dict[str, Note], pick: str | None, seeds: tuple[str, ...]) -> gv.GraphQuery:
    sb = st.sidebar
    sb.header("Graph filters")
    text = sb.text_input("Text contains", key="graph_text", placeholder="words, or an id")
    tag_options = ranked_tags(notes, TAG_OPTIONS, keep=st.session_state.get("graph_tags", []))
    tags = sb.multiselect("Tags (any of)", tag_options, key="graph_tags",
                          help=f"The {TAG_OPTIONS} most used tags are offered.")
    sources = sb.multiselect("Source", list(SOURCES), key="graph_sources")
    lo, hi = day_range(notes)
    rng = sb.date_input("Time range (empty: all)", value=(), min_value=lo, max_value=hi, key="graph_dates")
    since = rng[0] if isinstance(rng, (tuple, list)) and len(rng) >= 1 else None
    until = rng[1] if isinstance(rng, (tuple, list)) and len(rng) == 2 else None

    sb.header("Focus")
    ego = sb.toggle("Only the selected note's neighbourhood", key="graph_ego", disabled=not pick or bool(seeds),
                    help="The notes linked to the selected note (either direction), up to the depth below. "
                         "Double-clicking a note does this too.")
    depth = sb.slider("Depth (links away)", 1, gv.MAX_DEPTH, 1, key="graph_depth")

    sb.header("Drawing")
    cap = sb.slider("Node cap", 25, gv.MAX_CAP, gv.DEFAULT_CAP, step=25, key="graph_cap",
                    help="Never more notes than this are drawn.")
    rank = sb.selectbox("Which notes when over the cap", list(gv.RANKS), key="graph_rank",
                        format_func=lambda r: gv.RANKS[r])
    colour_by = sb.radio("Colour by", gv.COLOUR_BY, key="graph_colour", horizontal=True)
    size_by = sb.radio("Size by", gv.SIZE_BY, key="graph_size", horizontal=True,
                       format_func=lambda s: {"degree": "links", "retrievals": "recalls", "strength": "strength"}[s],
                       help="Strength: MemoryBank's forgetting curve; each recall or retelling makes a note fade "
                            "more slowly. Fading notes are drawn fainter, whatever the size.")
    physics = sb.toggle("Physics", value=True, key="graph_physics",
                        help="On: nodes settle by simulation and can be dragged. Off: a fixed layout.")
    kinds = sb.multiselect("Link kinds", [k for k in KINDS if k not in gv.ALWAYS_DRAWN],
                           default=[k for k in gv.DEFAULT_LINK_KINDS if k not in gv.ALWAYS_DRAWN],
                           key="graph_link_kinds", format_func=lambda k: LABELS.get(k, k),
                           help="Which links are drawn (and followed around a focused note). Links by similarity "
                                "alone are off at first: they added nothing to recall in `memex bench links`. "
                                "Your own links are always drawn.")
    return gv.GraphQuery(tags=tuple(tags), sources=tuple(sources), since=since, until=until, text=text,
                         focus=pick if (ego and pick and not seeds) else None, depth=depth, cap=cap, rank=rank,
                         colour_by=colour_by, size_by=size_by, physics=physics, seeds=seeds,
                         link_kinds=tuple(kinds))


def show_legend(view: gv.GraphView, traced: bool) -> None:
    rows = [{"": e.colour, "legend": e.label, "kind": {"node": "colour", "edge": "link", "marker": "mark"}[e.kind],
             "count": e.count} for e in view.legend]
    if traced:
        rows.append({"": graphdraw.TRACE_BORDER, "legend": "gold border, '#rank · score': recalled; grey: not "
                     "recalled; gold line: the link that brought a note in", "kind": "trace", "count": 0})
    df = pd.DataFrame(rows)
    styled = df.style.map(lambda c: f"background-color: {c}; color: {c}", subset=[""])
    with st.expander("Legend", expanded=False):
        st.dataframe(styled, hide_index=True, width="stretch")


def download_view(view: gv.GraphView) -> None:
    """The drawn notes and links as one HTML file (pyvis, vis-network inlined): it opens offline, anywhere.

    Made only when clicked (a callable): the file inlines vis-network, ~0.5 MB, too much for every rerun."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M")
    st.download_button("Download this view as a standalone HTML file", data=lambda: graphhtml.to_html(view),
                       file_name=f"memex-graph-{stamp}.html", mime="text/html", icon="⬇️", key="graph_download",
                       on_click="ignore", help="The notes and links drawn here, with their colours and tooltips, "
                       "in one file that works without Memex or a network.")


def picker(notes: dict[str, Note], view: gv.GraphView) -> str | None:
    find = st.text_input("Find a note", key="graph_find", placeholder="words or id (any note, drawn or not)")
    if find.strip():
        needle = find.strip().lower()
        found = [nid for nid, n in notes.items() if needle in nid.lower() or needle in n.content.lower()]
        options = found[:FIND_LIMIT]
        if len(found) > FIND_LIMIT:
            st.caption(f"{count(len(found), 'note')} match; the first {FIND_LIMIT} are offered.")
    else:
        options = list(view.node_ids)
    pick = st.session_state.get("graph_pick") or ""
    options = ["", *([pick] if pick and pick not in options else []), *options]
    st.selectbox("Note", options, key="graph_pick", on_change=_picked,
                 format_func=lambda i: "(click a node, or choose a note)" if not i else
                 label(notes[i]) if i in notes else i,
                 help="Click a node in the graph, or pick one here (the notes drawn, or found above).")
    return st.session_state.get("graph_pick") or None


# ---- the page ----------------------------------------------------------------------------------------
st.html(PAGE_CSS)
st.title("🕸️ Graph")
store = open_store_or_stop()
show_flash("graph")
notes_now = store.notes_view()
if not notes_now:
    st.info("The memory is empty: chat, add a note in Notes, or import some, and the graph appears here.")
    st.stop()

top_left, top_right = st.columns([3, 2], vertical_alignment="center")
with top_left:
    when = time_control(store, notes_now, "graph")
if when:
    try:
        notes, graph = past_view(store, when, notes_now, "graph")
    except MemexError as exc:
        show_error(exc, "Cannot fold the change log to that moment")
        st.stop()
    banner(when, len(notes), len(notes_now), "graph")
else:
    notes, graph = notes_now, store.graph_snapshot()

take_incoming_focus(store, notes)
trace = incoming_trace(store, notes)
if trace is not None:
    trace_header(trace)
    top_right.button("Clear the trace", icon="✖️", key="graph_clear_trace", on_click=_clear_trace)

pick = st.session_state.get("graph_pick") or None
if pick and pick not in notes:
    st.warning("The selected note does not exist " + ("at this moment." if when else "any more (deleted)."))
    st.session_state["graph_pick"] = ""
    st.session_state["graph_ego"] = False
    pick = None

seeds = tuple(trace.present_ids) if trace is not None else ()
query = sidebar_query(notes, pick, seeds)
try:
    view = gv.build_view(notes, graph, query)
except MemexError as exc:
    show_error(exc, "Cannot draw the graph")
    st.stop()

over = graphdraw.overlay(view, trace, tr.edges(trace, graph)) if trace is not None else None
col_graph, col_detail = st.columns([3, 1], gap="small")
with col_graph:
    st.caption(view.summary + " Click a note to open it; double-click to focus its neighbourhood.")
    if not view.node_ids:
        st.info("No note matches these filters.")
    else:
        graph_canvas(graphdraw.payload(view, pick, trace, over), key=CANVAS_KEY, on_click=_clicked,
                     on_focus=_double_clicked)
        show_legend(view, trace is not None)
        download_view(view)
with col_detail:
    if trace is not None:
        with st.expander(f"Recalled notes ({len(trace.entries)})", expanded=True):
            trace_table(trace, notes, key="graph_trace_table")
        if trace.episodes:  # what was said earlier: episodes, not notes, so not nodes of this graph
            with st.expander(f"Recalled exchanges ({len(trace.episodes)})", expanded=True):
                st.dataframe(tr.episode_rows(trace), hide_index=True, key="graph_trace_episodes")
        asked = st.session_state.get("trace_explain_pick") or st.session_state.get("trace_explain_preset")
        with st.expander("Why (not) this note?", expanded=bool(asked)):
            trace_explain(store, notes_now, trace)
    chosen = picker(notes, view)
    if chosen and chosen in notes:
        st.query_params["note"] = chosen  # a shareable address for this note
        st.session_state["_graph_qp_seen"] = chosen
        note_panel(store, notes, graph, chosen, read_only=bool(when), on_focus=_focus_here,
                   on_unfocus=_clear_focus, focused=bool(st.session_state.get("graph_ego")))
    else:
        if "note" in st.query_params:
            del st.query_params["note"]
        st.caption("Click a note in the graph to see its content, links and history, and to edit it.")

if st.toggle("🗓️ What changed between two dates", key="graph_changes",
             help="Every note added, changed or removed between two days, as before/after diffs."):
    changes_view(store, notes_now, "graph")
