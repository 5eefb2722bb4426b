"""The store's shape: MemoryStore satisfies the Store protocol, and a write batch needs only a read-only fold."""

from __future__ import annotations

import inspect
from pathlib import Path
from types import MappingProxyType

import pytest
from fakes import HashEmbedder

from memory_core.config import Settings
from memory_core.errors import NotFoundError
from memory_core.notes import Note
from memory_core.store import MemoryStore, Store, WriteBatch, build_graph


@pytest.fixture
def hstore(tmp_path: Path) -> MemoryStore:
    return MemoryStore(Settings(data_dir=str(tmp_path / "home")), HashEmbedder())


def test_memory_store_is_a_store_with_the_protocol_signatures(hstore: MemoryStore) -> None:
    assert isinstance(hstore, Store)
    members = [name for name, value in vars(Store).items()
               if callable(value) and not name.startswith("_") or name in ("__len__", "__contains__")]
    assert len(members) > 30
    for name in members:  # isinstance checks names only: the parameters must agree too
        want = inspect.signature(getattr(Store, name))
        got = inspect.signature(getattr(MemoryStore, name))
        assert list(got.parameters) == list(want.parameters), name


def test_a_batch_works_over_a_plain_read_only_fold_without_a_store() -> None:
    a, b, c = Note(content="a"), Note(content="b"), Note(content="c")
    a.add_link(c.id, "about c", "person")
    b.add_link(c.id, "about c too", "person")
    notes = {n.id: n for n in (a, b, c)}
    batch = WriteBatch(MappingProxyType(notes), build_graph(notes))
    copy = batch.get(a.id)
    copy.content = "changed"
    assert notes[a.id].content == "a"  # a private copy: the fold is untouched
    batch.delete(c.id)
    assert batch.deletes == [c.id] and set(batch.puts) == {a.id, b.id}
    assert all(not n.links for n in batch.puts.values())  # the links to the deleted note are gone
    assert [x.target for x in notes[b.id].links] == [c.id]  # ... from the batch's copies only
    assert not batch.exists(c.id) and batch.exists(a.id)
    with pytest.raises(NotFoundError):
        batch.get(c.id)
    with pytest.raises(NotFoundError):
        batch.delete("no-such-note")


def test_the_fold_a_batch_gets_from_the_store_cannot_be_changed(hstore: MemoryStore) -> None:
    note = Note(content="kept as it is")
    with hstore.writing() as w:
        w.put(note)
    with pytest.raises(TypeError), hstore.writing() as w:
        w.notes[note.id] = Note(content="smuggled in")  # type: ignore[index]
    assert hstore.get(note.id).content == "kept as it is" and len(hstore) == 1
