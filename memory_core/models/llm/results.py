"""What a model call gives back: text pieces as they come (``TokenStream``), a whole answer
(``ChatResult``), a checked JSON answer (``StructuredResult``), what it cost (``Usage``), what was cut
to fit the context (``TrimReport``), and ``Interrupted`` for a generation that gave way.

Why apart from the backends: the chat, the memory writer and the tests read these records without
caring which backend made them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

Message = dict[str, str]
AbortCheck = Callable[[], bool]


class Interrupted(Exception):  # noqa: N818 - it is an event, not a failure
    """A generation stopped at a token because its ``abort`` check said so (e.g. a reply needs the model).

    Not a ``ModelError``: the call did not fail, it gave way, and the caller (the memory writer)
    runs it again later. ``structured`` never turns it into a fallback answer.
    """


@dataclass
class Usage:
    """What one or more model calls cost; the pipeline sums these per memory write."""

    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0

    def add(self, other: Usage) -> Usage:
        self.calls += other.calls
        self.prompt_tokens += other.prompt_tokens
        self.completion_tokens += other.completion_tokens
        self.seconds += other.seconds
        return self


@dataclass
class TrimReport:
    """How a prompt was cut to fit the context window (empty when nothing was cut)."""

    dropped_messages: int = 0
    truncated_chars: int = 0
    prompt_tokens: int = 0

    @property
    def trimmed(self) -> bool:
        return bool(self.dropped_messages or self.truncated_chars)


@dataclass
class ChatResult:
    text: str
    usage: Usage
    trim: TrimReport


@dataclass
class StructuredResult:
    """A structured answer. ``source`` is "model", "model-retry" or "fallback"."""

    value: dict[str, Any]
    source: str
    usage: Usage
    problems: list[str] = field(default_factory=list)
    raw: list[str] = field(default_factory=list)
    trim: TrimReport = field(default_factory=TrimReport)

    @property
    def valid(self) -> bool:
        return self.source != "fallback"


class TokenStream:
    """Iterate to get text pieces as they are generated; ``usage`` and ``text`` are complete afterwards.

    ``finish_reason`` is "stop" (the model ended), "length" (it hit ``max_tokens``: the chat offers
    "continue") or "" while streaming. ``abort`` is checked before every piece: when it returns True
    the generation is closed (the model is free at once) and ``Interrupted`` is raised.
    """

    def __init__(self, pieces: Iterator[str], usage: Usage, trim: TrimReport, started: float,
                 info: dict[str, Any] | None = None, max_tokens: int = 0, abort: AbortCheck | None = None) -> None:
        self._pieces = pieces
        self.usage = usage
        self.trim = trim
        self.text = ""
        self.first_token_seconds: float | None = None
        self.finish_reason = ""
        self._info = info if info is not None else {}
        self._max_tokens = max_tokens
        self._abort = abort
        self._started = started

    def close(self) -> None:
        """Stop generating now and free the model for other callers.

        Call it from the thread that iterated the stream: a local model's lock is held inside the
        generator, and a lock can only be released by the thread that took it.
        """
        close = getattr(self._pieces, "close", None)
        if callable(close):
            close()

    def __iter__(self) -> Iterator[str]:
        abort = self._abort
        if abort is not None and abort():
            self.close()
            raise Interrupted("stopped before the first token")
        for piece in self._pieces:
            if abort is not None and abort():
                self.close()
                self.usage.seconds = time.perf_counter() - self._started
                raise Interrupted(f"stopped after {self.usage.completion_tokens} tokens")
            if self.first_token_seconds is None:
                self.first_token_seconds = time.perf_counter() - self._started
            self.text += piece
            self.usage.completion_tokens += 1
            yield piece
        self.usage.seconds = time.perf_counter() - self._started
        reason = self._info.get("finish_reason") or ""
        if not reason:  # backends that do not say: a reply that used every token was cut
            reason = "length" if self._max_tokens and self.usage.completion_tokens >= self._max_tokens else "stop"
        self.finish_reason = reason
