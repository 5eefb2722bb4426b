"""Reads never write; forget means forgotten (a byte search of the data folder finds nothing)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from fakes import HashEmbedder

from memory_core.config import Settings
from memory_core.notes import Note
from memory_core.retrieval import search
from memory_core.store import MemoryStore, Proposal
from memory_core.transfer.memex_json import export_to_file

TOKEN = "Zyxquorbian"  # appears in no dictionary and in no other note


def digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def files_holding(folder: Path, needle: str) -> list[str]:
    data = needle.encode("utf-8")
    return [str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file() and data in p.read_bytes()]


def fill(store: MemoryStore) -> list[Note]:
    notes = [Note(content=t) for t in ("I walked the dog in the park", "Dinner with Sam on Friday",
                                       "The tax report is due in April", "Sam likes green tea")]
    with store.writing() as w:
        for n in notes:
            w.put(n)
    store.link(notes[0].id, notes[1].id, "both weekend plans")
    store.update(notes[2].id, context="Paperwork for the year.")
    return notes


def test_reads_change_no_byte_of_the_data_folder(tmp_path: Path) -> None:
    store = MemoryStore(Settings(data_dir=str(tmp_path / "home")), HashEmbedder())
    notes = fill(store)
    when = store.events()[-1].at
    before = digest(store.home)
    for _ in range(3):
        hits = search(store, store.settings, "Sam tea", k=3)  # counts a recall (touch) by default
        assert hits
        store.get(notes[0].id)
        store.notes_view()
        store.as_of(when)
        store.graph_as_of(when)
        store.events(notes[0].id)
        store.filter(text="sam")
        store.stats()
        store.nearest_ids(store.vector(notes[1].id), 2)
    assert digest(store.home) == before
    assert store.get(hits[0].note.id).retrieval_count == 3  # counted, in memory
    store.close()  # the counts are flushed when the store closes (or writes)
    reopened = MemoryStore(store.settings, HashEmbedder())
    assert reopened.get(hits[0].note.id).retrieval_count == 3


def test_forget_leaves_no_byte_of_the_note_anywhere(tmp_path: Path) -> None:
    home = tmp_path / "home"
    store = MemoryStore(Settings(data_dir=str(home)), HashEmbedder())
    notes = fill(store)
    secret = Note(content=f"My locker code word is {TOKEN} and nobody knows it", tags=["private"])
    with store.writing() as w:
        w.put(secret)
    store.update(secret.id, content=f"My locker code word is {TOKEN}, really")
    store.link(notes[3].id, secret.id, f"mentions {TOKEN}")
    store.update(notes[3].id, by="evolver", context=f"Sam once heard about {TOKEN}.")
    store.proposals.add(Proposal(target_id=notes[2].id, kind="context", before="", after=f"about {TOKEN}",
                                 source_id=secret.id))
    store.touch([secret.id])
    (home / "exports").mkdir()
    export_to_file(store, home / "exports" / "backup.json")
    assert files_holding(home, TOKEN)  # the test can see it before

    own = len(store.events(secret.id))
    report = store.forget([secret.id])
    assert report.forgotten == [secret.id] and report.compacted
    # its own events; notes[3]'s link and context events that quoted it; and the two events the
    # forget wrote to clean notes[3], whose "old" values quoted it until the log was scrubbed
    assert report.events_redacted == own + 4, (report.events_redacted, own)
    assert notes[3].id in report.notes_scrubbed and report.proposals_removed == 1
    assert report.exports_rewritten
    assert files_holding(home, TOKEN) == []
    assert secret.id not in store and TOKEN.lower() not in json.dumps(
        [n.to_dict() for n in store.all_notes()]).lower()
    assert all(h.note.id != secret.id for h in search(store, store.settings, f"{TOKEN} locker code", k=5))
    # the rest is intact, the tombstone is there, and a fresh process sees the same
    assert store.get(notes[0].id).link_targets == [notes[1].id]
    assert store.get(notes[2].id).context == "Paperwork for the year."
    assert [e.field for e in store.events(secret.id)][-1] == "@delete"
    again = MemoryStore(store.settings, HashEmbedder())
    assert secret.id not in again and len(again) == 4
    assert again.get(notes[3].id).context == "" and again.get(notes[3].id).links == []
    # later writes (the vector index is rewritten) bring nothing back
    with store.writing() as w:
        for i in range(30):
            w.put(Note(content=f"later note {i}"))
    store.close()
    again.close()
    assert files_holding(home, TOKEN) == []
