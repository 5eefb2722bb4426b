"""One chat turn with memory: recall, the prompt, a streamed reply, and a queued memory write.

Why apart from the page: the Chat page, ``memex chat``, the benchmarks and the tests all need the same
turn logic, and none of it needs Streamlit. The flow of a turn (``ChatSession.reply``):

  1. recall   - ``retrieval.search`` for the person's message; the recall counts are written after
                the reply, off the first-token path;
  2. prompt   - ``prompt.build_prompt`` (notes with dates + short history + the message);
  3. generate - ``llm.stream`` yields text pieces for the page to show as they come;
  4. remember - the turn is queued on the ``MemoryWriter`` while the person reads.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from typing import Any

from ..errors import InputError, MemexError, NotFoundError
from ..notes import MAX_CONTENT_CHARS
from .conversations import Conversation, ConversationStore, new_message
from .gate import ReplyGate
from .prompt import SYSTEM_PROMPT, Message, PromptPlan, Recalled, build_prompt, shorten_middle
from .writer import MemoryWriter, WriteJob, get_writer


def exchange_text(user: str, reply: str) -> str:
    """The note written for one exchange. The person's words stay intact; a reply that would push
    the note over the size limit is shortened."""
    head = f"Person: {user}\nMemex: "
    room = MAX_CONTENT_CHARS - len(head)
    if len(reply) > room:
        reply = shorten_middle(reply, max(0, room))
    return head + reply


class Reply:
    """One reply being generated. Iterate it for text pieces (``st.write_stream(reply)``).

    When the iteration ends the assistant message is saved to the conversation and, if the
    conversation is remembered, the exchange is queued for a memory write. An interrupted reply
    (the person sent another message or left) is saved as far as it got, marked interrupted, and
    not remembered.
    """

    def __init__(self, session: ChatSession, conversation: Conversation, user_message: dict[str, Any],
                 recalled: list[Recalled], plan: PromptPlan, temperature: float, remember: bool,
                 recall_seconds: float, recall_error: str, started: float) -> None:
        self.session = session
        self.conversation = conversation
        self.user_message = user_message
        self.recalled = recalled
        self.plan = plan
        self.temperature = temperature
        self.remember = remember
        self.recall_seconds = recall_seconds
        self.recall_error = recall_error
        self.started = started
        self.text = ""
        self.error = ""
        self.message: dict[str, Any] | None = None
        self.job_id = ""
        self.first_token_seconds: float | None = None
        self.usage: dict[str, Any] = {}
        self.touch_thread: threading.Thread | None = None
        self._started = False
        self._finished = False

    @property
    def conversation_id(self) -> str:
        return self.conversation.id

    def __iter__(self) -> Iterator[str]:
        return self.pieces()

    def pieces(self) -> Iterator[str]:
        """The reply's text pieces as the model writes them (a generator: close it if you stop early,
        in the thread that iterated it, so the model's lock is released there)."""
        if self._started:
            raise InputError("This reply has already been streamed.")
        self._started = True
        return self._generate()

    def _generate(self) -> Iterator[str]:
        llm = self.session.llm
        stream = None
        completed = False
        try:
            with self.session.gate.replying():
                try:
                    stream = llm.stream(self.plan.messages, max_tokens=self.plan.reply_tokens,
                                        temperature=self.temperature)
                    for piece in stream:
                        if self.first_token_seconds is None:
                            self.first_token_seconds = time.perf_counter() - self.started
                        self.text += piece
                        yield piece
                    completed = True
                except MemexError as exc:
                    self.error = str(exc)
                except Exception as exc:  # noqa: BLE001 - shown to the person, the turn is kept
                    self.error = f"The model failed while answering: {type(exc).__name__}: {exc}"
                finally:
                    close_stream(stream)
        finally:
            self._finish(stream, interrupted=not completed and not self.error)

    def _finish(self, stream: Any, interrupted: bool) -> None:
        if self._finished:
            return
        self._finished = True
        usage = getattr(stream, "usage", None)
        seconds = time.perf_counter() - self.started
        self.usage = {
            "completion_tokens": getattr(usage, "completion_tokens", 0),
            "prompt_tokens": getattr(usage, "prompt_tokens", self.plan.prompt_tokens),
            "generation_seconds": round(getattr(usage, "seconds", 0.0) or 0.0, 3),
            "first_token_seconds": round(self.first_token_seconds or 0.0, 3),
            "total_seconds": round(seconds, 3),
            "recall_seconds": round(self.recall_seconds, 4),
            "prompt_seconds": round(self.plan.seconds, 4),
        }
        gen = self.usage["generation_seconds"]
        self.usage["tokens_per_s"] = round(self.usage["completion_tokens"] / gen, 1) if gen else 0.0
        extra: dict[str, Any] = {
            "recalled": [r.brief() for r in self.recalled], "prompt": self.plan.summary(), "usage": self.usage,
            "model": getattr(self.session.llm, "name", ""), "temperature": self.temperature,
        }
        if self.recall_error:
            extra["recall_error"] = self.recall_error
        if self.error:
            extra["error"] = self.error
        if interrupted:
            extra["interrupted"] = True
        message = new_message("assistant", self.text, **extra)
        store = self.session.conversations
        will_remember = self.remember and not self.error and not interrupted and self.text.strip() != ""
        try:
            store.append(self.conversation.id, message, create=self.conversation)
        except MemexError as exc:
            self.error = self.error or f"The reply could not be saved: {exc}"
            will_remember = False
        self.message = message
        self.touch_thread = self.session.touch_later([r.id for r in self.recalled])
        if will_remember:
            self.job_id = self.session.remember(
                exchange_text(self.user_message["content"], self.text), conversation_id=self.conversation.id,
                message_id=message["id"], source="chat", label="exchange")
            message["memory"] = {"state": "queued", "job": self.job_id}


def close_stream(stream: Any) -> None:
    """Finish a TokenStream now, in this thread: an abandoned local stream holds the model's lock
    until its generator is closed, and an RLock can only be released by the thread that took it."""
    close = getattr(stream, "close", None)
    if callable(close):
        with contextlib.suppress(Exception):
            close()


class ChatSession:
    """Chat turns over one store, one model and one conversation folder."""

    def __init__(self, store: Any, settings: Any, llm: Any, conversations: ConversationStore | None = None,
                 writer: MemoryWriter | None = None, system_prompt: str = SYSTEM_PROMPT) -> None:
        self.store = store
        self.settings = settings
        self.llm = llm
        self.conversations = conversations or ConversationStore(settings.home)
        self.writer = writer or get_writer()
        self.system_prompt = system_prompt

    @property
    def gate(self) -> ReplyGate:
        return self.writer.gate

    def recall(self, text: str, k: int) -> list[Recalled]:
        """The k notes for ``text``. Their recall counts are updated later (``touch_later``): that update
        is a store write (~50-150 ms at 10k notes) and the reply should not wait for it."""
        from ..retrieval import search

        if k <= 0 or not text.strip() or not len(self.store):
            return []
        return [Recalled.from_hit(h) for h in search(self.store, self.settings, text, k, touch=False)]

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

    def prepare(self, text: str, history: list[Message], *, k: int, max_tokens: int
                ) -> tuple[list[Recalled], PromptPlan, float, str]:
        """Recall + prompt assembly (what the benchmark times as overhead)."""
        started = time.perf_counter()
        recall_error = ""
        try:
            recalled = self.recall(text, k)
        except MemexError as exc:  # the reply still comes, without memories
            recalled, recall_error = [], str(exc)
        recall_seconds = time.perf_counter() - started
        plan = build_prompt(self.llm, text, recalled, history, max_tokens=max_tokens, system=self.system_prompt)
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
            conv = self.conversations.new(remember=s.remember_chat if remember is None else remember)
        if remember is not None:
            conv.remember = bool(remember)
        history = [{"role": m["role"], "content": m["content"]} for m in conv.messages
                   if m.get("content", "").strip() and not m.get("error") and not m.get("interrupted")]
        recalled, plan, recall_seconds, recall_error = self.prepare(
            text, history, k=s.recall_k if k is None else int(k),
            max_tokens=s.max_tokens if max_tokens is None else int(max_tokens))
        user_message = new_message("user", text)
        remember_flag = conv.remember

        def add_user(c: Conversation) -> None:
            c.remember = remember_flag
            c.messages.append(user_message)

        conv = self.conversations.update(conv.id, add_user, create=conv)
        return Reply(self, conv, user_message, recalled, plan,
                     s.temperature if temperature is None else float(temperature), conv.remember,
                     recall_seconds, recall_error, started)

    def remember(self, content: str, *, conversation_id: str = "", message_id: str = "",
                 source: str = "manual", label: str = "", mode: str = "full", job_id: str | None = None) -> str:
        """Queue a memory write; its outcome is written back onto the message.

        The outcome goes to the message's ``memory`` field for a chat exchange (source "chat") and to
        ``remembered`` for "Remember this" (source "manual"). The queued state (with the job id) is
        written before the job is submitted, so a fast job's final state can never be overwritten.
        """
        from ..memory.pipeline import MemoryPipeline

        pipeline = MemoryPipeline(self.store, self.settings, self.llm)
        field_name = "memory" if source == "chat" else "remembered"
        conversations = self.conversations
        job_id = job_id or self.writer.new_id()
        if conversation_id and message_id:
            conversations.update_message(conversation_id, message_id,
                                         **{field_name: {"state": "queued", "job": job_id}})

        def on_done(job: WriteJob) -> None:
            if conversation_id and message_id:
                conversations.update_message(conversation_id, message_id, **{field_name: job_outcome(job)})

        return self.writer.submit(pipeline, content, source=source, source_ref=conversation_id, mode=mode,
                                  label=label, on_done=on_done, job_id=job_id)


def job_outcome(job: WriteJob) -> dict[str, Any]:
    """What a finished job leaves on its message."""
    out: dict[str, Any] = {"state": job.state, "job": job.id}
    if job.state == "done":
        out.update(note_id=job.note_id, links=len(job.links), evolved=len(job.evolved),
                   seconds=round(job.seconds, 2), needs_enrichment=job.needs_enrichment)
    elif job.state == "failed":
        out["error"] = job.error
    return out
