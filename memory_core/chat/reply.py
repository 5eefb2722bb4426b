"""One reply being generated: streamed to the page, then saved, then the person's words queued for memory.

Why apart from the session: a reply is a long-lived object with a lifecycle (created, streamed,
possibly stopped early, saved exactly once) that the page, ``memex chat`` and the benchmarks drive
the same way; the session only assembles it. The reply is given what it uses (the model, the gate
it streams under, the conversation folder, and a callback for when its message is saved) rather
than the session itself, so that this module does not import the one that builds it.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Generator, Iterator
from typing import TYPE_CHECKING, Any

from ..episodes.conversations import Conversation, ConversationStore, new_message
from ..episodes.recall import asks_about_assistant
from ..errors import InputError, MemexError
from .episodic import exchange_fallback_text
from .fallback import fallback_text, uses_note
from .gate import ReplyGate
from .prompt import PromptPlan, Recalled

if TYPE_CHECKING:
    from ..models.embeddings import Embedder
    from ..models.llm import LLM

# llama.cpp's repeat penalty counts the prompt's tokens too: it would push a memory answer away from
# the very words it should copy ("Volvo"), so it is off for those.
MEMORY_REPEAT_PENALTY = 1.0


def close_stream(stream: Any) -> None:
    """Finish a TokenStream now, in this thread: an abandoned local stream holds the model's lock
    until its generator is closed, and an RLock can only be released by the thread that took it."""
    close = getattr(stream, "close", None)
    if callable(close):
        with contextlib.suppress(Exception):
            close()


class Reply:
    """One reply being generated. Iterate it for text pieces (``st.write_stream(reply)``).

    When the iteration ends the assistant message is saved to the conversation (with ``recalled``:
    the trace of each recalled note plus the query) and, if the conversation is remembered, the
    person's message (never the reply) is queued for a memory write. A reply that stopped at the
    token limit is marked ``stopped_at_limit`` (the page offers "continue"). A memory answer that used
    no word of its note is saved as the fallback (``fallback``: the note's own sentence, the model's
    words kept as ``model_reply``). ``continues``: the id
    of an earlier reply this one extends (its text is appended to that message instead).

    ``on_saved(reply)`` runs once the assistant message is saved: the session records the recall
    and queues the person's words there (setting ``touch_thread`` and ``job_id``).
    """

    def __init__(self, *, llm: LLM, gate: ReplyGate, conversations: ConversationStore,
                 on_saved: Callable[[Reply], None], conversation: Conversation, user_message: dict[str, Any],
                 recalled: list[Recalled], plan: PromptPlan, temperature: float, remember: bool,
                 recall_seconds: float, recall_error: str, started: float, continues: str = "",
                 embedder: Embedder | None = None) -> None:
        self.llm = llm
        self.embedder = embedder  # the store's: tells a reworded answer from one that ignored its note
        self.gate = gate
        self.conversations = conversations
        self.on_saved = on_saved
        self.conversation = conversation
        self.user_message = user_message
        self.recalled = recalled
        self.plan = plan
        self.temperature = temperature
        self.remember = remember
        self.recall_seconds = recall_seconds
        self.recall_error = recall_error
        self.started = started
        self.continues = continues
        self.text = ""
        self.model_text = ""  # the model's own words when the reply fell back to the note (else "")
        self.fallback = False
        self.error = ""
        self.finish_reason = ""
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

    @property
    def stopped_at_limit(self) -> bool:
        return self.finish_reason == "length"

    def __iter__(self) -> Iterator[str]:
        return self.pieces()

    def pieces(self) -> Generator[str, None, None]:
        """The reply's text pieces as the model writes them (a generator: close it if you stop early,
        in the thread that iterated it, so the model's lock is released there)."""
        if self._started:
            raise InputError("This reply has already been streamed.")
        self._started = True
        return self._generate()

    def consume(self) -> str:
        """Stream the whole reply without showing it (``memex chat``, benchmarks); returns its text."""
        pieces = self.pieces()
        try:
            for _ in pieces:
                pass
        finally:
            pieces.close()
        return self.text

    def _generate(self) -> Generator[str, None, None]:
        llm = self.llm
        stream = None
        completed = False
        try:
            with self.gate.replying():
                try:
                    # A question answered from memory is decoded greedily: the likeliest words are the told ones.
                    temperature = 0.0 if self.plan.memory_answer else self.temperature
                    penalty = MEMORY_REPEAT_PENALTY if self.plan.memory_answer else None  # None: the model's own
                    stream = llm.stream(self.plan.messages, max_tokens=self.plan.reply_tokens,
                                        temperature=temperature, repeat_penalty=penalty)
                    for piece in stream:
                        if self.first_token_seconds is None:
                            self.first_token_seconds = time.perf_counter() - self.started
                        self.text += piece
                        yield piece
                    completed = True
                    self.finish_reason = getattr(stream, "finish_reason", "") or ""
                    extra = self._check_answer()
                    if extra:
                        yield extra
                except MemexError as exc:
                    self.error = str(exc)
                except Exception as exc:  # noqa: BLE001 - shown to the person, the turn is kept
                    self.error = f"The model failed while answering: {type(exc).__name__}: {exc}"
                finally:
                    close_stream(stream)
        finally:
            self._finish(stream, interrupted=not completed and not self.error)

    def _check_answer(self) -> str:
        """After a memory answer: if the reply used no content word of the notes it was given, the
        reply becomes the plain fallback (the note's own sentence); returns the text to stream after
        the model's words ("" when the answer used its note). See ``fallback``."""
        if self.continues or not self.plan.memory_answer:
            return ""
        question = self.user_message["content"]
        if self.plan.form == "episode":
            return self._check_exchange_answer(question)
        given = [r for r in self.recalled if r.in_prompt]
        if not given or uses_note(self.text, [r.words for r in given], question, self.embedder):
            return ""
        self.model_text, self.fallback = self.text, True
        self.text = fallback_text(given[0].words, given[0].timestamp[:10])
        return "\n\n" + self.text

    def _check_exchange_answer(self, question: str) -> str:
        """The same check for an answer from recalled exchanges: the words of the turns it was given."""
        given = [ex for ex in self.plan.exchanges if ex.in_prompt]
        # Asked what Memex said, only Memex's turns hold the answer (the person's question beside it would
        # let "a classic board game" pass for an answer to "what board game did you suggest?").
        role = "assistant" if asks_about_assistant(question) else ""
        texts = [t["text"] for ex in given for t in ex.turns if not role or t["role"] == role]
        if not given or uses_note(self.text, texts, question, self.embedder):
            return ""
        self.model_text, self.fallback = self.text, True
        self.text = exchange_fallback_text(given[0])
        return "\n\n" + self.text

    def _usage(self, stream: Any) -> dict[str, Any]:
        usage = getattr(stream, "usage", None)
        out = {
            "completion_tokens": getattr(usage, "completion_tokens", 0),
            "prompt_tokens": getattr(usage, "prompt_tokens", self.plan.prompt_tokens),
            "generation_seconds": round(getattr(usage, "seconds", 0.0) or 0.0, 3),
            "first_token_seconds": round(self.first_token_seconds or 0.0, 3),
            "total_seconds": round(time.perf_counter() - self.started, 3),
            "recall_seconds": round(self.recall_seconds, 4),
            "prompt_seconds": round(self.plan.seconds, 4),
        }
        gen = out["generation_seconds"]
        out["tokens_per_s"] = round(out["completion_tokens"] / gen, 1) if gen else 0.0
        return out

    def _finish(self, stream: Any, interrupted: bool) -> None:
        if self._finished:
            return
        self._finished = True
        self.usage = self._usage(stream)
        query = self.user_message["content"]
        extra: dict[str, Any] = {
            "recalled": [r.brief(query) for r in self.recalled], "query": query, "prompt": self.plan.summary(),
            "usage": self.usage, "model": getattr(self.llm, "name", ""),
            "temperature": 0.0 if self.plan.memory_answer else self.temperature,
            "reply_to": self.user_message["id"],
        }
        if self.plan.exchanges:  # the earlier exchanges recalled, apart from notes (episodic.RecalledExchange)
            extra["episodes"] = [ex.brief() for ex in self.plan.exchanges]
        if self.recall_error:
            extra["recall_error"] = self.recall_error
        if self.plan.time_span is not None:  # the span read from the message: the trace shows it
            extra["time_span"] = self.plan.time_span.to_dict()
        if self.error:
            extra["error"] = self.error
        if interrupted:
            extra["interrupted"] = True
        if self.stopped_at_limit and not self.fallback:
            extra["stopped_at_limit"] = True
        if self.fallback:
            extra.update(fallback=True, model_reply=self.model_text)
        conversations = self.conversations
        try:
            if self.continues:
                message = self._save_continuation(extra)
            else:
                message = new_message("assistant", self.text, **extra)
                conversations.append(self.conversation.id, message, create=self.conversation)
        except MemexError as exc:
            self.error = self.error or f"The reply could not be saved: {exc}"
            return
        self.message = message
        self.on_saved(self)

    def _save_continuation(self, extra: dict[str, Any]) -> dict[str, Any]:
        """Append this reply's text to the reply it continues; the limit flag follows the new part."""
        saved: dict[str, Any] = {}

        def change(conv: Conversation) -> None:
            msg = conv.message(self.continues)
            if msg is None:
                raise InputError("The reply to continue is gone.")
            msg["content"] = msg.get("content", "") + self.text
            msg.pop("stopped_at_limit", None)
            if extra.get("stopped_at_limit"):
                msg["stopped_at_limit"] = True
            if extra.get("error"):
                msg["error"] = extra["error"]
            old = msg.get("usage") or {}
            msg["usage"] = {**old, "completion_tokens": int(old.get("completion_tokens", 0))
                            + int(self.usage.get("completion_tokens", 0))}
            saved.update(msg)

        self.conversations.update(self.conversation.id, change)
        return saved
