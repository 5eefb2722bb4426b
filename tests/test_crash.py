"""A writer killed with SIGKILL mid-write leaves every note fully stored or absent (real subprocess)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from fakes import HashEmbedder

from memory_core.config import Settings
from memory_core.store import MemoryStore

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
    tests_dir = str(Path(__file__).parent)
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
