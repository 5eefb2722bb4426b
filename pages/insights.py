"""Insights page: what the memory holds and how it grew, and the latest benchmark figures.

Why it is built this way (the page lays out charts; the numbers come from ``memory_core.explore.insights``):
- Everything is computed from the store's live view on each run (no copies of 10,000 notes): counts,
  ``store.timeline()`` for links and evolutions, the link graph's degrees, ``store.stats()``.
- Every count and chart of notes is of the person's notes (``insights.memories``): Memex's digests and
  profile lines are summaries of those notes, counted in a line of their own, never as notes.
- Time axes are binned for the span of the notes (hours for one day, days for a month, weeks,
  months or years beyond), with bars as wide as their bin and the axis padded so one bin shows.
- An empty or one-note memory says so instead of drawing empty axes.
- The embedding map projects the stored MiniLM vectors to 2-D with PCA (numpy: no extra dependency,
  deterministic). Above the point limit (default 3,000) it draws a fixed-seed random sample and says so.
- Plotly reads its text (hover, ticks, legends) as a small HTML-like markup, so every string that
  comes from a note (content, tags) is escaped first (``insights.esc``): "<b>" shows as "<b>".
- Benchmark results are read from ``<data dir>/bench/<name>-latest.json`` (``memex bench NAME``);
  LoCoMo's recall@k is plotted per retriever and per question category.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from memory_core.bench import load_results
from memory_core.explore.insights import (
    degree_counts,
    esc,
    growth,
    map_frame,
    memories,
    pca_2d,
    sample_ids,
    tag_counts,
)
from memory_core.explore.render import escape_markdown
from memory_core.explore.wording import count
from memory_core.notes import Note
from pages.common import open_store_or_stop, settings

MAP_POINTS = 3000
MAP_SEED = 0
TOP_TAGS = 20
BENCHMARKS = ("locomo", "store", "llm", "chat", "ui")


def chart(fig: go.Figure, key: str) -> None:
    fig.update_layout(margin={"l": 10, "r": 10, "t": 40, "b": 10})
    st.plotly_chart(fig, key=key, width="stretch")


# ---- store size ------------------------------------------------------------------------------------
def show_size(stats: dict[str, Any]) -> None:
    summaries = stats.get("summaries") or {}
    st.subheader("Store size")
    cols = [*st.columns(4), *st.columns(4)]
    cols[0].metric("Notes", f"{stats['notes']:,}")
    cols[1].metric("Links", f"{stats['links']:,}")
    cols[2].metric("Tags", f"{stats['tags']:,}")
    cols[3].metric("Evolutions", f"{stats['evolutions']:,}", help="changes the evolver made to older notes")
    cols[4].metric("Unlinked notes", f"{stats['isolated']:,}")
    cols[5].metric("To re-enrich", f"{stats['needs_enrichment']:,}")
    cols[6].metric("On disk", f"{stats['disk_bytes'] / 1e6:.1f} MB" if stats.get("backend") != "server" else "server")
    if stats.get("sources"):
        st.caption("By source: " + ", ".join(f"{escape_markdown(k)} {v:,}" for k, v in sorted(stats["sources"].items()))
                   + f" · data directory {escape_markdown(stats['data_dir'])}")
    if summaries:
        st.caption(f"Not counted as notes: Memex's summaries of them, {count(summaries.get('digest', 0), 'digest')} "
                   f"and {count(summaries.get('profile', 0), 'profile line')} (see the Profile page).")


# ---- growth ------------------------------------------------------------------------------------------
def show_growth(store: Any, notes: dict[str, Note]) -> None:
    events = [e for e in store.timeline() if e[1] in notes]  # the person's notes, not Memex's summaries
    if not events:
        return
    axis, created, changes = growth(events)
    c1, c2 = st.columns(2)
    with c1:
        fig = go.Figure()
        fig.add_bar(x=created["period"], y=created["notes"], name=f"new per {axis.unit}", width=axis.bar_width)
        fig.add_scatter(x=created["period"], y=created["total"], name="total", yaxis="y2",
                        mode="lines+markers" if len(created) < 3 else "lines")
        fig.update_layout(title=f"Notes over time (by the note's own time, per {axis.unit})",
                          xaxis=axis.layout(created["period"]), yaxis={"title": "new notes", "rangemode": "tozero"},
                          yaxis2={"title": "total", "overlaying": "y", "side": "right", "rangemode": "tozero"},
                          legend={"orientation": "h", "y": -0.25})
        chart(fig, "ins_notes_time")
    with c2:
        if changes.empty:
            st.info("No links or evolutions yet.")
            return
        fig = go.Figure()
        colours = {"link": "#2b6cb0", "evolution": "#dd6b20"}
        for kind, part in changes.groupby("kind"):
            fig.add_bar(x=part["period"], y=part["count"], name=str(kind), marker_color=colours.get(str(kind)),
                        width=axis.bar_width / 2, offsetgroup=str(kind))
        fig.update_layout(title=f"Links and evolutions over time (per {axis.unit})", barmode="group",
                          xaxis=axis.layout(changes["period"]), yaxis={"title": "events", "rangemode": "tozero"},
                          legend={"orientation": "h", "y": -0.25})
        chart(fig, "ins_changes_time")


def show_tags_and_degrees(graph: Any, notes: dict[str, Note]) -> None:
    c1, c2 = st.columns(2)
    with c1:
        counts = tag_counts(notes.values(), TOP_TAGS)
        if counts:
            df = pd.DataFrame([(esc(t), c) for t, c in counts], columns=["tag", "notes"])
            fig = px.bar(df.iloc[::-1], x="notes", y="tag", orientation="h", title=f"Top {count(len(df), 'tag')}")
            fig.update_layout(yaxis={"title": ""})
            chart(fig, "ins_tags")
        else:
            st.info("No tags yet.")
    with c2:
        df = pd.DataFrame(degree_counts(graph.subgraph([i for i in notes if i in graph])), columns=["links", "notes"])
        fig = px.bar(df, x="links", y="notes", title="Degree distribution (links per note, in + out)",
                     log_y=bool(len(df) and df["notes"].max() > 50 * max(1, df["notes"].min())))
        fig.update_xaxes(dtick=1 if len(df) and df["links"].max() <= 20 else None)
        chart(fig, "ins_degrees")


# ---- embedding map -----------------------------------------------------------------------------------
def show_map(store: Any, notes: dict[str, Note]) -> None:
    st.subheader("Embedding map")
    limit = st.slider("Points on the map", 100, 10_000, MAP_POINTS, step=100, key="ins_map_points",
                      help="Above this many notes a random sample (fixed seed) is drawn.")
    if len(notes) < 3:
        st.info("The map needs at least three notes.")
        return
    total = len(notes)
    ids = sample_ids(list(notes), limit, MAP_SEED)
    coords, share = pca_2d(store.vectors(ids).astype(np.float64))
    df, order = map_frame(notes, ids, coords)
    fig = px.scatter(df, x="x", y="y", color="tag", custom_data=["text", "tags", "id", "when"],
                     category_orders={"tag": order}, title="Notes by meaning (PCA of MiniLM embeddings)",
                     labels={"x": f"PC1: the main direction of difference ({share[0]:.0%} of variance)",
                             "y": f"PC2: the second ({share[1]:.0%})", "tag": "most used tag"})
    fig.update_traces(marker={"size": 7, "opacity": 0.8},
                      hovertemplate="%{customdata[0]}<br><i>%{customdata[1]}</i> · %{customdata[3]} · "
                                    "%{customdata[2]}<extra></extra>")
    fig.update_layout(legend={"title": {"text": "most used tag"}})
    chart(fig, "ins_map")
    what = "Points close together are notes with similar meaning; colours are the ten most used tags"
    if total > len(ids):
        st.caption(f"Showing {len(ids):,} of {count(total, 'note')}: a random sample (seed {MAP_SEED}). {what} among them.")
    else:
        shown = "the only note" if total == 1 else f"all {count(total, 'note')}"
        st.caption(f"Showing {shown}. {what}.")


# ---- benchmarks --------------------------------------------------------------------------------------
def show_benchmarks(home: Any) -> None:
    st.subheader("Latest benchmark results")
    found = {name: res for name in BENCHMARKS if (res := load_results(home, name))}
    if not found:
        st.info("No benchmark results yet. Run `memex bench locomo FILE`, `memex bench store`, "
                "`memex bench llm`, `memex bench chat` or `memex bench ui`; their latest figures show here.")
        return
    for name, res in found.items():
        with st.expander(f"{name} · ran {res.get('ran', '?')}", expanded=name == "locomo"):
            try:
                {"locomo": show_locomo, "ui": show_ui, "llm": show_llm}.get(name, show_generic)(res)
            except Exception as exc:  # noqa: BLE001 - a results file of another version must not break the page
                st.warning(f"These {name} results could not be plotted ({type(exc).__name__}: {exc}).")
            st.json({k: v for k, v in res.items() if k != "questions"}, expanded=False)


def phrase(n: Any, noun: str) -> str:
    """A count from a results file, which may be missing (shown as "?")."""
    return count(n, noun) if isinstance(n, int) else f"? {noun}s"


def show_locomo(res: dict[str, Any]) -> None:
    from memory_core.bench.locomo_charts import qa_rows, recall_rows

    rows = recall_rows(res)
    if not rows:
        st.info("These LoCoMo results hold no retrieval figures.")
        return
    parse = res.get("parse", {})
    about = [f"file {res['file']}"] if res.get("file") else []
    about += [f"mode {res.get('mode', '?')}",
              phrase(parse.get("samples"), "conversation") + ", " + phrase(parse.get("questions"), "question"),
              f"{res.get('seconds', 0):.0f}s"]
    st.caption(escape_markdown(" · ".join(about)))
    df = pd.DataFrame(rows)
    df["retriever"] = df["retriever"].map(esc)
    df["category"] = df["category"].map(esc)
    labels = {"recall_any": "any evidence turn retrieved", "recall_all": "every evidence turn retrieved",
              "session_any": "any evidence session retrieved", "session_all": "every evidence session retrieved"}
    measures = [m for m in labels if m in df and df[m].notna().all()]
    measure = st.radio("Recall", measures, horizontal=True, key="ins_locomo_measure", format_func=labels.get,
                       help="Turn level: the gold turns among the top k notes. Session level: the gold turns' "
                            "sessions among the sessions of the top k notes (an easier figure, reported by "
                            "some systems).")
    c1, c2 = st.columns(2)
    with c1:
        overall = df[df["category_id"] == 0]
        fig = px.line(overall, x="k", y=measure, color="retriever", markers=True, range_y=[0, 1],
                      title="Evidence recall@k, all questions", labels={measure: "recall", "k": "k"})
        fig.update_xaxes(type="category")
        chart(fig, "ins_locomo_k")
    with c2:
        ks = sorted(df["k"].unique())
        k = 10 if 10 in ks else ks[len(ks) // 2]
        per = df[(df["category_id"] != 0) & (df["k"] == k)]
        fig = px.bar(per, x="category", y=measure, color="retriever", barmode="group", range_y=[0, 1],
                     title=f"Recall@{k} per question category", labels={measure: "recall", "category": ""},
                     hover_data=["n", "mrr"])
        chart(fig, "ins_locomo_cat")
    lat = {name: b.get("latency_ms", {}) for name, b in res.get("retrieval", {}).items()}
    if lat:
        st.caption("Search latency p50/p95: " + ", ".join(
            f"{escape_markdown(n)} {v.get('p50', 0):.1f}/{v.get('p95', 0):.1f} ms" for n, v in lat.items()))
    qa = qa_rows(res)
    if qa:
        qdf = pd.DataFrame(qa)
        qdf["category"] = qdf["category"].map(esc)
        fig = px.bar(qdf.melt(id_vars=["category"], value_vars=["f1", "bleu1"], var_name="metric"),
                     x="category", y="value", color="metric", barmode="group", range_y=[0, 1],
                     title="Answer quality (token F1, BLEU-1) per category")
        chart(fig, "ins_locomo_qa")


def show_ui(res: dict[str, Any]) -> None:
    rows = res.get("rows", [])
    if not rows:
        show_generic(res)
        return
    df = pd.DataFrame(rows)
    df["size"] = df["notes"].map(lambda n: count(n, "note"))
    fig = px.bar(df, x="page", y="seconds", color="size", barmode="group",
                 title="Seconds per page (AppTest, first run after the store is open)")
    chart(fig, "ins_ui")
    prep = res.get("prepare", [])
    if prep:
        st.dataframe(pd.DataFrame(prep), hide_index=True)


def show_llm(res: dict[str, Any]) -> None:
    bare, memex = res.get("bare", {}), res.get("memex", {})
    cols = st.columns(4)
    cols[0].metric("tokens/s (memex)", f"{memex.get('tokens_per_s', 0):.1f}")
    cols[1].metric("tokens/s (bare)", f"{bare.get('tokens_per_s', 0):.1f}")
    cols[2].metric("first token", f"{memex.get('ttft_ms', 0):.0f} ms")
    s = res.get("structured", {})
    cols[3].metric("structured valid", f"{100 * s.get('valid_rate', 0):.0f}%")
    st.caption(f"model {escape_markdown(str(res.get('model', '?')))}")


def show_generic(res: dict[str, Any]) -> None:
    """The numbers of a results file, flattened (for benchmarks without a dedicated chart)."""
    rows: list[tuple[str, float]] = []

    def walk(value: Any, path: str) -> None:
        if len(rows) >= 60:
            return
        if isinstance(value, dict):
            for k, v in value.items():
                if k not in ("ran", "machine", "benchmark", "settings", "versions"):
                    walk(v, f"{path}.{k}" if path else str(k))
        elif isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            rows.append((path, float(value)))

    walk(res, "")
    if rows:
        st.dataframe(pd.DataFrame(rows, columns=["figure", "value"]), hide_index=True)
    else:
        st.caption("No figures in these results.")


# ---- the page ----------------------------------------------------------------------------------------
st.title("📊 Insights")
s = settings()
store = open_store_or_stop()
notes = memories(dict(store.notes_view()))  # a snapshot: a background write cannot change it mid-run
graph = store.graph_snapshot()
show_size(store.stats())
if not notes:
    st.info("The memory is empty: the charts appear once there are notes.")
elif len(notes) == 1:
    only = next(iter(notes.values()))
    st.info(f"One note so far (from {escape_markdown(only.timestamp[:10])}): the charts of growth, tags, links and "
            "meaning appear once there are at least two.")
else:
    show_growth(store, notes)
    show_tags_and_degrees(graph, notes)
    show_map(store, notes)
show_benchmarks(s.home)
