"""A conversation cut into episodes: segments of consecutive turns, both speakers, each dated.

Why segments and not whole conversations or single turns: a question about the past ("what did you
suggest for my sleep?") is answered by a turn *and* the turns around it (the person's question
before a recommendation, the reply after a statement), while a conversation of months is far too
long to quote. A segment ends where the talk paused: a gap of more than ``GAP_MINUTES`` between two
turns (a chat resumed after lunch is another episode, as SeCom/EM-LLM cut at event boundaries), or
after ``MAX_TURNS`` turns (so a marathon conversation still yields quotable pieces).

What is never part of an episode (the conversations on disk stay as they are; only this view skips):
- a conversation the person chose not to remember (``remember`` False);
- a person's message whose note was deleted or forgotten (``forgotten`` on the message, set by
  ``mark_forgotten``), and the reply to it, which may repeat its words: nothing deleted lingers
  (``Turn.note_id`` and ``Turn.sources`` let recall also skip, at search time, a message whose note
  is gone and a reply that was given a note that is gone, in whatever conversation);
- empty, failed or interrupted turns (they were never a finished exchange);
- a question Memex answered from memory and that answer (a recollection, not a new episode: the
  answer may be wrong, and the question matches itself better than the exchange it asks about);
  likewise a question about the person's own past or facts ("Do I have a cat?", "Where does my
  sister live?") and its answer, even when nothing was recalled for it: the model's guess then
  ("Cats are generally not allowed in the UK") came back as "what was said" when the question was
  asked again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..notes import parse_time
from .conversations import Conversation, ConversationStore

GAP_MINUTES = 30  # a pause longer than this between two turns starts a new segment
MAX_TURNS = 12  # ... and so does a segment that already holds this many turns
FORGOTTEN = "forgotten"  # the message flag set when the note it made was deleted or forgotten
MEMORY_FORMS = ("memory", "episode")  # a reply's prompt form when it answered from notes or exchanges


@dataclass(frozen=True)
class Turn:
    """One message as an episode holds it: who said it, what, when, and where it lives on disk."""

    conversation_id: str
    message_id: str
    role: str  # "user" (the person) or "assistant" (Memex)
    text: str
    at: str  # ISO 8601 as saved ("" when the message had no time)
    segment: int  # the segment's index in its conversation
    position: int  # the turn's index in its segment
    note_id: str = ""  # the note the person's message made (or was merged into), if any
    sources: tuple[str, ...] = ()  # for a reply: the notes it was given (it may repeat their words)

    @property
    def key(self) -> str:
        """``<conversation id>:<message id>``: unique across conversations."""
        return f"{self.conversation_id}:{self.message_id}"

    @property
    def day(self) -> str:
        return self.at[:10]


@dataclass
class Segment:
    """Consecutive turns of one conversation with no long pause between them."""

    conversation_id: str
    title: str
    index: int
    turns: list[Turn] = field(default_factory=list)

    @property
    def start(self) -> str:
        return self.turns[0].at if self.turns else ""

    @property
    def end(self) -> str:
        return self.turns[-1].at if self.turns else ""


def _when(message: dict[str, Any]) -> datetime | None:
    at = message.get("at")
    if not isinstance(at, str) or not at:
        return None
    try:
        return parse_time(at)
    except (ValueError, TypeError):
        return None


def is_forgotten(message: dict[str, Any]) -> bool:
    return bool(message.get(FORGOTTEN))


# A question about the person's own facts or past: "Do I have...", "Where does my sister...". Not advice
# ("What should I cook?", "How do I...") and not a request for ideas: those answers are worth recalling.
_OWN_QUESTION_RE = re.compile(
    r"^\W*(?:so |and |ok |okay |well )?(?:do|did|does|am|was|were|have|had|is|are|where|what|what's|which|who|"
    r"whom|whose|when|how many|how much|how old|how long|how far)\b.*\b(?:i|my)\b", re.IGNORECASE)
_ADVICE_RE = re.compile(r"\b(?:should|could|can|would|shall|might) i\b|\bhow (?:do|can|should|could) i\b|"
                        r"\b(?:suggest|recommend|advise|advice|ideas?|tips?)\b", re.IGNORECASE)


def asks_about_own_past(text: str) -> bool:
    """Is ``text`` a question about the person's own facts or past (answered from memory, or guessed)?"""
    t = " ".join(str(text).split())
    return t.endswith("?") and bool(_OWN_QUESTION_RE.search(t)) and not _ADVICE_RE.search(t)


def _excluded(conv: Conversation) -> set[str]:
    """Ids of messages no episode may hold: forgotten messages, the replies to them, unfinished turns,
    and questions Memex answered from memory with their answers (asking "which pet did you say?" twice
    would otherwise recall the first asking, and its answer, before the exchange that holds the answer)."""
    out: set[str] = set()
    forgotten = {str(m.get("id")) for m in conv.messages if is_forgotten(m)}
    asked_text = {str(m.get("id")): str(m.get("content", "")) for m in conv.messages if m.get("role") == "user"}
    last_user = ""
    for m in conv.messages:
        mid = str(m.get("id", ""))
        if m.get("role") == "user":
            last_user = mid
        asked = str(m.get("reply_to") or last_user) if m.get("role") == "assistant" else ""
        if (m.get("prompt") or {}).get("form") in MEMORY_FORMS:
            out.update({mid, asked})
        if m.get("role") == "assistant" and asked and asks_about_own_past(asked_text.get(asked, "")):
            out.update({mid, asked})
        if mid in forgotten or asked in forgotten or m.get("error") or m.get("interrupted") \
                or not str(m.get("content", "")).strip():
            out.add(mid)
    return out


def _sources(message: dict[str, Any]) -> tuple[str, ...]:
    """The notes a reply was given (its saved ``recalled`` entries marked ``in_prompt``)."""
    recalled = message.get("recalled") if message.get("role") == "assistant" else None
    if not isinstance(recalled, list):
        return ()
    return tuple(str(r["id"]) for r in recalled if isinstance(r, dict) and r.get("in_prompt") and r.get("id"))


def segments_of(conv: Conversation, gap_minutes: float = GAP_MINUTES, max_turns: int = MAX_TURNS
                ) -> list[Segment]:
    """The conversation's segments, oldest first; none for a conversation that is not remembered."""
    if not conv.remember:
        return []
    skip = _excluded(conv)
    segments: list[Segment] = []
    current: Segment | None = None
    previous: datetime | None = None
    for m in conv.messages:
        mid = str(m.get("id", ""))
        if not mid or mid in skip:
            continue
        when = _when(m)
        paused = when is not None and previous is not None and (when - previous).total_seconds() > gap_minutes * 60
        if current is None or paused or len(current.turns) >= max(1, max_turns):
            current = Segment(conv.id, conv.title, len(segments))
            segments.append(current)
        note_id = str((m.get("memory") or {}).get("note_id") or "") if m.get("role") == "user" else ""
        current.turns.append(Turn(conv.id, mid, str(m["role"]), str(m["content"]), str(m.get("at") or ""),
                                  current.index, len(current.turns), note_id, _sources(m)))
        previous = when or previous
    return segments


def neighbours(segment: Segment, position: int, before: int = 1, after: int = 1) -> list[Turn]:
    """The turn at ``position`` with up to ``before``/``after`` turns of the same segment around it."""
    lo = max(0, position - before)
    return segment.turns[lo:position + after + 1]


def mark_forgotten(conversations: ConversationStore, note_ids: list[str]) -> int:
    """Flag every person's message whose memory write made (or merged into) one of these notes, so no
    episode holds it again. Returns how many messages were flagged. Ids may be prefixes (6+ chars)."""
    keys = [i.strip() for i in note_ids if len(i.strip()) >= 6]
    if not keys:
        return 0
    flagged = 0
    for summary in conversations.list():
        try:
            conv = conversations.load(summary.id)
        except Exception:  # noqa: BLE001 - a damaged or vanished conversation holds nothing to flag
            continue
        hits = {str(m.get("id")) for m in conv.messages if m.get("role") == "user" and not is_forgotten(m)
                and any(str((m.get("memory") or {}).get("note_id") or "").startswith(k) for k in keys)}
        if hits:
            conversations.update(conv.id, lambda c, ids=hits: _flag(c, ids))  # type: ignore[misc]
            flagged += len(hits)
    return flagged


def _flag(conv: Conversation, message_ids: set[str]) -> None:
    for m in conv.messages:
        if m.get("id") in message_ids:
            m[FORGOTTEN] = True


def episode_of(conversations: ConversationStore, conversation_id: str, message_id: str,
               before: int = 1, after: int = 1) -> tuple[str, list[Turn]] | None:
    """The episode a note came from: its conversation's title and the message with its neighbours in
    its segment; None when the conversation is gone, not remembered, or no longer holds the message."""
    if not conversation_id or not message_id:
        return None
    try:
        conv = conversations.load(conversation_id)
    except Exception:  # noqa: BLE001 - a deleted or damaged conversation: the note simply has no episode
        return None
    for seg in segments_of(conv):
        for turn in seg.turns:
            if turn.message_id == message_id:
                return conv.title, neighbours(seg, turn.position, before, after)
    return None
