"""The background memory writer: one queue and one worker thread for every session, tab and store.

Why a single thread: writes use the one local model and the store's single writer; one worker keeps
them ordered and lets the page poll a job's progress (queued -> storing -> stored -> enriching -> enriched).

Why two priorities: a chat message is stored without the model first (a *store* job, about a second),
and enriched by the model later (an *enrich* job, tens of seconds on a small CPU). Store jobs always go
first, and an enrichment in its model call gives way at its next token when a store job is waiting
(``gate.GaveWay``): it goes back to the queue and runs again later. So a backlog of enrichment never
delays storing what the person says next.

Why jobs are labelled, cancellable and retried: the person sees what is being written (the message
it writes, not an id), may cancel what they do not want remembered, and a write that fails is never
dropped silently: it is retried with a growing delay, then left "failed" on its message with a
"Retry" button. A write gives way to replies at every token (``gate.GatedLLM``).

Why a job may be *left*: a process that ends (``shutdown``) lets the running write finish within a
grace period, then stops it at its next model token and starts no other. Such a job is not reported
anywhere: its message keeps "queued" on disk and the next Memex process that writes resumes it
(``pending.py``); a job's ``guard`` (the conversation's claim) makes sure only one process does it.
The process's one writer, and its end with the process, are in lifecycle.py (``get_writer``).
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import itertools
import queue
import threading
import time
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import InputError, MemexError
from .gate import GatedLLM, GaveWay, HeldForReply, ReplyGate, WriteCancelled
from .jobs import WriteJob, run_write, snapshot, step_for
from .pending import ClaimBusy, label_for

if TYPE_CHECKING:
    from ..memory.pipeline import MemoryPipeline

RETRY_DELAYS = (2.0, 10.0, 30.0)  # seconds before attempts 2, 3 and 4; then the job is "failed"
CALLBACK_RETRIES = (0.2, 1.0, 3.0)  # pauses before trying a failed callback again
BUSY_DELAY = 2.0  # seconds before a job whose conversation another process is writing looks again
PRIORITY = {"store": 0, "enrich": 1}  # lower runs first
FIRST, LAST = -1, 9  # the end-of-queue marker: now (the process ends) or after every queued job (stop)
# What a guard yields: None (run the write), or {"state": ..., "outcome": {...}} of the same write already
# done (or cancelled) elsewhere.
Guard = Callable[[WriteJob], AbstractContextManager["dict[str, Any] | None"]]


@dataclass
class _Task:
    job: WriteJob
    pipeline: MemoryPipeline
    on_done: Callable[[WriteJob], None] | None
    guard: Guard | None = None


class _Left(Exception):
    """The process is ending: this job stays queued on disk for the next process."""


class MemoryWriter:
    """A queue and one worker thread that write notes through the memory pipeline.

    ``submit`` returns at once with a job id; ``job(id)`` returns a snapshot a page can poll;
    ``cancel(id)`` drops a queued job or stops a running one at its next model token. A job that
    raises is retried after RETRY_DELAYS, then marked failed; the worker always goes on.
    """

    def __init__(self, gate: ReplyGate | None = None, keep: int = 500,
                 retry_delays: tuple[float, ...] = RETRY_DELAYS) -> None:
        self.gate = gate or ReplyGate()
        self.retry_delays = tuple(retry_delays)
        self._queue: queue.PriorityQueue[tuple[int, int, _Task | None]] = queue.PriorityQueue()
        self._seq = itertools.count()
        self._delayed: list[tuple[float, _Task]] = []
        self._tasks: dict[str, _Task] = {}
        self._jobs: dict[str, WriteJob] = {}
        self._order: list[str] = []
        self._lock = threading.Lock()
        self._keep = keep
        self._thread: threading.Thread | None = None
        self._stopped = False
        self._draining = False  # ending: start no further job
        self._leaving = False  # ending now: the running job stops at its next model token
        self._running: str = ""  # the id of the job the worker is on
        self._working: str = ""  # that job once past the gate and its cancel check: only the worker ends it
        self._ids = itertools.count(1)
        self.holds = HeldForReply()  # the person's messages whose write waits for their reply

    # -- submitting, polling, cancelling -----------------------------------------------------------
    def new_id(self) -> str:
        """A job id, for callers that must record it before the job can possibly finish."""
        return f"w{next(self._ids)}-{uuid.uuid4().hex[:6]}"

    def submit(self, pipeline: MemoryPipeline, content: str, *, source: str = "chat", source_ref: str = "",
               mode: str = "full", timestamp: str | None = None, label: str = "", message_id: str = "",
               turn_context: str = "", force: bool = False,
               on_done: Callable[[WriteJob], None] | None = None, job_id: str | None = None,
               guard: Guard | None = None, kind: str = "store", note_id: str = "", enrich: bool = False) -> str:
        """Queue a write of the person's ``content`` through ``pipeline`` and return its job id at once.

        ``guard(job)``: entered around each attempt (and its report); raises ``ClaimBusy`` while another
        process holds the write, yields the outcome when the write turns out to be done already.
        ``kind="enrich"``: the model's enrichment of the stored note ``note_id``, run after every store job.
        ``enrich``: recorded on a store job whose caller queues the enrichment once it is stored."""
        if self._stopped:
            raise MemexError("The memory writer has been stopped.")
        job = WriteJob(id=job_id or self.new_id(), content=content, source=source, source_ref=source_ref,
                       mode=mode, label=label or label_for(content), message_id=message_id,
                       turn_context=turn_context, timestamp=timestamp, force=force, kind=kind, note_id=note_id,
                       enrich=enrich)
        task = _Task(job, pipeline, on_done, guard)
        with self._lock:
            self._jobs[job.id] = job
            self._tasks[job.id] = task
            self._order.append(job.id)
            self._forget_old()
        self._ensure_thread()
        self._put(task)
        return job.id

    def _put(self, task: _Task) -> None:
        self._queue.put((PRIORITY.get(task.job.kind, 0), next(self._seq), task))

    def job(self, job_id: str) -> WriteJob | None:
        """A snapshot of the job (None if unknown: e.g. submitted before the app restarted)."""
        with self._lock:
            job = self._jobs.get(job_id)
            return snapshot(job) if job else None

    def active_job_for(self, message_id: str, kind: str | None = "store") -> WriteJob | None:
        """The unfinished job of this ``kind`` (any kind: None) writing this message in this process, if any
        (resuming must not add a second)."""
        with self._lock:
            for jid in reversed(self._order):
                job = self._jobs.get(jid)
                if job is not None and job.message_id == message_id and job.active \
                        and (kind is None or job.kind == kind):
                    return snapshot(job)
        return None

    def jobs(self, source_ref: str | None = None) -> list[WriteJob]:
        """Snapshots, oldest first; only those for ``source_ref`` when given."""
        with self._lock:
            return [snapshot(self._jobs[i]) for i in self._order
                    if i in self._jobs and (source_ref is None or self._jobs[i].source_ref == source_ref)]

    def queue_view(self) -> list[WriteJob]:
        """Every write not finished yet, oldest first (what the chat's queue shows)."""
        return [j for j in self.jobs() if j.active]

    def pending(self, source_ref: str | None = None) -> int:
        with self._lock:
            return sum(1 for j in self._jobs.values()
                       if j.active and (source_ref is None or j.source_ref == source_ref))

    def cancel(self, job_id: str) -> bool:
        """Cancel a write. Queued or waiting to retry: dropped now. Running: stopped at its next model
        token (a write past its last model call finishes). False if it is unknown or already over."""
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None or not job.active:
                return False
            job.cancel_requested = True
            # In its work (``_run`` starts it under this lock): the worker stops it at its next model
            # token or, past its last one, finishes and records the true outcome (a stored note is never
            # reported "cancelled"). Queued, or waiting for a reply to end: dropped here, now.
            running = job_id == self._working
            task = self._tasks.get(job_id)
        if not running and task is not None:
            self._finish(task, {"state": "cancelled", "error": ""})
        return True

    def retry(self, job_id: str) -> bool:
        """Run a failed write again now (the person pressed "Retry")."""
        with self._lock:
            task = self._tasks.get(job_id)
            if task is None or task.job.state != "failed":
                return False
            task.job.state, task.job.error, task.job.attempts, task.job.finished = "queued", "", 0, 0.0
            task.job.stages.append("queued")
        self._ensure_thread()
        self._put(task)
        return True

    def wait(self, job_id: str, timeout: float = 120.0) -> WriteJob | None:
        """Block until the job is over (done, failed or cancelled) or ``timeout`` passes; its snapshot."""
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
            self._queue.put((LAST, next(self._seq), None))
            self._thread.join(timeout)

    def shutdown(self, grace: float, stop_seconds: float = 30.0) -> list[WriteJob]:
        """The process is ending: the queue goes on for at most ``grace`` seconds (while it has notes to
        store), then no further job starts and the running one stops at its next model token.
        Returns the jobs left unfinished: their messages stay "queued" on disk and the next Memex process
        that writes does them (nothing is reported as failed).

        ``stop_seconds`` bounds the wait for a job between two model calls (an embedding, a commit)."""
        self._stopped = True
        thread = self._thread
        if thread is not None and thread.is_alive():
            deadline = time.monotonic() + max(0.0, grace)
            while self._busy() and time.monotonic() < deadline:  # the queue keeps going meanwhile
                time.sleep(0.05)
            self._draining = self._leaving = True
            self.gate.wake()
            self._queue.put((FIRST, next(self._seq), None))
            thread.join(stop_seconds)
        return [j for j in self.jobs() if j.active]

    def _store_waiting(self) -> bool:
        """Is a store job in the queue, ready to run now (what an enrichment gives way to)?"""
        with self._lock:
            return any(j.kind == "store" and j.state == "queued" and j.active and not j.waiting
                       and not j.cancel_requested and j.id != self._running for j in self._jobs.values())

    def _busy(self) -> bool:
        """Storing this process could still do now: a running store job, or one queued and not waiting on
        another process's claim or a retry delay. An enrichment is not waited for: its note is stored, and
        a model call of tens of seconds would rarely fit the grace; it stays queued on its message."""
        with self._lock:
            running = self._jobs.get(self._running)
            return (running is not None and running.kind == "store") or any(
                j.active and j.kind == "store" and not j.waiting and j.state != "retrying"
                for j in self._jobs.values())

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
            self._tasks.pop(oldest, None)

    def _set(self, job: WriteJob, **fields: Any) -> None:
        with self._lock:
            for name, value in fields.items():
                setattr(job, name, value)
            if "state" in fields and (not job.stages or job.stages[-1] != fields["state"]):
                job.stages.append(fields["state"])

    def _next_task(self) -> _Task | None:
        """The next task: a delayed retry that is due, else the queue (waiting at most until one is due)."""
        while True:
            now = time.time()
            with self._lock:
                self._delayed.sort(key=lambda d: d[0])
                if self._delayed and self._delayed[0][0] <= now:
                    return self._delayed.pop(0)[1]
                timeout = (self._delayed[0][0] - now) if self._delayed else None
            try:
                return self._queue.get(timeout=timeout)[2]
            except queue.Empty:
                continue

    def _later(self, task: _Task, delay: float) -> None:
        with self._lock:
            self._delayed.append((time.time() + delay, task))

    def _loop(self) -> None:
        while True:
            task = self._next_task()
            if task is None or self._draining:
                return
            with self._lock:  # one step with ``cancel``: a job is either dropped there or run here, never both
                if not task.job.active or task.job.cancel_requested:  # cancelled while it waited
                    continue
                self._running = task.job.id
            try:
                self._attempt(task)
            except ClaimBusy:
                self._set(task.job, waiting="another Memex process is writing this conversation's memories")
                self._later(task, BUSY_DELAY)
            except _Left:
                self._left(task)
            except BaseException as exc:  # noqa: BLE001 - nothing may end the worker
                try:
                    self._settle(task, {"state": "failed", "error": _describe(exc)})
                except _Left:
                    self._left(task)
            finally:
                with self._lock:
                    self._running = self._working = ""

    def _left(self, task: _Task) -> None:
        self._set(task.job, waiting="left queued for the next Memex process", paused=False)

    def _attempt(self, task: _Task) -> None:
        """One attempt under the job's guard: adopt a write already done elsewhere, or run it; then
        report it while still holding the guard, so no other process can take it in between."""
        guard = task.guard(task.job) if task.guard is not None else contextlib.nullcontext(None)
        with guard as already:
            self._set(task.job, waiting="")
            if already is not None:  # done (or cancelled) by some process already: take that as it is
                outcome = dict(already.get("outcome") or {})
                final = {"state": already.get("state", "done"), "error": "", "outcome": outcome,
                         "note_id": outcome.get("note_id", "")}
            else:
                final = self._run(task)
            if final["state"] == "left":
                raise _Left()
            if final["state"] == "gave way":  # back in the queue, behind the store jobs now waiting
                self._set(task.job, state="queued", attempts=max(0, task.job.attempts - 1), paused=False)
                self._put(task)
                return
            self._settle(task, final)

    def _settle(self, task: _Task, final: dict[str, Any]) -> None:
        """Retry a failed attempt later (while attempts remain), else report the final state."""
        if not task.job.active:  # cancelled while it waited for a reply: already reported
            return
        if final["state"] == "failed" and self._leaving:  # cut off by the ending process: not a failure
            raise _Left()
        if final["state"] == "failed" and task.job.attempts <= len(self.retry_delays) \
                and not task.job.cancel_requested:
            delay = self.retry_delays[task.job.attempts - 1] if task.job.attempts else self.retry_delays[0]
            self._set(task.job, state="retrying", error=final["error"], retry_at=time.time() + delay, paused=False)
            self._notify(task)
            self._later(task, delay)
            return
        self._finish(task, final)

    def _finish(self, task: _Task, final: dict[str, Any]) -> None:
        final = {**final, "finished": time.time(), "paused": False}
        # The callback (e.g. writing the outcome into the conversation file) runs before pollers
        # can see the final state, so whoever sees "done" also finds it recorded.
        problem = self._notify(task, final)
        if problem and final["state"] == "done":  # done, but not recorded: say so (Retry records it)
            final = {**final, "state": "failed", "error": f"stored, but the conversation could not be updated: "
                                                          f"{problem}"}
        self._set(task.job, content=task.job.content[:300], **final)  # finished jobs keep a preview

    def _notify(self, task: _Task, final: dict[str, Any] | None = None) -> str:
        """Run the job's callback, retried; returns what went wrong when every try failed ("" when fine).

        Why retried: a final state that is not recorded leaves the message "queued" on disk (a later
        process would find the write done and record it, but this one should not rely on that)."""
        if task.on_done is None:
            return ""
        problem = ""
        for pause in (0.0, *CALLBACK_RETRIES):
            time.sleep(pause)
            try:
                task.on_done(dataclasses.replace(snapshot(task.job), **(final or {})))
                return ""
            except Exception as exc:  # noqa: BLE001 - a broken callback must not end the worker either
                problem = _describe(exc)
        return problem

    def _run(self, task: _Task) -> dict[str, Any]:
        """Run one attempt of a job; returns the fields of its final state ("left": the process ends)."""
        job = task.job
        # A queued job does not start while a reply is streaming.
        if self.gate.active:
            self._set(job, paused=True)
            self.gate.wait_clear(stop=lambda: self._leaving)
        if self._leaving:
            return {"state": "left"}
        with self._lock:  # one step with ``cancel``: either it drops the job now, or the worker runs it
            if job.cancel_requested:
                return {"state": "cancelled", "error": ""}
            self._working = job.id
        self._set(job, paused=False, started=job.started or time.time(), attempts=job.attempts + 1,
                  state="queued" if job.state == "retrying" else job.state)
        pipeline = task.pipeline
        original = pipeline._llm
        gated_models: list[GatedLLM] = []

        def paused(flag: bool) -> None:
            self._set(job, paused=flag)

        def gated() -> GatedLLM:
            from ..memory.pipeline import model_of

            give_way = self._store_waiting if job.kind == "enrich" else None
            wrapped = GatedLLM(model_of(original, pipeline.settings), self.gate, paused, cancelled=lambda: job.cancel_requested or self._leaving,
                               give_way=give_way)
            gated_models.append(wrapped)
            return wrapped

        try:
            pipeline = copy.copy(pipeline)  # same store and settings, the gated model
            pipeline._llm = gated if job.mode == "full" else original
            outcome = run_write(pipeline, job, lambda stage: self._set(job, state=step_for(job, stage)))
        except GaveWay:
            return {"state": "gave way"}
        except WriteCancelled:
            if self._leaving and not job.cancel_requested:
                return {"state": "left"}
            return {"state": "cancelled", "error": ""}
        except InputError as exc:  # bad input will not get better by retrying
            self._set(job, attempts=len(self.retry_delays) + 1)
            return {"state": "failed", "error": str(exc)}
        except Exception as exc:  # noqa: BLE001 - reported on the job, retried
            return {"state": "failed", "error": _describe(exc)}
        finally:
            self._set(job, interruptions=job.interruptions + sum(g.interruptions for g in gated_models))
        return {"state": "done", "error": "", "outcome": outcome, "note_id": outcome.get("note_id", "")}


def _describe(exc: BaseException) -> str:
    if isinstance(exc, MemexError):
        return str(exc)
    return f"unexpected {type(exc).__name__}: {exc}"[:500]
