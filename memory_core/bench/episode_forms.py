"""Which prompt form lets the bundled model answer "what did you recommend?" from a recalled exchange.

Run: ``python -m memory_core.bench.episode_forms [--limit N] [--forms memex,quoted,...] [--chat]``.

The set (``bench/data/episode_forms.json``) holds earlier exchanges, each on its own day in its own
conversation (the person asks, Memex recommends, the person thanks), and a question asked later
about what Memex said. Every question goes through episode recall (``episodes.recall``) and the
chat's rule for which exchanges are given (``chat.episodic.offered_exchanges``); the same exchanges
are then quoted in each form and the model answers greedily. Printed per form: evidence given (the
right exchange among those quoted), answered (the reply holds an expected word), and the failures.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from importlib import resources
from pathlib import Path
from typing import Any

from ..chat.episodic import EXCHANGE_FORM, FORMS, RecalledExchange, exchange_messages, offered_exchanges
from ..episodes.conversations import ConversationStore, new_message
from ..episodes.recall import search_episodes


def items() -> list[dict[str, Any]]:
    text = resources.files("memory_core.bench").joinpath("data/episode_forms.json").read_text(encoding="utf-8")
    return list(json.loads(text)["items"])


def write_conversations(home: str | Path, rows: list[dict[str, Any]]) -> list[str]:
    """One conversation per item (asked at 19:00 on its day); returns their ids in order."""
    store = ConversationStore(home)
    ids = []
    for row in rows:
        conv = store.new()
        for role, text, at in (("user", row["user"], "19:00:00"), ("assistant", row["assistant"], "19:00:20"),
                               ("user", "Thanks, I will try that.", "19:01:00")):
            msg = new_message(role, text)
            msg["at"] = f"{row['day']}T{at}+00:00"
            conv.messages.append(msg)
        store.save(conv)
        ids.append(conv.id)
    return ids


def answer(llm: Any, messages: list[dict[str, str]], max_tokens: int) -> str:
    stream = llm.stream(messages, max_tokens=max_tokens, temperature=0.0, repeat_penalty=1.0)
    try:
        return "".join(stream)
    finally:
        close = getattr(stream, "close", None)
        if callable(close):
            close()


def measure(llm: Any, embedder: Any, forms: list[str], limit: int = 0, max_tokens: int = 40) -> dict[str, Any]:
    rows = items()[:limit or None]
    out: dict[str, Any] = {"questions": len(rows), "forms": {f: {"answered": 0, "failures": []} for f in forms},
                           "evidence": 0}
    with tempfile.TemporaryDirectory() as home:
        ids = write_conversations(home, rows)
        for row, cid in zip(rows, ids):
            hits = search_episodes(home, embedder, row["question"], 3)
            exchanges = [RecalledExchange.from_hit(h) for h in hits]
            given = [exchanges[i] for i in offered_exchanges(row["question"], exchanges, [])]
            out["evidence"] += any(ex.conversation_id == cid for ex in given)
            for form in forms:
                reply = answer(llm, exchange_messages(form, row["question"], given), max_tokens) if given else ""
                ok = any(e.lower() in reply.lower() for e in row["expect"])
                out["forms"][form]["answered"] += ok
                print(f"  [{form}] {'✓' if ok else '✗'} {row['question']}", flush=True)
                if not ok:
                    out["forms"][form]["failures"].append((row["question"], " ".join(reply.split())[:120]))
    return out


def measure_chat(llm: Any, embedder: Any, limit: int = 0, max_tokens: int = 40) -> dict[str, Any]:
    """The whole chat path (``ChatSession.reply`` in a new conversation): the person's messages are notes
    too (bulk-added, as an import would), so the rule that chooses exchanges over notes is measured as well.
    Counts: the exchange given, the model's own answer right, the reply right (a fallback quotes it)."""
    from ..chat import ChatSession, MemoryWriter
    from ..config import Settings
    from ..memory.pipeline import MemoryPipeline, NewItem
    from ..store import MemoryStore

    rows = items()[:limit or None]
    out: dict[str, Any] = {"questions": len(rows), "given": 0, "model": 0, "reply": 0, "failures": []}
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=tmp)
        ids = write_conversations(settings.home, rows)
        store = MemoryStore(settings, embedder)
        convs = ConversationStore(settings.home)
        items_ = [NewItem(m["content"], timestamp=m["at"], source="chat", conversation_id=cid, message_id=m["id"])
                  for cid in ids for m in convs.load(cid).messages if m["role"] == "user"]
        MemoryPipeline(store, settings).add_many(items_)
        writer = MemoryWriter()
        try:
            session = ChatSession(store, settings.replace(remember_chat=False), llm, convs, writer)
            for row, cid in zip(rows, ids):
                reply = session.reply(None, row["question"], max_tokens=max_tokens)
                reply.consume()
                given = any(ex.in_prompt and ex.conversation_id == cid for ex in reply.plan.exchanges)
                own = any(e.lower() in (reply.model_text or reply.text).lower() for e in row["expect"])
                shown = any(e.lower() in reply.text.lower() for e in row["expect"])
                out["given"] += given
                out["model"] += own
                out["reply"] += shown
                if not own:
                    out["failures"].append((row["question"], " ".join((reply.model_text or reply.text).split())[:120]))
        finally:
            writer.stop()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--forms", default=",".join(FORMS))
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("--max-tokens", type=int, default=40)
    parser.add_argument("--chat", action="store_true", help="also through the whole chat path (ChatSession)")
    args = parser.parse_args(argv)
    from ..models.embeddings import bundled_minilm
    from ..models.llm import LocalLLM

    started = time.perf_counter()
    llm = LocalLLM(None, n_ctx=2048, n_threads=2, seed=42)
    res = measure(llm, bundled_minilm(), [f.strip() for f in args.forms.split(",") if f.strip()], args.limit,
                  args.max_tokens)
    n = res["questions"]
    print(f"{n} questions about what Memex said · model {llm.name} · evidence given {res['evidence']}/{n}")
    for form, r in res["forms"].items():
        print(f"  {form:<11} answered {r['answered']}/{n}")
        for q, reply in r["failures"]:
            print(f"      ✗ {q} -> {reply!r}")
    if args.chat:
        c = measure_chat(llm, bundled_minilm(), args.limit, args.max_tokens)
        print(f"chat path ({EXCHANGE_FORM} form, the person's messages also notes): exchange given "
              f"{c['given']}/{n} · model's own answer right {c['model']}/{n} · reply right (with the fallback) "
              f"{c['reply']}/{n}")
        for q, reply in c["failures"]:
            print(f"      ✗ {q} -> {reply!r}")
    print(f"({time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
