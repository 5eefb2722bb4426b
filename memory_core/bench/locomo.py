"""LoCoMo-format long-conversation benchmark: evidence recall@k and MRR at the turn and the session level,
and (with --qa) answer F1/BLEU-1.

FILE is a LoCoMo JSON file (a list of samples with "conversation" and "qa"). Each sample is ingested
into its own fresh store in a temporary folder (your memory is never touched), then every question
with evidence is searched with each retriever and scored on whether the evidence turns come back.
With --qa the configured model also answers from the top-k notes (slow on a CPU: use
--limit-questions). Results: tables here, everything in --output FILE and in
<data dir>/bench/locomo-latest.json for the Insights page.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from . import print_table, save_results
from .locomo_metrics import DEFINITIONS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="LoCoMo-format JSON file")
    parser.add_argument("--mode", choices=("fast", "full"), default="fast",
                        help="ingest without the model (fast) or through A-MEM enrichment/linking (full)")
    parser.add_argument("--retrievers", default="dense,bm25,hybrid,hybrid+links,contextual,contextual+ppr",
                        help="comma list of retrievers to compare (default: all six)")
    parser.add_argument("--qa", action="store_true", help="also let the model answer and score F1/BLEU-1")
    parser.add_argument("--k", type=int, default=10, help="notes given to the model per answer (default 10)")
    parser.add_argument("--recall-ks", default="1,5,10,25", help="recall cut-offs (default 1,5,10,25)")
    parser.add_argument("--limit-questions", type=int, help="evaluate this many questions, drawn with --seed")
    parser.add_argument("--samples", help="comma list of sample_ids, or a count (the first N samples)")
    parser.add_argument("--seed", type=int, default=42, help="seed for question sampling (default 42)")
    parser.add_argument("--output", help="also write the full results JSON to this file")
    parser.add_argument("--work-dir", help="keep the per-sample stores in this folder (default: temporary)")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")


def _split(value: str) -> list[str]:
    return [x.strip() for x in str(value).split(",") if x.strip()]


def print_report(res: dict[str, Any]) -> None:
    """The readable tables: parse summary, ingest, retrieval overall and per category, answers."""
    p, ev = res["parse"], res["parse"]["evidence"]
    print(f"LoCoMo {res['file'] or '(data)'}: {p['samples']} samples, {p['turns']} turns, {p['questions']} "
          f"questions; mode {res['mode']}, seed {res['seed']}")
    print(f"evidence: {ev['entries']} entries, {ev['kept']} ids kept, {ev['split']} multi-id entries split, "
          f"{ev['dropped']} dropped ({ev['malformed']} malformed, {ev['unknown']} naming no turn)"
          + (f"; {p['problem_count']} other problems" if p["problem_count"] else ""))
    for d in ev["dropped_examples"][:5]:
        print(f"  dropped {d['part']!r} from {d['entry']!r} ({d['sample_id']} question {d['question'] + 1}: "
              f"{d['why']})")
    sel = res["selection"]
    print(f"questions evaluated: {sel['questions']} ({sel['with_evidence']} with evidence)")
    print()
    ing = res["ingest"]
    print_table(["sample", "turns", "notes", "links", "seconds", "notes/s", "llm calls"],
                [[s["sample_id"], s["turns"], s["notes"], s["links"], s["seconds"], s["notes_per_s"],
                  s["llm_calls"]] for s in ing["samples"]])
    print()
    _print_recall(res)
    qa = res.get("qa")
    if qa:
        print()
        print(f"answers: model {qa['model']}, top {qa['k']} notes from {qa['retriever']}; "
              f"{qa['usage']['calls']} calls, p50 {qa['latency_s']['p50']:.2f}s")
        rows = [["overall (1-4)", qa["overall"]["n"], qa["overall"].get("f1", "-"),
                 qa["overall"].get("bleu1", "-"), "-"]]
        for cid, c in qa["by_category"].items():
            rows.append([f"{cid} {c['name']}", c["n"], c.get("f1", "-"), c.get("bleu1", "-"),
                         c.get("abstention_rate", "-")])
        print_table(["category", "n", "F1", "BLEU-1", "abstained"], rows)


def _levels(block: dict[str, Any]) -> list[tuple[str, str]]:
    """(level name, key prefix) of the levels a result block holds (older saved results: turn only)."""
    return [("turn", "")] + ([("session", "session_")] if "session_mrr" in block else [])


def _print_recall(res: dict[str, Any]) -> None:
    """Turn- and session-level recall, one row per retriever and level, overall and per category, with
    the definitions under the tables (figures of different levels must never be compared)."""
    ks = res["ks"]
    rows = []
    for name, block in res["retrieval"].items():
        o = block["overall"]
        for level, pre in _levels(o):
            rows.append([name, level, o["n"]] + [o[f"{pre}recall_any@{k}"] for k in ks]
                        + [o[f"{pre}recall_all@{k}"] for k in ks] + [o[f"{pre}mrr"]]
                        + [block["latency_ms"]["p50"], block["latency_ms"]["p95"]])
    print("evidence recall (overall), turn and session level")
    print_table(["retriever", "level", "n"] + [f"any@{k}" for k in ks] + [f"all@{k}" for k in ks]
                + ["MRR", "p50 ms", "p95 ms"], rows)
    print()
    shown = [k for k in ks if k in (5, 10, 25)] or ks
    rows = []
    for name, block in res["retrieval"].items():
        for cid, c in block["by_category"].items():
            for level, pre in _levels(c):
                rows.append([f"{cid} {c['name']}", name, level, c["n"]] + [c[f"{pre}recall_any@{k}"] for k in shown]
                            + [c[f"{pre}recall_all@{k}"] for k in shown] + [c[f"{pre}mrr"]])
    rows.sort(key=lambda r: r[0])  # stable: retrievers, and turn above session, stay in order
    print("evidence recall per category, turn and session level")
    print_table(["category", "retriever", "level", "n"] + [f"any@{k}" for k in shown]
                + [f"all@{k}" for k in shown] + ["MRR"], rows)
    print()
    for term, meaning in res.get("definitions", DEFINITIONS).items():
        print(f"  {term}: {meaning}")


def run(args: argparse.Namespace) -> int:
    from ..config import load_settings
    from ..errors import InputError
    from ..transfer.locomo_format import load_locomo
    from .locomo_run import run_benchmark

    started = time.perf_counter()
    settings = load_settings(args.data_dir)
    try:
        ks = [int(x) for x in _split(args.recall_ks)]
    except ValueError:
        raise InputError(f"--recall-ks must be a comma list of whole numbers, not {args.recall_ks!r}.") from None
    data = load_locomo(args.file)
    res = run_benchmark(
        data, settings, mode=args.mode, retrievers=_split(args.retrievers), ks=ks, qa=args.qa, k=args.k,
        limit_questions=args.limit_questions, samples=args.samples, seed=args.seed, work_dir=args.work_dir,
        progress=not args.quiet, source=str(args.file),
        log=None if args.quiet else (lambda msg: print(msg, file=sys.stderr)))
    if args.output:
        out = Path(args.output)
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(json.dumps(res, indent=2, default=str), encoding="utf-8")
        except OSError as exc:
            raise InputError(f"Cannot write {out}: {exc.strerror or exc}.") from None
    saved = save_results(settings.home, "locomo", res)
    if args.json:
        print(json.dumps(res, indent=2, default=str))
    else:
        print_report(res)
        print()
        print(f"saved {saved}" + (f" and {args.output}" if args.output else "")
              + f"; total {time.perf_counter() - started:.1f}s")
    return 0


def figures(res: dict[str, Any]) -> dict[str, Any]:
    """Headline figures of a results dict (used by ``memex bench all``)."""
    out: dict[str, Any] = {"notes/s": res["ingest"]["notes_per_s"]}
    for name, block in res["retrieval"].items():
        o = block["overall"]
        if "recall_any@10" in o:
            out[f"{name} R@10"] = o["recall_any@10"]
        if "session_recall_any@5" in o:
            out[f"{name} session R@5"] = o["session_recall_any@5"]
    return out
