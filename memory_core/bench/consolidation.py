"""Consolidation benchmark: the digests and the profile of a synthetic store, timed (extractive path).

A store of ``--notes`` notes in the person's words (templated sentences about people, places, work,
likes and plans over ``--days`` days and ten conversations, seeded, with a reply recommending
something after each) is built in a temporary folder with the configured embedder; then timed:
the first consolidation, a rebuild with nothing changed, a rebuild after one new note, and forgetting
one note cited by the profile (its lines go with it). Printed too: the longest stretch of work between
two checks of the reply gate, i.e. the longest a reply could wait for consolidation to give way.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path
from typing import Any

from . import print_table, save_results

NAMES = ["Anna", "Tom", "Lena", "Marco", "Priya", "Jonas", "Sofia", "Kwame", "Yuki", "Omar"]
PLACES = ["Lisbon", "Porto", "Berlin", "Kyoto", "Nairobi", "Oslo", "Lima", "Hanoi"]
FOODS = ["sushi", "olives", "ramen", "dark chocolate", "goat cheese", "mango", "lentil soup", "espresso"]
TEMPLATES = [
    "My friend {name} lives in {place}.", "I had lunch with {name} today and we talked about {food}.",
    "I love {food} but I can't stand {food2}.", "Next month I plan to visit {place} with {name}.",
    "At work my boss asked me to lead the {food} project.", "I went running by the river this morning.",
    "{name} called me about the trip to {place}.", "I decided to learn to cook {food} this year.",
    "My sister {name} got a new job in {place}.", "I felt tired after the late shift at the office.",
]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--notes", type=int, default=500, help="notes in the synthetic store")
    parser.add_argument("--days", type=int, default=25, help="days they are spread over")


def synthetic(n: int, days: int, seed: int = 7) -> list[tuple[str, str, int]]:
    """(text, timestamp, conversation number) for n notes."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        text = rng.choice(TEMPLATES).format(name=rng.choice(NAMES), place=rng.choice(PLACES),
                                            food=rng.choice(FOODS), food2=rng.choice(FOODS))
        day = 1 + i * days // max(1, n)
        out.append((text, f"2024-03-{day:02d}T{8 + i % 12:02d}:{i % 60:02d}:00+00:00", i % 10))
    return out


def _seed(store: Any, conversations: Any, rows: list[tuple[str, str, int]]) -> None:
    from ..episodes.conversations import new_message
    from ..notes import Note

    convs = [conversations.new() for _ in range(10)]
    notes = []
    for text, ts, c in rows:
        note = Note(content=text, timestamp=ts, source="chat", speaker="person", conversation_id=convs[c].id)
        notes.append(note)
        convs[c].messages += [new_message("user", text, at=ts, memory={"note_id": note.id}),
                              new_message("assistant", "That sounds good. I recommend you try a short walk too.", at=ts)]
    for conv in convs:
        conversations.save(conv)
    for start in range(0, len(notes), 200):
        with store.writing() as w:
            for note in notes[start:start + 200]:
                w.put(note)


def run(args: argparse.Namespace) -> int:
    from ..config import load_settings
    from ..consolidation import consolidate, lines_of
    from ..consolidation.stored import cited
    from ..episodes.conversations import ConversationStore
    from ..models.embeddings import get_embedder
    from ..store import MemoryStore

    settings = load_settings(args.data_dir)
    rows: list[list[Any]] = []
    gaps: list[float] = []
    last = [time.perf_counter()]

    def pause() -> None:  # what the chat's runner does here is wait at the reply gate
        now = time.perf_counter()
        gaps.append(now - last[0])
        last[0] = now

    with tempfile.TemporaryDirectory(prefix="memex-bench-consolidation-") as tmp:
        s = settings.replace(data_dir=str(Path(tmp) / "home"))
        store = MemoryStore(s, get_embedder(s))
        conversations = ConversationStore(s.home)
        _seed(store, conversations, synthetic(args.notes, args.days))
        for label in ("first build", "rebuild, nothing changed"):
            last[0] = time.perf_counter()
            r = consolidate(store, conversations, pause=pause)
            rows.append([label, r.seconds, r.profile_lines, r.digests, r.saved.created + r.saved.updated])
        with store.writing() as w:
            from ..notes import Note

            w.put(Note(content="I adopted a cat called Pixel.", speaker="person", source="chat",
                       timestamp="2024-03-28T10:00:00+00:00"))
        r = consolidate(store, conversations, pause=pause)
        rows.append(["rebuild after one new note", r.seconds, r.profile_lines, r.digests,
                     r.saved.created + r.saved.updated])
        target = cited(next(n for n in lines_of(store, "profile")))[0]
        started = time.perf_counter()
        report = store.forget([target])
        rows.append(["forget one cited note", time.perf_counter() - started, "", "",
                     f"{len(report.forgotten) - 1} lines forgotten"])
        store.close()
    print(f"consolidation of {args.notes} notes over {args.days} days (extractive, bundled path)")
    print_table(["step", "seconds", "profile lines", "digests", "written"], rows)
    longest = max(gaps) if gaps else 0.0
    print(f"longest work between two reply-gate checks: {longest:.3f} s")
    save_results(Path(settings.home), "consolidation", {"notes": args.notes, "rows": rows, "longest_gap_s": longest})
    return 0
