"""Store benchmark: fast-mode ingest notes/s, search p50/p95 at 1k and 10k notes, full-mode write cost.

Notes are synthetic but varied (people, places, activities, dates from a seeded generator), embedded
with the real MiniLM model and stored in a real Chroma folder under a temporary directory. Full
mode runs the A-MEM write path with the configured model on top of the first store.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from . import print_table, save_results

PEOPLE = ["Anna", "Tom", "Carla", "Ravi", "Mei", "Jonas", "Fatima", "Luis", "Grace", "Omar", "Yuki", "Ben"]
PLACES = ["Berlin", "the Alps", "Lisbon", "the office", "the gym", "Kyoto", "the lake", "the library",
          "Grandma's farm", "the market", "Toronto", "the beach", "the museum", "the garden"]
ACTIVITIES = ["went hiking", "cooked lentil soup", "talked about the budget", "played chess", "fixed the bike",
              "read a novel", "planned a trip", "painted the kitchen", "ran a 10k race", "learned a piano piece",
              "visited the doctor", "watched a documentary about octopuses", "bought new boots",
              "argued about politics", "celebrated a birthday", "started a vegetable patch"]
FEELINGS = ["It was wonderful.", "I felt tired afterwards.", "We should do it again.", "It rained all day.",
            "Remember to send photos.", "Costs were higher than expected.", "A very calm day.", ""]


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


QUERIES = ["hiking in the Alps with Anna", "lentil soup recipe", "bike repair", "piano practice",
           "doctor visit results", "trip to Lisbon", "birthday celebration at the beach", "chess with Omar",
           "octopus documentary", "budget discussion at the office", "new boots", "vegetable garden",
           "race time 10k", "Kyoto museum", "politics argument", "rainy day at the lake"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sizes", default="1000,10000", help="comma-separated store sizes (e.g. 1000,10000,100000)")
    parser.add_argument("--full-writes", type=int, default=5, help="full-mode (LLM) writes to time; 0 to skip")
    parser.add_argument("--queries", type=int, default=48, help="searches per size")


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] if values else 0.0


def measure(settings_home: Path | None, sizes: list[int], full_writes: int = 5, n_queries: int = 48,
            base_settings: Any = None) -> dict[str, Any]:
    from ..config import Settings
    from ..embeddings import get_embedder
    from ..memory.pipeline import MemoryPipeline, NewItem
    from ..retrieval import make_retriever, search
    from ..store import MemoryStore

    base = base_settings or Settings()
    embedder = get_embedder(base)
    results: dict[str, Any] = {"sizes": {}, "embedder": embedder.name}
    with tempfile.TemporaryDirectory(prefix="memex-bench-store-") as tmp:
        first_store = None
        for size in sizes:
            settings = base.replace(data_dir=str(Path(tmp) / f"store-{size}"))
            store = MemoryStore(settings, embedder)
            pipe = MemoryPipeline(store, settings, llm=None)
            items = [NewItem(content=c, timestamp=t) for c, t in synthetic_texts(size)]
            started = time.perf_counter()
            report = pipe.add_many(items, mode="fast", batch_size=512)
            ingest = time.perf_counter() - started
            started = time.perf_counter()
            reopened = MemoryStore(settings, embedder)
            open_seconds = time.perf_counter() - started
            queries = [QUERIES[i % len(QUERIES)] + ("" if i < len(QUERIES) else f" {i}") for i in range(n_queries)]
            timings: dict[str, list[float]] = {}
            for name in ("dense", "bm25", "hybrid", "hybrid+links"):
                retriever = make_retriever(reopened, settings, name)
                timings[name] = []
                for q in queries:
                    t0 = time.perf_counter()
                    retriever.search(q, 10)
                    timings[name].append(1000 * (time.perf_counter() - t0))
            touched = []
            for q in queries[:16]:
                t0 = time.perf_counter()
                search(reopened, settings, q, k=10)
                touched.append(1000 * (time.perf_counter() - t0))
            results["sizes"][str(size)] = {
                "notes": len(reopened), "links": reopened.graph.number_of_edges(),
                "ingest_seconds": ingest, "ingest_notes_per_s": report.added / ingest, "errors": len(report.errors),
                "open_seconds": open_seconds,
                "search_ms": {name: {"p50": pct(v, 0.5), "p95": pct(v, 0.95)} for name, v in timings.items()},
                "search_with_recall_update_ms": {"p50": pct(touched, 0.5), "p95": pct(touched, 0.95)},
            }
            if first_store is None:
                first_store = (reopened, settings)
        if full_writes and first_store is not None:
            from ..llm import get_llm

            store, settings = first_store
            pipe = MemoryPipeline(store, settings, get_llm(settings))
            reports = [pipe.add(c, source="chat") for c, _ in synthetic_texts(full_writes, seed=99)]
            lat = [r.seconds for r in reports]
            results["full_mode"] = {
                "store_notes": len(store) - full_writes, "writes": len(reports),
                "latency_p50_s": pct(lat, 0.5), "latency_max_s": max(lat),
                "llm_calls_per_write": statistics.mean(r.usage.calls for r in reports),
                "prompt_tokens_per_write": statistics.mean(r.usage.prompt_tokens for r in reports),
                "completion_tokens_per_write": statistics.mean(r.usage.completion_tokens for r in reports),
                "model_enrichment_rate": sum(r.enrichment_source != "fallback" for r in reports) / len(reports),
                "links_per_write": statistics.mean(len(r.links) for r in reports),
                "evolved_per_write": statistics.mean(len(r.evolved) for r in reports),
            }
    return results


def run(args: argparse.Namespace) -> int:
    from ..config import load_settings

    settings = load_settings(args.data_dir)
    sizes = [int(s) for s in str(args.sizes).split(",") if s.strip()]
    res = measure(settings.home, sizes, args.full_writes, args.queries, base_settings=settings)
    rows = []
    for size, r in res["sizes"].items():
        s = r["search_ms"]
        rows.append([size, r["links"], r["ingest_notes_per_s"], r["open_seconds"],
                     f"{s['dense']['p50']:.1f}/{s['dense']['p95']:.1f}", f"{s['bm25']['p50']:.1f}/{s['bm25']['p95']:.1f}",
                     f"{s['hybrid+links']['p50']:.1f}/{s['hybrid+links']['p95']:.1f}",
                     f"{r['search_with_recall_update_ms']['p50']:.1f}/{r['search_with_recall_update_ms']['p95']:.1f}"])
    print_table(["notes", "links", "ingest notes/s", "open s", "dense ms p50/p95", "bm25 ms", "hybrid+links ms",
                 "search+touch ms"], rows)
    if "full_mode" in res:
        f = res["full_mode"]
        print(f"full mode ({f['writes']} writes on {f['store_notes']} notes): p50 {f['latency_p50_s']:.1f}s, "
              f"max {f['latency_max_s']:.1f}s, {f['llm_calls_per_write']:.1f} LLM calls and "
              f"{f['prompt_tokens_per_write']:.0f}+{f['completion_tokens_per_write']:.0f} tokens per write, "
              f"model enrichment {100 * f['model_enrichment_rate']:.0f}%, {f['links_per_write']:.1f} links and "
              f"{f['evolved_per_write']:.1f} evolutions per write")
    print(f"saved {save_results(settings.home, 'store', res)}")
    return 0
