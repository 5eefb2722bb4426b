"""Taking turns with the model: the reply goes first, background model calls wait for it.

Why: one llama context runs one generation at a time. A person waiting for a reply must not wait
for memory work, so the memory writer's model calls go through ``GatedLLM``, which lets any
streaming reply finish first.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Any


class ReplyGate:
    """Counts replies that are streaming; the memory writer waits until none is.

    ``max_wait`` bounds the wait, so a reply that is never finished (a closed tab whose generator
    was not cleaned up) cannot stop the writer for good.
    """

    def __init__(self, max_wait: float = 300.0) -> None:
        self._cond = threading.Condition()
        self._active = 0
        self.max_wait = max_wait

    @property
    def active(self) -> int:
        return self._active

    @contextlib.contextmanager
    def replying(self) -> Iterator[None]:
        with self._cond:
            self._active += 1
        try:
            yield
        finally:
            with self._cond:
                self._active -= 1
                self._cond.notify_all()

    def wait_clear(self, timeout: float | None = None) -> bool:
        """Block while a reply streams. True if clear, False if the wait timed out."""
        limit = self.max_wait if timeout is None else timeout
        with self._cond:
            return self._cond.wait_for(lambda: self._active == 0, timeout=limit)


class GatedLLM:
    """The writer's view of the model: every call first lets a streaming reply finish."""

    def __init__(self, llm: Any, gate: ReplyGate, on_wait: Callable[[bool], None] | None = None) -> None:
        self._llm = llm
        self._gate = gate
        self._on_wait = on_wait

    def _wait(self) -> None:
        if self._gate.active and self._on_wait:
            self._on_wait(True)
        self._gate.wait_clear()
        if self._on_wait:
            self._on_wait(False)

    def structured(self, *args: Any, **kwargs: Any) -> Any:
        self._wait()
        return self._llm.structured(*args, **kwargs)

    def chat(self, *args: Any, **kwargs: Any) -> Any:
        self._wait()
        return self._llm.chat(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._llm, name)
