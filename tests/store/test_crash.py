"""A writer killed with SIGKILL mid-write leaves every note fully stored or absent (real subprocess)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from fakes import HashEmbedder

from memory_core.config import Settings
from memory_core.store import MemoryStore

pytestmark = pytest.mark.server  # writer processes killed with SIGKILL

BATCH = 40

WRITER = """
import sys
sys.path.insert(0, {tests!r})
from fakes import HashEmbedder
from memory_core.config import Settings
from memory_core.notes import Note
from memory_core.store import MemoryStore

store = MemoryStore(Settings(data_dir={home!r}), HashEmbedder())
run = {run}
b = 0
while True:
    with store.writing() as w:
        prev = None
        for i in range({batch}):
            note = Note(content=f"run {{run}} batch {{b}} note {{i}} " + "filler words " * 50)
            if prev is not None:
                note.add_link(prev, "previous in batch", by="system")
            # also change an older note in the same commit (like evolution does)
            w.put(note)
            prev = note.id
        if b:
            anchor = w.get(first_of_previous)
            anchor.set_field("context", f"touched by batch {{b}}", "evolver")
            w.put(anchor)
        first_of_previous = [n.id for n in w.puts.values()][0]
    print(f"committed {{b}}", flush=True)
    b += 1
"""


def test_sigkill_mid_write_leaves_whole_notes(tmp_path: Path) -> None:
    home = tmp_path / "home"
    tests_dir = str(Path(__file__).resolve().parents[1])
    for run, delay in enumerate((0.05, 0.13, 0.31)):
        script = WRITER.format(tests=tests_dir, home=str(home), run=run, batch=BATCH)
        proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
        committed = 0
        deadline = time.time() + 120
        while committed < 2 and time.time() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            committed += line.startswith("committed")
        assert committed >= 2, "the writer never got going"
        time.sleep(delay)  # land somewhere inside a later write
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)

        store = MemoryStore(Settings(data_dir=str(home)), HashEmbedder())  # opens cleanly
        notes = store.all_notes()
        batches = Counter(" ".join(n.content.split()[:4]) for n in notes)
        assert batches, "nothing was stored"
        for key, count in batches.items():
            assert count == BATCH, f"{key}: {count} of {BATCH} notes survived: a write was torn"
        for note in notes:
            assert note.content.endswith("filler words ")
            for link in note.links:
                assert link.target in store, "a link points at a note that was never stored"
        assert store.graph.number_of_edges() == sum(len(n.links) for n in notes)
        del store


EDITOR = """
import sys
sys.path.insert(0, {tests!r})
from fakes import HashEmbedder
from memory_core.config import Settings
from memory_core.notes import Note
from memory_core.store import MemoryStore

store = MemoryStore(Settings(data_dir={home!r}), HashEmbedder())
shared = {shared!r}
r = {first}
while True:
    with store.writing() as w:  # one batch: a new note, a tag and a link on an old note, a context edit
        note = Note(content=f"round {{r}} " + "words " * 200)
        old = w.get(shared)
        old.set_field("tags", [*old.tags, f"r{{r}}"], "person")
        old.set_field("context", f"last round {{r}}", "evolver")
        old.add_link(note.id, f"round {{r}}", by="linker")
        w.put(note)
        w.put(old)
    print(f"committed {{r}}", flush=True)
    r += 1
"""


def test_sigkill_mid_edit_leaves_every_change_whole_or_absent(tmp_path: Path) -> None:
    """Edits of an old note and a new note in one batch: after a kill, both or neither, and the
    live notes equal the fold of the log."""
    from memory_core.notes import Note
    from memory_core.store.fold import fold

    home = tmp_path / "home"
    store = MemoryStore(Settings(data_dir=str(home)), HashEmbedder())
    shared = Note(content="the shared old note")
    with store.writing() as w:
        w.put(shared)
    store.close()
    first = 0
    for delay in (0.02, 0.07, 0.19):
        script = EDITOR.format(tests=str(Path(__file__).resolve().parents[1]), home=str(home), shared=shared.id, first=first)
        proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
        committed = 0
        while committed < 3:
            line = proc.stdout.readline()
            assert line, "the editor never got going"
            committed += line.startswith("committed")
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        store = MemoryStore(Settings(data_dir=str(home)), HashEmbedder())
        old = store.get(shared.id)
        rounds = {int(n.content.split()[1]) for n in store.all_notes() if n.content.startswith("round ")}
        assert {int(t[1:]) for t in old.tags} == rounds
        assert {link.reason for link in old.links} == {f"round {r}" for r in rounds}
        assert old.context == f"last round {max(rounds)}"
        assert {k: v.to_dict() for k, v in fold(store.events()).notes.items()} == \
            {k: v.to_dict() for k, v in store.notes_view().items()}
        first = max(rounds) + 1
        store.close()
