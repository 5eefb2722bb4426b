"""The prompt of a chat turn: recalled notes, short history and the message, fitted to the context window.

Why apart: the prompt is what decides whether a small model can answer from memory at all, so it is
the part most often tuned and measured (``memex bench answers``); it needs only a token counter.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

Message = dict[str, str]

SYSTEM_PROMPT = (
    "You are Memex, a friendly assistant with a long-term memory. Answer the person's last message "
    "helpfully and briefly. Memory notes from earlier conversations may follow; use them only when they "
    "are relevant, and say when (the date) something happened if you rely on a note."
)
MESSAGE_OVERHEAD = 6  # tokens a chat template adds per message; the same figure llm.fit_messages uses
LLM_MARGIN = 16  # llm.fit_messages keeps this many tokens spare; we stay inside its budget
SAFETY_TOKENS = 24  # for templates that add more per message (or a BOS) than MESSAGE_OVERHEAD
MIN_PROMPT_TOKENS = 160  # a reply's max_tokens is lowered so the prompt keeps at least this much room
NOTE_CHARS = 700  # a recalled note is cut (in the middle) to this many characters in the prompt
HISTORY_CHARS = 2000  # so is one earlier message
NOTES_SHARE = 0.6  # notes may take this share of the room left after the system prompt and the message


@dataclass
class Recalled:
    """A recalled note as the chat keeps it: enough to show it and to find it again (by id)."""

    id: str
    title: str
    content: str
    timestamp: str
    score: float
    reasons: list[str] = field(default_factory=list)
    kind: str = ""
    via: str = ""
    in_prompt: bool = False

    @classmethod
    def from_hit(cls, hit: Any) -> Recalled:
        note = hit.note
        return cls(id=note.id, title=note.title, content=note.content, timestamp=note.timestamp,
                   score=float(hit.score), reasons=list(hit.reasons), kind=hit.kind, via=hit.via)

    def brief(self) -> dict[str, Any]:
        """What is saved with the reply (not the content: the note itself may change later)."""
        return {"id": self.id, "title": self.title, "timestamp": self.timestamp, "score": round(self.score, 4),
                "reasons": self.reasons, "kind": self.kind, "via": self.via, "in_prompt": self.in_prompt}


@dataclass
class PromptPlan:
    """The messages sent to the model and what was left out to make them fit."""

    messages: list[Message]
    budget: int
    prompt_tokens: int
    reply_tokens: int  # max_tokens actually used (may be lower than asked, to leave room for a prompt)
    notes_used: list[str] = field(default_factory=list)
    notes_dropped: list[str] = field(default_factory=list)
    history_used: int = 0
    history_dropped: int = 0
    truncated_chars: int = 0  # characters cut from the person's message (only in the prompt; stored intact)
    seconds: float = 0.0

    def summary(self) -> dict[str, Any]:
        return {"prompt_tokens": self.prompt_tokens, "budget": self.budget, "reply_tokens": self.reply_tokens,
                "notes_used": self.notes_used, "notes_dropped": self.notes_dropped,
                "history_used": self.history_used, "history_dropped": self.history_dropped,
                "truncated_chars": self.truncated_chars}

    @property
    def dropped_anything(self) -> bool:
        return bool(self.notes_dropped or self.history_dropped or self.truncated_chars)


def shorten_middle(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters by removing its middle (the start and end say most)."""
    if len(text) <= limit:
        return text
    marker = " [...] "
    keep = max(0, limit - len(marker))
    head = keep - keep // 3
    tail = keep - head
    return text[:head] + marker + (text[-tail:] if tail else "")


def note_line(note: Recalled) -> str:
    """How a recalled note appears in the prompt: short id, date, then its text."""
    when = note.timestamp[:16].replace("T", " ")
    return f"[note {note.id[:8]}, {when}] " + " ".join(shorten_middle(note.content, NOTE_CHARS).split())


def build_prompt(llm: Any, message: str, notes: list[Recalled], history: list[Message], *,
                 max_tokens: int, system: str = SYSTEM_PROMPT, today: str | None = None) -> PromptPlan:
    """Assemble system prompt + notes + history + message so that prompt + reply fit in ``llm.n_ctx``.

    ``notes`` come most relevant first, ``history`` oldest first. The person's message always goes
    in (shortened in the middle if it alone is too long). Notes get up to NOTES_SHARE of the room
    left, history the rest (newest first, without gaps), and any room history leaves goes back to
    notes. Sizes are counted with ``llm.count_tokens`` the way ``llm.fit_messages`` counts them, so
    the model's own trimming never has to cut anything.
    """
    started = time.perf_counter()
    n_ctx = int(llm.n_ctx)
    reply_tokens = max(1, min(int(max_tokens), n_ctx - MIN_PROMPT_TOKENS - LLM_MARGIN - SAFETY_TOKENS))
    budget = max(64, n_ctx - reply_tokens - LLM_MARGIN - SAFETY_TOKENS)

    def cost(text: str) -> int:
        return llm.count_tokens(text) + MESSAGE_OVERHEAD

    today = today or datetime.now().astimezone().strftime("%Y-%m-%d")
    base_system = f"{system} Today is {today}."
    notes_header = "\n\nMemory notes (most relevant first):\n"
    base_cost = cost(base_system)

    # 1. The person's message, shortened (in the prompt only) if it alone would not fit.
    text = message
    truncated = 0
    room_for_message = max(16, budget - base_cost)
    while cost(text) > room_for_message and len(text) > 40:
        ratio = room_for_message / cost(text)
        new_len = max(40, int(len(text) * ratio * 0.95) - 8)
        if new_len >= len(text):
            new_len = len(text) - 16
        text = shorten_middle(message, new_len)
        truncated = len(message) - len(text)
    free = budget - base_cost - cost(text)

    # 2. Notes, most relevant first, into their share.
    note_lines = [note_line(n) for n in notes]
    note_costs = [llm.count_tokens(line + "\n") for line in note_lines]
    header_cost = llm.count_tokens(notes_header)
    chosen: set[int] = set()

    def take_notes(room: int) -> int:
        used = 0
        for i, c in enumerate(note_costs):
            if i in chosen:
                continue
            extra = c + (header_cost if not chosen else 0)
            if used + extra <= room:
                chosen.add(i)
                used += extra
        return used

    notes_cost = take_notes(int(free * NOTES_SHARE)) if notes else 0

    # 3. History, newest first, without gaps.
    hist = [{"role": m["role"], "content": shorten_middle(m["content"], HISTORY_CHARS)} for m in history]
    kept: list[Message] = []
    hist_cost = 0
    for m in reversed(hist):
        c = cost(m["content"])
        if hist_cost + c > free - notes_cost:
            break
        kept.insert(0, m)
        hist_cost += c
    # A reply must follow a user message in most chat templates: never start history with "assistant".
    while kept and kept[0]["role"] != "user":
        hist_cost -= cost(kept.pop(0)["content"])

    # 4. Room history did not need goes back to notes.
    if notes and len(chosen) < len(notes):
        notes_cost += take_notes(free - notes_cost - hist_cost)

    def assemble() -> list[Message]:
        sys_text = base_system
        if chosen:
            sys_text += notes_header + "\n".join(note_lines[i] for i in sorted(chosen))
        return [{"role": "system", "content": sys_text}, *kept, {"role": "user", "content": text}]

    # 5. Exact check of the assembled prompt (tokens at the joins can differ from the sum of parts).
    msgs = assemble()
    total = sum(cost(m["content"]) for m in msgs)
    while total > budget:
        if chosen:
            chosen.discard(max(chosen))  # the least relevant note goes first
        elif kept:
            kept.pop(0)
            while kept and kept[0]["role"] != "user":
                kept.pop(0)
        elif len(text) > 40:
            text = shorten_middle(message, max(40, int(len(text) * 0.8)))
            truncated = len(message) - len(text)
        else:
            break
        msgs = assemble()
        total = sum(cost(m["content"]) for m in msgs)

    for i, n in enumerate(notes):
        n.in_prompt = i in chosen
    return PromptPlan(
        messages=msgs, budget=budget, prompt_tokens=total, reply_tokens=reply_tokens,
        notes_used=[notes[i].id for i in sorted(chosen)],
        notes_dropped=[n.id for i, n in enumerate(notes) if i not in chosen],
        history_used=len(kept), history_dropped=len(history) - len(kept), truncated_chars=truncated,
        seconds=time.perf_counter() - started,
    )
