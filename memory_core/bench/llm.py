"""LLM benchmark: tokens/s bare vs through memory_core.models.llm, time to first token, structured-call quality.

Bare means llama-cpp-python's own ``create_chat_completion`` on the very same loaded model, prompt,
seed and sampling settings, so the difference is exactly the cost of our wrapper (prompt fitting,
token counting, streaming bookkeeping). The structured part runs the enrichment call over 20
varied notes and reports latency and how often the model's content passed validation.
"""

from __future__ import annotations

import argparse
import statistics
import time
from functools import partial
from typing import TYPE_CHECKING, Any

from . import print_table, save_results

if TYPE_CHECKING:
    from ..config import Settings

PROMPT = [{"role": "system", "content": "You are a helpful assistant."},
          {"role": "user", "content": "Explain in a few sentences why people keep a diary."}]

NOTES = [
    "I went hiking in the Alps with Anna last summer and we climbed the Matterhorn.",
    "Remember to renew my passport before the trip to Japan in April.",
    "My sister Carla just adopted a golden retriever puppy named Biscuit.",
    "The quarterly sales report is due on Friday; Tom will send the figures.",
    "I started learning the piano; practising scales for twenty minutes a day.",
    "Dr. Patel said my blood pressure is fine but I should sleep more.",
    "We painted the kitchen light green and bought a new oak table.",
    "Favourite recipe: lentil soup with cumin, lemon and fresh coriander.",
    "Lisbon trip idea: tram 28, the Belem tower, and pastel de nata.",
    "Book club picked 'The Left Hand of Darkness' for next month.",
    "The router keeps dropping wifi at night; firmware update did not help.",
    "Mum's birthday is on 12 June; she would love gardening gloves.",
    "Ran my first 10k race in 58 minutes, legs sore but happy.",
    "Project Falcon moved its deadline to the end of September.",
    "Learned that octopuses have three hearts and blue blood.",
    "Paid the electricity bill; it was much higher than last winter.",
    "Grandpa told stories about growing up on a farm in Sicily.",
    "Need to fix the bike's rear brake before commuting again.",
    "Tried a new coffee shop downtown; their espresso is excellent.",
    "Volunteered at the food bank on Saturday sorting donations.",
]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--runs", type=int, default=3, help="generation runs per side (median is reported)")
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--notes", type=int, default=20, help="structured calls to make (max 20)")


def measure(settings: Settings, runs: int = 3, max_tokens: int = 128, n_notes: int = 20) -> dict[str, Any]:
    from ..memory.pipeline import enrichment_messages
    from ..memory.validation import ENRICH_SCHEMA, fallback_enrichment, validate_enrichment
    from ..models.llm import LocalLLM
    from ..models.locate import resolve_model_path

    load_started = time.perf_counter()
    llm = LocalLLM(resolve_model_path(settings.model_path), n_ctx=settings.n_ctx, n_threads=settings.threads,
                   seed=settings.seed)
    load_seconds = time.perf_counter() - load_started
    bare_runs, wrapped_runs = [], []
    for _ in range(max(1, runs)):
        # bare llama-cpp-python on the same model object
        started = time.perf_counter()
        first = None
        tokens = 0
        for chunk in llm.llama.create_chat_completion(messages=PROMPT, max_tokens=max_tokens, temperature=0.7,
                                                      repeat_penalty=1.15, seed=settings.seed, stream=True):
            if chunk["choices"][0].get("delta", {}).get("content"):
                first = first or time.perf_counter() - started
                tokens += 1
        bare_runs.append((tokens, time.perf_counter() - started, first or 0.0))
        # through memory_core.models.llm
        stream = llm.stream(PROMPT, max_tokens=max_tokens, temperature=0.7)
        for _piece in stream:
            pass
        wrapped_runs.append((stream.usage.completion_tokens, stream.usage.seconds, stream.first_token_seconds or 0.0))

    def summary(rows: list[tuple[int, float, float]]) -> dict[str, float]:
        return {"tokens": statistics.median(r[0] for r in rows),
                "tokens_per_s": statistics.median(r[0] / r[1] for r in rows),
                "ttft_ms": 1000 * statistics.median(r[2] for r in rows)}

    latencies, valid, retried = [], 0, 0
    for text in NOTES[: max(1, min(n_notes, len(NOTES)))]:
        started = time.perf_counter()
        result = llm.structured(
            enrichment_messages(text), ENRICH_SCHEMA, validate=partial(validate_enrichment, content=text),
            fallback=partial(fallback_enrichment, text), max_tokens=160)
        latencies.append(time.perf_counter() - started)
        valid += result.valid
        retried += result.source == "model-retry"
    latencies.sort()
    bare, wrapped = summary(bare_runs), summary(wrapped_runs)
    return {
        "model": llm.name, "threads": settings.threads, "load_seconds": load_seconds,
        "bare": bare, "memex": wrapped,
        "overhead_pct": 100 * (bare["tokens_per_s"] - wrapped["tokens_per_s"]) / (bare["tokens_per_s"] or 1),
        "structured": {"calls": len(latencies), "valid": valid, "valid_rate": valid / len(latencies),
                       "needed_retry": retried, "p50_s": latencies[len(latencies) // 2],
                       "p95_s": latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))]},
    }


def run(args: argparse.Namespace) -> int:
    from ..config import load_settings

    settings = load_settings(args.data_dir)
    res = measure(settings, runs=args.runs, max_tokens=args.max_tokens, n_notes=args.notes)
    print(f"model {res['model']}, {res['threads']} threads, loaded in {res['load_seconds']:.2f}s")
    print_table(["path", "tokens", "tokens/s", "first token ms"],
                [[name, res[key]["tokens"], res[key]["tokens_per_s"], res[key]["ttft_ms"]]
                 for name, key in (("bare llama-cpp-python", "bare"), ("memory_core.models.llm", "memex"))])
    print(f"wrapper overhead: {res['overhead_pct']:+.1f}% tokens/s")
    s = res["structured"]
    print(f"structured enrichment: {s['valid']}/{s['calls']} valid content ({100 * s['valid_rate']:.0f}%), "
          f"{s['needed_retry']} after a retry; latency p50 {s['p50_s']:.2f}s p95 {s['p95_s']:.2f}s")
    path = save_results(settings.home, "llm", res)
    print(f"saved {path}")
    if args.json:
        import json

        print(json.dumps(res, indent=2))
    return 0
