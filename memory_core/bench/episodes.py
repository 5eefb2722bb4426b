"""Episodes benchmark: twelve days of a companion chat, imported, then asked about in new conversations.

Why this set: a person who has talked with an assistant for weeks asks what the assistant said ("Which
films did you suggest to me on Wednesday?"), names dates ("What did I cook on the 4th?"), asks about
their own words, and about things that changed since ("Where do I work now?"). The set
(``data/episodes_set.json``, written for this project) keeps its days as offsets from the day the
benchmark runs, so "yesterday" and "last Wednesday" mean what they say whenever it runs; ``{dN}`` in
a question is rendered as a person would name day N (yesterday, a weekday, "the 4th", "May 2nd",
"two weeks ago").

The run is the person's path: the days are written as a plain chat-history file and imported with
``memex import`` in a new process (fast mode), then each question is asked through the chat
(``ChatSession.reply``, the code behind ``memex chat``) in a new conversation, bundled model, greedy.
Printed per kind: the share of questions whose evidence message was among the notes or exchanges
given to the model, and the share of replies that contain an accepted answer.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import print_table, save_results

if TYPE_CHECKING:
    from collections.abc import Callable

KINDS = ("said", "dated", "own", "changed")
KIND_NAMES = {"said": "what the assistant said", "dated": "names a date", "own": "the person's own words",
              "changed": "answer changed over time"}
_ORD = {1: "st", 2: "nd", 3: "rd", 21: "st", 22: "nd", 23: "rd", 31: "st"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--limit", type=int, default=0, help="ask only the first N questions (default: all)")
    parser.add_argument("--max-tokens", type=int, default=48, help="reply length cap (default 48)")
    parser.add_argument("--show-failures", type=int, default=10, help="print this many misses (default 10)")
    parser.add_argument("--no-temporal", action="store_true",
                        help="skip the temporal questions of the LoCoMo-format tuning set (before/after)")


def episodes_set() -> dict[str, Any]:
    return json.loads(resources.files("memory_core.bench").joinpath("data/episodes_set.json").read_text("utf-8"))


def ordinal(n: int) -> str:
    return f"{n}{_ORD.get(n, 'th')}"


def day_phrase(day: datetime, today: datetime, variant: int) -> str:
    """How a person names ``day`` when talking on ``today``; ``variant`` picks among the fitting ways."""
    ago = (today.date() - day.date()).days
    weekday, month = day.strftime("%A"), day.strftime("%B")
    if ago == 1:
        forms = ["yesterday"]
    elif ago < 7:
        forms = [f"on {weekday}", f"last {weekday}"]
    elif ago in (14, 21):
        forms = ["two weeks ago" if ago == 14 else "three weeks ago", f"on {month} {ordinal(day.day)}"]
    else:
        forms = [f"on the {ordinal(day.day)}", f"on {month} {ordinal(day.day)}"]
    return forms[variant % len(forms)]


def render(data: dict[str, Any], today: datetime) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(the plain chat-history file's content, the questions with their text and evidence texts)."""
    dates = []
    conversations = []
    for day in data["days"]:
        start = (today + timedelta(days=int(day["offset"]))).replace(hour=int(day["hour"]), minute=0, second=0,
                                                                     microsecond=0)
        dates.append(start)
        messages = [{"role": m["role"], "content": m["content"],
                     "timestamp": (start + timedelta(minutes=2 * i)).isoformat()} for i, m in enumerate(day["messages"])]
        conversations.append({"title": day["title"], "messages": messages})
    questions = []
    for n, q in enumerate(data["questions"]):
        text = q["question"]
        for d, when in enumerate(dates):
            text = text.replace(f"{{d{d}}}", day_phrase(when, today, n))
        evidence = [data["days"][d]["messages"][i]["content"] for d, i in q["evidence"]]
        questions.append({"question": text, "kinds": q["kinds"], "answers": q["answers"], "evidence": evidence,
                          "evidence_days": [dates[d].date().isoformat() for d, _ in q["evidence"]]})
    return {"conversations": conversations}, questions


def _norm(text: str) -> str:
    return " ".join(str(text).lower().split())


def evidence_given(message: dict[str, Any], evidence: list[str]) -> bool:
    """An evidence message counts as given when a note or an exchange given to the model holds its words."""
    given = [_norm(str(r.get("text", "")) + " " + str(r.get("content", ""))) for r in message.get("recalled") or []
             if r.get("in_prompt")]
    given += [_norm(str(e.get("text", ""))) for e in message.get("episodes") or [] if e.get("in_prompt")]
    return any(_norm(ev)[:60] in g for ev in evidence for g in given)


def has_answer(reply: str, answers: list[str]) -> bool:
    text = _norm(reply)
    return any(_norm(a) in text for a in answers)


def import_file(path: Path, home: Path) -> dict[str, Any]:
    """``memex import FILE`` in a new process, as a person would run it."""
    env = {**os.environ, "MEMEX_HOME": str(home)}
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "memory_core.cli", "import", str(path)], env=env,
                          capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        raise RuntimeError(f"memex import failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}")
    return {"seconds": round(time.perf_counter() - started, 1), "output": done.stdout.strip()[-2000:]}


def measure(limit: int = 0, max_tokens: int = 48, say: Callable[[str], None] = print) -> dict[str, Any]:
    from ..chat import ChatSession, ConversationStore, MemoryWriter
    from ..config import load_settings
    from ..models.embeddings import get_embedder
    from ..models.llm import get_llm
    from ..store import MemoryStore

    today = datetime.now(timezone.utc).replace(microsecond=0)
    history, questions = render(episodes_set(), today)
    if limit > 0:
        questions = questions[:limit]
    with tempfile.TemporaryDirectory(prefix="memex-bench-episodes-") as tmp:
        home = Path(tmp) / "home"
        path = Path(tmp) / "history.json"
        path.write_text(json.dumps(history, indent=1), encoding="utf-8")
        say(f"episodes bench: importing {sum(len(c['messages']) for c in history['conversations'])} messages "
            f"over {len(history['conversations'])} days")
        imported = import_file(path, home)
        settings = load_settings(str(home))
        store = MemoryStore(settings, get_embedder(settings))
        llm = get_llm(settings)
        session = ChatSession(store, settings, llm, ConversationStore(settings.home), MemoryWriter())
        rows = []
        started = time.perf_counter()
        try:
            for n, q in enumerate(questions):
                reply = session.reply(None, q["question"], remember=False, max_tokens=max_tokens)
                reply.consume()
                message = reply.message or {}
                text = str(message.get("model_reply", reply.text))
                saved = str(message.get("content", reply.text))
                rows.append({**q, "reply": text, "given": evidence_given(message, q["evidence"]),
                             "answered": has_answer(text, q["answers"]),
                             "shown": has_answer(saved, q["answers"]), "fallback": bool(message.get("fallback"))})
                say(f"  {n + 1}/{len(questions)} given={rows[-1]['given']} answered={rows[-1]['answered']}")
        finally:
            store.close()
            session.writer.stop()
    return {"today": today.isoformat(), "imported": imported, "notes": None, "rows": rows,
            "seconds": round(time.perf_counter() - started, 1), "summary": summarise(rows)}


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    def share(items: list[dict[str, Any]], key: str) -> float:
        return round(sum(bool(r[key]) for r in items) / len(items), 3) if items else 0.0

    def block(items: list[dict[str, Any]]) -> dict[str, Any]:
        return {"n": len(items), "given": share(items, "given"), "answered": share(items, "answered"),
                "shown": share(items, "shown")}

    out: dict[str, Any] = {"all": block(rows)}
    for kind in KINDS:
        out[kind] = block([r for r in rows if kind in r["kinds"]])
    return out


TEMPORAL_BEFORE, TEMPORAL_AFTER = "contextual", None  # the chat's retriever before issue 25, and now


def temporal_recall(say: Callable[[str], None] = print) -> dict[str, Any]:
    """The temporal questions of the LoCoMo-format tuning set (``data/synth_locomo.json``), evidence recall
    with the chat's retriever before the recall work (``contextual``) and now (the default)."""
    from ..config import load_settings
    from ..retrieval.retrievers import DEFAULT_RETRIEVER
    from ..transfer.locomo_format import load_locomo
    from .locomo_run import run_benchmark

    path = resources.files("memory_core.bench").joinpath("data/synth_locomo.json")
    data = load_locomo(str(path))
    names = [TEMPORAL_BEFORE, DEFAULT_RETRIEVER]
    with tempfile.TemporaryDirectory(prefix="memex-bench-temporal-") as tmp:
        settings = load_settings(str(Path(tmp) / "home"))
        res = run_benchmark(data, settings, retrievers=names, ks=(5, 10), progress=False, source=str(path), log=say)
    out: dict[str, Any] = {}
    for label, name in (("before", TEMPORAL_BEFORE), ("after", DEFAULT_RETRIEVER)):
        block = next((c for c in res["retrieval"][name]["by_category"].values() if c["name"] == "temporal"), None)
        if block:
            out[label] = {"retriever": name, "n": block["n"], "any@5": block["recall_any@5"],
                          "any@10": block["recall_any@10"], "all@10": block["recall_all@10"], "mrr": block["mrr"]}
    return out


def print_report(res: dict[str, Any], show_failures: int) -> None:
    s = res["summary"]
    print(f"episodes bench ({res['today'][:10]}): import {res['imported']['seconds']} s, questions "
          f"{res['seconds']} s")
    print_table(["questions", "n", "evidence given", "answer in model reply", "answer in saved reply"],
                [["all", s["all"]["n"], s["all"]["given"], s["all"]["answered"], s["all"]["shown"]]]
                + [[KIND_NAMES[k], s[k]["n"], s[k]["given"], s[k]["answered"], s[k]["shown"]] for k in KINDS])
    print("evidence given: a message holding the answer was among the notes or exchanges given to the model;")
    print("answer in model reply: the model's own words contain an accepted answer (case-insensitive);")
    print("answer in saved reply: the reply as saved and shown, which quotes the memory when the model's")
    print("words used none of it (the chat's fallback).")
    misses = [r for r in res["rows"] if not (r["given"] and r["answered"])][:show_failures]
    for r in misses:
        print(f"  miss ({'given' if r['given'] else 'not given'}): {r['question']!r} -> {r['reply'][:100]!r}")
    temporal = res.get("temporal") or {}
    if temporal:
        print()
        print("temporal questions of the LoCoMo-format tuning set (evidence recall, fast ingest)")
        print_table(["", "retriever", "n", "any@5", "any@10", "all@10", "MRR"],
                    [[label, t["retriever"], t["n"], t["any@5"], t["any@10"], t["all@10"], t["mrr"]]
                     for label, t in temporal.items()])


def run(args: argparse.Namespace) -> int:
    from ..config import load_settings

    say = lambda text: print(text, file=sys.stderr, flush=True)  # noqa: E731 - one line of progress
    res = measure(limit=args.limit, max_tokens=args.max_tokens, say=say)
    if not args.no_temporal:
        res["temporal"] = temporal_recall(say)
    print_report(res, args.show_failures)
    print(f"saved {save_results(load_settings(args.data_dir).home, 'episodes', res)}")
    if args.json:
        print(json.dumps(res, indent=2, default=str))
    return 0
