"""Long work in a background thread, as pages and the CLI see it: one job record, one runner, one board.

Model downloads (``models.jobs``) and conversation imports (``transfer.imports``) are jobs of this
kind. The chat's memory writer keeps its own ``WriteJob``: a write is queued on disk, claimed across
processes, retried and done exactly once, which a thread-and-flag job does not describe.
"""

from .jobs import DONE, FAILED, RUNNING, STOPPED, Cancelled, Job, JobBoard, run_in_background

__all__ = ["DONE", "FAILED", "RUNNING", "STOPPED", "Cancelled", "Job", "JobBoard", "run_in_background"]
