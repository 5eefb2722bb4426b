"""The background memory writer: one queue and one worker thread for every session, tab and store.

Why a single thread: writes use the one local model and the store's single writer; one worker keeps
them ordered and lets the page poll a job's progress (queued -> enriching -> linking -> done).
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
import queue
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..errors import MemexError
from .gate import GatedLLM, ReplyGate

ACTIVE_STATES = ("queued", "enriching", "linking")


@dataclass
class WriteJob:
    """One memory write and where it is: queued -> enriching -> linking -> evolved N -> done | failed."""

    id: str
    content: str
    source: str
    source_ref: str
    mode: str
    label: str = ""
    state: str = "queued"
    stages: list[str] = field(default_factory=lambda: ["queued"])
    paused: bool = False  # waiting for a streaming reply to finish
    error: str = ""
    note_id: str = ""
    links: list[str] = field(default_factory=list)
    evolved: list[str] = field(default_factory=list)
    llm_calls: int = 0
    needs_enrichment: bool = False
    created: float = field(default_factory=time.time)
    started: float = 0.0
    finished: float = 0.0

    @property
    def active(self) -> bool:
        return self.state not in ("done", "failed")

    @property
    def seconds(self) -> float:
        if not self.started:
            return 0.0
        return (self.finished or time.time()) - self.started

    def describe(self) -> str:
        """One line for a person."""
        if self.state == "done":
            extra = f", linked to {len(self.links)}, evolved {len(self.evolved)}"
            return f"stored as note {self.note_id[:8]}{extra} ({self.seconds:.1f}s)"
        if self.state == "failed":
            return f"not stored: {self.error}"
        if self.paused:
            return f"{self.state} (paused while a reply is written)"
        return self.state + ("…" if self.state in ACTIVE_STATES else "")


@dataclass
class _Task:
    job: WriteJob
    pipeline: Any
    timestamp: str | None
    on_done: Callable[[WriteJob], None] | None


class MemoryWriter:
    """A queue and one worker thread that write notes through the A-MEM pipeline.

    ``submit`` returns at once with a job id; ``job(id)`` returns a snapshot a page can poll. A job
    that raises is marked failed with its message and the worker goes on with the next one.
    """

    def __init__(self, gate: ReplyGate | None = None, keep: int = 500) -> None:
        self.gate = gate or ReplyGate()
        self._queue: queue.Queue[_Task | None] = queue.Queue()
        self._jobs: dict[str, WriteJob] = {}
        self._order: list[str] = []
        self._lock = threading.Lock()
        self._keep = keep
        self._thread: threading.Thread | None = None
        self._stopped = False
        self._ids = itertools.count(1)

    # -- submitting and polling --------------------------------------------------------------------
    def new_id(self) -> str:
        """A job id, for callers that must record it before the job can possibly finish."""
        return f"w{next(self._ids)}-{uuid.uuid4().hex[:6]}"

    def submit(self, pipeline: Any, content: str, *, source: str = "chat", source_ref: str = "",
               mode: str = "full", timestamp: str | None = None, label: str = "",
               on_done: Callable[[WriteJob], None] | None = None, job_id: str | None = None) -> str:
        """Queue a write of ``content`` through ``pipeline`` and return its job id at once."""
        if self._stopped:
            raise MemexError("The memory writer has been stopped.")
        job = WriteJob(id=job_id or self.new_id(), content=content, source=source,
                       source_ref=source_ref, mode=mode, label=label)
        with self._lock:
            self._jobs[job.id] = job
            self._order.append(job.id)
            self._forget_old()
        self._ensure_thread()
        self._queue.put(_Task(job, pipeline, timestamp, on_done))
        return job.id

    def job(self, job_id: str) -> WriteJob | None:
        """A snapshot of the job (None if unknown: e.g. submitted before the app restarted)."""
        with self._lock:
            job = self._jobs.get(job_id)
            return _snapshot(job) if job else None

    def jobs(self, source_ref: str | None = None) -> list[WriteJob]:
        """Snapshots, oldest first; only those for ``source_ref`` when given."""
        with self._lock:
            return [_snapshot(self._jobs[i]) for i in self._order
                    if i in self._jobs and (source_ref is None or self._jobs[i].source_ref == source_ref)]

    def pending(self, source_ref: str | None = None) -> int:
        with self._lock:
            return sum(1 for j in self._jobs.values()
                       if j.active and (source_ref is None or j.source_ref == source_ref))

    def wait(self, job_id: str, timeout: float = 120.0) -> WriteJob | None:
        """Block until the job is done or failed (or ``timeout`` passes); returns its snapshot."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self.job(job_id)
            if job is None or not job.active:
                return job
            time.sleep(0.05)
        return self.job(job_id)

    def wait_idle(self, timeout: float = 120.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.pending():
                return True
            time.sleep(0.05)
        return not self.pending()

    def stop(self, timeout: float = 30.0) -> None:
        """Finish queued jobs, then end the thread (tests; the app's writer lives as long as the process)."""
        self._stopped = True
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout)

    # -- the worker ----------------------------------------------------------------------------------
    def _ensure_thread(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="memex-memory-writer", daemon=True)
                self._thread.start()

    def _forget_old(self) -> None:
        while len(self._order) > self._keep:
            oldest = self._order[0]
            if self._jobs.get(oldest) is not None and self._jobs[oldest].active:
                break
            self._order.pop(0)
            self._jobs.pop(oldest, None)

    def _set(self, job: WriteJob, **fields: Any) -> None:
        with self._lock:
            for name, value in fields.items():
                setattr(job, name, value)
            if "state" in fields and (not job.stages or job.stages[-1] != fields["state"]):
                job.stages.append(fields["state"])

    def _loop(self) -> None:
        while True:
            task = self._queue.get()
            if task is None:
                return
            try:
                final = self._run(task)
            except BaseException as exc:  # noqa: BLE001 - nothing may end the worker
                final = {"state": "failed", "error": _describe(exc)}
            final.update(finished=time.time(), paused=False)
            preview = task.job.content[:300]  # finished jobs keep a preview, not up to 100k characters
            # The callback (e.g. writing the outcome into the conversation file) runs before pollers
            # can see the final state, so whoever sees "done" also finds it recorded.
            if task.on_done is not None:
                try:
                    task.on_done(dataclasses.replace(_snapshot(task.job), **final))
                except Exception:  # noqa: BLE001 - a broken callback must not end the worker either
                    pass
            self._set(task.job, content=preview, **final)

    def _run(self, task: _Task) -> dict[str, Any]:
        """Run one job; returns the fields of its final state."""
        job = task.job
        # A queued job does not start while a reply is streaming.
        if self.gate.active:
            self._set(job, paused=True)
            self.gate.wait_clear()
        self._set(job, paused=False, started=time.time())
        pipeline = task.pipeline
        original = pipeline._llm

        def paused(flag: bool) -> None:
            self._set(job, paused=flag)

        def gated() -> Any:
            model = original
            if model is None:
                from ..llm import get_llm

                model = get_llm(pipeline.settings)
            elif callable(model) and not hasattr(model, "structured"):
                model = model()
            return GatedLLM(model, self.gate, paused)

        try:
            pipeline = copy.copy(pipeline)  # same store and settings, the gated model
            pipeline._llm = gated if job.mode == "full" else original
            report = pipeline.add(job.content, source=job.source, source_ref=job.source_ref,
                                  timestamp=task.timestamp, mode=job.mode,
                                  progress=lambda stage: self._set(job, state=stage))
        except Exception as exc:  # noqa: BLE001 - reported on the job
            return {"state": "failed", "error": _describe(exc)}
        return {"state": "done", "note_id": report.note_id, "links": list(report.links),
                "evolved": list(report.evolved), "llm_calls": report.usage.calls,
                "needs_enrichment": report.needs_enrichment}


def _snapshot(job: WriteJob) -> WriteJob:
    return dataclasses.replace(job, stages=list(job.stages), links=list(job.links), evolved=list(job.evolved))


def _describe(exc: BaseException) -> str:
    if isinstance(exc, MemexError):
        return str(exc)
    return f"unexpected {type(exc).__name__}: {exc}"[:500]


_WRITER: MemoryWriter | None = None
_WRITER_LOCK = threading.Lock()


def get_writer() -> MemoryWriter:
    """The process's memory writer (one thread for every session, tab and store)."""
    global _WRITER
    with _WRITER_LOCK:
        if _WRITER is None:
            _WRITER = MemoryWriter()
        return _WRITER
