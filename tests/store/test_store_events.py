"""The change log: one event per change, history derived from it, the fold, as-of, revert, proposals."""

from __future__ import annotations

import threading

import pytest
from fakes import HashEmbedder

from memory_core.errors import InputError
from memory_core.notes import Note
from memory_core.store import MemoryStore, Proposal, build_graph
from memory_core.store.events import CREATE, Event
from memory_core.store.fold import fold


def put(store: MemoryStore, content: str, **kw) -> Note:
    note = Note(content=content, **kw)
    with store.writing() as w:
        w.put(note)
    return store.get(note.id)


def reopened(store: MemoryStore) -> MemoryStore:
    return MemoryStore(store.settings, HashEmbedder())


def comparable(notes: dict[str, Note]) -> dict[str, dict]:
    out = {}
    for nid, n in notes.items():
        d = n.to_dict()
        d.pop("last_accessed"), d.pop("retrieval_count")
        out[nid] = d
    return out


def test_each_change_is_one_event_and_history_comes_from_the_log(hstore: MemoryStore) -> None:
    note = put(hstore, "Paris trip in May", tags=["travel"])
    assert [e.field for e in hstore.events(note.id)] == [CREATE]
    hstore.update(note.id, content="Paris trip in June", tags=["travel", "france"], cause="test:1")
    evs = hstore.events(note.id)
    assert [e.field for e in evs] == [CREATE, "content", "tags"]
    assert evs[1].old == "Paris trip in May" and evs[1].new == "Paris trip in June" and evs[1].by == "person"
    assert evs[1].batch == evs[2].batch != evs[0].batch and evs[1].cause == "test:1"
    assert evs[0].id < evs[1].id < evs[2].id  # sortable ids
    history = hstore.get(note.id).history
    assert [(c.field, c.old, c.new, c.by, c.cause) for c in history] == \
        [(e.field, e.old, e.new, e.by, e.cause) for e in evs[1:]]
    # the edit appended two small records: nothing about the note's age
    before = hstore._conn.log.count()
    for i in range(20):
        hstore.update(note.id, context=f"edit {i}")
    assert hstore._conn.log.count() == before + 20


def test_live_notes_equal_the_fold_of_the_log_and_reindex_rebuilds_the_same(hstore: MemoryStore) -> None:
    notes = [put(hstore, f"note {i} about topic {i % 3}", tags=[f"t{i % 2}"]) for i in range(8)]
    for i in range(7):
        hstore.link(notes[i].id, notes[i + 1].id, f"step {i}")
    hstore.update(notes[2].id, content="rewritten", keywords=["rewritten"])
    hstore.unlink(notes[3].id, notes[4].id)
    hstore.delete(notes[5].id)
    hstore.revert(notes[2].id, 0)
    live = comparable(hstore.notes_view())
    assert comparable(fold(hstore.events()).notes) == live
    assert comparable(reopened(hstore).notes_view()) == live
    edges = set(hstore.graph.edges)
    settings = dict(hstore._conn.cols.view.metadata)
    report = hstore.reindex()
    assert report["notes"] == 7 and report["embedded"] == 0
    assert hstore._conn.cols.view.metadata == settings  # rebuilt with the settings it was created with
    assert settings["hnsw:sync_threshold"] == 200
    assert comparable(hstore.notes_view()) == live and set(hstore.graph.edges) == edges
    assert hstore.lexical.search("rewritten", 3) == []  # the revert brought the old text back
    assert hstore.lexical.search("note 2", 1)[0][0] == notes[2].id


def test_concurrent_changes_of_one_note_both_survive_in_the_fold() -> None:
    """Two writers that did not see each other (two machines): different fields both apply; the same
    list field merges additions; a scalar takes the later event, and both values stay in history."""
    base = Note(content="shared", id="n1", tags=["a"], context="start")
    create = Event("0001", "n1", CREATE, None, {**base.to_dict()}, "person", "2024-01-01T00:00:00+00:00")
    events = [create,
              Event("0002", "n1", "tags", ["a"], ["a", "b"], "person", "2024-01-02T00:00:00+00:00"),
              Event("0003", "n1", "tags", ["a"], ["a", "c"], "evolver", "2024-01-02T00:00:01+00:00"),
              Event("0004", "n1", "context", "start", "one", "person", "2024-01-03T00:00:00+00:00"),
              Event("0005", "n1", "context", "start", "two", "evolver", "2024-01-03T00:00:01+00:00"),
              Event("0006", "n1", "keywords", [], ["k"], "enricher", "2024-01-03T00:00:02+00:00")]
    note = fold(events).notes["n1"]
    assert note.tags == ["a", "b", "c"] and note.context == "two" and note.keywords == ["k"]
    assert [c.new for c in note.history if c.field == "context"] == ["one", "two"]
    # order of arrival does not matter: the fold sorts by id
    assert fold(list(reversed(events))).notes["n1"].to_dict() == note.to_dict()


def test_threads_writing_one_note_lose_nothing_and_nested_writing_joins(hstore: MemoryStore) -> None:
    shared = put(hstore, "shared", tags=[])

    def worker(n: int) -> None:
        for i in range(5):
            with hstore.writing() as w:
                note = w.get(shared.id)
                note.set_field("tags", [*note.tags, f"w{n}-{i}"], "person")
                with hstore.writing() as inner:  # nested: joins the outer batch, no deadlock
                    assert inner is w
                    w.put(note)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(hstore.get(shared.id).tags) == 20
    assert len(reopened(hstore).get(shared.id).tags) == 20


def test_as_of_graph_as_of_and_changes_between(hstore: MemoryStore) -> None:
    a = put(hstore, "alpha")
    b = put(hstore, "beta")
    t1 = hstore.events()[-1].at
    import time

    time.sleep(1.1)  # event times have second precision
    hstore.link(a.id, b.id, "later link")
    hstore.update(a.id, content="alpha changed")
    t2 = hstore.events()[-1].at
    then = hstore.as_of(t1)
    assert then[a.id].content == "alpha" and then[a.id].links == [] and set(then) == {a.id, b.id}
    assert hstore.graph_as_of(t1).number_of_edges() == 0
    assert set(hstore.graph_as_of(t2).edges) == {(a.id, b.id)}
    between = hstore.changes_between(t1, t2)
    assert [e.field for e in between] == ["links", "content"]
    then[a.id].content = "changed a copy"
    assert hstore.get(a.id).content == "alpha changed"
    with pytest.raises(InputError):
        hstore.as_of("yesterday")


def test_revert_plan_and_per_field_revert(hstore: MemoryStore) -> None:
    note = put(hstore, "Paris in May", tags=["travel"], context="A trip.")
    hstore.update(note.id, by="evolver", context="Trip to France.", tags=["travel", "france"])
    hstore.update(note.id, by="person", content="Paris in June")
    plan = {fc.field: fc for fc in hstore.revert_plan(note.id, 0)}
    assert set(plan) == {"content", "context", "tags"}
    assert plan["content"].conflict and not plan["context"].conflict
    assert plan["context"].current == "Trip to France." and plan["context"].target == "A trip."
    # a model-side revert leaves the person's edit alone
    got = hstore.revert(note.id, 0, by="system")
    assert got.content == "Paris in June" and got.context == "A trip." and got.tags == ["travel"]
    # per field, on request
    got = hstore.revert(note.id, 0, fields=["content"])
    assert got.content == "Paris in May"
    assert hstore.events(note.id)[-1].cause == "revert:v0"
    with pytest.raises(InputError):
        hstore.revert_plan(note.id, 0, fields=["id"])


def test_proposals_inbox_persists(hstore: MemoryStore) -> None:
    n = put(hstore, "target note")
    pid = hstore.proposals.add(Proposal(target_id=n.id, kind="context", before="", after="new context",
                                        source_id=n.id, proposed_by="evolver:test",
                                        grounding={"score": 0.8, "why": "shares words"}))
    assert hstore.proposals.count() == 1 and hstore.proposals.get(pid).after == "new context"
    again = reopened(hstore)
    assert [p.id for p in again.proposals.list()] == [pid]
    done = again.proposals.set_status(pid, "accepted", by="person", note="fine")
    assert done.status == "accepted" and done.resolved_by == "person" and done.resolved_at
    assert hstore.proposals.count() == 0 and hstore.proposals.count("accepted") == 1
    assert [p.id for p in hstore.proposals.list(None)] == [pid]
    with pytest.raises(InputError):
        hstore.proposals.set_status(pid, "maybe", by="person")


def test_import_replace_and_graph_match_after_reopen(hstore: MemoryStore) -> None:
    a, b = put(hstore, "one"), put(hstore, "two")
    hstore.link(a.id, b.id, "x")
    fresh = Note(content="one, replaced", id=a.id)
    with hstore.writing() as w:
        w.put(fresh, replace=True)
    assert hstore.get(a.id).content == "one, replaced" and hstore.get(a.id).links == []
    assert set(build_graph(reopened(hstore).notes_view()).edges) == set(hstore.graph.edges) == set()


def test_snapshot_open_equals_a_full_fold_and_follows_later_writes(hstore: MemoryStore, monkeypatch) -> None:
    from memory_core.store import snapshot

    monkeypatch.setattr(snapshot, "SAVE_EVERY", 5)
    notes = [put(hstore, f"snap note {i}") for i in range(6)]
    hstore.link(notes[0].id, notes[1].id, "x")
    hstore.close()
    assert (hstore.home / "cache" / "fold.json").exists()
    other = reopened(hstore)
    writer = reopened(hstore)  # writes after the snapshot: followed from its high-water mark
    writer.update(notes[2].id, content="after the snapshot")
    writer.delete(notes[3].id)
    fast = reopened(hstore)
    assert fast.get(notes[2].id).content == "after the snapshot" and notes[3].id not in fast
    slow = reopened(hstore)
    slow._live.load(use_snapshot=False)
    assert comparable(fast.notes_view()) == comparable(slow.notes_view()) == comparable(fold(hstore.events()).notes)
    assert set(fast.graph.edges) == set(slow.graph.edges)
    assert comparable(other.notes_view()) == comparable(writer.notes_view())


def test_a_snapshot_Memex_did_not_write_is_ignored_not_trusted(hstore: MemoryStore, monkeypatch) -> None:
    """The snapshot is read without field checks (speed): anything off in it means a full fold instead."""
    import json

    from memory_core.store import snapshot

    monkeypatch.setattr(snapshot, "SAVE_EVERY", 3)
    notes = [put(hstore, f"trusted note {i}") for i in range(4)]
    hstore.link(notes[0].id, notes[1].id, "why")
    hstore.close()
    path = hstore.home / "cache" / "fold.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    assert Note.from_trusted_dict(data["notes"][0]) == Note.from_dict(data["notes"][0])
    data["notes"][0]["content"] = "tampered"
    data["notes"][0]["unknown_field"] = 1
    path.write_text(json.dumps(data), encoding="utf-8")
    again = reopened(hstore)
    assert "tampered" not in {n.content for n in again.notes_view().values()}
    assert comparable(again.notes_view()) == comparable(fold(again.events()).notes)
