"""A job: work in a daemon thread with progress, a stop flag, and an end a person can read.

Why one type: downloads and imports each had their own record (done/total, a cancel event, a state
string or a thread to ask, an error) and their own thread wrapper catching errors in slightly
different ways. Here, once:
- ``run_in_background(job, work)`` runs ``work(job)`` in a daemon thread; what it returns is
  ``job.result``. A ``MemexError`` ends the job ``failed`` with its message; any other exception
  too, as "unexpected <type>: ..." (a background thread must report, never vanish); ``Cancelled``
  (or an exception the caller names) ends it ``stopped``.
- The work reports progress with ``job.progress(done, total)`` and looks at ``job.cancel`` (a
  ``threading.Event``) between steps; ``job.stop()`` sets it. Stopping never kills a thread: the
  work ends at its next check, and what it finished stays finished.
- ``JobBoard`` keeps the jobs of one kind for the whole process, so a page reload or another tab sees
  the same ones, and a second start of the same work finds the one already running.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from ..errors import MemexError

RUNNING, DONE, STOPPED, FAILED = "running", "done", "stopped", "failed"


class Cancelled(Exception):  # noqa: N818 - it names what happened, like StopIteration
    """Raised by work that saw ``job.cancel`` set: the job ends ``stopped``, not ``failed``."""


@dataclass(eq=False)
class Job:
    """One piece of background work. Read it from any thread; only its runner changes ``state``."""

    name: str = ""
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:10])
    state: str = RUNNING  # running | done | stopped | failed
    done: int = 0
    total: int = 0
    error: str = ""
    result: Any = None
    started: float = field(default_factory=time.monotonic)
    finished: float = 0.0
    cancel: threading.Event = field(default_factory=threading.Event, repr=False)
    thread: threading.Thread | None = field(default=None, repr=False)

    @property
    def running(self) -> bool:
        return self.state == RUNNING

    @property
    def fraction(self) -> float:
        """Done out of total, 0..1 (0 while the total is unknown)."""
        return min(1.0, self.done / self.total) if self.total else 0.0

    @property
    def seconds(self) -> float:
        """How long it ran (so far, while it runs)."""
        return (self.finished or time.monotonic()) - self.started

    def progress(self, done: int, total: int | None = None) -> None:
        """What the work reports: ``done`` of ``total`` (units are the work's own: bytes, turns)."""
        self.done = done
        if total is not None:
            self.total = total

    def stop(self) -> None:
        """Ask the work to stop at its next check."""
        self.cancel.set()

    def wait(self, timeout: float) -> bool:
        """For tests and the CLI: True when the job ended within ``timeout`` seconds."""
        if self.thread is not None:
            self.thread.join(timeout)
        return not self.running


J = TypeVar("J", bound=Job)


def run_in_background(job: J, work: Callable[[J], Any], *,
                      stopped_by: tuple[type[BaseException], ...] = ()) -> J:
    """Start ``work(job)`` in a daemon thread named after the job; return the job at once."""

    stops: tuple[type[BaseException], ...] = (Cancelled, *stopped_by)

    def body() -> None:
        try:
            job.result = work(job)
            state = DONE
        except stops:
            state = STOPPED
        except MemexError as exc:
            job.error, state = str(exc), FAILED
        except Exception as exc:  # noqa: BLE001 - a background thread must report, not vanish
            job.error, state = f"unexpected {type(exc).__name__}: {exc}", FAILED
        job.finished = time.monotonic()
        job.state = state  # last: a reader that sees the end sees the result and the error too

    job.thread = threading.Thread(target=body, name=f"memex-{job.name or 'job'}-{job.id}", daemon=True)
    job.thread.start()
    return job


class JobBoard(Generic[J]):
    """The jobs of one kind in this process, newest first; finished ones stay until forgotten."""

    def __init__(self) -> None:
        self._jobs: dict[str, J] = {}
        self._lock = threading.Lock()

    def start(self, make: Callable[[], J], work: Callable[[J], Any], *, same: Callable[[J], bool] = lambda j: False,
              stopped_by: tuple[type[BaseException], ...] = ()) -> J:
        """The running job for which ``same(job)`` holds, or a new one from ``make()``, started."""
        with self._lock:
            for job in self._jobs.values():
                if job.running and same(job):
                    return job
            job = make()
            self._jobs[job.id] = job
        return run_in_background(job, work, stopped_by=stopped_by)

    def jobs(self) -> list[J]:
        with self._lock:
            return sorted(self._jobs.values(), key=lambda j: j.started, reverse=True)

    def get(self, job_id: str) -> J | None:
        with self._lock:
            return self._jobs.get(job_id)

    def forget(self, job_id: str) -> None:
        """Drop a finished job from the list (a running one stays)."""
        with self._lock:
            job = self._jobs.get(job_id)
            if job is not None and not job.running:
                del self._jobs[job_id]
