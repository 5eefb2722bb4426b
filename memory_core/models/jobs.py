"""Downloads that run in the background, so a 2 GB model does not hold the Settings page hostage.

One process-wide registry: the page starts a job, polls its progress (done/total bytes) and can
stop it; the part downloaded so far stays on disk and a new job for the same file resumes it. A
page reload or another tab sees the same jobs.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from ..errors import MemexError
from .download import DownloadCancelled, RemoteFile, download_model


@dataclass
class DownloadJob:
    repo_id: str
    filename: str
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:10])
    state: str = "running"  # running | done | stopped | failed
    done: int = 0
    total: int = 0
    error: str = ""
    path: str = ""
    started: float = field(default_factory=time.monotonic)
    cancel: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def fraction(self) -> float:
        return min(1.0, self.done / self.total) if self.total else 0.0

    @property
    def running(self) -> bool:
        return self.state == "running"

    def stop(self) -> None:
        self.cancel.set()


_JOBS: dict[str, DownloadJob] = {}
_LOCK = threading.Lock()


def start_download(repo_id: str, filename: str, settings: Any, remote: RemoteFile | None = None) -> DownloadJob:
    """A running job for this file: the one already running, or a new one (which resumes any part)."""
    with _LOCK:
        for job in _JOBS.values():
            if job.running and (job.repo_id, job.filename) == (repo_id, filename):
                return job
        job = DownloadJob(repo_id, filename, total=remote.size_bytes if remote else 0)
        _JOBS[job.id] = job

    def progress(done: int, total: int) -> None:
        job.done, job.total = done, total

    def work() -> None:
        try:
            job.path = str(download_model(repo_id, filename, settings, progress=progress, cancel=job.cancel,
                                          remote=remote))
            job.state = "done"
        except DownloadCancelled:
            job.state = "stopped"
        except MemexError as exc:
            job.error, job.state = str(exc), "failed"
        except Exception as exc:  # noqa: BLE001 - a background thread must report, not vanish
            job.error, job.state = f"unexpected {type(exc).__name__}: {exc}", "failed"

    threading.Thread(target=work, name=f"memex-download-{job.id}", daemon=True).start()
    return job


def jobs() -> list[DownloadJob]:
    """Every job of this process, newest first."""
    with _LOCK:
        return sorted(_JOBS.values(), key=lambda j: j.started, reverse=True)


def forget(job_id: str) -> None:
    """Drop a finished job from the list (a running one stays)."""
    with _LOCK:
        job = _JOBS.get(job_id)
        if job is not None and not job.running:
            del _JOBS[job_id]


def wait(job: DownloadJob, timeout: float) -> bool:
    """For tests and the CLI: True when the job finished within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while job.running and time.monotonic() < deadline:
        time.sleep(0.05)
    return not job.running

