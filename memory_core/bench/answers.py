"""Answers from memory: planted facts told in one conversation, each asked in a new one; share answered.

The set (``memory_core/chat/data/planted_facts.json``, shipped with the package) holds a few dozen
simple single-fact items: the fact as the person tells it, a question, and the words an answer must
contain (any one, case-insensitive). The facts are told in one conversation through the chat's
memory write (``ChatSession.remember_message``, fast mode by default: the set measures answering,
not enrichment), then every question is asked through ``ChatSession.reply`` in a conversation of
its own, exactly as the Chat page would (recall, prompt, greedy decoding for a memory answer).

It prints, per prompt variant (``--notes auto,1,3``: the chat's own rule, or a fixed number of top
notes given to the model):
answered (the reply contains the fact), recall@1 of the fact's note, and "visible" (the note
holding the fact is shown beside the reply as "From your memory", so the person sees the answer
even when the model fumbles it).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from importlib import resources
from pathlib import Path
from typing import Any

from . import print_table, save_results


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--notes", default="auto,1,3",
                        help="prompt variants: 'auto' (the chat's rule: up to 3 notes, the 2nd/3rd only if they "
                             "score close to the 1st) and/or fixed numbers of top notes, e.g. auto,1,3")
    parser.add_argument("--limit", type=int, default=0, help="only the first N facts (0: all)")
    parser.add_argument("--mode", choices=("fast", "full"), default="fast", help="memory write mode for the facts")
    parser.add_argument("--max-tokens", type=int, default=40, help="reply length cap")
    parser.add_argument("--show-failures", type=int, default=5, help="failed answers printed per variant")


def planted_facts() -> list[dict[str, Any]]:
    """The shipped set: [{"fact", "question", "expect": [...]}, ...]."""
    text = resources.files("memory_core.chat").joinpath("data/planted_facts.json").read_text(encoding="utf-8")
    return json.loads(text)["facts"]


def answered(reply: str, expect: list[str]) -> bool:
    low = reply.lower()
    return any(e.lower() in low for e in expect)


def tell(session: Any, facts: list[dict[str, Any]], mode: str) -> tuple[str, dict[int, str]]:
    """Every fact told in one conversation (no replies: they are not what is measured) and remembered."""
    from ..chat import new_message

    convs = session.conversations
    conv = convs.new()
    ids = []
    for f in facts:
        msg = new_message("user", f["fact"])
        convs.append(conv.id, msg, create=conv)
        ids.append(msg["id"])
    jobs = [session.remember_message(conv.id, mid, mode=mode) for mid in ids]
    note_of: dict[int, str] = {}
    for i, job_id in enumerate(jobs):
        job = session.writer.wait(job_id, 600)
        if job is not None and job.state == "done":
            note_of[i] = job.outcome.get("note_id", "")
    return conv.id, note_of


def measure(settings: Any, notes_variants: list[str], limit: int = 0, mode: str = "fast", max_tokens: int = 40,
            say: Any = print) -> dict[str, Any]:
    from ..chat import ChatSession, ConversationStore, MemoryWriter
    from ..models.embeddings import get_embedder
    from ..models.llm import get_llm
    from ..store import MemoryStore

    facts = planted_facts()
    if limit > 0:
        facts = facts[:limit]
    llm = get_llm(settings)
    writer = MemoryWriter()
    results: dict[str, Any] = {"model": llm.name, "facts": len(facts), "mode": mode, "max_tokens": max_tokens,
                               "variants": {}, "load_average_before": os.getloadavg()[0]}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="memex-bench-answers-") as tmp:
        s = settings.replace(data_dir=str(Path(tmp) / "home"))
        store = MemoryStore(s, get_embedder(s))
        session = ChatSession(store, s, llm, ConversationStore(s.home), writer)
        say(f"answers bench: telling {len(facts)} facts ({mode} mode)")
        _, note_of = tell(session, facts, mode)
        results["stored"] = len(note_of)
        from ..chat.prompt import MAX_NOTES, NOTE_KEEP_RATIO

        for n in notes_variants:
            session.max_notes, session.keep_ratio = (MAX_NOTES, NOTE_KEEP_RATIO) if n == "auto" else (int(n), 0.0)
            rows = []
            t0 = time.perf_counter()
            for i, f in enumerate(facts):
                reply = session.reply(None, f["question"], remember=False, max_tokens=max_tokens)
                text = reply.consume()
                fact_note = note_of.get(i, "")
                given = [r.id for r in reply.recalled if r.in_prompt]
                rows.append({"question": f["question"], "reply": text, "answered": answered(text, f["expect"]),
                             "recall_at_1": bool(reply.recalled) and reply.recalled[0].id == fact_note,
                             "visible": fact_note in given, "form": reply.plan.form, "notes_given": len(given),
                             "first_token_s": reply.usage.get("first_token_seconds", 0.0)})
            ok = sum(r["answered"] for r in rows)
            results["variants"][n] = {
                "answered": ok, "share": ok / len(rows) if rows else 0.0,
                "recall_at_1": sum(r["recall_at_1"] for r in rows), "visible": sum(r["visible"] for r in rows),
                "answered_or_visible": sum(r["answered"] or r["visible"] for r in rows),
                "seconds": time.perf_counter() - t0, "rows": rows}
            results["variants"][n]["notes_given_mean"] = sum(r["notes_given"] for r in rows) / max(1, len(rows))
            say(f"answers bench: notes {n}: {ok}/{len(rows)} answered")
        store.close()
    writer.stop()
    results["seconds"] = time.perf_counter() - started
    results["load_average_after"] = os.getloadavg()[0]
    return results


def figures(results: dict[str, Any]) -> dict[str, Any]:
    v = (results.get("variants") or {}).get("auto") or next(iter((results.get("variants") or {}).values()), None)
    return {"answered share": v["share"]} if v else {}


def run(args: argparse.Namespace) -> int:
    import sys

    from ..config import load_settings
    from ..errors import InputError

    variants = [x.strip() for x in str(args.notes).split(",") if x.strip()]
    if not variants or not all(v == "auto" or (v.isdigit() and int(v) >= 1) for v in variants):
        raise InputError("--notes takes 'auto' and/or numbers of 1 or more, e.g. --notes auto,1,3.")
    settings = load_settings(args.data_dir)
    res = measure(settings, variants, limit=args.limit, mode=args.mode, max_tokens=args.max_tokens,
                  say=lambda text: print(text, file=sys.stderr, flush=True))
    print(f"model {res['model']}; {res['facts']} planted facts ({res['stored']} stored, {res['mode']} mode); "
          f"load average {res['load_average_before']:.1f} -> {res['load_average_after']:.1f}")
    rows = [[n, f"{v['notes_given_mean']:.1f}", f"{v['answered']}/{res['facts']}", f"{100 * v['share']:.0f}%", v["recall_at_1"], v["visible"],
             v["answered_or_visible"], f"{v['seconds']:.0f}"] for n, v in res["variants"].items()]
    print_table(["variant", "notes given (mean)", "answered", "share", "recall@1", "answer visible", "answered or visible", "seconds"],
                rows)
    for n, v in res["variants"].items():
        fails = [r for r in v["rows"] if not r["answered"]][: args.show_failures]
        for r in fails:
            print(f"  [{n}] {r['question']} -> {' '.join(r['reply'].split())[:100]!r}")
    print(f"saved {save_results(settings.home, 'answers', res)}")
    if args.json:
        print(json.dumps(res, indent=2))
    return 0
