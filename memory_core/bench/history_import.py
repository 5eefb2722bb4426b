"""Chat-history import speed: messages/s through ``memex import`` on a generated multi-day history.

A plain JSONL history of --messages messages (half the person's, half replies) over --days days is
generated (the same seed gives the same file: facts about family, places, food, work, some told
again in other words, some corrected later, greetings and questions), written to a temporary data
folder, and imported through the library's import (``chat.history_import``: the chat's write path in
fast mode, no model; the MiniLM embeddings are real). Printed: messages/s and the person's
messages/s (wall clock, model load excluded: the embedder is warmed first), messages per CPU-second
(this process's CPU time: on a shared machine the wall clock says more about the neighbours), what became of the
person's messages, and the time of a second import of the same file (nothing to do: it must change
nothing).
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from . import print_table, save_results

NAMES = ["Ana", "Marco", "Priya", "Tomas", "Lena", "Kofi", "Yuki", "Sara", "Ibrahim", "Nora"]
RELATIONS = ["sister", "brother", "friend", "colleague", "neighbour", "cousin", "aunt", "uncle"]
PLACES = ["Porto", "Leeds", "Lyon", "Kyoto", "Accra", "Oslo", "Lisbon", "Valencia", "Quebec", "Tartu"]
FOODS = ["ramen", "lentil soup", "paella", "dumplings", "shakshuka", "risotto", "pad thai", "borscht"]
HOBBIES = ["climbing", "pottery", "chess", "running", "baking bread", "birdwatching", "knitting", "salsa"]
FACTS = [
    "My {rel} {name} lives in {place}.",
    "I cooked {food} for dinner with {name} tonight.",
    "I started {hobby} lessons on Tuesdays.",
    "{name} recommended a café in {place} that serves great {food}.",
    "I have a dentist appointment in {place} next week.",
    "My {rel} {name} is learning {hobby}.",
    "We are planning a trip to {place} in the spring.",
    "I finished a long report at work and feel relieved.",
    "I don't eat {food} any more, it upsets my stomach.",
    "Actually my {rel} {name} moved to {place} last month.",
]
SMALL = ["thanks!", "ok", "haha yes", "good morning", "What should I read next?", "Any tips for sleeping better?"]
REPLIES = ["That sounds lovely, tell me more.", "Noted! Anything else on your mind?",
           "Good idea; try {hobby} on a quiet evening.", "{place} is beautiful in spring.",
           "Maybe try {food} with fresh herbs next time."]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--messages", type=int, default=2000, help="messages in the generated history")
    parser.add_argument("--days", type=int, default=30, help="days it spans")
    parser.add_argument("--seed", type=int, default=7)


def generate(messages: int, days: int, seed: int) -> str:
    """A JSONL history: conversations of 4-20 messages, a few a day, user and assistant in turn."""
    rng = random.Random(seed)
    start = datetime(2024, 1, 1, 8, 0, tzinfo=timezone.utc)
    lines: list[str] = []
    conv = 0
    while len(lines) < messages:
        conv += 1
        when = start + timedelta(days=rng.uniform(0, days), hours=rng.uniform(0, 12))
        size = min(rng.randrange(4, 21, 2), messages - len(lines))
        for i in range(size):
            fill = {"name": rng.choice(NAMES), "rel": rng.choice(RELATIONS), "place": rng.choice(PLACES),
                    "food": rng.choice(FOODS), "hobby": rng.choice(HOBBIES)}
            if i % 2 == 0:
                text = rng.choice(SMALL) if rng.random() < 0.2 else rng.choice(FACTS).format(**fill)
                role = "user"
            else:
                text, role = rng.choice(REPLIES).format(**fill), "assistant"
            when += timedelta(seconds=rng.randint(20, 240))
            lines.append(json.dumps({"conversation": f"c{conv}", "title": f"Chat {conv}", "role": role,
                                     "content": text, "timestamp": when.isoformat()}))
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace) -> int:
    from ..chat.history_import import import_history
    from ..config import Settings, load_settings
    from ..models.embeddings import get_embedder
    from ..store import MemoryStore
    from ..transfer.chat_history import parse_history

    raw = generate(args.messages, args.days, args.seed).encode()
    home = load_settings(args.data_dir).home
    with tempfile.TemporaryDirectory(prefix="memex-bench-import-") as tmp:
        settings = Settings(data_dir=tmp)
        embedder = get_embedder(settings)
        embedder.embed(["warm up"])  # the model load is not the import's cost
        store = MemoryStore(settings, embedder)
        history = parse_history(raw, "generated.jsonl")
        started, cpu = time.perf_counter(), time.process_time()
        report = import_history(store, settings, history)
        first, cpu = time.perf_counter() - started, time.process_time() - cpu
        notes = len(store)
        started = time.perf_counter()
        again = import_history(store, settings, parse_history(raw, "generated.jsonl"))
        second = time.perf_counter() - started
        unchanged = len(store) == notes and again.written == 0
    results: dict[str, Any] = {
        "messages": history.message_count, "person_messages": history.person_count,
        "conversations": len(history.conversations), "seconds": round(first, 2),
        "messages_per_second": round(history.message_count / first, 1),
        "person_messages_per_second": round(report.written / first, 1),
        "cpu_seconds": round(cpu, 2), "messages_per_cpu_second": round(history.message_count / cpu, 1),
        "outcomes": dict(report.outcomes), "notes": notes, "second_import_seconds": round(second, 2),
        "second_import_changed_nothing": unchanged}
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print(f"{history.describe()} over {args.days} days, fast mode (no model), MiniLM embeddings")
        print_table(["figure", "value"], [[k, v if not isinstance(v, dict) else json.dumps(v)]
                                          for k, v in results.items()])
    save_results(Path(home), "history_import", results)
    return 0 if unchanged else 1
