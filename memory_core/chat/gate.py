"""Taking turns with the model: the reply goes first, background model calls wait for it.

Why: one llama context runs one generation at a time. A person waiting for a reply must not wait
for memory work, so the memory writer's model calls go through ``GatedLLM``, which lets any
streaming reply finish first.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from ..models.llm import Interrupted

if TYPE_CHECKING:
    from ..models.llm import LLM


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

    def wait_clear(self, timeout: float | None = None, stop: Callable[[], bool] | None = None) -> bool:
        """Block while a reply streams, or until ``stop()`` (checked when woken). True if clear."""
        limit = self.max_wait if timeout is None else timeout
        stopped = stop or (lambda: False)
        with self._cond:
            return self._cond.wait_for(lambda: self._active == 0 or stopped(), timeout=limit) \
                and self._active == 0

    def wake(self) -> None:
        """Wake every waiter to look at its ``stop`` again (the process is ending)."""
        with self._cond:
            self._cond.notify_all()


HOLD_SECONDS = 900.0  # longer than any reply on a slow machine; see HeldForReply


class HeldForReply:
    """The person's messages saved as "queued" before their reply is written.

    Saved so, a process killed mid-reply leaves the write on disk for the next process; the process
    replying writes it once the reply is saved, so resuming in that process must not start it earlier
    (it would compete with the reply for the model). Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._since: dict[str, float] = {}  # message id -> monotonic time its reply started

    def hold(self, message_id: str) -> None:
        with self._lock:
            self._since[message_id] = time.monotonic()

    def release(self, message_id: str) -> None:
        with self._lock:
            self._since.pop(message_id, None)

    def held(self, message_id: str) -> bool:
        """Held for its reply, for at most HOLD_SECONDS (a reply that was never streamed, e.g. a page
        left mid-turn, must not keep the write back for the life of the process)."""
        with self._lock:
            since = self._since.get(message_id)
        return since is not None and time.monotonic() - since < HOLD_SECONDS


class WriteCancelled(Exception):  # noqa: N818 - the person's choice, not a failure
    """The person cancelled a memory write (from the chat's queue); nothing of it is stored."""


class GaveWay(Exception):  # noqa: N818 - a turn given up, not a failure
    """A background model call stopped to let a write that needs no model (a new note) go first."""


class GatedLLM:
    """The writer's view of the model: the reply always goes first.

    Before each call it waits until no reply streams; during the call, ``abort`` is checked at every
    token, so a reply that starts meanwhile interrupts the call at its next token (``Interrupted``)
    and the call runs again, from the start, once the reply is done. ``cancelled`` (the person
    cancelled this write) ends the call the same way and raises ``WriteCancelled``; ``give_way`` (a new
    note waits to be stored behind this enrichment) ends it and raises ``GaveWay``, so the writer can
    store the note first and run this call again later.
    """

    def __init__(self, llm: LLM, gate: ReplyGate, on_wait: Callable[[bool], None] | None = None,
                 cancelled: Callable[[], bool] | None = None, max_retries: int = 50,
                 give_way: Callable[[], bool] | None = None) -> None:
        self._llm = llm
        self._gate = gate
        self._on_wait = on_wait
        self._cancelled = cancelled or (lambda: False)
        self._give_way = give_way or (lambda: False)
        self._max_retries = max_retries
        self.interruptions = 0

    def _wait(self) -> bool:
        """Wait for streaming replies to end; False if the wait timed out (a reply that never ended)."""
        if self._gate.active and self._on_wait:
            self._on_wait(True)
        clear = self._gate.wait_clear(stop=self._cancelled)
        if self._on_wait:
            self._on_wait(False)
        return clear

    def _abort_check(self, gate_clear: bool) -> Callable[[], bool]:
        gate, cancelled, give_way = self._gate, self._cancelled, self._give_way
        return lambda: cancelled() or give_way() or (gate_clear and gate.active > 0)

    def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        for _attempt in range(self._max_retries + 1):
            if self._cancelled():
                raise WriteCancelled("cancelled")
            clear = self._wait()
            if self._cancelled():
                raise WriteCancelled("cancelled")
            if self._give_way():
                raise GaveWay("a new note is stored first")
            # A gate that never cleared (a stuck reply) must not interrupt us forever: then only
            # cancelling stops the call.
            try:
                return getattr(self._llm, method)(*args, abort=self._abort_check(clear), **kwargs)
            except Interrupted:
                if self._cancelled():
                    raise WriteCancelled("cancelled") from None
                if self._give_way():
                    raise GaveWay("a new note is stored first") from None
                self.interruptions += 1
        raise Interrupted(f"gave way to replies {self.interruptions} times; will be retried")

    def structured(self, *args: Any, **kwargs: Any) -> Any:
        return self._call("structured", *args, **kwargs)

    def chat(self, *args: Any, **kwargs: Any) -> Any:
        return self._call("chat", *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._llm, name)
