"""Recall statistics (how often a note was recalled, and when last): kept outside the write path.

Why apart: a search must not write the store (it would contend with writers and change the
database on every read). Counts live in memory and in ``recall.json`` beside the database, which
is written only when the store writes anyway (after a commit) or closes: a pure read session
changes no byte on disk. Losing the counts of a crashed session is acceptable; they are hints
for ranking and display, not memories.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

from ..notes import Note, now_iso

FILE = "recall.json"


class RecallStats:
    def __init__(self, home: Path) -> None:
        self.path = Path(home) / FILE
        self._lock = threading.Lock()
        self._dirty = False
        self.counts: dict[str, list] = {}  # note id -> [count, last recalled ISO time]
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            if isinstance(data, dict):
                self.counts = {str(k): [int(v[0]), str(v[1])] for k, v in data.items()
                               if isinstance(v, list) and len(v) == 2}
        except (OSError, ValueError, TypeError):
            self.counts = {}

    def touch(self, notes: list[Note]) -> None:
        """Count one recall of each note, in memory (the Note objects show it at once)."""
        stamp = now_iso()
        with self._lock:
            for note in notes:
                entry = self.counts.setdefault(note.id, [0, ""])
                entry[0] += 1
                entry[1] = stamp
                note.retrieval_count, note.last_accessed = entry[0], stamp
            self._dirty = self._dirty or bool(notes)

    def set(self, note: Note) -> None:
        """Take the counts a note arrives with (an import, a migration)."""
        with self._lock:
            self.counts[note.id] = [int(note.retrieval_count), str(note.last_accessed)]
            self._dirty = True

    def overlay(self, note: Note) -> Note:
        entry = self.counts.get(note.id)
        if entry:
            note.retrieval_count, note.last_accessed = entry[0], entry[1]
        return note

    def forget(self, ids: list[str]) -> None:
        with self._lock:
            for nid in ids:
                if self.counts.pop(nid, None) is not None:
                    self._dirty = True

    def flush(self) -> None:
        """Write the side file if anything changed (called after commits and on close)."""
        with self._lock:
            if not self._dirty:
                return
            data = json.dumps(self.counts)
            self._dirty = False
        tmp = self.path.with_name(FILE + ".tmp")
        try:
            tmp.write_text(data, encoding="utf-8")
            os.replace(tmp, self.path)
        except OSError:
            self._dirty = True
