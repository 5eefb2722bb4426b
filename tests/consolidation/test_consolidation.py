"""Consolidation (issue 26, item 5): digests and a profile built from a small store, kept as notes.

Control flow runs on the cheap hash embedder (tests/fakes.py); what the lines say is read from the
person's own words, so those checks need no model. The recall and forget checks use real MiniLM.
"""

from __future__ import annotations

import json

import pytest

from memory_core.config import Settings
from memory_core.consolidation import cited, consolidate, dismiss, edit_line, lines_of, section_of
from memory_core.consolidation.extract import digest_lines, profile_lines
from memory_core.consolidation.sources import person_notes, recommendations
from memory_core.episodes.conversations import ConversationStore, new_message
from memory_core.notes import Note
from memory_core.retrieval.retrievers import search
from memory_core.store import MemoryStore

FACTS = [
    ("My sister Anna lives in Lisbon.", "2024-05-01T09:00:00+00:00"),
    ("I work as a nurse at the city hospital.", "2024-05-01T10:00:00+00:00"),
    ("I love sushi but I hate olives.", "2024-05-02T09:00:00+00:00"),
    ("Next month I plan to hike the Alps with Tom.", "2024-05-02T10:00:00+00:00"),
    ("My dog Biscuit is afraid of thunderstorms.", "2024-05-03T10:00:00+00:00"),
]


def seed(store: MemoryStore, facts=FACTS, conversation_id: str = "") -> list[str]:
    notes = [Note(content=t, timestamp=ts, source="chat", speaker="person", conversation_id=conversation_id)
             for t, ts in facts]
    with store.writing() as w:
        for n in notes:
            w.put(n)
    return [n.id for n in notes]


@pytest.fixture
def hstore(settings: Settings, hash_embedder) -> MemoryStore:
    return MemoryStore(settings, hash_embedder)


def by_ref(store: MemoryStore) -> dict[str, Note]:
    return {n.source_ref: n for n in lines_of(store)}


def test_profile_sections_are_the_persons_own_sentences_citing_their_notes(hstore: MemoryStore) -> None:
    ids = seed(hstore)
    report = consolidate(hstore)
    assert report.written_by == "extract" and report.notes_read == 5
    lines = by_ref(hstore)
    texts = {n.content: n for n in lines.values() if n.source == "profile"}
    assert texts["Anna: My sister Anna lives in Lisbon."].links[0].target == ids[0]
    assert section_of(texts["Lisbon: My sister Anna lives in Lisbon."]) == "places"
    assert section_of(texts["Anna: My sister Anna lives in Lisbon."]) == "people"
    assert section_of(texts["I work as a nurse at the city hospital."]) == "work"
    assert section_of(texts["I love sushi but I hate olives."]) == "likes"
    assert section_of(texts["Next month I plan to hike the Alps with Tom."]) == "plans"
    assert "Alps" not in {t.split(":")[0] for t, n in texts.items() if section_of(n) == "people"}
    # every profile line is built from the words of the notes it cites (extractive: nothing invented)
    notes = hstore.notes_view()
    for note in texts.values():
        sentence = note.content.split(": ", 1)[-1]
        assert cited(note) and any(sentence in notes[c].content for c in cited(note)), note.content
        assert "profile" in note.tags and note.speaker == "memex"


def test_digest_per_day_and_per_conversation_with_memex_recommendations(hstore: MemoryStore) -> None:
    conversations = ConversationStore(hstore.home)
    conv = conversations.new()
    conv.title = "Sleep trouble"
    user = new_message("user", "I can't sleep well lately.", at="2024-05-04T21:00:00+00:00")
    reply = new_message("assistant", "Sorry to hear that. I recommend you try a warm bath before bed. "
                        "Sleep is important.", at="2024-05-04T21:00:05+00:00")
    conv.messages = [user, reply]
    conversations.save(conv)
    ids = seed(hstore, [("I can't sleep well lately, I decided to stop coffee after noon.", "2024-05-04T21:00:00+00:00")],
               conversation_id=conv.id)
    consolidate(hstore, conversations)
    lines = by_ref(hstore)
    day, whole = lines["digest:day:2024-05-04"], lines[f"digest:conversation:{conv.id}"]
    for digest in (day, whole):
        assert "Memex recommended: I recommend you try a warm bath before bed." in digest.content
        assert "Sleep is important" not in digest.content  # not a recommendation
        assert "Decided: I can't sleep well lately, I decided to stop coffee after noon." in digest.content
        assert cited(digest) == ids
    assert whole.content.startswith("Digest of “Sleep trouble”") and whole.conversation_id == conv.id


def test_a_reply_to_a_forgotten_message_is_not_digested(hstore: MemoryStore) -> None:
    conversations = ConversationStore(hstore.home)
    conv = conversations.new()
    conv.messages = [new_message("user", "secret", memory={"note_id": "gone-note"}),
                     new_message("assistant", "You should try telling your doctor about it.")]
    conversations.save(conv)
    assert recommendations(conversations, alive=set()) == []
    assert [s.text for s in recommendations(conversations, alive={"gone-note"})] == \
        ["You should try telling your doctor about it."]


def test_rebuild_keeps_the_persons_edit_and_updates_the_rest(hstore: MemoryStore) -> None:
    seed(hstore)
    consolidate(hstore)
    anna = by_ref(hstore)["profile:people:anna"]
    edit_line(hstore, anna.id, "Anna: my older sister, in Lisbon since 2019.")
    seed(hstore, [("Anna got a new job in Lisbon as an architect.", "2024-05-05T10:00:00+00:00")])
    report = consolidate(hstore)
    after = by_ref(hstore)
    assert after["profile:people:anna"].content == "Anna: my older sister, in Lisbon since 2019."
    assert report.saved.kept_edited == 1
    assert after["profile:places:lisbon"].content == "Lisbon: Anna got a new job in Lisbon as an architect."
    assert len(cited(after["profile:places:lisbon"])) == 2
    again = consolidate(hstore)
    assert again.saved.created == again.saved.updated == 0 and not again.saved.removed


def test_a_dismissed_line_stays_away_until_a_new_note_about_it(hstore: MemoryStore) -> None:
    seed(hstore)
    consolidate(hstore)
    tom = by_ref(hstore)["profile:people:tom"]
    dismiss(hstore, tom.id)
    assert tom.id not in hstore
    consolidate(hstore)
    assert "profile:people:tom" not in by_ref(hstore)
    seed(hstore, [("I go climbing with Tom on Sundays.", "2024-05-06T10:00:00+00:00")])
    consolidate(hstore)
    assert "profile:people:tom" in by_ref(hstore)


def test_dismiss_refuses_the_persons_own_note(hstore: MemoryStore) -> None:
    from memory_core.errors import InputError

    ids = seed(hstore)
    with pytest.raises(InputError):
        dismiss(hstore, ids[0])
    assert ids[0] in hstore


def test_superseded_beliefs_leave_the_profile_but_stay_in_their_days_digest(hstore: MemoryStore) -> None:
    new = Note(content="I moved to Berlin.", timestamp="2024-05-02T10:00:00+00:00", speaker="person")
    old = Note(content="I live in Porto.", timestamp="2024-05-01T10:00:00+00:00", speaker="person",
               superseded_by=new.id, valid_until=new.timestamp)
    with hstore.writing() as w:
        w.put(new)
        w.put(old)
    notes = list(hstore.notes_view().values())
    refs = {x.ref for x in profile_lines(person_notes(notes))}
    assert "profile:places:berlin" in refs and "profile:places:porto" not in refs
    days = {x.key for x in digest_lines(person_notes(notes, current_only=False), [])}
    assert {"day:2024-05-01", "day:2024-05-02"} <= days


def test_forgetting_a_source_note_forgets_the_lines_citing_it(store: MemoryStore) -> None:
    ids = seed(store)
    consolidate(store)
    citing = [n.id for n in lines_of(store) if ids[0] in cited(n)]
    assert len(citing) >= 3  # Anna, Lisbon and the day's digest
    report = store.forget([ids[0]])
    assert set(citing) <= set(report.forgotten)
    assert not any("Lisbon" in n.content for n in store.notes_view().values())
    # nothing of it lingers: not in the log of any remaining or deleted note
    log = json.dumps([e.new for e in store.events()] + [e.old for e in store.events()], default=str)
    assert "Lisbon" not in log
    # the other notes' lines stay; the day's digest comes back from what remains
    consolidate(store)
    refs = by_ref(store)
    assert "profile:people:anna" not in refs and "profile:people:tom" in refs
    assert "Lisbon" not in refs["digest:day:2024-05-01"].content
    assert "nurse" in refs["digest:day:2024-05-01"].content


def test_forgetting_a_line_does_not_rewrite_the_notes_it_quotes(store: MemoryStore) -> None:
    ids = seed(store)
    ctx = "Person: My sister Anna lives in Lisbon."
    with store.writing() as w:
        note = w.get(ids[1])
        note.turn_context = ctx
        w.put(note)
    consolidate(store)
    line = by_ref(store)["profile:people:anna"]
    store.delete(line.id)
    assert store.get(ids[0]).content == FACTS[0][0]
    assert store.get(ids[1]).turn_context == ctx


def test_recall_gives_the_persons_notes_never_the_profile(store: MemoryStore) -> None:
    ids = seed(store)
    consolidate(store)
    hits = search(store, store.settings, "Where does my sister Anna live?", k=5)
    assert hits and hits[0].note.id == ids[0]
    assert all(h.note.source not in ("profile", "digest") for h in hits)
    # nor when the question names a day: the day's digest is not one of that day's memories
    from datetime import datetime, timezone

    from memory_core.retrieval.timespan import TimeSpan

    span = TimeSpan(datetime(2024, 5, 1, tzinfo=timezone.utc), datetime(2024, 5, 2, tzinfo=timezone.utc), "on May 1st")
    dated = search(store, store.settings, "What did I say on May 1st?", k=5, span=span)
    assert {h.note.id for h in dated[:2]} == {ids[0], ids[1]}
    assert all(h.note.source not in ("profile", "digest") for h in dated)
    # the write path's neighbours leave them out too (duplicates, links, evolution)
    vec = store.embedder.embed(["Anna: My sister Anna lives in Lisbon."])[0]
    assert all(nb.note.source not in ("profile", "digest") for nb in store.nearest(vec, 5))


def test_the_vault_holds_the_persons_notes_not_the_digests(hstore: MemoryStore) -> None:
    import io
    import zipfile

    from memory_core.transfer.vault.export import export_vault

    seed(hstore)
    consolidate(hstore)
    assert lines_of(hstore)
    files = zipfile.ZipFile(io.BytesIO(export_vault(hstore))).namelist()
    notes = [f for f in files if "/notes/" in f]
    assert len(notes) == len(FACTS)
    assert not any("Digest" in f or f.split("/")[-1].startswith("Anna") for f in notes)
