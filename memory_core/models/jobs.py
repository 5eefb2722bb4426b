"""Downloads that run in the background, so a 2 GB model does not hold the Settings page hostage.

A download is a ``background.Job``: the page starts it, polls its progress (done/total bytes) and
can stop it; the part downloaded so far stays on disk and a new job for the same file resumes it.
One process-wide board: a page reload or another tab sees the same jobs, and a second start of a
file already downloading returns the running job.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..background import Job, JobBoard
from .download import DownloadCancelled, RemoteFile, download_model

if TYPE_CHECKING:
    from ..config import Settings


@dataclass(eq=False)
class DownloadJob(Job):
    repo_id: str = ""
    filename: str = ""

    @property
    def path(self) -> str:
        """Where the verified file was saved ("" until it was)."""
        return str(self.result or "")


_BOARD: JobBoard[DownloadJob] = JobBoard()


def start_download(repo_id: str, filename: str, settings: Settings, remote: RemoteFile | None = None) -> DownloadJob:
    """A running job for this file: the one already running, or a new one (which resumes any part)."""

    def work(job: DownloadJob) -> str:
        return str(download_model(repo_id, filename, settings, progress=job.progress, cancel=job.cancel,
                                  remote=remote))

    return _BOARD.start(lambda: DownloadJob(name="download", repo_id=repo_id, filename=filename,
                                            total=remote.size_bytes if remote else 0),
                        work, same=lambda j: (j.repo_id, j.filename) == (repo_id, filename),
                        stopped_by=(DownloadCancelled,))


def jobs() -> list[DownloadJob]:
    """Every download of this process, newest first."""
    return _BOARD.jobs()


def forget(job_id: str) -> None:
    """Drop a finished download from the list (a running one stays)."""
    _BOARD.forget(job_id)


def wait(job: DownloadJob, timeout: float) -> bool:
    """For tests and the CLI: True when the job finished within ``timeout`` seconds."""
    return job.wait(timeout)
