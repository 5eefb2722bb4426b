"""Following other writers: which events of the log this instance has not folded yet.

Local mode (one machine): every commit rewrites a tiny ``generation`` file; another process sees
it change (one stat per read) and then reads the log from its high-water mark. Server mode
(several machines over one Chroma server): there is no shared file, so the log itself is polled,
at most every ``poll_seconds``, for events appended since ``high water - OVERLAP_MS`` (the
append time is the writer's clock: the overlap tolerates clocks that disagree by up to that
much; locally there is one clock and no overlap). Ids already seen are dropped, so nothing is folded
twice and nothing is missed. Events of a batch that is not complete yet are left for the next poll.
"""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

from .events import Event, EventLog, whole_batches

OVERLAP_MS = 10_000  # server mode: how far the writers' clocks may disagree


class Follower:
    def __init__(self, home: Path, server: bool, poll_seconds: float = 0.5) -> None:
        self.server = server
        self.poll_seconds = poll_seconds
        self._generation = Path(home) / "generation"
        self._epoch = Path(home) / "epoch"
        self.high_water = 0  # largest append time (ms) among folded events
        self.seen: set[str] = set()
        self._seen_generation = self.read_generation()
        self._last_poll = time.monotonic()
        self.epoch = self.read_epoch()

    # -- local signals -----------------------------------------------------------------------
    def read_generation(self) -> str:
        try:
            return self._generation.read_text(encoding="utf-8")
        except OSError:
            return ""

    def read_epoch(self) -> str:
        try:
            return self._epoch.read_text(encoding="utf-8")
        except OSError:
            return ""

    def bump_epoch(self) -> None:
        """Say "the Chroma folder was replaced" (compaction): other processes reopen it."""
        self.epoch = uuid.uuid4().hex
        _write(self._epoch, self.epoch)

    def written_elsewhere(self) -> bool:
        """Another process committed since we last looked (its Chroma cache is fresher than ours)."""
        generation = self.read_generation()
        return bool(generation) and generation != self._seen_generation \
            and generation.split(":", 1)[0] != str(os.getpid())

    def due(self) -> bool:
        """Worth asking the log for news now?"""
        if self.server:
            return time.monotonic() - self._last_poll >= self.poll_seconds
        return self.read_generation() != self._seen_generation

    def mark_written(self) -> None:
        if self.server:
            return
        token = f"{os.getpid()}:{uuid.uuid4().hex}"
        _write(self._generation, token)
        self._seen_generation = token

    # -- the log ----------------------------------------------------------------------------------
    def new_events(self, log: EventLog) -> list[Event]:
        """Complete, unseen events appended since the high-water mark (minus the overlap)."""
        generation = self.read_generation()
        # One machine, one clock, writers serialised by the lock file: nothing can land below the mark.
        found = log.since(max(0, self.high_water - (OVERLAP_MS if self.server else 0)))
        self._last_poll = time.monotonic()
        self._seen_generation = generation
        fresh = [e for e in found if e.id not in self.seen]
        done, _partial = whole_batches(fresh)
        return done

    def saw(self, events: list[Event]) -> None:
        for ev in events:
            self.seen.add(ev.id)
            if ev.t > self.high_water:
                self.high_water = ev.t


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
