"""One chat turn with memory: recall, the prompt, a streamed reply, and a queued memory write.

Why apart from the page: the Chat page, ``memex chat``, the benchmarks and the tests all need the same
turn logic, and none of it needs Streamlit. The flow of a turn (``ChatSession.reply``):

  1. recall   - the time span the message names, if any (``retrieval.timespan``, on the
                conversation's clock: ``ChatSession.clock``), then ``retrieval.search`` for the
                person's message (the span's notes first), then the relevance floor
                (``retrieval.floor``: weak matches are neither shown nor given to the model, a long
                note is quoted by its best sentence); nothing for "thanks!" or "hi"; the recall
                counts are written after the reply, off the first-token path;
  2. prompt   - ``prompt.build_prompt`` (the person's own words from the top notes, with dates, a
                short history, the question last);
  3. generate - ``Reply`` streams ``llm.stream``; background model calls give way at their next token;
  4. remember - the person's message (never the reply) is queued on the ``MemoryWriter`` with the
                person's previous message and the date as its context (never the reply); the outcome is written back onto the message. It is
                stored without the model first, and a new note is then queued for the model's
                enrichment (enrichment.py). A write or an enrichment another process left queued is
                resumed by ``resume_pending`` (see pending.py).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..episodes.conversations import Conversation, ConversationStore, new_message
from ..errors import InputError, MemexError, ModelError, NotFoundError
from ..memory.turns import turn_effect
from ..notes import PERSON_LINE, try_parse_time
from .enrichment import enrichment_guard, needs_enrichment, pending_enrichments, record_enrichment
from .episodic import MAX_EXCHANGES, RecalledExchange, recall_exchanges, warm
from .fallback import ACK_MAX_TOKENS, ACK_SYSTEM, is_acknowledgement
from .gate import ReplyGate
from .jobs import WriteJob
from .lifecycle import get_writer
from .pending import FINAL_STATES, PendingWrite, claimed, pending_writes
from .prompt import (
    MAX_NOTES,
    NOTE_KEEP_RATIO,
    SYSTEM_PROMPT,
    Message,
    PromptPlan,
    Recalled,
    build_prompt,
    is_question,
    shorten_middle,
)
from .reply import Reply, close_stream
from .writer import MemoryWriter

if TYPE_CHECKING:
    from ..config import Settings
    from ..models.llm import LLM
    from ..retrieval.timespan import TimeSpan
    from ..store import Store

__all__ = ["ChatSession", "Reply", "close_stream", "job_outcome", "turn_context"]
CONTEXT_CHARS = 400  # each previous message in a turn context is cut (in the middle) to this


def turn_context(conv: Conversation, message_id: str) -> str:
    """The person's previous message before ``message_id``, with the date: what makes "Yes, and she
    loved it!" findable. Never the assistant's reply: the model's words would steer what the note is
    recalled by (issue 24: an earlier reply's "your bike is probably ..." made a vegetarian note the
    answer to a question about a bike). Kept apart from the note's content."""
    idx = next((i for i, m in enumerate(conv.messages) if m.get("id") == message_id), None)
    if idx is None:
        return ""
    before = next((m for m in reversed(conv.messages[:idx]) if m.get("role") == "user"
                   and m.get("content", "").strip()), None)
    when = str(conv.messages[idx].get("at", ""))[:10]
    if before is None:
        return f"({when}, the first message of a conversation)" if when else ""
    text = " ".join(shorten_middle(before["content"], CONTEXT_CHARS).split())
    return (f"({when})\n" if when else "") + PERSON_LINE + text


def history_of(conv: Conversation) -> list[Message]:
    return [{"role": m["role"], "content": m["content"]} for m in conv.messages
            if m.get("content", "").strip() and not m.get("error") and not m.get("interrupted")]


class ChatSession:
    """Chat turns over one store, one model and one conversation folder."""

    def __init__(self, store: Store, settings: Settings, llm: LLM | None, conversations: ConversationStore | None = None,
                 writer: MemoryWriter | None = None, system_prompt: str = SYSTEM_PROMPT,
                 max_notes: int = MAX_NOTES, keep_ratio: float = NOTE_KEEP_RATIO) -> None:
        self.store = store
        self.settings = settings
        self.llm = llm
        self.conversations = conversations or ConversationStore(settings.home)
        self.writer = writer or get_writer()
        self.system_prompt = system_prompt
        self.max_notes = max_notes  # notes given to the model at most (``memex bench answers`` compares them)
        self.keep_ratio = keep_ratio  # ... and how close to the first a further note must score
        self.relevance_floor: float | None = None  # None: retrieval.floor's, for the store's embedder
        # The conversation's clock: when the message being answered is written ("yesterday" is read
        # against it). Local time, so a day is the person's day; a replay or a test sets its own.
        self.clock: Callable[[], datetime] = lambda: datetime.now().astimezone()

    def model(self) -> LLM:
        """The chat model. A session made only to resume queued memory writes (``llm`` None) has none."""
        if self.llm is None:
            raise ModelError("This chat session was opened without a model: it can only resume memory writes.")
        return self.llm

    @property
    def gate(self) -> ReplyGate:
        return self.writer.gate

    def time_span(self, text: str, at: datetime | None = None) -> TimeSpan | None:
        """The time ``text`` speaks of, read against ``at`` (default: the conversation's clock); a date
        without a year is the latest one that holds notes (their times are read only then)."""
        from ..retrieval.timespan import memory_times, read_span

        store = self.store
        return read_span(text, at or self.clock(),
                         lambda: memory_times(n.timestamp for n in store.notes_view().values()))

    def recall(self, text: str, k: int, span: TimeSpan | None = None) -> list[Recalled]:
        """The notes for ``text`` among the top k that pass the relevance floor (``retrieval.floor``),
        each with the passage to quote; nothing for an acknowledgement or a greeting. ``span``: the
        time the message names (``time_span``); its notes come first. Their recall counts are
        updated later (``touch_later``): that update is a store write (~50-150 ms at 10k notes) and
        the reply should not wait for it."""
        from ..retrieval import search
        from ..retrieval.floor import above_floor

        if k <= 0 or not text.strip() or not len(self.store) or is_acknowledgement(text):
            return []
        hits = search(self.store, self.settings, text, k, touch=False, span=span)
        return [Recalled.from_hit(p.hit, passage=p.passage, strength=p.strength)
                for p in above_floor(text, hits, self.store.embedder, floor=self.relevance_floor)]

    def recall_exchanges(self, text: str, k: int = MAX_EXCHANGES + 1, conversation_id: str = "",
                         span: TimeSpan | None = None) -> list[RecalledExchange]:
        """The earlier exchanges (episodes) for ``text``: ``episodic.recall_exchanges``."""
        return recall_exchanges(self.settings.home, self.store, text, k, conversation_id=conversation_id,
                                span=span, floor=self.relevance_floor)

    def warm_episodes(self) -> threading.Thread:
        """Bring the episode index up to date in the background: ``episodic.warm``."""
        return warm(self.settings.home, self.store.embedder)

    def touch_later(self, note_ids: list[str]) -> threading.Thread | None:
        """Record that notes were recalled (last_accessed, retrieval_count), in a background thread."""
        if not note_ids:
            return None

        def touch() -> None:
            with contextlib.suppress(Exception):  # a note deleted meanwhile, a busy store: not worth an error
                self.store.touch(list(note_ids))

        thread = threading.Thread(target=touch, name="memex-recall-touch", daemon=True)
        thread.start()
        return thread

    def prepare(self, text: str, history: list[Message], *, k: int, max_tokens: int, at: datetime | None = None,
                conversation_id: str = "") -> tuple[list[Recalled], PromptPlan, float, str]:
        """Recall + prompt assembly (what the benchmark times as overhead). ``at``: when the message was
        written, when not now (a continued reply answers an earlier message). The recalled exchanges
        (episodes, apart from ``conversation_id``, the one being had) are left on ``plan.exchanges``."""
        started = time.perf_counter()
        recall_error = ""
        span = None
        exchanges: list[RecalledExchange] = []
        try:
            # Only a question's date says what to recall ("What did I do on May 2nd?"); a statement's
            # date is what it tells ("My passport expires in June" is no reason to recall last June).
            span = self.time_span(text, at) if is_question(text) and not is_acknowledgement(text) else None
            recalled = self.recall(text, k, span)
            exchanges = self.recall_exchanges(text, conversation_id=conversation_id, span=span) if k > 0 else []
        except MemexError as exc:  # the reply still comes, without memories
            recalled, recall_error = [], str(exc)
        recall_seconds = time.perf_counter() - started
        system = self.system_prompt
        if is_acknowledgement(text):  # "thanks!": one short line, not a 384-token ramble
            max_tokens = min(max_tokens, ACK_MAX_TOKENS)
            system = ACK_SYSTEM if system == SYSTEM_PROMPT else system
        plan = build_prompt(self.model(), text, recalled, history, max_tokens=max_tokens, system=system,
                            max_notes=self.max_notes, keep_ratio=self.keep_ratio, exchanges=exchanges,
                            span=span)
        plan.time_span = span
        return recalled, plan, recall_seconds, recall_error

    def reply(self, conversation_id: str | None, text: str, *, k: int | None = None,
              temperature: float | None = None, max_tokens: int | None = None,
              remember: bool | None = None) -> Reply:
        """Save the person's message and return the reply to stream. Raises InputError for a blank message."""
        if not isinstance(text, str) or not text.strip():
            raise InputError("Type a message first.")
        started = time.perf_counter()
        s = self.settings
        conv: Conversation | None = None
        if conversation_id:
            with contextlib.suppress(NotFoundError):
                conv = self.conversations.load(conversation_id)
        if conv is None:
            conv = self.conversations.new(remember=s.remember_chat if remember is None else remember,
                                          conversation_id=conversation_id)
        if remember is not None:
            conv.remember = bool(remember)
        recalled, plan, recall_seconds, recall_error = self.prepare(
            text, history_of(conv), k=s.recall_k if k is None else int(k),
            max_tokens=s.max_tokens if max_tokens is None else int(max_tokens), conversation_id=conv.id)
        user_message = new_message("user", text)
        remember_flag = conv.remember
        if remember_flag:
            # Queued from the moment it is saved: a process killed before the reply ends leaves the write
            # on disk for the next one. This process starts it after the reply (``_saved``).
            user_message["memory"] = {"state": "queued", "job": self.writer.new_id(), "force": False,
                                      "after_reply": True}
            self.writer.holds.hold(user_message["id"])

        def add_user(c: Conversation) -> None:
            c.remember = remember_flag
            c.messages.append(user_message)

        conv = self.conversations.update(conv.id, add_user, create=conv)
        return Reply(**self._reply_needs(), conversation=conv, user_message=user_message, recalled=recalled,
                     plan=plan, temperature=s.temperature if temperature is None else float(temperature),
                     remember=conv.remember, recall_seconds=recall_seconds, recall_error=recall_error,
                     started=started)

    def continue_reply(self, conversation_id: str, message_id: str, *, max_tokens: int | None = None,
                       temperature: float | None = None) -> Reply:
        """More of a reply that stopped at the token limit; the new text is appended to that message."""
        started = time.perf_counter()
        conv = self.conversations.load(conversation_id)
        idx = next((i for i, m in enumerate(conv.messages) if m.get("id") == message_id), None)
        if idx is None or conv.messages[idx]["role"] != "assistant":
            raise InputError("There is no such reply to continue.")
        reply_msg = conv.messages[idx]
        user_msg = next((m for m in reversed(conv.messages[:idx]) if m["role"] == "user"), None)
        if user_msg is None:
            raise InputError("That reply answers no message, so it cannot be continued.")
        s = self.settings
        history = history_of(Conversation(id=conv.id, messages=conv.messages[:idx]))
        history = history[:-1] if history and history[-1]["content"] == user_msg["content"] else history
        recalled, plan, recall_seconds, recall_error = self.prepare(
            user_msg["content"], history, k=s.recall_k,
            max_tokens=s.max_tokens if max_tokens is None else int(max_tokens), at=try_parse_time(user_msg.get("at")),
            conversation_id=conv.id)
        plan.messages = [*plan.messages, {"role": "assistant", "content": reply_msg["content"]},
                         {"role": "user", "content": "Go on from exactly where you stopped."}]
        return Reply(**self._reply_needs(), conversation=conv, user_message=user_msg, recalled=recalled, plan=plan,
                     temperature=s.temperature if temperature is None else temperature, remember=False,
                     recall_seconds=recall_seconds, recall_error=recall_error, started=started,
                     continues=message_id)

    def _reply_needs(self) -> dict[str, Any]:
        """What a ``Reply`` uses from this session: the model, the gate, the conversations, ``_saved``, and
        the embedder (the answer check compares meanings with it)."""
        return {"llm": self.model(), "gate": self.gate, "conversations": self.conversations, "on_saved": self._saved,
                "embedder": self.store.embedder}

    def _saved(self, reply: Reply) -> None:
        """After a reply's message is saved: count the recall (in the background) and queue the person's words."""
        reply.touch_thread = self.touch_later([r.id for r in reply.recalled])
        memory = reply.user_message.get("memory") or {}
        if reply.continues or (memory and not memory.get("after_reply")):
            return  # a continuation (or a message already handled): its words were queued the first time
        # The person's words are remembered whatever became of the reply: they are theirs, not the model's.
        conversation_id, message_id = reply.conversation.id, reply.user_message["id"]
        self.writer.holds.release(message_id)
        if memory.get("after_reply"):  # queued on disk when saved: submit that job (resuming may have)
            if self.writer.active_job_for(message_id) is None:
                reply.job_id = self.remember_message(conversation_id, message_id, job_id=memory.get("job"))
        elif reply.remember:
            reply.job_id = self.remember_message(conversation_id, message_id)
        else:
            self.conversations.update_message(conversation_id, message_id, memory={
                "state": "off", "status": "not_stored", "reason": "remembering is off for this conversation"})

    # -- memory writes of the person's messages --------------------------------------------------------
    def remember_message(self, conversation_id: str, message_id: str, *, force: bool = False,
                         mode: str = "full", job_id: str | None = None) -> str:
        """Queue the memory write of one person's message (``force``: "Remember this", stored anyway).

        The message's ``memory`` field gets ``{"state": "queued", "job": id}`` before the job is
        submitted (so a fast job's final state can never be overwritten), then the outcome. ``job_id``:
        the message already says "queued" with this id (saved so before its reply), so it is kept.
        """
        conv = self.conversations.load(conversation_id)
        msg = conv.message(message_id)
        if msg is None or msg.get("role") != "user":
            raise InputError("Only the person's own messages are remembered; a reply is never stored as a note.")
        return self.remember(msg["content"], conversation_id=conversation_id, message_id=message_id,
                             turn_context=turn_context(conv, message_id), timestamp=msg.get("at") or None,
                             force=force, mode=mode, job_id=job_id, record=job_id is None)

    def remember(self, content: str, *, conversation_id: str = "", message_id: str = "", turn_context: str = "",
                 timestamp: str | None = None, force: bool = False, mode: str = "full", source: str = "chat",
                 job_id: str | None = None, record: bool = True) -> str:
        """Queue a memory write of the person's ``content``; its outcome goes onto the message's ``memory``.

        ``mode="full"``: stored without the model now, and a new note then queued for the model's
        enrichment (``enrich``), behind every new store. ``record``: mark the message "queued" first (False
        when resuming: it says so already)."""
        from ..memory.pipeline import MemoryPipeline

        pipeline = MemoryPipeline(self.store, self.settings, self.llm)
        conversations = self.conversations
        job_id = job_id or self.writer.new_id()
        later = mode == "full"
        if record and conversation_id and message_id:
            conversations.update_message(conversation_id, message_id,
                                         memory={"state": "queued", "job": job_id, "force": force})

        def on_done(job: WriteJob) -> None:
            memory = job_outcome(job)
            if later and needs_enrichment(memory) and not memory.get("enrichment"):
                memory["enrichment"] = {"state": "queued"}  # recorded with the note: never lost with the process
            if conversation_id and message_id:
                conversations.update_message(conversation_id, message_id, memory=memory)
            pending = (memory.get("enrichment") or {}).get("state") in ("queued", "retrying")
            if later and needs_enrichment(memory) and (pending or not conversation_id):
                self.enrich(memory["note_id"], content, conversation_id=conversation_id, message_id=message_id)
            self._checkpoint_if_idle(job)

        guard = self._guard(conversation_id, message_id) if conversation_id and message_id else None
        return self.writer.submit(pipeline, content, source=source, source_ref=conversation_id,
                                  mode="fast" if later else mode, message_id=message_id, turn_context=turn_context,
                                  timestamp=timestamp, force=force, on_done=on_done, job_id=job_id, guard=guard,
                                  enrich=later)

    def enrich(self, note_id: str, content: str, *, conversation_id: str = "", message_id: str = "") -> str:
        """Queue the model's enrichment of a stored note (behind every store); its state goes onto the
        message's ``memory["enrichment"]``. Returns the job id ("" when the writer is ending: the message
        keeps "queued" on disk and the next Memex process that writes enriches it)."""
        from ..memory.pipeline import MemoryPipeline

        if conversation_id and message_id and self.writer.active_job_for(message_id, kind="enrich") is not None:
            return ""
        conversations = self.conversations

        def on_done(job: WriteJob) -> None:
            if conversation_id and message_id:
                record_enrichment(conversations, conversation_id, message_id, job)
            self._checkpoint_if_idle(job)

        guard = enrichment_guard(conversations, self.store, conversation_id, message_id, note_id) \
            if conversation_id and message_id else None
        try:
            return self.writer.submit(MemoryPipeline(self.store, self.settings, self.llm), content, source="chat",
                                      source_ref=conversation_id, mode="full", message_id=message_id,
                                      on_done=on_done, guard=guard, kind="enrich", note_id=note_id)
        except MemexError:  # the writer has stopped: the enrichment stays queued on the message
            return ""

    def _checkpoint_if_idle(self, job: WriteJob) -> None:
        if job.state == "done" and self.writer.pending() <= 1:  # the last write of the queue: idle now
            with contextlib.suppress(Exception):  # a cache: failing to write it costs only speed
                self.store.checkpoint()

    def _guard(self, conversation_id: str, message_id: str) -> Any:
        """The job's guard: this process alone writes the conversation's memories meanwhile (its claim),
        and a write some process already finished, or whose effect is already in the store, is adopted."""
        conversations, store = self.conversations, self.store

        @contextlib.contextmanager
        def guard(job: WriteJob) -> Iterator[dict[str, Any] | None]:
            with claimed(conversations, conversation_id):
                try:
                    msg = conversations.load(conversation_id).message(message_id)
                except NotFoundError:
                    msg = None
                info = (msg or {}).get("memory") or {}
                if msg is None:
                    yield {"state": "cancelled"}  # the conversation or the message was deleted meanwhile
                elif info.get("state") in FINAL_STATES and info.get("job") != job.id \
                        and info.get("state") != "failed":
                    yield {**info, "outcome": {k: v for k, v in info.items() if k not in ("state", "job")}}
                else:
                    effect = turn_effect(store, conversation_id, message_id)
                    yield None if effect is None else {"state": "done", "outcome": effect}
        return guard

    def resume_pending(self, conversation_id: str | None = None) -> list[str]:
        """Queue every write left unfinished on disk (by this process or another, running or ended) that
        this process is not already doing; ``conversation_id`` limits it to one. Returns the new job ids.

        Nothing is written to the conversations here: the messages already say "queued", and only the
        process that claims a write records its outcome."""
        jobs = []
        for item in pending_writes(self.conversations, conversation_id):
            if self.writer.active_job_for(item.message_id) is None and not self.writer.holds.held(item.message_id):
                with contextlib.suppress(MemexError):
                    jobs.append(self._resume(item))
        for later in pending_enrichments(self.conversations, conversation_id):
            if self.writer.active_job_for(later.message_id, kind=None) is None and later.note_id:
                job_id = self.enrich(later.note_id, later.content, conversation_id=later.conversation_id,
                                     message_id=later.message_id)
                if job_id:
                    jobs.append(job_id)
        return jobs

    def _resume(self, item: PendingWrite) -> str:
        conv = self.conversations.load(item.conversation_id)
        return self.remember(item.content, conversation_id=item.conversation_id, message_id=item.message_id,
                             turn_context=turn_context(conv, item.message_id), timestamp=item.at or None,
                             force=item.force, job_id=self.writer.new_id(), record=False)


def job_outcome(job: WriteJob) -> dict[str, Any]:
    """What a job leaves on its message: its state, and once done ``RememberOutcome.to_dict()``'s fields."""
    out: dict[str, Any] = {"state": job.state, "job": job.id, "force": job.force}
    if job.state == "done":
        out.update(job.outcome)
        out["seconds"] = round(job.seconds, 2)
        if job.interruptions:
            out["interruptions"] = job.interruptions
    elif job.state in ("failed", "retrying"):
        out.update(error=job.error, attempts=job.attempts)
    return out
