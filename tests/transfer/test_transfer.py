"""Export/import round trip with full fidelity; a malformed import changes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from fakes import HashEmbedder

from memory_core.config import Settings
from memory_core.errors import ImportFormatError
from memory_core.notes import Note
from memory_core.store import MemoryStore
from memory_core.transfer.memex_json import export_data, export_json, import_file


def make_store(path: Path) -> MemoryStore:
    return MemoryStore(Settings(data_dir=str(path)), HashEmbedder())


@pytest.fixture
def filled(tmp_path: Path) -> MemoryStore:
    store = make_store(tmp_path / "src")
    notes = [Note(content=f"note {i}: <b>bold</b> ünïcødé 日本語", tags=[f"t{i % 2}"],
                  timestamp=f"2023-05-0{i + 1}T13:56:00+02:00", source="import", source_ref=f"D1:{i}")
             for i in range(4)]
    with store.writing() as w:
        for n in notes:
            w.put(n)
    store.link(notes[0].id, notes[1].id, "first link")
    store.link(notes[2].id, notes[0].id, "second link")
    store.update(notes[3].id, context="edited by a person", tags=["x"])
    store.touch([notes[1].id])
    return store


def comparable(store: MemoryStore) -> list[dict]:
    return export_data(store)["notes"]


def test_round_trip_keeps_ids_links_history_and_times(filled: MemoryStore, tmp_path: Path) -> None:
    raw = export_json(filled)
    target = make_store(tmp_path / "dst")
    report = import_file(target, raw)
    assert report.added == 4 and not report.skipped
    assert comparable(target) == comparable(filled)
    assert set(target.graph.edges) == set(filled.graph.edges)
    assert target.get(comparable(filled)[3]["id"]).history[-1].by == "person"
    # importing again skips what is there, or replaces it on request
    assert len(import_file(target, raw).skipped) == 4
    assert import_file(target, raw, replace=True).replaced == 4
    assert comparable(target) == comparable(filled)


@pytest.mark.parametrize("raw, message", [
    (b"{not json", "not valid JSON"),
    (b"\xff\xfe\x00garbage", "not UTF-8"),
    (b'{"format": "something-else"}', "not a Memex export"),
    (b'[{"sample_id": "x", "conversation": {}}]', "LoCoMo conversation file"),
    (b'{"format": "memex-export", "version": 99, "notes": []}', "Unsupported export version"),
    (b'{"format": "memex-export", "version": 1}', 'no "notes" list'),
    (b'{"format": "memex-export", "version": 1, "notes": [{"id": "a", "content": ""}]}', "content. must be a non-empty string"),
    (b'{"format": "memex-export", "version": 1, "notes": [{"id": "a", "content": "x", "tags": "oops"}]}',
     "'tags' must be a list"),
    (b'{"format": "memex-export", "version": 1, "notes": [{"id": "a", "content": "x"}, {"id": "a", "content": "y"}]}',
     "appears twice"),
    (b'{"format": "memex-export", "version": 1, "notes": [{"id": "a", "content": "x", "links": [{"target": "zz"}]}]}',
     "links to zz"),
    (b'{"format": "memex-export", "version": 1, "notes": [{"id": "a", "content": "x", "timestamp": "yesterday"}]}',
     "not an ISO 8601 time"),
])
def test_malformed_import_is_refused_and_changes_nothing(filled: MemoryStore, raw: bytes, message: str) -> None:
    before = export_data(filled)["notes"]
    with pytest.raises(ImportFormatError, match=message):
        import_file(filled, raw)
    assert export_data(filled)["notes"] == before
