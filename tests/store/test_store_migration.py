"""Store format versions: a format-1 store (tests/fixtures/store_v1, written by Memex 0.1) migrates
after a backup copy, a kill during the migration leaves it usable, a newer format is refused."""

from __future__ import annotations

import hashlib
import json
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from fakes import HashEmbedder

from memory_core.config import Settings
from memory_core.errors import StoreError
from memory_core.store import FORMAT_VERSION, MemoryStore
from memory_core.store.datadir import read_marker
from memory_core.transfer.memex_json import export_data

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "store_v1"
A = "aaaaaaaa-0000-4000-8000-000000000001"


def v1_home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    shutil.copytree(FIXTURE / "chroma", home / "chroma")
    shutil.copy(FIXTURE / "memex.json", home / "memex.json")
    return home


def expected_notes() -> list[dict]:
    return json.loads((FIXTURE / "expected-notes.json").read_text(encoding="utf-8"))


def exported(store: MemoryStore) -> list[dict]:
    notes = export_data(store)["notes"]
    for n in notes:
        for c in n["history"]:
            assert c.pop("cause") == ""  # format 1 had no cause: the rest must be identical
    return notes


def digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_format1_fixture_migrates_with_backup_and_keeps_everything(tmp_path: Path) -> None:
    home = v1_home(tmp_path)
    original = digest(home / "chroma")
    assert read_marker(home)["format"] == 1
    store = MemoryStore(Settings(data_dir=str(home)), HashEmbedder())
    assert read_marker(home)["format"] == FORMAT_VERSION
    assert exported(store) == expected_notes()  # fields, links, history, recall counts
    backups = list((home / "backups").iterdir())
    assert len(backups) == 1 and digest(backups[0]) == original
    # old history became events with their original times: revert and as-of work on it
    evs = store.events(A)
    assert len(evs) == 1 + 4 and evs[1].at == store.get(A).history[0].at
    assert store.as_of("2023-05-09T00:00:00+00:00")[A].content == "Paris trip in May with Anna"
    assert store.revert(A, 0).content == "Paris trip in May with Anna"
    # opening again does not migrate again
    del store
    again = MemoryStore(Settings(data_dir=str(home)), HashEmbedder())
    assert len(list((home / "backups").iterdir())) == 1
    assert again.get(A).content == "Paris trip in May with Anna"


def test_newer_format_is_refused_untouched(tmp_path: Path) -> None:
    home = tmp_path / "home"
    MemoryStore(Settings(data_dir=str(home)), HashEmbedder()).close()
    (home / "memex.json").write_text(json.dumps({"format": FORMAT_VERSION + 1}))
    before = digest(home)
    with pytest.raises(StoreError, match="newer Memex"):
        MemoryStore(Settings(data_dir=str(home)), HashEmbedder())
    assert digest(home) == before


MIGRATOR = """
import os, sys, time, types
sys.path.insert(0, {tests!r})
from fakes import HashEmbedder
from memory_core.config import Settings
import memory_core.store.migrations as m

stage = {stage!r}
def pause(name):
    print(name, flush=True)
    if name == stage:
        time.sleep(30)

real_write = m._write_v2
def write_v2(*a, **k):
    pause("building")
    real_write(*a, **k)
    pause("built")
m._write_v2 = write_v2
real_rename = os.rename
def rename(a, b):
    real_rename(a, b)
    pause("renamed " + os.path.basename(str(b)))
m.os = types.SimpleNamespace(**{{k: getattr(os, k) for k in dir(os) if not k.startswith("__")}})
m.os.rename = rename
from memory_core.store import MemoryStore
MemoryStore(Settings(data_dir={home!r}), HashEmbedder())
print("done", flush=True)
"""


@pytest.mark.parametrize("stage", ["building", "built", "renamed chroma.old", "renamed chroma"])
@pytest.mark.server  # a migrating process killed
def test_kill_during_migration_leaves_the_store_usable(tmp_path: Path, stage: str) -> None:
    home = v1_home(tmp_path)
    script = MIGRATOR.format(tests=str(Path(__file__).resolve().parents[1]), home=str(home), stage=stage)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    seen = []
    while True:
        line = proc.stdout.readline().strip()
        assert line, f"the migrator ended before {stage!r} (saw {seen})"
        seen.append(line)
        if line == stage:
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    store = MemoryStore(Settings(data_dir=str(home)), HashEmbedder())  # finishes or redoes it
    assert exported(store) == expected_notes()
    assert read_marker(home)["format"] == FORMAT_VERSION
    assert not (home / "chroma.new").exists() and not (home / "chroma.old").exists()


@pytest.mark.server  # starts `chroma run`
def test_a_server_migration_cut_off_by_the_server_stopping_never_pretends(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The format-1 fixture served by `chroma run`; the server stops halfway through writing the new
    format. The migration says so and leaves the store marked format 1; run again with the server
    back, it completes, and every record is there once (the re-run overwrote its own records)."""
    from test_chroma_server import ChromaServer, free_port

    from memory_core.store.events import EventLog

    served = tmp_path / "server-data"
    shutil.copytree(FIXTURE / "chroma", served)
    server = ChromaServer(served, free_port(), tmp_path / "chroma.log")
    server.start()
    try:
        home = tmp_path / "home"
        home.mkdir()
        shutil.copy(FIXTURE / "memex.json", home / "memex.json")
        settings = Settings(data_dir=str(home), store_backend="server", chroma_host="127.0.0.1",
                            chroma_port=server.port)
        real_append = EventLog.append
        written: list[int] = []

        def append_then_stop(self: EventLog, events: list, **kw: object) -> None:
            half = len(events) // 2
            real_append(self, events[:half], **kw)
            written.append(half)
            server.stop()
            real_append(self, events[half:], **kw)

        monkeypatch.setattr(EventLog, "append", append_then_stop)
        with pytest.raises(StoreError, match="runs again the next time") as info:
            MemoryStore(settings, HashEmbedder())
        assert "writing the new format" in str(info.value) and written and written[0] > 0
        assert read_marker(home)["format"] == 1  # not marked: it runs again
        monkeypatch.undo()

        server.start()
        store = MemoryStore(settings, HashEmbedder())
        assert read_marker(home)["format"] == FORMAT_VERSION
        assert exported(store) == expected_notes()
        (tmp_path / "local").mkdir()
        local = MemoryStore(Settings(data_dir=str(v1_home(tmp_path / "local"))), HashEmbedder())
        assert store._conn.log.count() == local._conn.log.count()  # nothing written twice
    finally:
        server.stop()


@pytest.mark.server  # starts `chroma run`
def test_a_server_without_old_data_is_not_migrated_and_a_stopped_one_is_not_guessed(tmp_path: Path) -> None:
    """No format-1 collection: nothing to do. The server down: a clear message, the marker unchanged."""
    from test_chroma_server import ChromaServer, free_port

    server = ChromaServer(tmp_path / "server-data", free_port(), tmp_path / "chroma.log")
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(FIXTURE / "memex.json", home / "memex.json")
    settings = Settings(data_dir=str(home), store_backend="server", chroma_host="127.0.0.1", chroma_port=server.port)
    with pytest.raises(StoreError, match="did not answer"):
        MemoryStore(settings, HashEmbedder())
    assert read_marker(home)["format"] == 1
    server.start()
    try:
        store = MemoryStore(settings, HashEmbedder())
        assert read_marker(home)["format"] == FORMAT_VERSION and len(store) == 0
    finally:
        server.stop()
