"""``memex explain QUERY NOTE`` in a new process: the verdict, the gap, JSON, and clear errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from memory_core.config import Settings
from memory_core.notes import Note
from memory_core.store import MemoryStore


def memex(*args: str, home: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "memory_core.cli", *args, "--data-dir", str(home)],
                          capture_output=True, text=True, timeout=600)


@pytest.mark.server  # `memex` processes
def test_explain_in_a_new_process(tmp_path: Path, embedder) -> None:
    home = tmp_path / "home"
    store = MemoryStore(Settings(data_dir=str(home)), embedder)
    garden = [Note(f"Tomato log {i}: " + "tomato " * (6 - i) + "grew", timestamp=f"2024-03-0{i + 1}T10:00:00+00:00")
              for i in range(6)]
    hostile = Note("\x1b[2J<script>alert(1)</script> tomato")
    with store.writing() as w:
        for n in [*garden, hostile]:
            w.put(n)
    store.close()

    out = memex("explain", "tomato", garden[4].id[:8], "-k", "2", "--retriever", "bm25", home=home)
    assert out.returncode == 0, out.stderr
    assert "not recalled: rank 5 of 7 notes, 3 place(s) below the cut (k = 2)" in out.stdout
    assert "query words it has:   tomato (content)" in out.stdout and "missed the cut by 3 place(s)" in out.stdout

    data = json.loads(memex("explain", "tomato", garden[0].id, "--json", "--retriever", "bm25", home=home).stdout)
    assert data["recalled"] and data["rank"] == 1 and data["note_id"] == garden[0].id and data["lacks"] == []

    text = memex("explain", "tomato", hostile.id, home=home).stdout
    assert "\x1b" not in text and "<script>alert(1)</script> tomato" in text

    for args, message in [(["", garden[0].id], "Give the query to explain"),
                          (["tomato", "nosuchnote"], "No note with id 'nosuchnote'"),
                          (["tomato", "ab"], "at least 6 characters")]:
        bad = memex("explain", *args, home=home)
        assert bad.returncode == 2 and message in bad.stderr and "Traceback" not in bad.stderr, args
