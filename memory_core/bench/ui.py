"""UI benchmark: seconds to render each Streamlit page (AppTest) at 1k and 10k notes, plus data preparation.

For each size a throwaway data directory (carrying a copy of your settings) is seeded with synthetic
notes: topics with words, tags, times over two years, links to earlier notes made by the linker, a
person, the similarity threshold and imports, some evolution changes and a couple of hostile notes.
They are written straight through ``store.writing()`` with precomputed random unit vectors
(clustered by topic, so similarity and the embedding map have structure) instead of the pipeline:
this measures the pages, not the embedder. Then each page file in pages/ runs in Streamlit's
AppTest with MEMEX_HOME pointing at that directory: a warm-up run opens the store (reported as
"open"), then every page is timed on its first run and on reruns. Page exceptions are listed.
Needs the source tree (app.py and pages/). Results: <data dir>/bench/ui-latest.json.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import print_table, save_results

if TYPE_CHECKING:
    import numpy as np

    from ..config import Settings

PAGES = ("chat", "graph", "notes", "search", "review", "insights", "transfer", "settings")
ROOT = Path(__file__).resolve().parents[2]
TOPICS = {
    "travel": "hiking Alps Lisbon train passport hotel beach mountains glacier trip",
    "work": "budget meeting deadline report project Falcon review client sprint slides",
    "family": "sister birthday Anna grandpa dinner kids school visit mum weekend",
    "health": "doctor sleep running blood pressure yoga knee diet vitamins walk",
    "music": "piano scales concert guitar choir jazz playlist vinyl lessons rhythm",
    "food": "lentil soup recipe espresso bakery cumin pasta market lemon coriander",
    "books": "novel library chapter poetry author book club reading essay notes",
    "home": "kitchen paint garden router boiler shelves plants window repair lamp",
    "money": "rent savings invoice tax bill budget pension bank insurance receipt",
    "tech": "laptop python backup server update keyboard phone wifi code cloud",
}
PEOPLE = ("Anna", "Tom", "Carla", "Dr. Patel", "Mum", "Leo", "Priya", "Sam")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sizes", default="1000,10000", help="comma list of store sizes (default 1000,10000)")
    parser.add_argument("--pages", help=f"comma list of pages (default: those present of {', '.join(PAGES)})")
    parser.add_argument("--runs", type=int, default=2, help="timed reruns per page after the first run (median)")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds one page run may take")
    parser.add_argument("--seed", type=int, default=7)


def _sizes(spec: str) -> list[int]:
    from ..errors import InputError

    try:
        sizes = [int(x.replace("_", "")) for x in str(spec).split(",") if x.strip()]
    except ValueError as exc:
        raise InputError(f"--sizes takes whole numbers separated by commas, not {spec!r}.") from exc
    if not sizes or min(sizes) < 1:
        raise InputError("--sizes must name at least one positive size.")
    return sizes


def synthetic_notes(n: int, seed: int = 7) -> tuple[list[Any], Any]:
    """``n`` notes with links, evolution history and topic-clustered unit vectors (384-d)."""
    import numpy as np

    from ..notes import Change, Link, Note

    rng = np.random.default_rng(seed)
    topics = list(TOPICS)
    centres = rng.normal(size=(len(topics), 384))
    words = {t: TOPICS[t].split() for t in topics}
    notes: list[Note] = []
    vectors = np.zeros((n, 384), dtype=np.float32)
    by_topic: dict[str, list[int]] = {t: [] for t in topics}
    start = 1_672_531_200  # 2023-01-01 UTC
    span = 2 * 365 * 86400
    times = np.sort(rng.integers(start, start + span, size=n))
    from datetime import datetime, timezone

    for i in range(n):
        t = topics[int(rng.integers(len(topics)))]
        other = topics[int(rng.integers(len(topics)))]
        chosen = [str(w) for w in rng.choice(words[t], size=4, replace=False)]
        person = PEOPLE[int(rng.integers(len(PEOPLE)))]
        content = f"{person} and I talked about {chosen[0]} and {chosen[1]}; remember the {chosen[2]} ({chosen[3]})."
        if i == 3:
            content = "<script>alert(1)</script> pasted into the chat by mistake"
        elif i == 4:
            content = "<img src=x onerror=alert(1)> an image tag someone typed"
        ts = datetime.fromtimestamp(int(times[i]), tz=timezone.utc).isoformat()
        note = Note(content=content, keywords=chosen[:3], context=f"A note about {t}.",
                    tags=[t] + ([other] if other != t and rng.random() < 0.3 else []), timestamp=ts,
                    source=("chat", "manual", "import")[int(rng.integers(3))], retrieval_count=int(rng.poisson(1.0)))
        note.history.append(Change("created", None, note.source, by="system", at=ts))
        earlier = by_topic[t]
        for _ in range(int(rng.integers(0, 4)) if i else 0):
            if earlier and rng.random() < 0.7:  # mostly the same topic, recent notes first
                recent = earlier[-200:]
                target = notes[recent[int(rng.integers(len(recent)))]].id
            else:
                target = notes[int(rng.integers(i))].id
            who = ("linker", "system", "person", "import")[int(rng.choice(4, p=[0.5, 0.35, 0.1, 0.05]))]
            if target not in note.link_targets:
                note.links.append(Link(target=target, reason=f"both about {t}", created=ts, by=who))
        if i > 10 and rng.random() < 0.05:
            older = notes[int(rng.integers(i))]
            older.history.append(Change("context", older.context, f"{older.context} Linked to {t}.", by="evolver",
                                        at=ts))
            older.context = f"{older.context} Linked to {t}."
        vec = centres[topics.index(t)] + 0.8 * rng.normal(size=384)
        vectors[i] = vec / np.linalg.norm(vec)
        by_topic[t].append(i)
        notes.append(note)
    return notes, vectors


class _NoEmbedder:
    """Seeding passes every vector; anything that asks for an embedding is a bug in the benchmark."""

    name = "none"
    dim = 384

    def embed(self, texts: list[str]) -> np.ndarray:  # pragma: no cover - never called
        raise RuntimeError("the ui benchmark seeds precomputed vectors; nothing should be embedded here")


def prepare(home: Path, settings: Settings, n: int, seed: int) -> dict[str, float]:
    """Seed ``home`` with ``n`` notes. Returns the seconds spent building notes and writing them."""
    from ..store import MemoryStore

    started = time.perf_counter()
    notes, vectors = synthetic_notes(n, seed)
    built = time.perf_counter() - started
    # Always a local store in the throwaway folder: never seed a Chroma server the settings may name.
    local = settings.replace(data_dir=str(home), store_backend="local")
    local.save()
    store = MemoryStore(local, _NoEmbedder())
    started = time.perf_counter()
    with store.writing() as w:
        for note, vec in zip(notes, vectors):
            w.put(note, vec)
    written = time.perf_counter() - started
    store.close()
    return {"build_s": built, "write_s": written}


def time_page(app: Path, page: str, timeout: float, runs: int) -> dict[str, Any]:
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(app), default_timeout=timeout)
    at.switch_page(f"pages/{page}.py")
    started = time.perf_counter()
    problem = None
    try:
        at.run()
    except Exception as exc:  # noqa: BLE001 - a timeout or a crash is a figure to report
        problem = f"{type(exc).__name__}: {exc}"
    first = time.perf_counter() - started
    reruns: list[float] = []
    if problem is None:
        problem = "; ".join(str(e.value) for e in at.exception)[:500] or None
        for _ in range(max(0, runs)):
            started = time.perf_counter()
            at.run()
            reruns.append(time.perf_counter() - started)
    return {"page": page, "seconds": first, "rerun_seconds": statistics.median(reruns) if reruns else None,
            "exception": problem, "errors": [e.value for e in at.error][:3] if problem is None else []}


def measure(settings: Settings, sizes: list[int], pages: list[str] | None = None, runs: int = 2,
            timeout: float = 300.0, seed: int = 7, log: Any = print) -> dict[str, Any]:
    import logging

    import streamlit as st

    # AppTest is driven from this (bare) thread; Streamlit warns about that once per page. Not news here.
    logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context").setLevel(logging.ERROR)
    app = ROOT / "app.py"
    if not app.is_file():
        from ..errors import InputError

        raise InputError(f"memex bench ui needs the source tree (no app.py at {app}).")
    present = [p for p in (pages or PAGES) if (ROOT / "pages" / f"{p}.py").is_file()]
    missing = [p for p in (pages or PAGES) if p not in present]
    rows: list[dict[str, Any]] = []
    prep: list[dict[str, Any]] = []
    old_home = os.environ.get("MEMEX_HOME")
    try:
        with tempfile.TemporaryDirectory(prefix="memex-bench-ui-") as tmp:
            for n in sizes:
                home = Path(tmp) / f"n{n}"
                log(f"seeding {n:,} notes ...")
                seeded = prepare(home, settings, n, seed)
                os.environ["MEMEX_HOME"] = str(home)
                warm = time_page(app, present[0], timeout, 0) if present else {"seconds": 0.0}
                prep.append({"notes": n, **seeded, "open_s": warm["seconds"]})
                log(f"  built {seeded['build_s']:.1f}s, written {seeded['write_s']:.1f}s, first page run "
                    f"(opens the store, loads models) {warm['seconds']:.1f}s")
                for page in present:
                    row = {"notes": n, **time_page(app, page, timeout, runs)}
                    rows.append(row)
                    log(f"  {page}: {row['seconds']:.2f}s" + (f" (EXCEPTION {row['exception']})"
                                                            if row["exception"] else ""))
                st.cache_resource.clear()  # drop this size's store before the next one
    finally:
        if old_home is None:
            os.environ.pop("MEMEX_HOME", None)
        else:
            os.environ["MEMEX_HOME"] = old_home
    return {"sizes": sizes, "pages": present, "missing_pages": missing, "runs": runs, "seed": seed,
            "seeding": "store.writing() with precomputed random unit vectors (clustered by topic)",
            "prepare": prep, "rows": rows}


def figures(res: dict[str, Any]) -> dict[str, Any]:
    """Headline figures for ``memex bench all``: the slowest page at the largest size, and exceptions."""
    rows = res.get("rows", [])
    if not rows:
        return {}
    biggest = max(r["notes"] for r in rows)
    slow = max((r for r in rows if r["notes"] == biggest), key=lambda r: r["seconds"])
    return {f"slowest page @{biggest}": f"{slow['page']} {slow['seconds']:.2f}s",
            "exceptions": sum(1 for r in rows if r["exception"])}


def run(args: argparse.Namespace) -> int:
    from ..config import load_settings

    settings = load_settings(getattr(args, "data_dir", None))
    sizes = _sizes(getattr(args, "sizes", "1000,10000"))
    pages = [p.strip() for p in args.pages.split(",") if p.strip()] if getattr(args, "pages", None) else None
    res = measure(settings, sizes, pages, runs=getattr(args, "runs", 2), timeout=getattr(args, "timeout", 300.0),
                  seed=getattr(args, "seed", 7))
    print()
    print_table(["notes", "build s", "write s", "first run s (open store)"],
                [[p["notes"], p["build_s"], p["write_s"], p["open_s"]] for p in res["prepare"]])
    print()
    headers = ["page"]
    for n in sizes:
        headers += [f"{n:,}: first s", f"{n:,}: rerun s"]
    table = []
    for page in res["pages"]:
        line: list[Any] = [page]
        for n in sizes:
            r = next((x for x in res["rows"] if x["notes"] == n and x["page"] == page), None)
            line += [r["seconds"] if r else "-", r["rerun_seconds"] if r and r["rerun_seconds"] is not None else "-"]
        table.append(line)
    print_table(headers, table)
    bad = [r for r in res["rows"] if r["exception"]]
    for r in bad:
        print(f"EXCEPTION on {r['page']} at {r['notes']:,} notes: {r['exception']}")
    for r in res["rows"]:
        for err in r.get("errors") or []:
            print(f"error shown on {r['page']} at {r['notes']:,} notes: {err}")
    if res["missing_pages"]:
        print(f"pages not present (skipped): {', '.join(res['missing_pages'])}")
    path = save_results(settings.home, "ui", res)
    print(f"saved {path}")
    if getattr(args, "json", False):
        import json

        print(json.dumps(res, indent=2, default=str))
    return 1 if bad else 0
