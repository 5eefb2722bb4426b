"""The Profile page through Streamlit's AppTest: rebuild, sections with their cited notes, edit, delete,
digests per day and per conversation, and hostile note text shown as text."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from memory_core.config import Settings
from memory_core.consolidation import consolidate, edited_by_person, lines_of
from memory_core.notes import Note
from memory_core.store import MemoryStore

APP = str(Path(__file__).resolve().parents[2] / "app.py")
HOSTILE = "I love <img src=x onerror=alert(1)> and **bold** [tricks](javascript:alert(1))."
FACTS = [("My sister Anna lives in Lisbon.", "2024-05-01T10:00:00+00:00"),
         (HOSTILE, "2024-05-02T10:00:00+00:00")]


def seed(settings: Settings, embedder) -> MemoryStore:
    store = MemoryStore(settings, embedder)
    with store.writing() as w:
        for text, ts in FACTS:
            w.put(Note(content=text, timestamp=ts, source="chat", speaker="person", conversation_id="c" * 32))
    return store


def profile_page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=90)
    at.switch_page("pages/profile.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def texts(at: AppTest) -> list[str]:
    return [t.value for t in at.text]


def test_rebuild_shows_sections_with_cited_notes_and_hostile_text_as_text(app_home: Settings, embedder) -> None:
    store = seed(app_home, embedder)
    at = profile_page()
    assert "Anna: My sister Anna lives in Lisbon." not in texts(at)
    at.button(key="profile_rebuild").click().run()
    assert not at.exception, [e.value for e in at.exception]
    shown = texts(at)
    assert "Anna: My sister Anna lives in Lisbon." in shown
    assert HOSTILE in shown  # the likes line, as plain text
    assert any("Digest of 2024-05-02" in t and HOSTILE in t for t in shown)
    for md in at.markdown:  # nothing of the note became markup
        assert "<img" not in md.value or "\\<img" in md.value or "&lt;img" in md.value
    assert any("profile line" in m.value and "extractive" in m.value for m in at.markdown)
    assert len(lines_of(store, "profile")) >= 3


def test_edit_and_delete_a_line(app_home: Settings, embedder) -> None:
    store = seed(app_home, embedder)
    consolidate(store)
    at = profile_page()
    anna = next(n for n in lines_of(store, "profile") if n.source_ref == "profile:people:anna")
    key = next(k for k in (t.key for t in at.text_area) if k and k.startswith("profile_text_people_"))
    suffix = key[len("profile_text_"):]
    at.text_area(key=key).set_value("Anna: my older sister, in Lisbon.")
    at.button(key=f"profile_save_{suffix}").click().run()
    assert not at.exception, [e.value for e in at.exception]
    edited = store.get(anna.id)
    assert edited.content == "Anna: my older sister, in Lisbon." and edited_by_person(edited)
    assert "Anna: my older sister, in Lisbon." in texts(at)
    lisbon = next(n for n in lines_of(store, "profile") if n.source_ref == "profile:places:lisbon")
    delete_key = next(b.key for b in at.button if b.key and b.key.startswith("profile_del_places_"))
    at.button(key=delete_key).click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert lisbon.id not in store
    assert "Lisbon: My sister Anna lives in Lisbon." not in texts(at)
    consolidate(store)
    assert "profile:places:lisbon" not in {n.source_ref for n in lines_of(store)}  # deleted stays deleted
