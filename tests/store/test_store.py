"""The store's invariants: history and revert, delete cascade, rebuilt graph, concurrency, bad folders."""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

import networkx as nx
import pytest
from fakes import HashEmbedder

from memory_core.config import Settings
from memory_core.errors import InputError, NotFoundError, StoreError
from memory_core.notes import Link, Note
from memory_core.store import MemoryStore, build_graph


def put(store: MemoryStore, content: str, **kw) -> Note:
    note = Note(content=content, **kw)
    with store.writing() as w:
        w.put(note)
    return store.get(note.id)


def edge_set(graph: nx.DiGraph) -> set[tuple[str, str, str, str]]:
    return {(a, b, d["reason"], d["by"]) for a, b, d in graph.edges(data=True)}


def test_update_records_history_and_revert_restores(hstore: MemoryStore) -> None:
    note = put(hstore, "Paris trip in May", tags=["travel"], context="A trip.")
    hstore.update(note.id, by="person", content="Paris trip in June", tags=["travel", "france"])
    changed = hstore.get(note.id)
    assert changed.content == "Paris trip in June"
    assert [(c.field, c.by) for c in changed.history] == [("content", "person"), ("tags", "person")]
    assert changed.history[0].old == "Paris trip in May"
    # the embedding followed the text
    assert hstore.lexical.search("june", 1)[0][0] == note.id
    assert not hstore.lexical.search("may", 1)

    reverted = hstore.revert(note.id, 0)
    assert reverted.content == "Paris trip in May" and reverted.tags == ["travel"]
    assert len(reverted.history) == 4  # the revert is recorded too, so it can itself be reverted
    again = hstore.revert(note.id, 2)
    assert again.content == "Paris trip in June" and again.tags == ["travel", "france"]


def test_update_rejects_empty_content_and_unknown_fields(hstore: MemoryStore) -> None:
    note = put(hstore, "keep me")
    with pytest.raises(InputError):
        hstore.update(note.id, content="   ")
    with pytest.raises(StoreError):
        hstore.update(note.id, links=[])
    assert hstore.get(note.id).content == "keep me"
    assert hstore.get(note.id).history == []


def test_delete_removes_every_link_to_the_note(hstore: MemoryStore) -> None:
    a, b, c = (put(hstore, t) for t in ("alpha", "beta", "gamma"))
    hstore.link(a.id, b.id, "a->b")
    hstore.link(c.id, b.id, "c->b")
    hstore.link(b.id, a.id, "b->a")
    assert hstore.graph.number_of_edges() == 3
    assert hstore.delete(b.id) == 1
    assert b.id not in hstore
    assert hstore.get(a.id).links == [] and hstore.get(c.id).links == []
    assert hstore.graph.number_of_edges() == 0
    # the removal is recorded in the linking notes' history
    assert hstore.get(a.id).history[-1].field == "links"
    # and survives a restart
    reopened = MemoryStore(hstore.settings, HashEmbedder())
    assert reopened.get(a.id).links == [] and b.id not in reopened


def test_rebuilt_graph_equals_live_graph(hstore: MemoryStore) -> None:
    notes = [put(hstore, f"note number {i} about topic {i % 3}") for i in range(12)]
    for i in range(11):
        hstore.link(notes[i].id, notes[i + 1].id, f"step {i}")
    hstore.link(notes[0].id, notes[5].id, "jump")
    hstore.unlink(notes[3].id, notes[4].id)
    hstore.delete([notes[7].id, notes[9].id])
    hstore.update(notes[2].id, content="rewritten")
    live = hstore.graph
    rebuilt = MemoryStore(hstore.settings, HashEmbedder()).graph
    assert set(live.nodes) == set(rebuilt.nodes)
    assert edge_set(live) == edge_set(rebuilt)
    assert edge_set(build_graph(hstore.notes_view())) == edge_set(live)


def test_links_are_ids_and_survive_reordering(hstore: MemoryStore) -> None:
    a, b = put(hstore, "first"), put(hstore, "second")
    hstore.link(b.id, a.id, "back")
    hstore.delete(put(hstore, "unrelated, deleted").id)
    assert hstore.get(b.id).link_targets == [a.id]


def test_concurrent_writers_lose_nothing(hstore: MemoryStore) -> None:
    """Streamlit runs sessions in threads: many writers on one store, some on the same note."""
    shared = put(hstore, "shared note", tags=[])
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            for i in range(8):
                put(hstore, f"writer {n} note {i}")
                with hstore.writing() as w:
                    note = w.get(shared.id)
                    note.set_field("tags", [*note.tags, f"w{n}-{i}"], "person")
                    w.put(note)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(hstore) == 1 + 4 * 8
    assert len(hstore.get(shared.id).tags) == 32
    reopened = MemoryStore(hstore.settings, HashEmbedder())
    assert len(reopened) == 33 and len(reopened.get(shared.id).tags) == 32


def test_two_store_objects_on_one_folder_see_each_others_writes(tmp_path: Path) -> None:
    """Like the app and the CLI side by side: each write re-reads what the other wrote."""
    s = Settings(data_dir=str(tmp_path / "home"))
    one, two = MemoryStore(s, HashEmbedder()), MemoryStore(s, HashEmbedder())
    a = put(one, "written by one")
    b = put(two, "written by two")
    assert a.id in two and b.id in one
    two.link(b.id, a.id, "cross")
    assert one.get(b.id).link_targets == [a.id]


def test_unknown_id_is_a_clear_error(hstore: MemoryStore) -> None:
    with pytest.raises(NotFoundError, match="No note"):
        hstore.get("does-not-exist")
    with pytest.raises(NotFoundError):
        hstore.delete("nope-nope")


def _tree_digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_foreign_folder_is_refused_and_untouched(tmp_path: Path) -> None:
    folder = tmp_path / "documents"
    folder.mkdir()
    (folder / "thesis.docx").write_bytes(b"precious")
    before = _tree_digest(folder)
    with pytest.raises(StoreError, match="not a Memex data directory"):
        MemoryStore(Settings(data_dir=str(folder)), HashEmbedder())
    assert _tree_digest(folder) == before


def test_corrupt_database_is_refused_and_untouched(hstore: MemoryStore) -> None:
    put(hstore, "a memory worth keeping")
    home = hstore.home
    del hstore
    db = home / "chroma" / "chroma.sqlite3"
    db.write_bytes(b"this is not sqlite" * 100)
    before = _tree_digest(home)
    with pytest.raises(StoreError) as info:
        MemoryStore(Settings(data_dir=str(home)), HashEmbedder())
    assert "did not change anything" in str(info.value)
    assert _tree_digest(home) == before


def test_missing_database_file_is_refused(tmp_path: Path) -> None:
    home = tmp_path / "home"
    put(MemoryStore(Settings(data_dir=str(home)), HashEmbedder()), "The database exists now.")
    os.remove(home / "chroma" / "chroma.sqlite3")
    with pytest.raises(StoreError, match="chroma.sqlite3 is missing"):
        MemoryStore(Settings(data_dir=str(home)), HashEmbedder())


def test_damaged_marker_is_refused(tmp_path: Path) -> None:
    home = tmp_path / "home"
    MemoryStore(Settings(data_dir=str(home)), HashEmbedder())
    (home / "memex.json").write_text("{broken")
    with pytest.raises(StoreError, match="damaged"):
        MemoryStore(Settings(data_dir=str(home)), HashEmbedder())


def test_filter_and_stats(hstore: MemoryStore) -> None:
    put(hstore, "Berlin museum visit", tags=["travel"], timestamp="2023-05-08T13:56:00+00:00", source="import")
    put(hstore, "Bought oat milk", tags=["shopping"], timestamp="2024-01-02T10:00:00+00:00")
    assert [n.content for n in hstore.filter(tag="travel")] == ["Berlin museum visit"]
    assert [n.content for n in hstore.filter(source="import")] == ["Berlin museum visit"]
    assert [n.content for n in hstore.filter(text="OAT")] == ["Bought oat milk"]
    assert [n.content for n in hstore.filter(since="2024-01-01T00:00:00Z")] == ["Bought oat milk"]
    assert [n.content for n in hstore.filter(until="2023-12-31")] == ["Berlin museum visit"]
    stats = hstore.stats()
    assert stats["notes"] == 2 and stats["links"] == 0 and stats["sources"] == {"import": 1, "manual": 1}


def test_stats_count_the_persons_notes_and_memex_summaries_apart(hstore: MemoryStore) -> None:
    """A digest and a profile line cite the notes; counted as notes they would triple a small memory."""
    sushi = put(hstore, "I love sushi.", tags=["food"])
    anna = put(hstore, "Anna lives in Lisbon.", tags=["family"])
    hstore.link(anna.id, sushi.id, "both mine")
    digest = Note("Digest of 2024-05-01\nTold: I love sushi.", source="digest", tags=["digest"],
                  links=[Link(sushi.id, "cites"), Link(anna.id, "cites")])
    line = Note("Anna: Anna lives in Lisbon.", source="profile", tags=["profile"], links=[Link(anna.id, "cites")])
    with hstore.writing() as w:
        w.put(digest)
        w.put(line)
    stats = hstore.stats()
    assert (stats["notes"], stats["links"], stats["tags"], stats["isolated"]) == (2, 1, 2, 0)
    assert stats["sources"] == {"manual": 2} and stats["summaries"] == {"digest": 1, "profile": 1}


def test_touch_counts_recalls_without_history(hstore: MemoryStore) -> None:
    note = put(hstore, "remember me")
    hstore.touch([note.id, note.id])
    got = hstore.get(note.id)
    assert got.retrieval_count == 1 and got.last_accessed and got.history == []


def test_bulk_neighbour_search_agrees_with_the_index(hstore: MemoryStore) -> None:
    texts = ["red apples", "green apples", "tax report", "annual tax report", "blue sky", "grey sky today"]
    for t in texts:
        put(hstore, t)
    queries = HashEmbedder().embed(["apples red", "tax report annual", "sky"])
    bulk = hstore.nearest_many(queries, 2)
    for q, row in zip(queries, bulk):
        assert hstore.nearest_ids(q, 2) == row
        # the exact in-memory search agrees with Chroma's own index on what is stored
        res = hstore._conn.cols.view.query(query_embeddings=[q.tolist()], n_results=2, include=["distances"])
        assert [i for i, _ in row] == res["ids"][0]
        assert [round(s, 4) for _, s in row] == [round(1 - d, 4) for d in res["distances"][0]]
    assert hstore.nearest_many(queries[:0], 2) == []


def test_bulk_neighbour_search_is_the_exact_top_k(hstore: MemoryStore) -> None:
    """nearest_many against the definition: every stored note scored, sorted, the first k kept."""
    texts = [f"note {i} about {w}" for i, w in enumerate(["apples", "tax", "sky", "chess", "soup"] * 8)]
    ids = [put(hstore, t).id for t in texts]
    vectors = HashEmbedder().embed([hstore.get(i).text_for_embedding() for i in ids])
    queries = HashEmbedder().embed(["apples and tax", "sky", "soup chess note 3"])
    for k in (1, 5, len(ids), len(ids) + 3):
        for q, row in zip(queries, hstore.nearest_many(queries, k)):
            sims = vectors @ q
            expected = sorted(range(len(ids)), key=lambda j: -sims[j])[:k]
            assert [nid for nid, _ in row] == [ids[j] for j in expected]
            assert [round(s, 5) for _, s in row] == [round(float(sims[j]), 5) for j in expected]
