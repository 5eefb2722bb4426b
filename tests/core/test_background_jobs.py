"""The one background-job type (memory_core.background): how a job ends, progress, stop, the board."""

from __future__ import annotations

import threading

import pytest

from memory_core.background import DONE, FAILED, RUNNING, STOPPED, Cancelled, Job, JobBoard, run_in_background
from memory_core.errors import InputError


def ended(job: Job) -> Job:
    assert job.wait(10), "the job did not end"
    return job


def test_a_job_ends_done_with_its_result_and_progress() -> None:
    def work(job: Job) -> str:
        for i in range(1, 4):
            job.progress(i, 3)
        return "all three"

    job = ended(run_in_background(Job(name="count"), work))
    assert (job.state, job.result, job.done, job.total, job.fraction, job.error) == (DONE, "all three", 3, 3, 1.0, "")
    assert job.finished >= job.started and job.seconds >= 0 and not job.running


@pytest.mark.parametrize(("error", "state", "message"), [
    (InputError("The file is not UTF-8."), FAILED, "The file is not UTF-8."),
    (KeyError("x"), FAILED, "unexpected KeyError: 'x'"),
    (Cancelled(), STOPPED, ""),
])
def test_how_a_job_ends_when_its_work_raises(error: BaseException, state: str, message: str) -> None:
    def work(job: Job) -> None:
        raise error

    job = ended(run_in_background(Job(), work))
    assert (job.state, job.error, job.result) == (state, message, None)


def test_stop_is_seen_by_the_work_at_its_next_check() -> None:
    started, steps = threading.Event(), []

    class Gone(Exception):
        pass

    def work(job: Job) -> None:
        started.set()
        while not job.cancel.wait(0.01):
            steps.append(1)
        raise Gone  # the work's own way of saying it stopped

    job = run_in_background(Job(), work, stopped_by=(Gone,))
    assert started.wait(5) and job.state == RUNNING
    job.stop()
    assert ended(job).state == STOPPED


def test_the_board_returns_the_running_job_for_the_same_work_and_forgets_finished_ones() -> None:
    board: JobBoard[Job] = JobBoard()
    release = threading.Event()

    def work(job: Job) -> None:
        release.wait(5)

    first = board.start(lambda: Job(name="a"), work, same=lambda j: j.name == "a")
    again = board.start(lambda: Job(name="a"), work, same=lambda j: j.name == "a")
    other = board.start(lambda: Job(name="b"), work, same=lambda j: j.name == "b")
    assert again is first and other is not first and board.jobs()[0] is other  # newest first
    board.forget(first.id)
    assert board.get(first.id) is first  # a running job stays
    release.set()
    ended(first)
    ended(other)
    board.forget(first.id)
    assert board.get(first.id) is None and board.jobs() == [other]
