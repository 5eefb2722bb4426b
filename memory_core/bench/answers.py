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

``--set realistic`` (see ``answers_realistic``) adds the harder set: facts told days earlier, some
inside long or chatty messages, asked in other words; it runs the chat's own rule only and prints
the model's own answer, the answer in the reply, the answer in view, and the acknowledgement probes.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import print_table, save_results

if TYPE_CHECKING:
    from collections.abc import Callable

    from ..config import Settings
    from ..models.llm import LLM


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--notes", default="auto,1,3",
                        help="prompt variants: 'auto' (the chat's rule: up to 3 notes, the 2nd/3rd only if they "
                             "score close to the 1st) and/or fixed numbers of top notes, e.g. auto,1,3")
    parser.add_argument("--limit", type=int, default=0, help="only the first N facts (0: all)")
    parser.add_argument("--mode", choices=("fast", "full"), default="fast", help="memory write mode for the facts")
    parser.add_argument("--max-tokens", type=int, default=40, help="reply length cap")
    parser.add_argument("--show-failures", type=int, default=5, help="failed answers printed per variant")
    parser.add_argument("--set", dest="sets", default="planted,realistic",
                        help="question sets: 'planted' (simple facts, asked in the same words) and/or 'realistic' "
                             "(told days earlier, long or chatty messages, asked in other words)")


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
    session.writer.wait_idle(3600)  # full mode: the model's enrichment of each note too, before any question
    return conv.id, note_of


def measure(settings: Settings, notes_variants: list[str], limit: int = 0, mode: str = "fast", max_tokens: int = 40,
            say: Callable[[str], None] = print, sets: tuple[str, ...] = ("planted",)) -> dict[str, Any]:
    """Run the chosen sets; each in a fresh store (the realistic set must not find the planted facts)."""
    from ..models.llm import get_llm

    llm = get_llm(settings)
    results: dict[str, Any] = {"model": llm.name, "mode": mode, "max_tokens": max_tokens,
                               "load_average_before": os.getloadavg()[0]}
    started = time.perf_counter()
    for name in sets:  # in the order asked
        if name == "planted":
            results.update(measure_planted(settings, llm, notes_variants, limit, mode, max_tokens, say))
        elif name == "realistic":
            results["realistic"] = measure_realistic(settings, llm, limit, mode, max_tokens, say)
    results["seconds"] = time.perf_counter() - started
    results["load_average_after"] = os.getloadavg()[0]
    return results


def _session(settings: Settings, llm: LLM, tmp: str) -> Any:
    from ..chat import ChatSession, ConversationStore, MemoryWriter
    from ..models.embeddings import get_embedder
    from ..store import MemoryStore

    s = settings.replace(data_dir=str(Path(tmp) / "home"))
    store = MemoryStore(s, get_embedder(s))
    return ChatSession(store, s, llm, ConversationStore(s.home), MemoryWriter())


def measure_realistic(settings: Settings, llm: LLM, limit: int, mode: str, max_tokens: int, say: Callable[[str], None]) -> dict[str, Any]:
    """The realistic set with the chat's own rule, plus the acknowledgement probes."""
    from .answers_realistic import ask, probe_acknowledgements, realistic_set, summarise, tell_realistic

    data = realistic_set()
    items = data["items"][:limit] if limit > 0 else data["items"]
    with tempfile.TemporaryDirectory(prefix="memex-bench-answers-") as tmp:
        session = _session(settings, llm, tmp)
        say(f"answers bench: telling {len(items)} realistic facts ({mode} mode)")
        try:
            note_of = tell_realistic(session, data, items, mode)
            t0 = time.perf_counter()
            rows = [ask(session, item, note_of.get(i, ""), max_tokens) for i, item in enumerate(items)]
            acks = probe_acknowledgements(session, list(data.get("acknowledgements") or []), max_tokens)
        finally:
            session.store.close()
            session.writer.stop()
    out = {"items": len(items), "stored": len(note_of), "rows": rows, "acknowledgements": acks,
           "seconds": time.perf_counter() - t0, **summarise(rows)}
    say(f"answers bench: realistic: {out['answered']}/{len(rows)} in the reply, {out['in_view']}/{len(rows)} in view")
    return out


def measure_planted(settings: Settings, llm: LLM, notes_variants: list[str], limit: int, mode: str, max_tokens: int,
                    say: Callable[[str], None]) -> dict[str, Any]:
    from .answers_realistic import shown_texts

    facts = planted_facts()
    if limit > 0:
        facts = facts[:limit]
    results: dict[str, Any] = {"facts": len(facts), "variants": {}}
    with tempfile.TemporaryDirectory(prefix="memex-bench-answers-") as tmp:
        session = _session(settings, llm, tmp)
        store, writer = session.store, session.writer
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
                saved = (reply.message or {}).get("content", text)
                in_view = answered(saved, f["expect"]) or any(answered(t, f["expect"]) for t in shown_texts(reply.message))
                rows.append({"question": f["question"], "reply": saved, "answered": answered(saved, f["expect"]),
                             "model_answered": answered((reply.message or {}).get("model_reply", text), f["expect"]),
                             "in_view": in_view,
                             "recall_at_1": bool(reply.recalled) and reply.recalled[0].id == fact_note,
                             "visible": fact_note in given, "form": reply.plan.form, "notes_given": len(given),
                             "first_token_s": reply.usage.get("first_token_seconds", 0.0)})
            ok = sum(r["answered"] for r in rows)
            results["variants"][n] = {
                "answered": ok, "share": ok / len(rows) if rows else 0.0,
                "recall_at_1": sum(r["recall_at_1"] for r in rows), "visible": sum(r["visible"] for r in rows),
                "answered_or_visible": sum(r["answered"] or r["visible"] for r in rows),
                "model_answered": sum(r["model_answered"] for r in rows), "in_view": sum(r["in_view"] for r in rows),
                "seconds": time.perf_counter() - t0, "rows": rows}
            results["variants"][n]["notes_given_mean"] = sum(r["notes_given"] for r in rows) / max(1, len(rows))
            say(f"answers bench: notes {n}: {ok}/{len(rows)} answered")
        store.close()
    writer.stop()
    return results


def figures(results: dict[str, Any]) -> dict[str, Any]:
    v = (results.get("variants") or {}).get("auto") or next(iter((results.get("variants") or {}).values()), None)
    out = {"answered share": v["share"]} if v else {}
    real = results.get("realistic")
    if real:
        out.update({"realistic answered share": real["answered_share"], "realistic in view share": real["in_view_share"]})
    return out


def print_planted(res: dict[str, Any], show_failures: int) -> None:
    print(f"planted facts: {res['facts']} ({res['stored']} stored, {res['mode']} mode)")
    rows = [[n, f"{v['notes_given_mean']:.1f}", f"{v['model_answered']}/{res['facts']}", f"{v['answered']}/{res['facts']}",
             f"{100 * v['share']:.0f}%", v["recall_at_1"], v["visible"], v["in_view"], f"{v['seconds']:.0f}"]
            for n, v in res["variants"].items()]
    print_table(["variant", "notes given (mean)", "model answered", "in reply", "share", "recall@1", "note given",
                 "in view", "seconds"], rows)
    for n, v in res["variants"].items():
        for r in [r for r in v["rows"] if not r["answered"]][:show_failures]:
            print(f"  [{n}] {r['question']} -> {' '.join(r['reply'].split())[:100]!r}")


def print_realistic(real: dict[str, Any], show_failures: int) -> None:
    n = real["questions"]
    print(f"\nrealistic set: {n} questions ({real['stored']} facts stored), chat's own rule")
    print_table(["figure", "count", "share"], [
        [key.replace("_", " "), f"{real[key]}/{n}", f"{100 * real[key + '_share']:.0f}%"]
        for key in ("model_answered", "answered", "in_view", "recall_at_1", "recalled_top5", "fallback")])
    print("by kind: " + "; ".join(f"{k} {v['answered']}/{v['questions']} in reply, {v['in_view']} in view"
                                  for k, v in real["by_kind"].items()))
    print(f"longest memory text shown under a reply: {real['max_shown_chars']} characters")
    acks = real.get("acknowledgements") or []
    if acks:
        print("acknowledgements: " + ", ".join(f"{a['text']!r} {a['recalled']} recalled/{a['tokens']} tokens"
                                               for a in acks))
    for r in [r for r in real["rows"] if not r["in_view"]][:show_failures]:
        print(f"  not in view: {r['question']} -> {' '.join(r['reply'].split())[:100]!r}")


def run(args: argparse.Namespace) -> int:
    import sys

    from ..config import load_settings
    from ..errors import InputError

    variants = [x.strip() for x in str(args.notes).split(",") if x.strip()]
    if not variants or not all(v == "auto" or (v.isdigit() and int(v) >= 1) for v in variants):
        raise InputError("--notes takes 'auto' and/or numbers of 1 or more, e.g. --notes auto,1,3.")
    sets = tuple(x.strip() for x in str(args.sets).split(",") if x.strip())
    if not sets or not all(x in ("planted", "realistic") for x in sets):
        raise InputError("--set takes 'planted' and/or 'realistic', e.g. --set planted,realistic.")
    settings = load_settings(args.data_dir)
    res = measure(settings, variants, limit=args.limit, mode=args.mode, max_tokens=args.max_tokens,
                  say=lambda text: print(text, file=sys.stderr, flush=True), sets=sets)
    print(f"model {res['model']}; load average {res['load_average_before']:.1f} -> {res['load_average_after']:.1f}")
    if "variants" in res:
        print_planted(res, args.show_failures)
    if "realistic" in res:
        print_realistic(res["realistic"], args.show_failures)
    print(f"saved {save_results(settings.home, 'answers', res)}")
    if args.json:
        print(json.dumps(res, indent=2))
    return 0
