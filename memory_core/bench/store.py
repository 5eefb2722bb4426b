"""Store benchmark: ingest notes/s, search p50/p95, cold open, edit cost by age, bytes per note.

At each size (default 1k and 10k; add 100000 with --sizes) a fresh store in a temporary folder is
filled, reopened and searched. Up to --synthetic-above notes (default 10,000) the notes go through
the real fast ingest path (MiniLM embeddings included: the figure a person importing notes sees);
above it, or everywhere with --synthetic, the notes carry precomputed random unit vectors and are
written through the same ``store.writing()`` path with nothing embedded (100k real embeddings would
take most of an hour here). Reported per size:
- ingest notes/s (wall clock, and per CPU-second: this machine is shared, the CPU figure is what
  the code costs), with the embedder's busy time as a share of the wall clock (it embeds the next
  batch on a worker thread while the current one is written, so the shares overlap);
- cold open: a new process opens the store, counts it and answers one vector query;
- search p50/p95 (ms) for dense, bm25, hybrid+links and the default retriever (what chat uses);
- bytes on disk per note (the whole data folder).
Then, on the first store, one note is edited --edits times (its timestamp, so the figure is the
store's own cost, not MiniLM's): the mean of the first and of the last ten edits and their ratio
(an edit must not get slower as the note ages), and the disk bytes each edit adds.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from . import print_table, save_results

if TYPE_CHECKING:
    from ..config import Settings
    from ..store import Store

PEOPLE = ["Anna", "Tom", "Carla", "Ravi", "Mei", "Jonas", "Fatima", "Luis", "Grace", "Omar", "Yuki", "Ben"]
PLACES = ["Berlin", "the Alps", "Lisbon", "the office", "the gym", "Kyoto", "the lake", "the library",
          "Grandma's farm", "the market", "Toronto", "the beach", "the museum", "the garden"]
ACTIVITIES = ["went hiking", "cooked lentil soup", "talked about the budget", "played chess", "fixed the bike",
              "read a novel", "planned a trip", "painted the kitchen", "ran a 10k race", "learned a piano piece",
              "visited the doctor", "watched a documentary about octopuses", "bought new boots",
              "argued about politics", "celebrated a birthday", "started a vegetable patch"]
FEELINGS = ["It was wonderful.", "I felt tired afterwards.", "We should do it again.", "It rained all day.",
            "Remember to send photos.", "Costs were higher than expected.", "A very calm day.", ""]
QUERIES = ["hiking in the Alps with Anna", "lentil soup recipe", "bike repair", "piano practice",
           "doctor visit results", "trip to Lisbon", "birthday celebration at the beach", "chess with Omar",
           "octopus documentary", "budget discussion at the office", "new boots", "vegetable garden",
           "race time 10k", "Kyoto museum", "politics argument", "rainy day at the lake"]
RETRIEVERS = ("dense", "bm25", "hybrid+links")


def synthetic_texts(n: int, seed: int = 7) -> list[tuple[str, str]]:
    """(content, ISO timestamp) pairs: reproducible for a seed."""
    rng = random.Random(seed)
    start = datetime(2022, 1, 1, tzinfo=timezone.utc)
    out = []
    for i in range(n):
        who, other = rng.sample(PEOPLE, 2)
        text = f"{who} and {other} {rng.choice(ACTIVITIES)} at {rng.choice(PLACES)}. {rng.choice(FEELINGS)}"
        when = start + timedelta(minutes=37 * i + rng.randint(0, 30))
        out.append((f"{text} (entry {i})".replace("  ", " "), when.isoformat()))
    return out


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sizes", default="1000,10000", help="comma-separated store sizes (e.g. 1000,10000,100000)")
    parser.add_argument("--synthetic", action="store_true",
                        help="every size with precomputed random unit vectors (nothing embedded)")
    parser.add_argument("--synthetic-above", type=int, default=10_000,
                        help="sizes above this use precomputed vectors (default 10000)")
    parser.add_argument("--edits", type=int, default=1000, help="edits of one note to time (0 to skip)")
    parser.add_argument("--queries", type=int, default=48, help="searches per retriever and size")
    parser.add_argument("--full-writes", type=int, default=0,
                        help="also time this many full-mode (LLM) writes on the first store (default 0)")


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] if values else 0.0


class TimedEmbedder:
    """Wraps the embedder to count where ingest time goes (wall and CPU seconds inside embed())."""

    def __init__(self, real: Any) -> None:
        self.real, self.name, self.dim = real, real.name, real.dim
        self.wall = self.cpu = 0.0
        self.texts = self.chars = 0

    def embed(self, texts: list[str]) -> np.ndarray:
        w, c = time.perf_counter(), time.process_time()
        try:
            return self.real.embed(texts)
        finally:
            self.wall += time.perf_counter() - w
            self.cpu += time.process_time() - c
            self.texts += len(texts)
            self.chars += sum(len(t) for t in texts)


def du(path: Path) -> int:
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file())


def ingest_real(store: Store, settings: Settings, size: int, timed: TimedEmbedder) -> dict[str, Any]:
    from ..memory.pipeline import MemoryPipeline, NewItem

    pipe = MemoryPipeline(store, settings, llm=None)
    items = [NewItem(content=c, timestamp=t) for c, t in synthetic_texts(size)]
    w, c = time.perf_counter(), time.process_time()
    report = pipe.add_many(items, mode="fast", batch_size=512)
    wall, cpu = time.perf_counter() - w, time.process_time() - c
    return {"kind": "real", "seconds": wall, "cpu_seconds": cpu, "added": report.added, "errors": len(report.errors),
            "embed_seconds": timed.wall, "embed_cpu_seconds": timed.cpu,
            "embed_chars_per_text": timed.chars / max(1, timed.texts)}


def ingest_synthetic(store: Store, size: int, dim: int, seed: int = 11) -> dict[str, Any]:
    """Notes with random unit vectors through ``store.writing()``; one note in three links an earlier one."""
    from ..notes import Note

    rng = np.random.default_rng(seed)
    pick = random.Random(seed)
    texts = synthetic_texts(size)
    w, c = time.perf_counter(), time.process_time()
    ids: list[str] = []
    chunk = 1000
    for start in range(0, size, chunk):
        vecs = rng.standard_normal((min(chunk, size - start), dim)).astype(np.float32)
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
        with store.writing() as batch:
            for j, vec in enumerate(vecs):
                content, when = texts[start + j]
                words = [x.strip(".()") for x in content.split() if len(x) > 4]
                note = Note(content=content, timestamp=when, source="import", keywords=words[:4],
                            tags=words[:2], context=content.split(".")[0])
                if ids and pick.random() < 1 / 3:
                    note.add_link(pick.choice(ids), "synthetic link", by="system")
                batch.put(note, vec)
                ids.append(note.id)
    wall, cpu = time.perf_counter() - w, time.process_time() - c
    return {"kind": "synthetic", "seconds": wall, "cpu_seconds": cpu, "added": size, "errors": 0,
            "embed_seconds": 0.0, "embed_cpu_seconds": 0.0}


COLD_OPEN = r"""
import json, sys, time
t0 = time.perf_counter()
import chromadb  # noqa: F401 - its import (~1-3 s) is reported apart from the store's open
import numpy as np
from memory_core.config import Settings
from memory_core.store import open_store
t1, c1 = time.perf_counter(), time.process_time()
store = open_store(Settings(data_dir=sys.argv[1]))
n = len(store)
t2, c2 = time.perf_counter(), time.process_time()
vec = np.ones(int(sys.argv[2]), dtype=np.float32) / np.sqrt(int(sys.argv[2]))
store.nearest_ids(vec, 10)
t3 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "open_s": t2 - t1, "open_cpu_s": c2 - c1, "first_vector_query_s": t3 - t2,
                  "notes": n}))
"""


def cold_open(home: Path, dim: int) -> dict[str, Any]:
    """Open the store in a new process: what `memex` and a fresh app session pay."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    out = subprocess.run([sys.executable, "-c", COLD_OPEN, str(home), str(dim)], capture_output=True, text=True,
                         timeout=1800, env=env)
    if out.returncode != 0:
        return {"error": out.stderr.strip().splitlines()[-1] if out.stderr.strip() else "failed"}
    return json.loads(out.stdout.strip().splitlines()[-1])


def time_searches(store: Store, settings: Settings, n_queries: int) -> dict[str, dict[str, float]]:
    from ..retrieval import make_retriever, search

    queries = [QUERIES[i % len(QUERIES)] + ("" if i < len(QUERIES) else f" {i}") for i in range(n_queries)]
    out: dict[str, dict[str, float]] = {}
    store.embedder.embed(["warm up"])
    for name in (*RETRIEVERS, "default"):
        retriever = None if name == "default" else make_retriever(store, settings, name)
        timings = []
        for q in queries:
            t0 = time.perf_counter()
            if retriever is None:
                search(store, settings, q, k=10)  # the default retriever, recall counted: what chat does
            else:
                retriever.search(q, 10)
            timings.append(1000 * (time.perf_counter() - t0))
        out[name] = {"p50": pct(timings, 0.5), "p95": pct(timings, 0.95)}
    return out


def time_edits(store: Store, home: Path, edits: int) -> dict[str, Any]:
    """Edit one note ``edits`` times (its timestamp: nothing to re-embed) and time each edit."""
    note = store.all_notes()[0]
    base = datetime(2021, 1, 1, tzinfo=timezone.utc)
    before = du(home)
    times, cpu = [], []
    for i in range(edits):
        t0, c0 = time.perf_counter(), time.process_time()
        store.update(note.id, by="person", timestamp=(base + timedelta(minutes=i + 1)).isoformat())
        times.append(1000 * (time.perf_counter() - t0))
        cpu.append(1000 * (time.process_time() - c0))
    head, tail = statistics.mean(times[:10]), statistics.mean(times[-10:])
    # Medians of the first and last tenth: one edit in ~100 pays for Chroma syncing its write queue,
    # so a mean of ten swings with where those fall; the medians show whether an edit grows with age.
    tenth = max(1, edits // 10)
    mhead, mtail = statistics.median(times[:tenth]), statistics.median(times[-tenth:])
    chead, ctail = statistics.mean(cpu[:10]), statistics.mean(cpu[-10:])
    return {"edits": edits, "first_ms": times[0], "last_ms": times[-1], "first10_mean_ms": head,
            "last10_mean_ms": tail, "ratio_last10_to_first10": tail / head if head else 0.0,
            "first10_cpu_ms": chead, "last10_cpu_ms": ctail, "cpu_ratio": ctail / chead if chead else 0.0,
            "tenth": tenth, "first_tenth_median_ms": mhead, "last_tenth_median_ms": mtail,
            "median_ratio": mtail / mhead if mhead else 0.0,
            "history_len": len(store.get(note.id).history),
            "disk_bytes_per_edit": (du(home) - before) / edits}


def measure(sizes: list[int], *, synthetic: bool = False, synthetic_above: int = 10_000, edits: int = 1000,
            n_queries: int = 48, full_writes: int = 0, base_settings: Any = None) -> dict[str, Any]:
    from ..config import Settings
    from ..models.embeddings import get_embedder
    from ..store import MemoryStore

    base = base_settings or Settings()
    embedder = get_embedder(base)
    results: dict[str, Any] = {"sizes": {}, "embedder": embedder.name, "cpus": os.cpu_count(),
                               "load_before": os.getloadavg()}
    with tempfile.TemporaryDirectory(prefix="memex-bench-store-") as tmp:
        first = None
        for size in sizes:
            settings = base.replace(data_dir=str(Path(tmp) / f"store-{size}"), store_backend="local")
            timed = TimedEmbedder(embedder)
            store = MemoryStore(settings, timed)
            if synthetic or size > synthetic_above:
                ingest = ingest_synthetic(store, size, embedder.dim)
            else:
                ingest = ingest_real(store, settings, size, timed)
            store.close()
            opened = cold_open(settings.home, embedder.dim)
            reopened = MemoryStore(settings, embedder)
            disk = du(settings.home)
            results["sizes"][str(size)] = {
                "notes": len(reopened), "links": reopened.graph.number_of_edges(), "ingest": ingest,
                "ingest_notes_per_s": ingest["added"] / ingest["seconds"],
                "ingest_notes_per_cpu_s": ingest["added"] / max(1e-9, ingest["cpu_seconds"]),
                "embed_share": ingest["embed_seconds"] / ingest["seconds"],
                "cold_open": opened, "open_seconds": opened.get("open_s"),
                "search_ms": time_searches(reopened, settings, n_queries),
                "disk_bytes": disk, "bytes_per_note": disk / max(1, len(reopened)),
            }
            if first is None:
                first = (reopened, settings)
            else:
                reopened.close()
        if first is not None and edits:
            results["edits"] = time_edits(first[0], first[1].home, edits)
        if first is not None and full_writes:
            results["full_mode"] = measure_full(first[0], first[1], full_writes)
    results["load_after"] = os.getloadavg()
    return results


def measure_full(store: Store, settings: Settings, writes: int) -> dict[str, Any]:
    from ..memory.pipeline import MemoryPipeline
    from ..models.llm import get_llm

    pipe = MemoryPipeline(store, settings, get_llm(settings))
    reports = [pipe.add(c, source="chat") for c, _ in synthetic_texts(writes, seed=99)]
    lat = [r.seconds for r in reports]
    return {"store_notes": len(store) - writes, "writes": len(reports), "latency_p50_s": pct(lat, 0.5),
            "latency_max_s": max(lat), "llm_calls_per_write": statistics.mean(r.usage.calls for r in reports),
            "links_per_write": statistics.mean(len(r.links) for r in reports)}


def run(args: argparse.Namespace) -> int:
    from ..config import load_settings

    settings = load_settings(args.data_dir)
    sizes = [int(s) for s in str(args.sizes).split(",") if s.strip()]
    res = measure(sizes, synthetic=args.synthetic, synthetic_above=args.synthetic_above, edits=args.edits,
                  n_queries=args.queries, full_writes=args.full_writes, base_settings=settings)
    rows = []
    for size, r in res["sizes"].items():
        s = r["search_ms"]
        rows.append([size, r["ingest"]["kind"], f"{r['ingest_notes_per_s']:.0f}", f"{r['ingest_notes_per_cpu_s']:.0f}",
                     f"{100 * r['embed_share']:.0f}%", f"{r['open_seconds'] or float('nan'):.2f}",
                     *(f"{s[n]['p50']:.1f}/{s[n]['p95']:.1f}" for n in (*RETRIEVERS, "default")),
                     f"{r['bytes_per_note']:.0f}"])
    print(f"embedder {res['embedder']}, {res['cpus']} CPUs, load average {res['load_before'][0]:.1f} before, "
          f"{res['load_after'][0]:.1f} after")
    print_table(["notes", "vectors", "ingest/s", "per CPU-s", "embed", "open s", "dense ms p50/p95", "bm25 ms",
                 "hybrid+links ms", "default ms", "bytes/note"], rows)
    for size, r in res["sizes"].items():
        o = r["cold_open"]
        if "error" in o:
            print(f"cold open at {size} failed: {o['error']}")
        else:
            print(f"cold open at {size}: imports {o['import_s']:.2f} s, open {o['open_s']:.2f} s "
                  f"({o['open_cpu_s']:.2f} CPU-s), first vector query {1000 * o['first_vector_query_s']:.0f} ms")
    if "edits" in res:
        e = res["edits"]
        print(f"edits of one note: 1st {e['first_ms']:.1f} ms, {e['edits']}th {e['last_ms']:.1f} ms; mean of the "
              f"first 10 {e['first10_mean_ms']:.1f} ms, of the last 10 {e['last10_mean_ms']:.1f} ms (ratio "
              f"{e['ratio_last10_to_first10']:.2f}; CPU {e['first10_cpu_ms']:.1f} -> {e['last10_cpu_ms']:.1f} ms, "
              f"ratio {e['cpu_ratio']:.2f}); median of the first {e['tenth']} {e['first_tenth_median_ms']:.1f} ms, "
              f"of the last {e['tenth']} {e['last_tenth_median_ms']:.1f} ms (ratio {e['median_ratio']:.2f}); "
              f"{e['disk_bytes_per_edit']:.0f} bytes on disk per edit")
    if "full_mode" in res:
        f = res["full_mode"]
        print(f"full mode ({f['writes']} writes on {f['store_notes']} notes): p50 {f['latency_p50_s']:.1f}s, "
              f"max {f['latency_max_s']:.1f}s, {f['llm_calls_per_write']:.1f} LLM calls per write")
    print(f"saved {save_results(settings.home, 'store', res)}")
    return 0
