"""The realistic answers set: facts told on past days, some inside long or chatty messages, asked in other words.

Why a second set: the planted facts are told and asked in the same words, one plain sentence each,
and a 135M model does well on them; people ask days later, in their own words, about something
buried in a long message, between greetings and a long diary entry. This set
(``bench/data/answers_realistic.json``, written for Memex, every fact invented) measures that:

- each item is told in one conversation on its own day (``days_ago`` before the questions), with
  chatter (greetings, acknowledgements) in between and a ~50k-character diary note that answers
  nothing (it must never be quoted whole);
- each question is asked in a new conversation, as the Chat page would;
- a reply scores when it contains one of ``expect`` as a whole word (case-insensitive).

Figures: the model's own answer, the answer in the reply (as saved: the model's text, or the note's
sentence when the reply says it fell back to it), and the answer in view (the reply or a "From your
memory" line under it). The acknowledgement probes count recalled notes and reply tokens for
"thanks!" and the like (both should be small).
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from importlib import resources
from typing import Any


def realistic_set() -> dict[str, Any]:
    """{"items": [{"told", "question", "expect", "days_ago", "kind"}], "chatter", "distractor", "acknowledgements"}."""
    text = resources.files("memory_core.bench").joinpath("data/answers_realistic.json").read_text(encoding="utf-8")
    return json.loads(text)


def contains_word(text: str, expect: list[str]) -> bool:
    """Does ``text`` hold one of ``expect`` as whole words? ("May" must not score on "maybe")."""
    return any(re.search(r"(?<!\w)" + re.escape(e) + r"(?!\w)", text, re.IGNORECASE) for e in expect)


def _at(now: datetime, days_ago: int, minute: int) -> str:
    return (now - timedelta(days=days_ago)).replace(hour=19, minute=minute % 60, second=0, microsecond=0).isoformat()


def tell_realistic(session: Any, data: dict[str, Any], items: list[dict[str, Any]], mode: str
                   ) -> dict[int, str]:
    """Tell every item on its own day in one conversation, chatter between, the diary note first.

    Returns item index -> the id of the note it became. Chatter goes through the same memory write
    (the rule keeps it out of memory), as it would in a real chat."""
    from ..chat import new_message

    now = datetime.now(timezone.utc)
    convs = session.conversations
    conv = convs.new()
    chatter = list(data.get("chatter") or [])
    script: list[tuple[int | None, str, str]] = []
    distractor = data.get("distractor") or {}
    if distractor.get("text"):
        script.append((None, distractor["text"], _at(now, int(distractor.get("days_ago", 45)), 0)))
    order = sorted(range(len(items)), key=lambda i: -int(items[i].get("days_ago", 0)))
    for n, i in enumerate(order):
        days = int(items[i].get("days_ago", 0))
        if chatter and n % 3 == 0:
            script.append((None, chatter[(n // 3) % len(chatter)], _at(now, days, 2 * n)))
        script.append((i, items[i]["told"], _at(now, days, 2 * n + 1)))
    ids: list[tuple[int | None, str]] = []
    for index, text, at in script:
        msg = new_message("user", text)
        msg["at"] = at
        convs.append(conv.id, msg, create=conv)
        ids.append((index, msg["id"]))
    jobs = [(index, session.remember_message(conv.id, mid, mode=mode)) for index, mid in ids]
    note_of: dict[int, str] = {}
    for index, job_id in jobs:
        job = session.writer.wait(job_id, 600)
        if index is not None and job is not None and job.state == "done":
            note_of[index] = job.outcome.get("note_id", "")
    return note_of


def shown_texts(message: dict[str, Any] | None) -> list[str]:
    """What the person sees of memory under a saved reply: the "From your memory" lines (as the page
    draws them: the notes given to the model that carry their text)."""
    if not message:
        return []
    return [str(r.get("text", "")) for r in message.get("recalled") or [] if r.get("in_prompt") and r.get("text")][:3]


def ask(session: Any, item: dict[str, Any], fact_note: str, max_tokens: int) -> dict[str, Any]:
    """One question in a new conversation; what the model said, what was saved, what is in view."""
    reply = session.reply(None, item["question"], remember=False, max_tokens=max_tokens)
    reply.consume()
    message = reply.message or {}
    model_text = str(message.get("model_reply", reply.text))
    saved = str(message.get("content", reply.text))
    shown = shown_texts(message)
    expect = item["expect"]
    recalled_ids = [r.id for r in reply.recalled]
    return {"question": item["question"], "kind": item.get("kind", ""), "reply": saved, "model_reply": model_text,
            "model_answered": contains_word(model_text, expect), "answered": contains_word(saved, expect),
            "in_view": contains_word(saved, expect) or any(contains_word(t, expect) for t in shown),
            "recall_at_1": bool(recalled_ids) and recalled_ids[0] == fact_note,
            "recalled_top5": fact_note in recalled_ids[:5], "fallback": bool(message.get("fallback")),
            "shown_chars": sum(len(t) for t in shown), "recalled": len(recalled_ids)}


def probe_acknowledgements(session: Any, acks: list[str], max_tokens: int) -> list[dict[str, Any]]:
    """Each acknowledgement in a new conversation: how many notes it recalled, how long the reply ran."""
    rows = []
    for text in acks:
        reply = session.reply(None, text, remember=False, max_tokens=max_tokens)
        reply.consume()
        rows.append({"text": text, "recalled": len(reply.recalled),
                     "shown": len(shown_texts(reply.message)),
                     "tokens": int(reply.usage.get("completion_tokens", 0)), "reply": reply.text})
    return rows


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    n = max(1, len(rows))
    out: dict[str, Any] = {"questions": len(rows)}
    for key in ("model_answered", "answered", "in_view", "recall_at_1", "recalled_top5", "fallback"):
        out[key] = sum(bool(r[key]) for r in rows)
        out[key + "_share"] = out[key] / n
    out["by_kind"] = {kind: {"questions": sum(r["kind"] == kind for r in rows),
                             "answered": sum(r["answered"] for r in rows if r["kind"] == kind),
                             "in_view": sum(r["in_view"] for r in rows if r["kind"] == kind)}
                      for kind in sorted({r["kind"] for r in rows})}
    out["max_shown_chars"] = max((r["shown_chars"] for r in rows), default=0)
    return out
