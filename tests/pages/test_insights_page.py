"""The Insights page through AppTest: empty store, seeded store (charts, escaping, PCA map, sampling),
and the latest benchmark results (a real LoCoMo run on the small fixture, and the ui benchmark's shape).
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
from streamlit.testing.v1 import AppTest

from memory_core.bench import save_results
from memory_core.config import Settings
from memory_core.notes import Change, Link, Note
from memory_core.store import MemoryStore

APP = str(Path(__file__).resolve().parents[2] / "app.py")
FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "locomo_small.json"
SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"


def insights(at: AppTest | None = None) -> AppTest:
    if at is None:
        at = AppTest.from_file(APP, default_timeout=120)
    at.switch_page("pages/insights.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def figures(at: AppTest) -> dict[str, dict]:
    """The plotly figures on the page, by title."""
    out = {}
    for chart in at.get("plotly_chart"):
        spec = json.loads(chart.proto.spec)
        title = spec["layout"].get("title", {})
        out[title.get("text", "") if isinstance(title, dict) else str(title)] = spec
    return out


def values(arr) -> list:
    """A plotly data array, plain or base64-typed."""
    if isinstance(arr, dict) and "bdata" in arr:
        return np.frombuffer(base64.b64decode(arr["bdata"]), dtype=np.dtype(arr["dtype"])).tolist()
    return list(arr)


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def seed(settings: Settings, embedder) -> tuple[MemoryStore, list[str]]:
    store = MemoryStore(settings, embedder)
    notes = [
        Note("Hiking in the Alps with Anna.", tags=["travel"], timestamp="2024-01-01T10:00:00+00:00"),
        Note("Anna photographs glaciers.", tags=["travel", "photo"], timestamp="2024-01-09T10:00:00+00:00"),
        Note("Budget review on Friday.", tags=["work"], timestamp="2024-02-03T10:00:00+00:00"),
        Note(SCRIPT, tags=["<b>bold</b>"], timestamp="2024-02-04T10:00:00+00:00"),
        Note(IMG, tags=["test"], timestamp="2024-03-05T10:00:00+00:00"),
    ]
    notes[0].links.append(Link(notes[1].id, "Anna", created="2024-01-09T10:00:00+00:00", by="linker"))
    notes[2].links.append(Link(notes[1].id, "test", created="2024-02-03T10:00:00+00:00", by="person"))
    notes[1].history.append(Change("tags", ["travel"], ["travel", "photo"], by="evolver", at="2024-02-03T10:00:00+00:00"))
    # the decision record a full-mode write leaves on the new note: not itself an evolution
    notes[2].history.append(Change("evolution", None, {"shown": [notes[1].id], "linked": [notes[1].id],
                                                       "evolved": [notes[1].id]}, by="evolver",
                                   at="2024-02-03T10:00:00+00:00"))
    with store.writing() as w:
        for n in notes:
            w.put(n)
    return store, [n.id for n in notes]


def test_empty_store(app_home: Settings) -> None:
    at = insights()
    assert metric(at, "Notes") == "0"
    assert any("memory is empty" in i.value for i in at.info)
    assert any("No benchmark results yet" in i.value for i in at.info)
    assert not at.get("plotly_chart") and not at.error


def test_seeded_store_charts_and_escaping(app_home: Settings, embedder) -> None:
    store, ids = seed(app_home, embedder)
    at = insights()
    assert (metric(at, "Notes"), metric(at, "Links"), metric(at, "Evolutions")) == ("5", "2", "1")
    figs = figures(at)
    assert {"Top 5 tags", "Degree distribution (links per note, in + out)",
            "Notes by meaning (PCA of MiniLM embeddings)"} <= set(figs)
    assert any(t.startswith("Notes over time") for t in figs) and any(t.startswith("Links and evolutions") for t in figs)
    # counts: notes per period add up, links and evolutions are told apart
    growth = next(f for t, f in figs.items() if t.startswith("Notes over time"))
    assert sum(values(growth["data"][0]["y"])) == 5
    changes = next(f for t, f in figs.items() if t.startswith("Links and evolutions"))
    by_kind = {tr["name"]: sum(values(tr["y"])) for tr in changes["data"]}
    assert by_kind == {"link": 2, "evolution": 1}
    degrees = figs["Degree distribution (links per note, in + out)"]["data"][0]
    assert dict(zip(values(degrees["x"]), values(degrees["y"]))) == {0: 2, 1: 2, 2: 1}
    # note text never reaches plotly as markup
    for raw in (SCRIPT, IMG, "<b>bold</b>"):  # the page source as sent
        assert all(raw not in c.proto.spec for c in at.get("plotly_chart"))
    spec = json.dumps(list(figs.values()))  # the strings plotly receives, JSON escapes undone
    for raw in (SCRIPT, IMG, "<b>bold</b>"):
        assert raw not in spec
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in spec and "&lt;img src=x onerror=alert(1)&gt;" in spec
    assert "&lt;b&gt;bold&lt;/b&gt;" in figs["Top 5 tags"]["data"][0]["y"]
    assert any(c.value.startswith("Showing all 5 notes") for c in at.caption)


def test_map_samples_and_separates_topics(app_home: Settings, embedder) -> None:
    """150 notes in two clusters: a 100-point sample is drawn, and PC1 puts the clusters apart."""
    store = MemoryStore(app_home, embedder)
    rng = np.random.default_rng(3)
    axis = rng.normal(size=384)
    with store.writing() as w:
        for i in range(150):
            side = "left" if i % 2 else "right"
            vec = (axis if side == "left" else -axis) + 0.3 * rng.normal(size=384)
            w.put(Note(f"{side} note {i}", tags=[side], timestamp=f"2024-01-{1 + i % 28:02d}T00:00:00+00:00"),
                  vec / np.linalg.norm(vec))
    at = insights()
    at.slider(key="ins_map_points").set_value(100).run()
    assert not at.exception
    assert any(c.value.startswith("Showing 100 of 150 notes: a random sample (seed 0)") for c in at.caption)
    fig = figures(at)["Notes by meaning (PCA of MiniLM embeddings)"]
    xs = {tr["name"]: values(tr["x"]) for tr in fig["data"]}
    assert sum(len(v) for v in xs.values()) == 100
    assert set(xs) == {"left", "right"}
    assert (max(xs["left"]) < 0 < min(xs["right"])) or (max(xs["right"]) < 0 < min(xs["left"]))


def test_benchmark_results_are_plotted(app_home: Settings, embedder) -> None:
    from memory_core.bench.locomo_run import run_benchmark
    from memory_core.bench.ui import figures as ui_figures
    from memory_core.transfer.locomo_format import load_locomo

    seed(app_home, embedder)
    res = run_benchmark(load_locomo(FIXTURE), app_home, embedder=embedder, progress=False,
                        retrievers=["bm25", "dense"], limit_questions=8)
    save_results(app_home.home, "locomo", res)
    ui = {"sizes": [100], "pages": ["graph", "notes"], "rows": [
        {"notes": 100, "page": "graph", "seconds": 0.5, "rerun_seconds": 0.1, "exception": None, "errors": []},
        {"notes": 100, "page": "notes", "seconds": 0.9, "rerun_seconds": 0.2, "exception": None, "errors": []}],
        "prepare": [{"notes": 100, "build_s": 0.1, "write_s": 0.2, "open_s": 3.0}]}
    assert ui_figures(ui) == {"slowest page @100": "notes 0.90s", "exceptions": 0}
    save_results(app_home.home, "ui", ui)
    at = insights()
    figs = figures(at)
    recall = figs["Evidence recall@k, all questions"]
    assert {tr["name"] for tr in recall["data"]} == {"bm25", "dense"}
    overall = res["retrieval"]["bm25"]["overall"]
    bm25 = next(tr for tr in recall["data"] if tr["name"] == "bm25")
    assert values(bm25["y"]) == [overall[f"recall_any@{k}"] for k in res["ks"]]
    per_cat = figs["Recall@10 per question category"]
    assert {tr["name"] for tr in per_cat["data"]} == {"bm25", "dense"}
    cats = {c["name"] for c in res["retrieval"]["bm25"]["by_category"].values()}
    assert set(values(per_cat["data"][0]["x"])) == cats
    assert "Seconds per page (AppTest, first run after the store is open)" in figs
    assert not at.warning
    # The session level can be plotted too, from its own figures.
    at.radio(key="ins_locomo_measure").set_value("session_any").run()
    bm25 = next(tr for tr in figures(at)["Evidence recall@k, all questions"]["data"] if tr["name"] == "bm25")
    assert values(bm25["y"]) == [overall[f"session_recall_any@{k}"] for k in res["ks"]]
    assert values(bm25["y"]) != [overall[f"recall_any@{k}"] for k in res["ks"]]  # not the turn level again


def put(settings: Settings, embedder, times: list[str]) -> None:
    store = MemoryStore(settings, embedder)
    with store.writing() as w:
        for i, t in enumerate(times):
            w.put(Note(f"Note {i} <b>x</b>", tags=["t"], timestamp=t))


def test_one_note_says_so(app_home: Settings, embedder) -> None:
    put(app_home, embedder, ["2024-07-14T10:00:00+00:00"])
    at = insights()
    assert metric(at, "Notes") == "1"
    assert any("One note so far (from 2024\\-07\\-14)" in i.value for i in at.info)
    assert not at.get("plotly_chart") and not at.error


def growth_axis(at: AppTest) -> tuple[dict, dict]:
    fig = next(f for t, f in figures(at).items() if t.startswith("Notes over time"))
    return fig["layout"]["xaxis"], fig["data"][0]


def test_time_axis_for_one_day_a_month_and_years(app_home: Settings, embedder) -> None:
    import pandas as pd

    put(app_home, embedder, ["2024-07-14T08:10:00+00:00", "2024-07-14T08:50:00+00:00", "2024-07-14T15:00:00+00:00"])
    at = insights()
    xaxis, bars = growth_axis(at)
    assert xaxis["tickformat"] == "%H:%M" and "14 Jul 2024" in xaxis["title"]["text"]
    lo, hi = (pd.Timestamp(x) for x in xaxis["range"])
    assert lo <= pd.Timestamp("2024-07-14T08:00") and hi >= pd.Timestamp("2024-07-14T16:00")
    assert hi - lo < pd.Timedelta(days=1)  # hours, not milliseconds or years
    assert values(bars["y"]) == [2, 1] and bars["width"] == 0.8 * 3_600_000
    assert any(t.startswith("Notes over time") and "per hour" in t for t in figures(at))


def test_time_axis_over_a_month(app_home: Settings, embedder) -> None:
    put(app_home, embedder, [f"2024-03-{d:02d}T10:00:00+00:00" for d in (1, 2, 2, 15, 30)])
    xaxis, bars = growth_axis(insights())
    assert xaxis["tickformat"] == "%d %b" and bars["width"] == 0.8 * 86_400_000
    assert sum(values(bars["y"])) == 5 and len(values(bars["y"])) == 4


def test_time_axis_over_years(app_home: Settings, embedder) -> None:
    put(app_home, embedder, ["2019-01-05T10:00:00+00:00", "2020-06-01T10:00:00+00:00", "2022-11-30T10:00:00+00:00",
                             "2022-11-02T10:00:00+00:00"])
    xaxis, bars = growth_axis(insights())
    assert xaxis["tickformat"] == "%b %Y" and values(bars["y"]) == [1, 1, 2]


def test_map_is_labelled_and_hover_escaped(app_home: Settings, embedder) -> None:
    seed(app_home, embedder)
    fig = figures(insights())["Notes by meaning (PCA of MiniLM embeddings)"]
    assert fig["layout"]["xaxis"]["title"]["text"].startswith("PC1")
    assert fig["layout"]["yaxis"]["title"]["text"].startswith("PC2")
    assert fig["layout"]["legend"]["title"]["text"] == "most used tag"
    hovers = [x for tr in fig["data"] for row in tr["customdata"] for x in row]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in hovers and not any("<script>" in h for h in hovers)


def test_memex_summaries_are_not_counted_as_notes(app_home: Settings, embedder) -> None:
    """Digests and profile lines (issue 26) are Memex's summaries of the notes: the counts, charts and map are
    of the person's notes, and the summaries are counted in a line of their own (the browser trial's fault)."""
    from memory_core.consolidation import consolidate, lines_of

    store = MemoryStore(app_home, embedder)
    facts = [("My sister Anna lives in Lisbon.", "2024-05-01T09:00:00+00:00"),
             ("I love sushi but I hate olives.", "2024-05-02T09:00:00+00:00"),
             ("Next month I plan to hike the Alps with Tom.", "2024-05-03T10:00:00+00:00")]
    with store.writing() as w:
        for text, ts in facts:
            w.put(Note(text, tags=["life"], timestamp=ts, source="chat", speaker="person"))
    consolidate(store)
    digests, profile = len(lines_of(store, "digest")), len(lines_of(store, "profile"))
    assert digests >= 3 and profile >= 4  # the summaries exist: there is something not to count
    at = insights()
    assert metric(at, "Notes") == "3"
    assert metric(at, "Links") == "0" and metric(at, "Unlinked notes") == "3"  # a digest's cites are not links
    assert metric(at, "Tags") == "1"
    figs = figures(at)
    growth = next(f for t, f in figs.items() if t.startswith("Notes over time"))
    assert sum(values(growth["data"][0]["y"])) == 3
    assert values(figs["Top 1 tag"]["data"][0]["y"]) == ["life"]
    assert any(c.value.startswith("Showing all 3 notes") for c in at.caption)
    assert any(f"{digests} digests and {profile} profile lines" in c.value for c in at.caption)
