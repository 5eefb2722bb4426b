"""The prompt of a chat turn: recalled notes, short history and the message, fitted to the context window.

Why apart: the prompt is what decides whether a small model can answer from memory at all, so it is
the part most often tuned and measured (``memex bench answers``); it needs only a token counter.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..models.llm import LLM
    from ..retrieval.timespan import TimeSpan

from ..memory.corrections import attributes
from ..retrieval.floor import persons_words
from .episodic import EXCHANGE_FORM, RecalledExchange, exchange_messages, offered_exchanges

Message = dict[str, str]

SYSTEM_PROMPT = "You are Memex, a friendly assistant. Answer the person's last message helpfully and briefly."
# The memory-answer form, chosen on the planted-facts set (``memex bench answers``): a 135M model
# answers from the person's own words when they are quoted in the user turn, the question last.
MEMORY_SYSTEM = "Answer the user's question from what they told you earlier."
ANSWER_LINE = "Answer in one short sentence."
MAX_NOTES = 3  # the few top notes: a small model gets confused by more (issue 13's trial)
# A note after the first is given to the model only when it scores at least this share of the first:
# on the planted facts SmolLM2-135M answered 33/40 with the one right note and 24/40 with the top
# three (it answers from the wrong one), so a clear winner goes alone and close calls go together.
NOTE_KEEP_RATIO = 0.75
HISTORY_MESSAGES = 4  # a short history: small models copy old turns instead of answering
MESSAGE_OVERHEAD = 6  # tokens a chat template adds per message; the same figure llm.fit_messages uses
LLM_MARGIN = 16  # llm.fit_messages keeps this many tokens spare; we stay inside its budget
SAFETY_TOKENS = 24  # for templates that add more per message (or a BOS) than MESSAGE_OVERHEAD
MIN_PROMPT_TOKENS = 160  # a reply's max_tokens is lowered so the prompt keeps at least this much room
NOTE_CHARS = 700  # a recalled note is cut (in the middle) to this many characters in the prompt
HISTORY_CHARS = 2000  # so is one earlier message
_QUESTION_START = re.compile(
    r"^(what|who|whom|whose|where|when|which|why|how|do|does|did|is|are|was|were|am|can|could|will|would|"
    r"should|have|has|had|tell me|remind me|remember)\b", re.IGNORECASE)


# A question about how things were before a change: the note a correction replaced is what it asks for.
_EARLIER_RE = re.compile(r"\b(before|first|originally|at first|used to|previously|formerly|earlier|old|"
                         r"in the beginning)\b", re.IGNORECASE)


def asks_about_before(text: str) -> bool:
    """Does the question ask about an earlier state ("Where did I work before my new job?")?"""
    return is_question(text) and bool(_EARLIER_RE.search(text))


def _replaced_here(message: str, notes: list[Recalled]) -> set[str]:
    """The recalled notes whose correction is recalled too and that the question does not need.

    A correction replaces a whole note, but may change one thing in it: after "My sister Lena lives
    in Porto and works as a dentist." and "Actually Lena moved to Lisbon.", "What does Lena do for
    work?" asks about what the old note alone still holds. So an old note stays when the question
    asks about something it says (work) that its correction does not touch (home)."""
    by_id = {n.id: n for n in notes}
    asked = attributes(message)
    out = set()
    for n in notes:
        newer = by_id.get(n.superseded_by) if n.superseded_by else None
        if newer is None:
            continue
        if asked and asked & attributes(n.content) and not asked & attributes(newer.content):
            continue
        out.add(n.id)
    return out


def is_question(text: str) -> bool:
    """A message that asks something (ends with "?" or starts like a question): it gets the memory form."""
    t = " ".join(text.split())
    return t.endswith("?") or bool(_QUESTION_START.match(t))


@dataclass
class Recalled:
    """A recalled note as the chat keeps it: enough to show it, to find it again (by id), and the
    retrieval trace (``Hit.trace_dict()``) the Graph page draws."""

    id: str
    title: str
    content: str
    timestamp: str
    score: float
    reasons: list[str] = field(default_factory=list)
    kind: str = ""
    via: str = ""
    in_prompt: bool = False
    rank: int = 0
    speaker: str = ""
    trace: dict[str, Any] = field(default_factory=dict)
    passage: str = ""  # what is quoted (to the model and under the reply): a long note's best sentence
    strength: float = 0.0  # the unscaled cosine the relevance floor read
    superseded_by: str = ""  # the note that replaced this one (a correction), when there is one

    @classmethod
    def from_hit(cls, hit: Any, rank: int = 0, passage: str = "", strength: float = 0.0) -> Recalled:
        note = hit.note
        rank = int(getattr(hit, "rank", 0) or rank)
        if hasattr(hit, "trace_dict"):
            trace = dict(hit.trace_dict())
        else:  # a Hit from before the trace existed: the same shape from its fields
            signals = {k: float(v) for k, v in (("lexical", hit.lexical), ("dense", hit.dense)) if v}
            trace = {"id": note.id, "rank": rank, "score": float(hit.score), "signals": signals, "via": hit.via,
                     "reasons": list(hit.reasons), "matched_terms": list(getattr(hit, "matched_terms", []))}
        trace["rank"] = trace.get("rank") or rank
        return cls(id=note.id, title=note.title, content=note.content, timestamp=note.timestamp,
                   score=float(hit.score), reasons=list(hit.reasons), kind=hit.kind, via=hit.via, rank=trace["rank"],
                   speaker=getattr(note, "speaker", ""), trace=trace, passage=passage, strength=float(strength),
                   superseded_by=str(getattr(note, "superseded_by", "") or ""))

    @property
    def words(self) -> str:
        """What is quoted of the note: its passage when one was chosen, else the person's words."""
        return self.passage or persons_words(self.content)

    def brief(self, query: str = "") -> dict[str, Any]:
        """What is saved with the reply: the trace plus the query, and the words the model was given
        (so the reply's "From your memory" caption shows what it answered from, even if the note changes)."""
        out = {**self.trace, "id": self.id, "title": self.title, "timestamp": self.timestamp,
               "score": round(self.score, 4), "reasons": self.reasons, "kind": self.kind, "via": self.via,
               "in_prompt": self.in_prompt, "query": query, "strength": round(self.strength, 4)}
        if self.in_prompt:
            out["text"] = shorten_middle(self.words, 300)
        return out


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
    form: str = "chat"  # "memory" (from the top notes), "episode" (from recalled exchanges) or "chat"
    notes_beyond: int = 0  # recalled notes not offered (past max_notes or below keep_ratio): shown, not given
    time_span: Any = None  # the ``TimeSpan`` the notes were recalled for (read from the message), if any
    exchanges_used: list[str] = field(default_factory=list)  # best-turn message ids of the exchanges given
    exchanges: list[RecalledExchange] = field(default_factory=list)  # every recalled exchange (given or not)

    @property
    def memory_answer(self) -> bool:
        """A question answered from memory: decoded greedily (the likeliest words are the told ones)."""
        return (self.form == "memory" and bool(self.notes_used)) or (
            self.form == "episode" and bool(self.exchanges_used))

    def summary(self) -> dict[str, Any]:
        return {"prompt_tokens": self.prompt_tokens, "budget": self.budget, "reply_tokens": self.reply_tokens,
                "notes_used": self.notes_used, "notes_dropped": self.notes_dropped,
                "history_used": self.history_used, "history_dropped": self.history_dropped,
                "truncated_chars": self.truncated_chars, "form": self.form, "notes_beyond": self.notes_beyond,
                "exchanges_used": self.exchanges_used}

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
    """How a recalled note is quoted in the prompt: the person's words, with the day they said them."""
    when = note.timestamp[:10]
    words = " ".join(shorten_middle(note.words, NOTE_CHARS).split())
    return f'On {when} I told you: "{words}"' if when else f'Earlier I told you: "{words}"'


def listed_line(note: Recalled) -> str:
    """A recalled note in the chat form's system text: ``- 2026-11-02: "the person's words"``."""
    words = " ".join(shorten_middle(note.words, NOTE_CHARS).split())
    return f'- {note.timestamp[:10]}: "{words}"' if note.timestamp[:10] else f'- "{words}"'


def memory_turn(text: str, lines: list[str]) -> str:
    """The user turn of the memory form: what the person said earlier, then the question, last."""
    return "\n".join([*lines, f"Question: {text}", ANSWER_LINE])


def build_prompt(llm: LLM, message: str, notes: list[Recalled], history: list[Message], *,
                 max_tokens: int, system: str = SYSTEM_PROMPT, today: str | None = None,
                 max_notes: int = MAX_NOTES, history_messages: int = HISTORY_MESSAGES,
                 keep_ratio: float = NOTE_KEEP_RATIO, exchanges: list[RecalledExchange] | None = None,
                 span: TimeSpan | None = None) -> PromptPlan:
    """Assemble the prompt so that prompt + reply fit in ``llm.n_ctx``.

    A question with recalled notes gets the memory form: the short MEMORY_SYSTEM line, the short
    history, then one user turn quoting the top notes (at most ``max_notes``; after the first only
    those scoring ``keep_ratio`` of it, never a note whose correction is among them; the person's words,
    dated) and the question last. Anything else gets the chat form: SYSTEM_PROMPT (with today's date and, if
    any, the notes) + history + the message. ``notes`` come most relevant first, ``history`` oldest
    first. To fit, the oldest history goes first, then the least relevant note, then the middle of
    the message (in the prompt only). Sizes are counted with ``llm.count_tokens`` the way
    ``llm.fit_messages`` counts them, so the model's own trimming never has to cut anything.

    A question about what was said (``episodic.offered_exchanges``: "what did you suggest ...", a time
    read from it, or exchanges that beat the notes) gets the episode form instead: the recalled
    exchanges quoted with their dates (``EXCHANGE_FORM``), the question last; notes are not given then.
    """
    started = time.perf_counter()
    n_ctx = int(llm.n_ctx)
    reply_tokens = max(1, min(int(max_tokens), n_ctx - MIN_PROMPT_TOKENS - LLM_MARGIN - SAFETY_TOKENS))
    budget = max(64, n_ctx - reply_tokens - LLM_MARGIN - SAFETY_TOKENS)
    today = today or datetime.now().astimezone().strftime("%Y-%m-%d")
    top = notes[0].score if notes else 0.0
    # A corrected note is never offered beside its correction: it no longer holds, and a small model
    # quoted both ("moved to Porto Alegre", "a dentist in Curitiba") answered with the old place; unless
    # the question asks how things were before ("Which race did I sign up for first?"), where the
    # replaced note is the answer (both are dated, so the model can tell which came first).
    replaced = set() if asks_about_before(message) else _replaced_here(message, notes)
    offered = [i for i in range(min(len(notes), max(0, max_notes)))
               if (i == 0 or notes[i].score >= keep_ratio * top) and notes[i].id not in replaced]
    exchanges = exchanges or []
    given_ex = offered_exchanges(message, exchanges, notes, span) if is_question(message) else []
    form = "episode" if given_ex else ("memory" if offered and is_question(message) else "chat")
    if form == "episode":
        offered = []
    lines = [note_line(n) for n in notes]

    hist = [{"role": m["role"], "content": shorten_middle(m["content"], HISTORY_CHARS)} for m in history]
    kept = hist[-history_messages:] if history_messages > 0 else []

    def start_with_user(msgs: list[Message]) -> list[Message]:
        # A reply must follow a user message in most chat templates: never start history with "assistant".
        while msgs and msgs[0]["role"] != "user":
            msgs = msgs[1:]
        return msgs

    kept = start_with_user(kept)
    chosen = list(offered)
    text = message

    def assemble() -> list[Message]:
        if form == "episode" and given_ex:
            msgs = exchange_messages(EXCHANGE_FORM, text, [exchanges[i] for i in given_ex])
            return msgs if EXCHANGE_FORM == "replay" else [msgs[0], *kept, *msgs[1:]]
        if form == "memory" and chosen:
            return [{"role": "system", "content": system if system != SYSTEM_PROMPT else MEMORY_SYSTEM}, *kept,
                    {"role": "user", "content": memory_turn(text, [lines[i] for i in chosen])}]
        sys_text = f"{system} Today is {today}."
        if chosen:
            sys_text += "\n\nWhat the person told you earlier:\n" + "\n".join(listed_line(notes[i]) for i in chosen)
        return [{"role": "system", "content": sys_text}, *kept, {"role": "user", "content": text}]

    def total(msgs: list[Message]) -> int:
        return sum(llm.count_tokens(m["content"]) + MESSAGE_OVERHEAD for m in msgs)

    msgs = assemble()
    size = total(msgs)
    while size > budget:
        if kept:
            kept = start_with_user(kept[1:])
        elif len(given_ex) > 1:
            given_ex.pop()  # the least relevant exchange goes first
        elif chosen:
            chosen.pop()  # the least relevant note goes first
        elif len(text) > 40:
            room = max(16, budget - (size - llm.count_tokens(text)))
            new_len = max(40, min(len(text) - 16, int(len(text) * room / max(1, llm.count_tokens(text)) * 0.95)))
            text = shorten_middle(message, new_len)
        else:
            break
        msgs = assemble()
        size = total(msgs)

    for i, n in enumerate(notes):
        n.in_prompt = i in chosen
    for i, ex in enumerate(exchanges):
        ex.in_prompt = i in given_ex
    return PromptPlan(
        messages=msgs, budget=budget, prompt_tokens=size, reply_tokens=reply_tokens,
        notes_used=[notes[i].id for i in chosen],
        notes_dropped=[notes[i].id for i in offered if i not in chosen],
        history_used=len(kept), history_dropped=len(history) - len(kept),
        truncated_chars=len(message) - len(text) if text != message else 0,
        seconds=time.perf_counter() - started, form=form if (chosen or given_ex) else "chat",
        notes_beyond=max(0, len(notes) - len(offered)),
        exchanges_used=[exchanges[i].message_id for i in given_ex], exchanges=exchanges,
    )
