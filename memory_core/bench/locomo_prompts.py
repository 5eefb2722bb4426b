"""The words of the LoCoMo benchmark's model side: the context a turn's note gets (its date and the
previous turn), the answer prompt over the retrieved notes, and the clean-up of the model's answer.

Why apart from the runner: these decide what the model reads and how its answer is read, which is
what one tunes; the runner only times and counts.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from ..transfer.locomo_format import Turn

QA_SYSTEM = ("You answer questions about a conversation, using only the memory notes given. Answer with a "
             "short phrase, using words from the notes where possible. If the notes do not contain the "
             "answer, reply exactly: Not mentioned.")


def turn_context(turns: Sequence[Turn], i: int) -> str:
    """The contextual note's context: the previous turn of the same session and the session date.

    Kept apart from the content (the retrieval's note+context signals use it; it is never shown as
    if the speaker had said it).
    """
    turn = turns[i]
    parts = [f"Date: {when(turn.timestamp)}"]
    if i and turns[i - 1].session == turn.session:
        parts.append(turns[i - 1].content)
    return "\n".join(parts)


def when(ts: str) -> str:
    try:
        dt = datetime.fromisoformat(ts)
    except ValueError:
        return ts
    hour = dt.hour % 12 or 12
    return f"{dt.day} {dt.strftime('%B')} {dt.year}, {hour}:{dt.minute:02d} {'pm' if dt.hour >= 12 else 'am'}"


def answer_messages(question: str, notes: Sequence[Any]) -> list[dict[str, str]]:
    """The answer prompt: the retrieved notes in time order, each with its date, then the question."""
    ordered = sorted(notes, key=lambda n: n.timestamp)
    lines = [f"- ({when(n.timestamp)}) {n.content}" for n in ordered] or ["(no notes)"]
    return [{"role": "system", "content": QA_SYSTEM},
            {"role": "user", "content": "Memory notes:\n" + "\n".join(lines) + f"\n\nQuestion: {question}\n"
             "Short answer:"}]


def clean_prediction(text: str) -> str:
    """First non-empty line of the reply, without an "Answer:" prefix or wrapping quotes."""
    for line in str(text).splitlines():
        line = line.strip()
        if line:
            line = re.sub(r"^(short answer|answer)\s*:\s*", "", line, flags=re.IGNORECASE).strip()
            return line.strip('"').strip()[:300]
    return ""
