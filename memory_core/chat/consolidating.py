"""Consolidation in the background: when Memex is idle, and when the person asks, never ahead of a reply.

Why here, in the chat: what "idle" means is the chat's business (no reply streaming through the
``ReplyGate``, no memory write queued in the process's writer), and the rule for giving way is the
writer's (``gate.GatedLLM``): a model call stops at its next token when a reply starts and runs again
after it. Work without the model (reading notes, building extractive lines, committing a batch of
lines) waits at the gate between units (``pause``), so a reply never waits for more than one unit.

Idle means: the store changed since the last consolidation (new notes, edits, deletes, new messages),
and for ``IDLE_SECONDS`` no reply streamed and no write was queued. Then the runner rebuilds the
digests and the profile once (``consolidation.consolidate``). On demand (``memex consolidate``, the
Profile page's "Rebuild") it runs at once, still giving way to replies.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import os
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..consolidation import ConsolidationReport, consolidate, model_wanted
from ..errors import MemexError
from ..notes import is_derived
from .gate import GatedLLM, ReplyGate, WriteCancelled

if TYPE_CHECKING:
    from ..episodes.conversations import ConversationStore
    from ..models.llm import LLM
    from ..store import Store

IDLE_SECONDS = 120.0  # quiet time (no reply, no queued write) before an idle consolidation
POLL_SECONDS = 5.0


def store_signature(store: Store, conversations: ConversationStore | None) -> str:
    """What consolidation reads, in one hash: the person's notes and their versions, and the conversations."""
    h = hashlib.sha1()
    for note in sorted((n for n in store.notes_view().values() if not is_derived(n)), key=lambda n: n.id):
        h.update(f"{note.id}:{len(note.history)};".encode())
    if conversations is not None:
        for c in conversations.list():
            h.update(f"{c.id}:{c.updated}:{c.messages};".encode())
    return h.hexdigest()


class Consolidator:
    """Runs ``consolidate`` for one store: on demand (``run_now``, ``request``) or when idle (``start``)."""

    def __init__(self, store: Store, conversations: ConversationStore | None, gate: ReplyGate,
                 busy: Callable[[], bool] = lambda: False, model: Callable[[], LLM | None] = lambda: None,
                 idle_seconds: float = IDLE_SECONDS, poll_seconds: float = POLL_SECONDS) -> None:
        self.store, self.conversations, self.gate = store, conversations, gate
        self._busy, self._model = busy, model
        self.idle_seconds, self.poll_seconds = idle_seconds, poll_seconds
        self.state = "idle"  # idle | waiting for a reply | running | done | failed
        self.progress: tuple[float, str] = (0.0, "")
        self.last: ConsolidationReport | None = None
        self.error = ""
        self.runs = 0
        self.waits = 0  # pauses that found a reply streaming
        self._signature = ""
        self._quiet_since = time.monotonic()
        self._running = threading.Lock()
        self._wake = threading.Event()
        self._requested = False
        self._stopped = False
        self._thread: threading.Thread | None = None

    # -- giving way to replies --------------------------------------------------------------------
    def _pause(self) -> None:
        """Between units of work: wait while a reply streams (or the process ends)."""
        if self.gate.active:
            self.waits += 1
            self.state = "waiting for a reply"
            self.gate.wait_clear(stop=lambda: self._stopped)
        if self._stopped:
            raise WriteCancelled("the process is ending")
        self.state = "running"

    def _gated_model(self) -> LLM | None:
        llm = self._model()
        if llm is None:
            return None
        gated: Any = GatedLLM(llm, self.gate, cancelled=lambda: self._stopped)  # the LLM's calls, gated
        return gated

    # -- running ------------------------------------------------------------------------------------
    def run_now(self, progress: Callable[[float, str], None] | None = None) -> ConsolidationReport | None:
        """Consolidate now (giving way to replies); None when a consolidation is already running."""
        if not self._running.acquire(blocking=False):
            return None
        try:
            self.state, self.error = "running", ""
            signature = store_signature(self.store, self.conversations)

            def say(fraction: float, what: str) -> None:
                self.progress = (fraction, what)
                if progress is not None:
                    progress(fraction, what)

            report = consolidate(self.store, self.conversations, self._gated_model(), pause=self._pause, progress=say)
            self._signature, self.last, self.state = signature, report, "done"
            self.runs += 1
            return report
        except WriteCancelled:
            self.state = "idle"
            return None
        except MemexError as exc:
            self.state, self.error = "failed", str(exc)
            raise
        except Exception as exc:
            self.state, self.error = "failed", f"unexpected {type(exc).__name__}: {exc}"[:300]
            raise
        finally:
            self._running.release()

    def request(self) -> None:
        """Consolidate as soon as the background thread can (on demand, without waiting for the result)."""
        self._requested = True
        self.start()
        self._wake.set()

    def due(self) -> bool:
        """Idle long enough, and something changed since the last consolidation."""
        now = time.monotonic()
        if self.gate.active or self._busy():
            self._quiet_since = now
            return False
        if now - self._quiet_since < self.idle_seconds:
            return False
        return store_signature(self.store, self.conversations) != self._signature

    def start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._stopped = False
            self._thread = threading.Thread(target=self._loop, name="memex-consolidation", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """End the thread: a running consolidation stops at its next pause or model token."""
        self._stopped = True
        self._wake.set()
        self.gate.wake()
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stopped:
            self._wake.wait(self.poll_seconds)
            self._wake.clear()
            if self._stopped:
                return
            try:
                if self._requested or self.due():
                    self._requested = False
                    self.run_now()
            except Exception:  # noqa: BLE001 - reported on ``state``/``error``; the thread goes on
                self._quiet_since = time.monotonic()


_RUNNERS: dict[str, Consolidator] = {}
_RUNNERS_LOCK = threading.Lock()


def get_consolidator(store: Store) -> Consolidator:
    """The process's consolidator for this store (sharing the writer's reply gate), started for idle runs."""
    from ..episodes.conversations import ConversationStore
    from .lifecycle import get_writer

    key = str(store.home)
    with _RUNNERS_LOCK:
        runner = _RUNNERS.get(key)
        if runner is None or runner.store is not store:
            writer = get_writer()
            settings = store.settings

            def model() -> Any:
                if not model_wanted(settings):
                    return None  # the bundled model: extractive, no model call
                from ..models.llm import get_llm

                return get_llm(settings)

            runner = Consolidator(store, ConversationStore(store.home), writer.gate,
                                  busy=lambda: writer.pending() > 0, model=model, idle_seconds=idle_seconds())
            if not _RUNNERS:
                atexit.register(_stop_all)
            _RUNNERS[key] = runner
    if runner.idle_seconds > 0:
        runner.start()
    return runner


def idle_seconds() -> float:
    """``MEMEX_IDLE_CONSOLIDATION`` (seconds of quiet before an idle run; 0 turns idle runs off, as the
    test suite does so that no store changes under a test's feet), else IDLE_SECONDS."""
    try:
        return max(0.0, float(os.environ.get("MEMEX_IDLE_CONSOLIDATION", IDLE_SECONDS)))
    except ValueError:
        return IDLE_SECONDS


def _stop_all() -> None:
    for runner in list(_RUNNERS.values()):
        with contextlib.suppress(Exception):
            runner.stop(5.0)


__all__ = ["IDLE_SECONDS", "Consolidator", "get_consolidator", "store_signature"]
