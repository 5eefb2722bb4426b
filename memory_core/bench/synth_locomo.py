"""A LoCoMo-format tuning set made from a seed: long two-person conversations with questions and evidence.

Why our own set: the held-out LoCoMo copy must stay unseen, so recall is tuned here. Each
conversation is two friends over 18 dated sessions of ~20 turns: greetings, small talk (drawn from
many slotted exchanges, so no line repeats a template word for word too often, and full of words
that also occur in the facts: dogs, trips, books, trains) and the stories of synth_stories.py, whose
questions carry the dia_ids of the turns that answer them, plus two list questions per speaker
gathered over many sessions ("What does Melanie do with her free time?"), LoCoMo's usual multi-hop. Deterministic: the same seed writes the
same file; no network, no model.

    python -m memory_core.bench.synth_locomo [--seed 25] [--out memory_core/bench/data/synth_locomo.json]
"""

from __future__ import annotations

import argparse
import json
import random
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from .synth_stories import LISTS, MULTI_HOP, STORIES, Pools, Story

DEFAULT_OUT = Path(__file__).parent / "data" / "synth_locomo.json"
SPEAKERS = [("Caroline", "Melanie"), ("Joanna", "Nadia"), ("Evelyn", "Sofia"), ("Harriet", "Leila")]
SESSIONS = 18
TURNS_PER_SESSION = (17, 23)

GREET = [("Hey {o}! Long time, how are you?", "Hi {s}! Busy but good, you?"),
         ("Morning {o}, got a minute?", "Always for you. What's up?"),
         ("{o}! I've been meaning to message you all week.", "Ha, same. Go on then."),
         ("Hi hi. Surviving the week?", "Barely, but yes. How about you?"),
         ("Evening! Is now a good time to chat?", "Perfect timing, I just sat down with tea.")]
BYE = [("Anyway, I should get dinner going.", "Go! Talk soon."), ("Okay I need to sleep, early start.", "Night!"),
       ("Let's catch up properly next week?", "Deal. Take care."), ("My battery's dying, speak later!", "Bye!")]
TOPICS = {
    "weather": ["It hasn't stopped raining for three days.", "Finally some sun, I sat outside at lunch.",
                "The wind last night knocked over the bins again.", "It's so humid I can't think."],
    "sleep": ["I slept terribly, the neighbour's dog barked until two.", "I've been going to bed at nine, it's "
              "life-changing.", "Insomnia again, I watched documentaries till three."],
    "work": ["Work is a circus this week, three deadlines on Friday.", "My manager scheduled a meeting about "
             "meetings.", "We got a new coffee machine at the office and productivity doubled.",
             "I spent the whole morning fixing a spreadsheet someone else broke."],
    "food": ["I tried making sourdough again and it came out like a brick.", "We ordered pizza three nights in "
             "a row, no regrets.", "There's a new ramen place by the station, queue round the block.",
             "I made a huge pot of soup for the week."],
    "tv": ["Have you watched that detective show with the lighthouse? I binged it.", "I'm rewatching an old "
           "sitcom, pure comfort.", "The finale of that baking competition was robbed."],
    "chores": ["Spent Saturday clearing out the garage, found my old school reports.", "The washing machine "
               "flooded the kitchen, fun times.", "I finally hung the shelves, only slightly wonky."],
    "travel": ["The trains were cancelled again so I worked from home.", "Traffic into town was a nightmare "
               "this morning.", "My cousin keeps sending me photos from her trip, I'm so envious."],
    "misc": ["I've started doing the crossword every morning.", "I bought a plant for my desk, it's already "
             "dying.", "My phone screen cracked, so that's my week.", "I keep meaning to read more but I just "
             "scroll.", "Went to a friend's birthday, the cake was incredible.", "My neighbour's cat has "
             "adopted me, she visits every evening."],
}
REACT = ["Ha, classic.", "Oh no, that sounds rough.", "Honestly same.", "That's brilliant.", "Ugh, I feel that.",
         "You have to tell me more.", "I'd have done exactly the same.", "That made me laugh.", "Oof.",
         "Sounds about right.", "How are you feeling about it?", "That's the dream."]
CODAS = ["", "", "", " Send help.", " Not ideal.", " So that was my Tuesday.", " I'm choosing to laugh about it.",
         " Anyway.", " Life, huh.", " Small wins."]
PLANS = [("Any plans for the weekend?", ["Maybe a walk by the river if it stays dry.", "Absolutely nothing, and I "
          "can't wait.", "Helping my mum clear out her loft.", "A friend's housewarming on Saturday."]),
         ("What are you up to tonight?", ["Leftovers and an early night.", "Quiz night at the pub down the "
          "road.", "Trying a new recipe, wish me luck."]),
         ("Did you see the news about the bridge closure?", ["Yes! My commute is going to be doubled.",
          "No, what happened?", "Only the headline, sounds like chaos."]),
         ("How's your mum doing?", ["Much better, thanks for asking.", "Same as ever, still gardening daily.",
          "She's started learning Italian, bless her."]),
         ("Are you still doing that morning stretching thing?", ["On and off, mostly off.",
          "Every day for a month now!", "I gave up after a week, don't judge."])]
FOLLOW = ["I might bake something to cheer myself up.", "At least the weekend is close.",
          "I'm trying to see the funny side.", "Could be worse, could be Monday.", "Yeah, it's been a week.", "I'll survive, I always do.", "Tell me about it.", "Anyway, enough about "
          "that.", "It's fine, it's funny in hindsight.", "Next time I'll know better."]


def _when(dt: datetime) -> str:
    """LoCoMo's session date form: "1:56 pm on 8 May, 2023"."""
    hour = dt.hour % 12 or 12
    return f"{hour}:{dt.minute:02d} {'am' if dt.hour < 12 else 'pm'} on {dt.day} {dt.strftime('%B')}, {dt.year}"


def _filler(rng: random.Random, a: str, b: str) -> list[tuple[str, str]]:
    """One small-talk exchange (2-3 turns) between ``a`` (who starts) and ``b``."""
    if rng.random() < 0.3:
        question, answers = rng.choice(PLANS)
        return [(a, question), (b, rng.choice(answers))]
    line = rng.choice(TOPICS[rng.choice(list(TOPICS))]) + rng.choice(CODAS)
    out = [(a, line), (b, rng.choice(REACT))]
    if rng.random() < 0.4:
        out.append((a, rng.choice(FOLLOW)))
    return out


def _plan(rng: random.Random, speakers: tuple[str, str]) -> list[list[tuple[str, Story, int]]]:
    """Which story parts go in which session: each story's parts in increasing sessions."""
    sessions: list[list[tuple[str, Story, int]]] = [[] for _ in range(SESSIONS)]
    pools = Pools(rng)
    for subject, other in (speakers, speakers[::-1]):
        chosen = rng.sample(STORIES, k=min(len(STORIES), 15))
        for make in chosen:
            story = make(rng, subject, other, pools)
            starts = sorted(rng.sample(range(SESSIONS), k=len(story.parts)))
            for part, session in enumerate(starts):
                sessions[session].append((subject, story, part))
    return sessions


def conversation(rng: random.Random, index: int) -> dict[str, Any]:
    """One LoCoMo sample: the conversation and its questions."""
    s, o = SPEAKERS[index % len(SPEAKERS)]
    start = datetime(2023, 1, 9) + timedelta(days=37 * index)
    conv: dict[str, Any] = {"speaker_a": s, "speaker_b": o}
    where: dict[tuple[int, int, int], str] = {}  # (id(story), part, turn) -> dia_id
    part_dates: dict[tuple[int, int], datetime] = {}
    stories: dict[int, Story] = {}
    subjects: dict[int, str] = {}  # story -> who told it
    plan = _plan(rng, (s, o))
    day = start
    for n, parts in enumerate(plan, start=1):
        day = day + timedelta(days=rng.randint(4, 19), hours=rng.randint(8, 21) - day.hour,
                              minutes=rng.randint(0, 59) - day.minute)
        conv[f"session_{n}_date_time"] = _when(day)
        first, second = (s, o) if rng.random() < 0.5 else (o, s)
        g = rng.choice(GREET)
        rows: list[tuple[str, str, tuple[int, int, int] | None]] = [
            (first, g[0].format(s=first, o=second), None), (second, g[1].format(s=first, o=second), None)]
        target = rng.randint(*TURNS_PER_SESSION)
        blocks: list[list[tuple[str, str, tuple[int, int, int] | None]]] = []
        for subject, story, part in parts:
            other = o if subject == s else s
            stories[id(story)] = story
            subjects[id(story)] = subject
            part_dates[(id(story), part)] = day
            blocks.append([(subject if who == 0 else other, text, (id(story), part, t))
                           for t, (who, text) in enumerate(story.parts[part])])
        used = sum(len(b) for b in blocks) + 4
        while used < target:
            a, b = (s, o) if rng.random() < 0.5 else (o, s)
            block: list[tuple[str, str, tuple[int, int, int] | None]] = [
                (x, y, None) for x, y in _filler(rng, a, b)]
            blocks.append(block)
            used += len(block)
        rng.shuffle(blocks)
        for block in blocks:
            rows.extend(block)
        bye = rng.choice(BYE)
        rows += [(first, bye[0], None), (second, bye[1], None)]
        turns = []
        for t, (speaker, text, key) in enumerate(rows, start=1):
            dia = f"D{n}:{t}"
            turns.append({"speaker": speaker, "dia_id": dia, "text": text})
            if key is not None:
                where[key] = dia
        conv[f"session_{n}"] = turns
    qa = []
    for sid, story in stories.items():
        for q in story.questions:
            answer = q.answer
            if q.when is not None:
                date = part_dates[(sid, q.when[0])] + timedelta(days=q.when[1])
                answer = answer.replace("{date}", f"{date.day} {date.strftime('%B')} {date.year}")
            qa.append({"question": q.question, "answer": answer, "category": q.category,
                       "evidence": [where[(sid, part, turn)] for part, turn in q.evidence]})
    rng.shuffle(qa)
    qa += _list_questions(stories, subjects, where)  # after the shuffle: the seed's stream stays as it was
    return {"sample_id": f"synth-{index + 1}", "conversation": conv, "qa": qa}


def _list_questions(stories: dict[int, Story], subjects: dict[int, str],
                    where: dict[tuple[int, int, int], str]) -> list[dict[str, Any]]:
    """LoCoMo-style multi-hop questions: one list gathered from the stories of many sessions."""
    out = []
    for speaker in dict.fromkeys(subjects.values()):
        for name, question in LISTS.items():
            found = [(item, where[(sid, part, turn)]) for sid, story in stories.items() if subjects[sid] == speaker
                     for kind, item, (part, turn) in story.items if kind == name]
            if len(found) >= 2:
                out.append({"question": question.format(s=speaker), "answer": "; ".join(i for i, _ in found),
                            "category": MULTI_HOP, "evidence": list(dict.fromkeys(d for _, d in found))})
    return out


def generate(seed: int = 25, conversations: int = 4) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    return [conversation(rng, i) for i in range(conversations)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seed", type=int, default=25)
    parser.add_argument("--conversations", type=int, default=4)
    parser.add_argument("--out", default=str(DEFAULT_OUT))
    args = parser.parse_args(argv)
    data = generate(args.seed, args.conversations)
    Path(args.out).write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    turns = sum(len(v) for d in data for k, v in d["conversation"].items() if k.startswith("session_")
                and isinstance(v, list))
    print(f"wrote {args.out}: {len(data)} conversations, {turns} turns, {sum(len(d['qa']) for d in data)} questions")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
