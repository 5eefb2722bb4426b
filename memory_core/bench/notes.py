"""Notes benchmark: recall@k of a person's notes (not dialogue) for queries worded apart from them.

FILE (default: the generated set memory_core/bench/data/synth_notes.json, see synth_notes.py) holds
"notes" (id, text, date) and "queries" (query, gold note ids, kind). The notes go into a fresh store
in a temporary folder through the fast bulk path (your memory is never touched); every query is
searched with each retriever and scored as LoCoMo's evidence is: any@k (a gold note in the top k),
all@k (every gold note in the top k), MRR, overall and per kind of query, with search p50/p95.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import print_table, save_results

if TYPE_CHECKING:
    from ..config import Settings
    from ..models.embeddings import Embedder

DEFAULT_FILE = Path(__file__).parent / "data" / "synth_notes.json"
KS = (1, 5, 10)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", nargs="?", default=str(DEFAULT_FILE), help="notes set JSON (default: the generated one)")
    parser.add_argument("--retrievers", default="", help="comma list of retrievers (default: bm25, dense and the "
                                                       "default retriever)")


def load_set(path: str | Path) -> dict[str, Any]:
    """Read a notes set; a missing file or a wrong shape is an InputError naming it."""
    from ..errors import InputError

    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"Cannot read the notes set {p}: {exc}.") from None
    notes, queries = data.get("notes") if isinstance(data, dict) else None, \
        data.get("queries") if isinstance(data, dict) else None
    if not isinstance(notes, list) or not isinstance(queries, list) or not notes:
        raise InputError(f"{p} is not a notes set (an object with 'notes' and 'queries' lists).")
    ids = {str(n.get("id")) for n in notes if isinstance(n, dict)}
    bad = [q for q in queries if not isinstance(q, dict) or not set(map(str, q.get("gold") or [])) <= ids
           or not q.get("gold") or not str(q.get("query") or "").strip()]
    if bad:
        raise InputError(f"{p}: {len(bad)} queries have no text or name gold notes that are not in the set.")
    return data


def measure(data: dict[str, Any], settings: Settings, retrievers: Sequence[str], embedder: Embedder,
            home: Path) -> dict[str, Any]:
    """Ingest the notes into a fresh store at ``home`` and score every query with each retriever."""
    from ..memory.pipeline import MemoryPipeline, NewItem
    from ..retrieval import make_retriever
    from ..store import MemoryStore
    from .locomo_metrics import aggregate_retrieval, evidence_metrics, percentile

    local = settings.replace(data_dir=str(home), store_backend="local")
    store = MemoryStore(local, embedder)
    started = time.perf_counter()
    MemoryPipeline(store, local, None).add_many(
        [NewItem(content=n["text"], timestamp=n.get("date"), source="import", source_ref=str(n["id"]))
         for n in data["notes"]], mode="fast")
    ingest_s = time.perf_counter() - started
    id_to_ref = {note.id: note.source_ref for note in store.notes_view().values()}
    out: dict[str, Any] = {"notes": len(store), "queries": len(data["queries"]), "ingest_s": ingest_s,
                           "retrieval": {}}
    for name in retrievers:
        finder = make_retriever(store, local, name)
        finder.search("warm up", 10)
        rows, lat = [], []
        for q in data["queries"]:
            t0 = time.perf_counter()
            hits = finder.search(str(q["query"]), max(KS))
            lat.append(time.perf_counter() - t0)
            m = evidence_metrics([id_to_ref.get(h.note.id, "") for h in hits], [str(g) for g in q["gold"]], KS)
            rows.append({**m, "kind": str(q.get("kind", ""))})
        kinds = sorted({r["kind"] for r in rows})
        out["retrieval"][name] = {
            "overall": aggregate_retrieval(rows, KS),
            "by_kind": {k: aggregate_retrieval([r for r in rows if r["kind"] == k], KS) for k in kinds},
            "latency_ms": {"p50": 1000 * percentile(lat, 50), "p95": 1000 * percentile(lat, 95)}}
    store.close()
    return out


def run(args: argparse.Namespace) -> int:
    from ..config import load_settings
    from ..models.embeddings import get_embedder
    from ..retrieval import DEFAULT_RETRIEVER

    settings = load_settings(args.data_dir)
    data = load_set(args.file)
    names = [x.strip() for x in args.retrievers.split(",") if x.strip()] or ["bm25", "dense", DEFAULT_RETRIEVER]
    with tempfile.TemporaryDirectory(prefix="memex-notes-") as tmp:
        res = measure(data, settings, names, get_embedder(settings), Path(tmp))
    res["file"] = str(args.file)
    saved = save_results(settings.home, "notes", res)
    if args.json:
        print(json.dumps(res, indent=2))
        return 0
    print(f"notes set {args.file}: {res['notes']} notes, {res['queries']} queries; ingest {res['ingest_s']:.1f}s")
    heads = ["retriever"] + [f"any@{k}" for k in KS] + ["all@10", "MRR", "p50 ms", "p95 ms"]
    print_table(heads, [[n, *(b["overall"][f"recall_any@{k}"] for k in KS), b["overall"]["recall_all@10"],
                         b["overall"]["mrr"], b["latency_ms"]["p50"], b["latency_ms"]["p95"]]
                        for n, b in res["retrieval"].items()])
    print()
    print_table(["kind", "retriever", "n", "any@5", "any@10", "all@10"],
                [[k, n, c["n"], c["recall_any@5"], c["recall_any@10"], c["recall_all@10"]]
                 for n, b in res["retrieval"].items() for k, c in b["by_kind"].items()])
    print(f"saved {saved}", file=sys.stderr)
    return 0
