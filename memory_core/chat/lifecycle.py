"""The end of a Memex process: background work finished or left cleanly, stores closed, output flushed.

Why its own step: a process that ends while the memory writer is inside a model call (or Chroma or ONNX
Runtime run threads of their own) used to die by a signal at interpreter teardown. Ending in order
avoids that: the running write gets ``EXIT_GRACE`` seconds, then stops at its next model token and
stays "queued" on disk for the next process (said on stderr, with how to finish it); nothing new starts.
A note's enrichment by the model is not waited for (its note is stored): it stays queued on its message.
The CLI calls ``end_process`` and then leaves with ``os._exit``; in any other process (the app, a
script) the writer ends itself the same way from ``atexit`` (``get_writer``).

The process's one memory writer lives here too (``get_writer``), since what starts it also arranges
its end.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
import threading

from .writer import MemoryWriter

EXIT_GRACE = 10.0  # seconds a running memory write may take to finish when its process ends


def end_writer(writer: MemoryWriter, grace: float, say: bool = True) -> int:
    """Let the running write finish within ``grace`` seconds, leave the rest queued; how many were left."""
    busy = [j for j in writer.jobs() if j.active and j.kind == "store" and not j.waiting and j.state != "retrying"]
    pending = {j.id for j in writer.jobs() if j.active and j.kind == "store"}
    if say and busy and grace > 0:
        what = busy[0].label + (f" and {len(busy) - 1} more" if len(busy) > 1 else "")
        _say(f"memex: finishing the memory write of {what} (at most {grace:.0f} s; Ctrl-C leaves it queued)…")
    try:
        left = writer.shutdown(grace)
    except KeyboardInterrupt:
        left = writer.shutdown(0.0)
    if say:  # the reply's summary said "queued": say what became of a write that ended since
        for job in writer.jobs():
            if job.id in pending and job.state == "done":
                _say(f"memex: the memory write of {job.label}: {job.describe()}")
    stores = sum(1 for j in left if j.kind == "store")
    if say and left:
        what = " and ".join(x for x in (f"{stores} memory write(s)" if stores else "",
                                       f"{len(left) - stores} enrichment(s) by the model (the notes are stored)"
                                       if len(left) > stores else "") if x)
        _say(f"memex: {what} left queued; the next Memex process that writes does them "
             "(the app, `memex chat`, or `memex queue run`).")
    return len(left)


def end_process(code: int) -> int:
    """Everything a process does last, before ``os._exit``; returns the exit status (130 if interrupted)."""
    writer = started_writer()
    try:
        if writer is not None:
            end_writer(writer, exit_grace())
    except KeyboardInterrupt:
        code = 130
    from ..store import close_open_stores

    with contextlib.suppress(Exception):
        close_open_stores()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    return code


def _say(line: str) -> None:
    with contextlib.suppress(Exception):
        print(line, file=sys.stderr, flush=True)


_WRITER: MemoryWriter | None = None
_WRITER_LOCK = threading.Lock()


def get_writer() -> MemoryWriter:
    """The process's memory writer (one thread for every session, tab and store).

    It ends with the process (``atexit``: the running write gets ``exit_grace()`` seconds, then stays
    queued on disk), so a model call is never cut off by the interpreter tearing its module down."""
    global _WRITER
    with _WRITER_LOCK:
        if _WRITER is None:
            _WRITER = MemoryWriter()
            # Before the interpreter's own threads stop (``threading._shutdown`` runs these first, in
            # reverse order, and ``concurrent.futures`` refuses new work after its own): a write cut off
            # there failed with "cannot schedule new futures after interpreter shutdown". ``atexit`` stays
            # as the fallback where that hook is missing.
            register = getattr(threading, "_register_atexit", None)
            if register is not None:
                register(_end_at_exit, _WRITER)
            atexit.register(_end_at_exit, _WRITER)
        return _WRITER


def _end_at_exit(writer: MemoryWriter) -> None:
    with contextlib.suppress(BaseException):
        writer.shutdown(exit_grace())


def exit_grace() -> float:
    """``MEMEX_EXIT_GRACE`` (seconds) or EXIT_GRACE: how long an ending process lets its write finish."""
    try:
        return max(0.0, float(os.environ.get("MEMEX_EXIT_GRACE", EXIT_GRACE)))
    except ValueError:
        return EXIT_GRACE


def started_writer() -> MemoryWriter | None:
    """The process's memory writer if anything asked for it (ending a process must not start one)."""
    return _WRITER
