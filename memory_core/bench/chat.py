"""Chat benchmark: first-token time and tokens/s of a reply with recall over 1k/10k notes vs the bare model.

For each store size (synthetic but varied notes, ingested in fast mode with the real MiniLM into a
temporary data directory) it measures:

* the overhead of a chat turn before the model starts: recall (hybrid search with link expansion)
  plus prompt assembly (token counting and fitting), p50/p95 over ``--turns`` messages; and, apart,
  the recall-count update (a store write) that the chat makes after the reply instead of before;
* a full reply through ``ChatSession`` (recall + prompt + ``llm.stream``): time to first token from
  the moment the message is sent, and decode tokens/s after the first token;
* the bare model (llama-cpp-python's own ``create_chat_completion`` on the same loaded model) on the
  very same assembled prompt, same seed and sampling, so the difference is exactly our cost; and the
  bare model on the message alone (no memory), which shows what the recalled notes add to the prompt.

llama.cpp reuses the KV cache of a shared prompt prefix; every timed generation starts from a reset
context so all sides pay for their whole prompt. On a shared or busy machine the figures move a lot:
the load average is saved with the results.
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
    from collections.abc import Callable

    from ..config import Settings
    from ..models.llm import LLM
    from ..store import Store

MESSAGES = [
    "Do you remember when Anna and I went hiking in the Alps?",
    "What did we cook, was it lentil soup?",
    "Who fixed the bike last time?",
    "How is my piano practice going?",
    "What did the doctor say at my last visit?",
    "Tell me about the trip we planned to Lisbon.",
    "Whose birthday did we celebrate at the beach?",
    "Did I play chess with Omar recently?",
    "What was that documentary about octopuses?",
    "What did Tom and Carla say about the budget at the office?",
    "Where did I buy new boots?",
    "How is the vegetable patch in the garden doing?",
    "What was my 10k race time?",
    "What did we see at the museum in Kyoto?",
    "Who did I argue about politics with?",
    "Was it raining at the lake?",
]
HISTORY = [
    {"role": "user", "content": "Hi! I want to talk about last month."},
    {"role": "assistant", "content": "Sure, what would you like to remember about last month?"},
]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sizes", default="1000,10000", help="comma-separated store sizes (default 1000,10000)")
    parser.add_argument("--turns", type=int, default=24, help="messages timed for the recall+prompt overhead")
    parser.add_argument("--runs", type=int, default=3, help="replies timed per size and side (median reported)")
    parser.add_argument("--max-tokens", type=int, default=96, help="reply length cap")
    parser.add_argument("--inflight-runs", type=int, default=6,
                        help="replies timed idle and with a memory write in flight (0: skip)")
    parser.add_argument("--only-inflight", action="store_true", help="skip the store-size part")


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] if values else 0.0


def _timed(pieces: Any, started: float) -> dict[str, float]:
    """Consume a stream of text pieces: tokens, time to first piece and decode speed after it."""
    first = None
    n = 0
    for _piece in pieces:
        if first is None:
            first = time.perf_counter()
        n += 1
    end = time.perf_counter()
    first = first or end
    decode = end - first
    return {"tokens": n, "ttft_ms": 1000 * (first - started),
            "decode_tokens_per_s": (n - 1) / decode if n > 1 and decode > 0 else 0.0,
            "total_s": end - started}


def _bare(llama: Any, messages: list[dict[str, str]], max_tokens: int, temperature: float, seed: int) -> dict[str, float]:
    from ..models.llm import REPEAT_PENALTY

    llama.reset()
    started = time.perf_counter()
    chunks = llama.create_chat_completion(messages=messages, max_tokens=max_tokens, temperature=temperature,
                                          repeat_penalty=REPEAT_PENALTY, seed=seed, stream=True)
    pieces = (c["choices"][0]["delta"]["content"] for c in chunks if c["choices"][0].get("delta", {}).get("content"))
    return _timed(pieces, started)


def _median(rows: list[dict[str, float]]) -> dict[str, float]:
    return {key: statistics.median(r[key] for r in rows) for key in rows[0]} if rows else {}


def measure(settings: Settings, sizes: list[int], turns: int = 24, runs: int = 3, max_tokens: int = 96,
            say: Callable[[str], None] = print) -> dict[str, Any]:
    """Every figure of the benchmark as a dict (also used by ``memex bench all``)."""
    from ..chat import ChatSession, ConversationStore, MemoryWriter
    from ..memory.pipeline import MemoryPipeline, NewItem
    from ..models.embeddings import get_embedder
    from ..models.llm import get_llm
    from ..store import MemoryStore
    from .store import synthetic_texts

    sizes = sorted({int(x) for x in sizes if int(x) > 0})
    if not sizes:
        from ..errors import InputError

        raise InputError("Give at least one store size, e.g. --sizes 1000,10000.")
    started_all = time.perf_counter()
    load_started = time.perf_counter()
    llm = get_llm(settings)
    load_seconds = time.perf_counter() - load_started
    llama = getattr(llm, "llama", None)  # None for a server backend: no bare comparison then
    temperature = float(settings.temperature)
    results: dict[str, Any] = {
        "model": llm.name, "backend": settings.llm_backend, "threads": settings.threads, "n_ctx": llm.n_ctx,
        "max_tokens": max_tokens, "temperature": temperature, "recall_k": settings.recall_k,
        "runs": runs, "turns": turns, "load_seconds": load_seconds, "sizes": {},
        "load_average_before": os.getloadavg()[0],
    }
    texts = synthetic_texts(max(sizes))
    writer = MemoryWriter()  # never used (remember is off), kept apart from the app's writer
    with tempfile.TemporaryDirectory(prefix="memex-bench-chat-") as tmp:
        s = settings.replace(data_dir=str(Path(tmp) / "home"), remember_chat=False)
        store = MemoryStore(s, get_embedder(s))
        pipe = MemoryPipeline(store, s, llm=None)
        session = ChatSession(store, s, llm, ConversationStore(s.home), writer)
        done = 0
        ingest_seconds = 0.0
        for size in sizes:
            say(f"chat bench: ingesting notes {done + 1}..{size} (fast mode)")
            t0 = time.perf_counter()
            pipe.add_many([NewItem(content=c, timestamp=t) for c, t in texts[done:size]], mode="fast", batch_size=512)
            ingest_seconds += time.perf_counter() - t0
            done = size
            say(f"chat bench: {len(store)} notes; timing recall + prompt over {turns} messages")
            overhead = _overhead(session, store, turns, max_tokens)
            block: dict[str, Any] = {"notes": len(store), "links": store.graph.number_of_edges(),
                                     "ingest_seconds_total": ingest_seconds, **overhead}
            say(f"chat bench: {runs} replies with memory" + (" and on the bare model" if llama else ""))
            block.update(_replies(session, llm, runs, temperature, max_tokens, settings.seed))
            results["sizes"][str(size)] = block
        store.close()
    writer.stop()
    results["seconds"] = time.perf_counter() - started_all
    results["load_average_after"] = os.getloadavg()[0]
    return results


def _overhead(session: Any, store: Store, turns: int, max_tokens: int) -> dict[str, Any]:
    """Recall + prompt assembly over ``turns`` messages at the store's present size, and the deferred
    recall count (``store.touch``) the session does after each reply."""
    s = session.settings
    for message in MESSAGES[-3:]:  # warm-up: first queries after an ingest pay for caches
        session.prepare(message, HISTORY, k=s.recall_k, max_tokens=max_tokens)
    recall_ms, prompt_ms, total_ms, prompt_tokens, notes_in, touch_ms = [], [], [], [], [], []
    for i in range(max(1, turns)):
        message = MESSAGES[i % len(MESSAGES)] + ("" if i < len(MESSAGES) else f" ({i})")
        t0 = time.perf_counter()
        recalled, plan, recall_s, _err = session.prepare(message, HISTORY, k=s.recall_k,
                                                         max_tokens=max_tokens)
        total_ms.append(1000 * (time.perf_counter() - t0))
        t0 = time.perf_counter()
        store.touch([r.id for r in recalled])  # what ChatSession does after the reply
        touch_ms.append(1000 * (time.perf_counter() - t0))
        recall_ms.append(1000 * recall_s)
        prompt_ms.append(1000 * plan.seconds)
        prompt_tokens.append(plan.prompt_tokens)
        notes_in.append(len(plan.notes_used))
    return {
        "overhead_ms": {name: {"p50": pct(v, 0.5), "p95": pct(v, 0.95)}
                        for name, v in (("recall", recall_ms), ("prompt", prompt_ms), ("total", total_ms),
                                        ("deferred_touch", touch_ms))},
        "prompt_tokens_median": statistics.median(prompt_tokens),
        "notes_in_prompt_median": statistics.median(notes_in),
    }


def _replies(session: Any, llm: LLM, runs: int, temperature: float, max_tokens: int, seed: int) -> dict[str, Any]:
    """``runs`` replies with memory, each compared (on a local model) with the bare model given the same
    prompt and given the message alone; the medians, and what memory added to the first token."""
    llama = getattr(llm, "llama", None)
    memex_rows, bare_rows, plain_rows = [], [], []
    for r in range(max(1, runs)):
        message = MESSAGES[(3 * r + 1) % len(MESSAGES)]
        if llama is not None:
            llama.reset()
        t0 = time.perf_counter()
        reply = session.reply(None, message, temperature=temperature, max_tokens=max_tokens, remember=False)
        row = _timed(reply.pieces(), t0)
        row["prompt_tokens"] = reply.plan.prompt_tokens
        memex_rows.append(row)
        if llama is not None:
            bare = _bare(llama, reply.plan.messages, reply.plan.reply_tokens, temperature, seed)
            bare["prompt_tokens"] = reply.plan.prompt_tokens
            bare_rows.append(bare)
            plain_msgs = [{"role": "user", "content": message}]
            plain = _bare(llama, plain_msgs, reply.plan.reply_tokens, temperature, seed)
            plain["prompt_tokens"] = llm.count_tokens(message) + 6
            plain_rows.append(plain)
    block: dict[str, Any] = {"reply_with_memory": _median(memex_rows)}
    if bare_rows:
        block["bare_same_prompt"] = _median(bare_rows)
        block["bare_no_memory"] = _median(plain_rows)
        m, b = block["reply_with_memory"], block["bare_same_prompt"]
        block["ttft_added_ms"] = m["ttft_ms"] - b["ttft_ms"]
        block["decode_speed_ratio"] = m["decode_tokens_per_s"] / b["decode_tokens_per_s"] \
            if b["decode_tokens_per_s"] else 0.0
    return block


INFLIGHT_MESSAGE = "What did the doctor say at my last visit?"
INFLIGHT_FACT = ("Last Tuesday the doctor told me my blood pressure is fine, but I should walk thirty minutes "
                 "every day and cut down on coffee; the next check-up is in March at the clinic on Rose Street.")
INFLIGHT_DELAYS = (0.2, 0.6, 1.0, 1.5)  # seconds into the write's model call when the message is sent


def measure_inflight(settings: Settings, runs: int = 6, max_tokens: int = 32, say: Callable[[str], None] = print) -> dict[str, Any]:
    """Time to first token of the same message, idle and while a memory write's model call is generating.

    The write (a stored note's enrichment: model calls through the gated model) is sent first; the message is
    sent ``INFLIGHT_DELAYS`` seconds after the write's model call started, so it lands in the
    middle of that call's generation. Both sides start from a KV cache that does not hold their
    prompt (idle: reset; in flight: it holds the write's prompt), so both pay their whole prefill.
    """
    from ..chat import ChatSession, ConversationStore, MemoryWriter
    from ..memory.pipeline import MemoryPipeline, NewItem
    from ..models.embeddings import get_embedder
    from ..models.llm import get_llm
    from ..store import MemoryStore
    from .store import synthetic_texts

    llm = get_llm(settings)
    llama = getattr(llm, "llama", None)
    writer = MemoryWriter()
    out: dict[str, Any] = {"runs": runs, "max_tokens": max_tokens, "idle_ms": [], "inflight_ms": [],
                           "delays_s": [], "interruptions": [], "load_average_before": os.getloadavg()[0]}
    with tempfile.TemporaryDirectory(prefix="memex-bench-inflight-") as tmp:
        s = settings.replace(data_dir=str(Path(tmp) / "home"))
        store = MemoryStore(s, get_embedder(s))
        MemoryPipeline(store, s, llm=None).add_many([NewItem(content=c, timestamp=t) for c, t in synthetic_texts(200)],
                                                    mode="fast")
        session = ChatSession(store, s, llm, ConversationStore(s.home), writer)
        session.reply(None, INFLIGHT_MESSAGE, remember=False, max_tokens=4).consume()  # warm-up
        for r in range(max(1, runs)):
            if llama is not None:
                llama.reset()
            t0 = time.perf_counter()
            row = _timed(session.reply(None, INFLIGHT_MESSAGE, remember=False, max_tokens=max_tokens).pieces(), t0)
            out["idle_ms"].append(row["ttft_ms"])
            delay = INFLIGHT_DELAYS[r % len(INFLIGHT_DELAYS)]
            fact = f"{INFLIGHT_FACT} (run {r})"
            stored = writer.wait(session.remember(fact, conversation_id="", message_id="", mode="fast"), 120)
            job_id = session.enrich(stored.note_id if stored else "", fact)  # the write's model calls
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:  # until the write's first model call runs
                job = writer.job(job_id)
                if job is None or job.state != "queued":
                    break
                time.sleep(0.01)
            time.sleep(delay)
            job = writer.job(job_id)
            t0 = time.perf_counter()
            row = _timed(session.reply(None, INFLIGHT_MESSAGE, remember=False, max_tokens=max_tokens).pieces(), t0)
            out["inflight_ms"].append(row["ttft_ms"])
            out["delays_s"].append(delay)
            writer.cancel(job_id)
            done = writer.wait(job_id, 120)
            out["interruptions"].append(done.interruptions if done else 0)
            say(f"chat bench (in flight): run {r + 1}: idle {out['idle_ms'][-1]:.0f} ms, with a write in flight "
                f"({job.state if job else '?'}, +{delay:.1f}s) {out['inflight_ms'][-1]:.0f} ms")
        store.close()
    writer.stop()
    idle, busy = statistics.median(out["idle_ms"]), statistics.median(out["inflight_ms"])
    out.update(idle_median_ms=idle, inflight_median_ms=busy, ratio=busy / idle if idle else 0.0,
               load_average_after=os.getloadavg()[0])
    return out


def figures(results: dict[str, Any]) -> dict[str, Any]:
    """Headline figures for ``memex bench all``: the largest size measured."""
    sizes = results.get("sizes") or {}
    if not sizes:
        return {}
    size, block = max(sizes.items(), key=lambda kv: int(kv[0]))
    out = {f"overhead p50 ms @{size}": block["overhead_ms"]["total"]["p50"],
           "ttft ms": block["reply_with_memory"]["ttft_ms"],
           "tokens/s": block["reply_with_memory"]["decode_tokens_per_s"]}
    if "bare_same_prompt" in block:
        out["bare tokens/s"] = block["bare_same_prompt"]["decode_tokens_per_s"]
    return out


def run(args: argparse.Namespace) -> int:
    import sys

    from ..config import load_settings

    settings = load_settings(args.data_dir)
    say = lambda text: print(text, file=sys.stderr, flush=True)  # noqa: E731
    inflight = measure_inflight(settings, args.inflight_runs, min(args.max_tokens, 32), say=say) \
        if args.inflight_runs > 0 else None
    if inflight is not None:
        print(f"Time to first token, same message, {inflight['runs']} runs (medians): idle "
              f"{inflight['idle_median_ms']:.0f} ms, with a memory write in flight {inflight['inflight_median_ms']:.0f} ms"
              f" -> {inflight['ratio']:.2f}x (goal <= 1.2x); load average {inflight['load_average_before']:.1f} -> "
              f"{inflight['load_average_after']:.1f}")
        print("  idle ms:      " + ", ".join(f"{v:.0f}" for v in inflight["idle_ms"]))
        print("  in flight ms: " + ", ".join(f"{v:.0f}" for v in inflight["inflight_ms"])
              + "  (the write's model call interrupted " + str(sum(inflight["interruptions"])) + " times)")
    if args.only_inflight:
        print(f"saved {save_results(settings.home, 'chat-inflight', inflight or {})}")
        return 0
    sizes = [int(x) for x in str(args.sizes).split(",") if x.strip()]
    res = measure(settings, sizes, turns=args.turns, runs=args.runs, max_tokens=args.max_tokens, say=say)
    if inflight is not None:
        res["inflight"] = inflight
    print(f"model {res['model']} ({res['backend']}), {res['threads']} threads, n_ctx {res['n_ctx']}, "
          f"recall k {res['recall_k']}, max tokens {res['max_tokens']}; load average "
          f"{res['load_average_before']:.1f} -> {res['load_average_after']:.1f}")
    rows = []
    for size, b in res["sizes"].items():
        o = b["overhead_ms"]
        rows.append([size, f"{o['recall']['p50']:.1f}/{o['recall']['p95']:.1f}",
                     f"{o['prompt']['p50']:.1f}/{o['prompt']['p95']:.1f}",
                     f"{o['total']['p50']:.1f}/{o['total']['p95']:.1f}", b["prompt_tokens_median"],
                     b["notes_in_prompt_median"],
                     f"{o['deferred_touch']['p50']:.1f}/{o['deferred_touch']['p95']:.1f}"])
    print("\nRecall + prompt assembly before the model starts (ms, p50/p95)")
    print_table(["notes", "recall", "prompt", "total", "prompt tokens", "notes in prompt",
                 "recall-count update after the reply"], rows)
    rows = []
    for size, b in res["sizes"].items():
        for label, key in (("with memory (ChatSession)", "reply_with_memory"),
                           ("bare llama, same prompt", "bare_same_prompt"),
                           ("bare llama, message only", "bare_no_memory")):
            if key in b:
                r = b[key]
                rows.append([size, label, r["prompt_tokens"], r["tokens"], r["ttft_ms"], r["decode_tokens_per_s"]])
    print("\nReplies (medians)")
    print_table(["notes", "path", "prompt tokens", "tokens", "first token ms", "tokens/s"], rows)
    for size, b in res["sizes"].items():
        if "ttft_added_ms" in b:
            print(f"@{size}: memory adds {b['ttft_added_ms']:.0f} ms before the first token versus the bare model "
                  f"on the same prompt; decode speed ratio {b['decode_speed_ratio']:.3f}")
    print(f"saved {save_results(settings.home, 'chat', res)}")
    if args.json:
        import json

        print(json.dumps(res, indent=2))
    return 0
