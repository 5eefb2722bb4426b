"""The Notes page through Streamlit's AppTest: table edits, delete with confirmation, links, history, revert.

Edits are seeded the way AppTest allows for st.data_editor: by assigning the editor's edit state
(edited_rows) to its key before a run; the page publishes the key as ``notes_editor_key``.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from memory_core.config import Settings
from memory_core.memory.pipeline import MemoryPipeline, NewItem
from memory_core.notes import Change, Note
from memory_core.store import MemoryStore
from memory_core.transfer.memex_json import import_notes

APP = str(Path(__file__).resolve().parents[2] / "app.py")
TEXTS = [
    ("I went hiking in the Alps with Anna last summer.", "2024-01-01T10:00:00+00:00"),
    ("Anna loves mountains and takes photos of glaciers.", "2024-01-02T10:00:00+00:00"),
    ("The quarterly budget review is on Friday.", "2024-01-03T10:00:00+00:00"),
    ("<img src=x onerror=alert(1)>", "2024-01-04T10:00:00+00:00"),
]


def seed(settings: Settings, embedder) -> tuple[MemoryStore, list[str]]:
    store = MemoryStore(settings, embedder)
    s = settings.replace(fast_link_threshold=0.99)  # only the links made below
    report = MemoryPipeline(store, s).add_many([NewItem(t, timestamp=ts) for t, ts in TEXTS])
    ids = report.note_ids
    for note in store.all_notes():  # the import links by name too ("Both name Anna."): drop those, keep only ours
        for target in note.link_targets:
            store.unlink(note.id, target, by="system")
    assert not any(n.link_targets for n in store.all_notes())
    store.link(ids[0], ids[1], "both about Anna")
    store.link(ids[2], ids[1], "test link")
    return store, ids


def notes_page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=90)
    at.switch_page("pages/notes.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def row_of(at: AppTest, note_id: str) -> int:
    return list(at.data_editor[0].value["id"]).index(note_id)


def edit_cells(at: AppTest, edits: dict[int, dict[str, object]]) -> None:
    key = at.session_state["notes_editor_key"]
    at.session_state[key] = {"edited_rows": edits, "added_rows": [], "deleted_rows": []}
    at.run()
    assert not at.exception, [e.value for e in at.exception]


def test_empty_store(app_home: Settings) -> None:
    at = notes_page()
    assert at.title[0].value.endswith("Notes")
    assert any("memory is empty" in x.value for x in at.info)
    assert not at.data_editor
    assert not at.error


def test_table_shows_every_note_with_columns(app_home: Settings, embedder) -> None:
    store, ids = seed(app_home, embedder)
    at = notes_page()
    df = at.data_editor[0].value
    assert sorted(df["id"]) == sorted(ids)
    assert {"content", "keywords", "tags", "context", "time", "links", "source"} <= set(df.columns)
    assert df.set_index("id").loc[ids[1], "links"] == 2  # two links in
    # newest first by default
    assert list(df["id"]) == list(reversed(ids))
    # text filter
    at.text_input(key="notes_f_text").input("glacier").run()
    assert list(at.data_editor[0].value["id"]) == [ids[1]]


def test_edit_persists_with_history_and_new_embedding(app_home: Settings, embedder) -> None:
    store, ids = seed(app_home, embedder)
    before_vec = store.vector(ids[2]).copy()
    before = {n.id: n.version_count() for n in store.all_notes()}
    at = notes_page()
    edit_cells(at, {row_of(at, ids[2]): {"content": "The budget review moved to Monday.", "tags": ["work", "finance"]}})
    assert at.button(key="notes_save").label == "Save 2 changes"
    at.button(key="notes_save").click().run()
    assert not at.exception
    assert any("Saved 1 note" in x.value for x in at.success)
    note = MemoryStore(app_home, embedder).get(ids[2])
    assert note.content == "The budget review moved to Monday."
    assert note.tags == ["work", "finance"]
    person = note.history[before[ids[2]]:]
    assert all(c.by == "person" for c in person)
    assert [c.field for c in person] == ["content", "tags"]
    assert (person[0].old, person[0].new) == (TEXTS[2][0], "The budget review moved to Monday.")
    assert person[1].new == ["work", "finance"] and person[1].old != person[1].new
    fresh = MemoryStore(app_home, embedder)
    assert not np.allclose(fresh.vector(ids[2]), before_vec)  # re-embedded ...
    expected = embedder.embed([fresh.get(ids[2]).text_for_embedding()])[0]
    assert np.allclose(fresh.vector(ids[2]), expected, atol=1e-5)  # ... from the new text
    # the other notes were not touched
    for nid in (ids[0], ids[1], ids[3]):
        assert store.get(nid).version_count() == before[nid]
    # after a save the editor starts afresh: nothing pending
    assert at.button(key="notes_save").disabled


def test_invalid_edit_is_refused_and_other_edits_saved(app_home: Settings, embedder) -> None:
    store, ids = seed(app_home, embedder)
    at = notes_page()
    edit_cells(at, {row_of(at, ids[0]): {"content": "   "}, row_of(at, ids[2]): {"context": "Work meeting."}})
    at.button(key="notes_save").click().run()
    assert not at.exception
    errors = [x.value for x in at.error]
    assert any("Not saved" in e and ids[0][:8] in e and "cannot be empty" in e for e in errors), errors
    fresh = MemoryStore(app_home, embedder)
    assert fresh.get(ids[0]).content == TEXTS[0][0]
    assert fresh.get(ids[0]).version_count() == store.get(ids[0]).version_count()
    assert fresh.get(ids[0]).history[-1].field == "links"  # the last change is still the seeded link
    assert fresh.get(ids[2]).context == "Work meeting."


def test_cleared_time_is_refused(app_home: Settings, embedder) -> None:
    store, ids = seed(app_home, embedder)
    at = notes_page()
    edit_cells(at, {row_of(at, ids[1]): {"time": None}})
    assert any("time cannot be empty" in x.value for x in at.error)
    assert at.button(key="notes_save").disabled
    assert store.get(ids[1]).timestamp == TEXTS[1][1]


def test_time_edit(app_home: Settings, embedder) -> None:
    store, ids = seed(app_home, embedder)
    at = notes_page()
    edit_cells(at, {row_of(at, ids[1]): {"time": "2023-12-24T18:30:00+00:00"}})
    at.button(key="notes_save").click().run()
    assert MemoryStore(app_home, embedder).get(ids[1]).timestamp == "2023-12-24T18:30:00+00:00"


def test_delete_with_confirmation_cleans_links(app_home: Settings, embedder) -> None:
    store, ids = seed(app_home, embedder)
    at = notes_page()
    edit_cells(at, {row_of(at, ids[1]): {"select": True}})
    at.button(key="notes_delete").click().run()
    # the dialog asks first; nothing is deleted yet
    assert at.button(key="notes_delete_yes")
    assert ids[1] in MemoryStore(app_home, embedder)
    at.button(key="notes_delete_yes").click().run()
    assert not at.exception
    assert any("Deleted 1 note" in x.value for x in at.success)
    fresh = MemoryStore(app_home, embedder)
    assert ids[1] not in fresh
    assert ids[1] not in fresh.get(ids[0]).link_targets
    assert ids[1] not in fresh.get(ids[2]).link_targets
    assert not any(ids[1] in (a, b) for a, b in fresh.graph.edges)
    assert sorted(at.data_editor[0].value["id"]) == sorted([ids[0], ids[2], ids[3]])


def test_delete_can_be_cancelled(app_home: Settings, embedder) -> None:
    store, ids = seed(app_home, embedder)
    at = notes_page()
    edit_cells(at, {row_of(at, ids[0]): {"select": True}, row_of(at, ids[2]): {"select": True}})
    at.button(key="notes_delete").click().run()
    at.button(key="notes_delete_no").click().run()
    assert len(MemoryStore(app_home, embedder)) == 4
    assert "notes_delete_yes" not in [b.key for b in at.button]  # the dialog is closed


def detail(at: AppTest, note_id: str) -> AppTest:
    at.session_state["focus_note"] = note_id
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key="notes_pick").value == note_id
    return at


def test_focus_note_and_query_param_open_the_detail(app_home: Settings, embedder) -> None:
    store, ids = seed(app_home, embedder)
    at = notes_page()
    detail(at, ids[3])
    # hostile text is shown as text (st.code), never as markdown/HTML
    assert TEXTS[3][0] in [c.value for c in at.code]
    assert at.session_state["notes_tab"] == "🔍 Note"

    at2 = AppTest.from_file(APP, default_timeout=90)
    at2.switch_page("pages/notes.py")
    at2.query_params["note"] = ids[2][:8]  # a unique prefix works too
    at2.run()
    assert at2.selectbox(key="notes_pick").value == ids[2]
    assert TEXTS[2][0] in [c.value for c in at2.code]


def test_unknown_focus_is_reported(app_home: Settings, embedder) -> None:
    seed(app_home, embedder)
    at = notes_page()
    at.session_state["focus_note"] = "no-such-note"
    at.run()
    assert any("No note with id" in w.value for w in at.warning)


def test_links_add_and_remove(app_home: Settings, embedder) -> None:
    store, ids = seed(app_home, embedder)
    at = detail(notes_page(), ids[0])
    # remove the link out (only that direction)
    at.button(key=f"unlink_out_{ids[0]}_{ids[1]}").click().run()
    assert not at.exception
    fresh = MemoryStore(app_home, embedder)
    assert ids[1] not in fresh.get(ids[0]).link_targets
    assert ids[1] in fresh.get(ids[2]).link_targets
    assert fresh.get(ids[0]).history[-1].by == "person"
    # remove a link in: ids[2] -> ids[1], seen from ids[1]
    detail(at, ids[1])
    at.button(key=f"unlink_in_{ids[1]}_{ids[2]}").click().run()
    assert ids[1] not in MemoryStore(app_home, embedder).get(ids[2]).link_targets
    # add a link from ids[1] to ids[3] by choosing the target
    at.text_input(key=f"link_find_{ids[1]}").input("onerror").run()
    form_select = [s for s in at.selectbox if s.key != "notes_pick" and s.label == "Other note"][0]
    assert form_select.options[0].endswith(ids[3][:8])
    form_select.set_value(ids[3])
    at.text_input[[t.label for t in at.text_input].index("Reason")].input("hostile example")
    [b for b in at.button if b.label == "Add link"][0].click().run()
    assert not at.exception
    note = MemoryStore(app_home, embedder).get(ids[1])
    assert [(x.target, x.reason, x.by) for x in note.links] == [(ids[3], "hostile example", "person")]


def test_history_revert_restores(app_home: Settings, embedder) -> None:
    store, ids = seed(app_home, embedder)
    store.update(ids[2], content="Budget review cancelled.")
    store.update(ids[2], tags=["work"])
    versions = store.get(ids[2]).version_count()
    at = detail(notes_page(), ids[2])
    texts = [c.value for c in at.code]
    assert "Budget review cancelled." in texts and TEXTS[2][0] in texts  # before/after of the content change
    target = versions - 2  # the version before the content edit
    at.button(key=f"revert_{ids[2]}_{target}").click().run()
    assert not at.exception
    note = MemoryStore(app_home, embedder).get(ids[2])
    assert note.content == TEXTS[2][0]
    assert note.tags == store.get(ids[2]).state_at(target)["tags"]
    assert note.history[-1].by == "person" and note.version_count() > versions
    # and the revert itself can be reverted
    detail(at, ids[2])
    at.button(key=f"revert_{ids[2]}_{versions}").click().run()
    assert MemoryStore(app_home, embedder).get(ids[2]).content == "Budget review cancelled."


def test_edit_form_in_detail(app_home: Settings, embedder) -> None:
    store, ids = seed(app_home, embedder)
    at = detail(notes_page(), ids[0])
    area = [t for t in at.text_area if t.label == "Content"][0]
    area.input("")
    [b for b in at.button if b.label == "Save"][0].click().run()
    assert any("Not saved" in e.value and "cannot be empty" in e.value for e in at.error)
    assert MemoryStore(app_home, embedder).get(ids[0]).content == TEXTS[0][0]
    at = detail(notes_page(), ids[0])
    [t for t in at.text_input if t.label == "Tags (comma-separated)"][0].input("travel, alps")
    [b for b in at.button if b.label == "Save"][0].click().run()
    assert MemoryStore(app_home, embedder).get(ids[0]).tags == ["travel", "alps"]


def test_add_note_fast(app_home: Settings, embedder) -> None:
    store, ids = seed(app_home, embedder)
    at = notes_page()
    at.text_area(key="add_content").input("Anna's birthday is on 3 March.")
    at.radio(key="add_mode").set_value("fast")
    [b for b in at.button if b.label == "Add note"][0].click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("Added note" in x.value for x in at.success)
    fresh = MemoryStore(app_home, embedder)
    assert len(fresh) == 5
    new = [n for n in fresh.all_notes() if n.id not in ids][0]
    assert new.content == "Anna's birthday is on 3 March." and new.source == "manual"


def test_add_empty_note_is_refused(app_home: Settings, embedder) -> None:
    seed(app_home, embedder)
    at = notes_page()
    at.text_area(key="add_content").input("   ")
    at.radio(key="add_mode").set_value("fast")
    [b for b in at.button if b.label == "Add note"][0].click().run()
    assert not at.exception
    assert any("cannot be empty" in e.value for e in at.error)
    assert len(MemoryStore(app_home, embedder)) == 4


@pytest.mark.real_model
def test_add_note_with_the_real_model(app_home: Settings, embedder, real_llm, monkeypatch) -> None:
    import memory_core.models.llm

    monkeypatch.setattr(memory_core.models.llm, "get_llm", lambda _settings: real_llm)
    store, ids = seed(app_home, embedder)
    at = notes_page()
    at.text_area(key="add_content").input("Anna and I plan a hiking trip to the Dolomites in July.")
    at.radio(key="add_mode").set_value("full")
    [b for b in at.button if b.label == "Add note"][0].click()
    at.run(timeout=900)  # the real model on a shared 2-core machine: slow, not wrong
    assert not at.exception, [e.value for e in at.exception]
    done = [x.value for x in at.success]
    assert any("Added note" in x and "model call" in x for x in done), done
    calls = int(done[0].split(" model call")[0].rsplit("· ", 1)[1])
    assert calls >= 1  # the model was asked (enrichment at least)
    new = [n for n in MemoryStore(app_home, embedder).all_notes() if n.id not in ids][0]
    assert new.keywords and new.tags
    assert any(c.by in ("enricher", "system") for c in new.history)


def test_paging_sorting_and_filters_at_a_few_hundred_notes(app_home: Settings, embedder) -> None:
    store = MemoryStore(app_home, embedder)
    notes = [Note(content=f"Note number {i:03d}", tags=["even" if i % 2 == 0 else "odd"],
                  timestamp=f"2024-{1 + i // 100:02d}-{1 + i % 28:02d}T{i % 24:02d}:00:00+00:00",
                  source="import" if i % 3 else "manual") for i in range(450)]
    import_notes(store, notes)
    at = notes_page()
    assert len(at.data_editor[0].value) == 200  # one page, not 450 rows
    assert at.number_input(key="notes_page").proto.max == 3
    at.number_input(key="notes_page").set_value(3).run()
    assert len(at.data_editor[0].value) == 50
    # sorting by content, ascending, across pages
    at.number_input(key="notes_page").set_value(1)
    at.selectbox(key="notes_sort").set_value("content")
    at.toggle(key="notes_desc").set_value(False).run()
    assert list(at.data_editor[0].value["content"][:3]) == ["Note number 000", "Note number 001", "Note number 002"]
    # filters combine: tag, source, time range; the page number is clamped when fewer pages remain
    at.number_input(key="notes_page").set_value(2)
    at.selectbox(key="notes_f_tag").set_value("even")
    at.selectbox(key="notes_f_source").set_value("manual").run()
    expected = sorted(n.content for i, n in enumerate(notes) if i % 2 == 0 and i % 3 == 0)
    assert list(at.data_editor[0].value["content"]) == expected
    at.date_input(key="notes_f_since").set_value(date(2024, 2, 1))
    at.date_input(key="notes_f_until").set_value(date(2024, 3, 31)).run()
    expected = sorted(n.content for i, n in enumerate(notes)
                      if i % 2 == 0 and i % 3 == 0 and n.timestamp[:7] in ("2024-02", "2024-03"))
    assert list(at.data_editor[0].value["content"]) == expected and expected


def test_history_diff_keeps_hostile_text_literal(app_home: Settings, embedder) -> None:
    store, ids = seed(app_home, embedder)
    hostile = "Budget <script>alert(1)</script> [x](http://evil.invalid) ![i](http://evil.invalid/i.png) :red[r]"
    store.update(ids[2], content=hostile, tags=["<b>work</b>"])
    at = detail(notes_page(), ids[2])
    assert hostile in [c.value for c in at.code] and TEXTS[2][0] in [c.value for c in at.code]
    marks = [m.value for m in at.markdown if "green-background" in m.value]
    assert marks, "the word diff is shown"
    for m in marks:  # every piece of note text is escaped inside the diff marks
        assert "<script>" not in m and "](http" not in m and "![" not in m and "<b>" not in m
    assert any("\\<script\\>" in m for m in marks) and any("\\<b\\>work\\<\\/b\\>" in m for m in marks)


# ---- the memory as of a date, and what changed --------------------------------------------------------
HOSTILE_EDIT = "Skiing <script>alert(1)</script> in the [Alps](http://evil.invalid)"


def seed_history(settings: Settings, embedder, monkeypatch) -> dict[str, str]:
    """Notes written on three days of March 2024 (the store's clock is set for the writes)."""
    import memory_core.notes
    import memory_core.store.fold

    real = memory_core.notes.now_iso

    def at(when: str | None) -> None:
        clock = real if when is None else (lambda: when)
        monkeypatch.setattr(memory_core.store.fold, "now_iso", clock)
        monkeypatch.setattr(memory_core.notes, "now_iso", clock)

    store = MemoryStore(settings, embedder)
    at("2024-03-01T10:00:00+00:00")
    a, b = Note("Hiking in the Alps with Anna.", id="note-a"), Note("Anna loves glaciers.", id="note-b")
    with store.writing() as w:
        w.put(a)
        w.put(b)
    at("2024-03-05T10:00:00+00:00")
    store.update("note-a", content=HOSTILE_EDIT, tags=["<b>winter</b>"])
    store.link("note-a", "note-b", "both about Anna")
    at("2024-03-10T10:00:00+00:00")
    with store.writing() as w:
        w.put(Note("The budget review is on Friday.", id="note-c"))
    at(None)
    return {"a": "note-a", "b": "note-b", "c": "note-c"}


def look_back(at: AppTest, day: date) -> AppTest:
    at.toggle(key="notes_past").set_value(True).run()
    at.date_input(key="notes_as_of_day").set_value(day).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_as_of_shows_the_past_read_only(app_home: Settings, embedder, monkeypatch) -> None:
    seed_history(app_home, embedder, monkeypatch)
    at = look_back(notes_page(), date(2024, 3, 2))
    assert any("The memory as it was on 2024\\-03\\-02 23\\:59 UTC" in w.value and "Read-only" in w.value
               for w in at.warning), [w.value for w in at.warning]
    assert not at.data_editor  # no editing in the past
    assert "notes_save" not in [b.key for b in at.button]
    past = at.dataframe[0].value
    assert sorted(past["id"]) == ["note-a", "note-b"]
    assert past.set_index("id").loc["note-a", "content"] == "Hiking in the Alps with Anna."
    detail(at, "note-a")
    assert "Hiking in the Alps with Anna." in [c.value for c in at.code]
    assert HOSTILE_EDIT not in [c.value for c in at.code]
    keys = [b.key for b in at.button]
    assert not any(k and (k.startswith("delete_one_") or k.startswith("revert_") or k.startswith("unlink_"))
                   for k in keys)
    assert not [f for f in at.text_area if f.label == "Content"]  # no edit form
    assert any("Links out (0)" in m.value for m in at.markdown)

    # a later date: the edit and the link are there, the note of the 10th is not yet
    at.date_input(key="notes_as_of_day").set_value(date(2024, 3, 7)).run()
    later = at.dataframe[0].value.set_index("id")
    assert sorted(later.index) == ["note-a", "note-b"] and later.loc["note-a", "links"] == 1
    assert HOSTILE_EDIT in [c.value for c in at.code]  # shown as text, not Markdown
    assert any("Links out (1)" in m.value for m in at.markdown)
    # back to now: everything editable again, the note of the 10th is there
    at.button(key="notes_back_to_now").click().run()
    assert not at.exception
    assert at.data_editor and sorted(at.data_editor[0].value["id"]) == ["note-a", "note-b", "note-c"]
    assert not any("The memory as it was" in w.value for w in at.warning)


def test_history_heads_show_field_names_as_code_without_escapes(app_home: Settings, embedder) -> None:
    """A field name goes inside a code span, where Markdown escapes are shown literally ("turn\\_context")."""
    store = MemoryStore(app_home, embedder)
    note = Note("The budget review is on Friday.", id="note-r", turn_context="(2024-01-03)",
                history=[Change("turn_context", "(2024-01-03) Memex: hi", "(2024-01-03)", "system")])
    with store.writing() as w:
        w.put(note)
    at = detail(notes_page(), "note-r")
    heads = [m.value for m in at.markdown if m.value.startswith("**v")]
    assert any("`turn_context`" in h for h in heads), heads
    assert not any("\\_" in h for h in heads), heads


def test_what_changed_between_two_dates(app_home: Settings, embedder, monkeypatch) -> None:
    seed_history(app_home, embedder, monkeypatch)
    at = notes_page()
    at.date_input(key="notes_changes_since").set_value(date(2024, 3, 4))
    at.date_input(key="notes_changes_until").set_value(date(2024, 3, 12)).run()
    assert not at.exception, [e.value for e in at.exception]
    assert any(c.value.startswith("1 added · 1 changed · 0 removed") for c in at.caption)
    heads = [m.value for m in at.markdown if "· `note" in m.value]
    assert any("🆕" in h and "note-c"[:8] in h for h in heads)
    assert any("✏️" in h and "note-a"[:8] in h and "person" in h for h in heads)
    diffs = [m.value for m in at.markdown if "background[" in m.value]
    assert diffs and all("<script>" not in d and "](http" not in d and "<b>" not in d for d in diffs)
    assert any("\\<script\\>" in d for d in diffs)
    # nothing in between: said so
    at.date_input(key="notes_changes_since").set_value(date(2024, 3, 6))
    at.date_input(key="notes_changes_until").set_value(date(2024, 3, 8)).run()
    assert any("Nothing changed" in i.value for i in at.info)
    at.date_input(key="notes_changes_since").set_value(date(2024, 3, 9))
    at.date_input(key="notes_changes_until").set_value(date(2024, 3, 8)).run()
    assert any("end date is before the start date" in e.value for e in at.error)
