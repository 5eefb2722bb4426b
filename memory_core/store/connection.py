"""The store's way to Chroma: its collections, read-only until the first write, and the writers' lock.

Why lazy: opening a local Chroma folder writes to it, so a store reads Chroma's SQLite file
(``sqlite_reader``) until it first writes; ``go_live`` then opens Chroma itself, once. Why one
place: every other part of the store reaches Chroma through ``cols`` and ``log`` here, so a
reopen (another process wrote, a compaction swapped the folder) is seen by all of them at once.
"""

from __future__ import annotations

import contextlib
import fcntl
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..config import Settings
from ..errors import MemexError, StoreError
from . import backend
from .events import Event, EventLog
from .sqlite_reader import NeedsRecovery, read_only_collections


class Connection:
    """The collections of one store and whether this process may write them yet."""

    def __init__(self, settings: Settings, lock: threading.RLock) -> None:
        self.settings = settings
        self.home = Path(settings.home)
        self.server = settings.store_backend == "server"
        self.lock = lock
        self.writable = False
        self._lockfile = self.home / "memex.lock"
        self._cols: backend.Collections | None = None
        self._log: EventLog | None = None

    @property
    def chroma_path(self) -> Path:
        return self.home / "chroma"

    @property
    def cols(self) -> backend.Collections:
        assert self._cols is not None, "open() first"
        return self._cols

    @property
    def log(self) -> EventLog:
        assert self._log is not None, "open() first"
        return self._log

    def open(self) -> None:
        """Read the local SQLite file when it can be read safely; otherwise (a server, or a killed
        writer's transaction that only Chroma can roll back) open Chroma, writable from then on."""
        self.writable = False
        reader = None
        if not self.server:  # a server is always read through Chroma (nothing of it is on this disk)
            with contextlib.suppress(NeedsRecovery):
                reader = read_only_collections(self.chroma_path)
        if reader is None:
            self._use(backend.open_collections(self.settings, self.chroma_path))
            self.writable = True
        else:
            self._use(reader)

    def _use(self, cols: backend.Collections) -> None:
        self._cols = cols
        self._log = EventLog(cols.events, cols.max_batch)

    def go_live(self) -> bool:
        """Open Chroma for writing, once. True when this call did it (the caller settles what a
        read-only open had to leave for the first write)."""
        with self.lock:
            if self.writable:
                return False
            reader = self._cols.client if self._cols else None
            self._use(backend.open_collections(self.settings, self.chroma_path))
            self.writable = True
            if reader is not None:
                reader.close()
            return True

    def reopen(self) -> None:
        """Drop this process's Chroma cache after another process wrote (a reader reads the file afresh)."""
        if not self.writable or self.server:
            return
        backend.release(self.settings, self._cols.client if self._cols else None)
        self._use(backend.open_collections(self.settings, self.chroma_path))

    def read_log(self, where: dict[str, Any] | None = None) -> list[Event]:
        """The log's events matching ``where``, with a message a person can read when Chroma fails."""
        try:
            return self.log.read(where)
        except MemexError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise self.problem("Reading the change log", exc) from exc

    def problem(self, doing: str, exc: BaseException) -> StoreError:
        """The error for a failed Chroma call: the server's own message, or what failed where."""
        if self.server:
            return backend.server_problem(self.settings, exc)
        return StoreError(f"{doing} in {self.home} failed: {type(exc).__name__}: {exc}")

    @contextlib.contextmanager
    def process_lock(self) -> Iterator[None]:
        """Serialise writers on this machine (a lock file). Machines over one server share no lock;
        appends cannot conflict anyway (docs/server-mode.md)."""
        if self.server:
            yield
            return
        with open(self._lockfile, "a+") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            if self._cols is not None and self._cols.client is not None:
                self._cols.client.close()
