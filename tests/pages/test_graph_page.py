"""The Graph page through Streamlit's AppTest: empty store, a seeded store, focus, filters, cap, edit.

The store is seeded directly (``store.writing()`` and ``store.link``) so the links and who made them
are exactly known; the embedder is the real MiniLM of the test session.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from streamlit.testing.v1 import AppTest

from memory_core.config import Settings
from memory_core.notes import Change, Link, Note
from memory_core.store import MemoryStore

APP = str(Path(__file__).resolve().parents[2] / "app.py")
SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"


def seed(settings: Settings, embedder, extra: int = 0) -> tuple[MemoryStore, list[str]]:
    """Five notes: hiking -> anna (linker), budget -> anna (person), a hostile pair, and an evolved note."""
    store = MemoryStore(settings, embedder)
    notes = [
        Note("I went hiking in the Alps with Anna last summer.", tags=["travel", "hiking"],
             timestamp="2024-01-01T10:00:00+00:00", source="chat"),
        Note("Anna loves mountains and takes photos of glaciers.", tags=["travel", "photo"],
             timestamp="2024-01-02T10:00:00+00:00", source="chat"),
        Note("The quarterly budget review is on Friday.", tags=["work"], timestamp="2024-01-03T10:00:00+00:00"),
        Note(SCRIPT, tags=["test"], context="hostile " + IMG, timestamp="2024-01-04T10:00:00+00:00",
             source="import"),
        Note(IMG, tags=["test"], timestamp="2024-01-05T10:00:00+00:00", source="import"),
    ]
    notes[1].history.append(Change("context", "", "photography in the mountains", by="evolver"))
    notes[1].context = "photography in the mountains"
    notes[3].links.append(Link(notes[4].id, reason="similar " + SCRIPT, by="system"))
    for i in range(extra):
        notes.append(Note(f"Filler note number {i} about gardening.", tags=["garden"],
                          timestamp=f"2023-06-{1 + i % 28:02d}T10:00:00+00:00"))
    with store.writing() as w:
        for n in notes:
            w.put(n)
    ids = [n.id for n in notes]
    store.link(ids[0], ids[1], "both about Anna", by="linker")
    store.link(ids[2], ids[1], "test link", by="person")
    return store, ids


def graph_page(at: AppTest | None = None) -> AppTest:
    if at is None:  # (an AppTest that has not run yet is falsy)
        at = AppTest.from_file(APP, default_timeout=90)
    at.switch_page("pages/graph.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def summary(at: AppTest) -> str:
    found = [c.value for c in at.caption if c.value.startswith("Showing ")]
    assert found, [c.value for c in at.caption]
    return found[0]


def canvas(at: AppTest) -> dict:
    """The data the clickable graph component received (nodes, edges, options, selection)."""
    found = at.get("bidi_component")
    assert len(found) == 1, "no graph component on the page"
    assert found[0].proto.component_name.endswith("memex_graph")
    return json.loads(found[0].proto.json)


def node(data: dict, nid: str) -> dict:
    return next(n for n in data["nodes"] if n["id"] == nid)


def test_empty_store(app_home: Settings) -> None:
    at = graph_page()
    assert at.title[0].value.endswith("Graph")
    assert any("memory is empty" in x.value for x in at.info)
    assert not at.get("bidi_component") and not at.error


def test_seeded_graph_draws_every_note_with_legend(app_home: Settings, embedder) -> None:
    store, ids = seed(app_home, embedder)
    at = graph_page()
    assert summary(at).startswith("Showing 5 of 5 notes;")
    assert "3 links drawn" in summary(at)
    data = canvas(at)
    assert {n["id"] for n in data["nodes"]} == set(ids)
    # hostile text travels as JSON data (labels drawn on a canvas, tooltips set with textContent)
    assert node(data, ids[3])["label"] == SCRIPT and node(data, ids[4])["label"] == IMG
    assert node(data, ids[3])["title"].startswith(SCRIPT)
    js = at.get("bidi_component")[0].proto.js_content
    assert "new vis.Network" in js and "el.textContent = " in js
    ours = (Path(APP).parent / "pages" / "components" / "graph_canvas.js").read_text()
    assert "innerHTML" not in ours and "insertAdjacentHTML" not in ours
    assert "setTriggerValue(\"clicked\"" in js
    legend = at.dataframe[0].value
    assert "travel" in set(legend["legend"])
    by_kind = dict(zip(legend["legend"], legend["count"]))
    assert by_kind["diamond with a dark border: changed by evolution"] == 1
    assert by_kind["thick orange: made by a person"] == 1
    assert by_kind["solid blue: chosen by the model (A-MEM linker)"] == 1
    assert not at.error


def test_download_this_view_as_a_standalone_html_file(app_home: Settings, embedder, monkeypatch) -> None:
    """The button hands the browser the drawn view (filters applied) as one offline HTML file."""
    from streamlit.runtime.media_file_manager import MediaFileManager

    made: dict[str, object] = {}
    add_deferred = MediaFileManager.add_deferred

    def keep(self, data, mimetype, coordinates, file_name=None, **kw):  # what Streamlit calls on a click
        made.update(data=data, mimetype=mimetype, file_name=file_name)
        return add_deferred(self, data, mimetype, coordinates, file_name=file_name, **kw)

    monkeypatch.setattr(MediaFileManager, "add_deferred", keep)
    store, ids = seed(app_home, embedder, extra=3)
    at = graph_page()
    at.sidebar.multiselect(key="graph_tags").set_value(["travel", "test"]).run()
    assert not at.exception, [e.value for e in at.exception]
    button = at.get("download_button")[-1]
    assert button.proto.label == "Download this view as a standalone HTML file"
    assert made["mimetype"] == "text/html" and str(made["file_name"]).startswith("memex-graph-")
    page = made["data"]()  # the file, made the way the click makes it
    drawn = json.loads(re.search(r"var nodes = (\[.*?\]);\n", page).group(1))
    assert sorted(n["id"] for n in drawn) == sorted(ids[:2] + ids[3:5])  # the view, not the whole store
    assert "<script src=" not in page and "vis.Network" in page  # vis-network inside: works offline
    assert SCRIPT not in page and IMG not in page  # note text only as escaped JSON data


def test_filters_and_cap(app_home: Settings, embedder) -> None:
    seed(app_home, embedder, extra=30)
    at = graph_page()
    assert summary(at).startswith("Showing 35 of 35 notes;")
    at.sidebar.slider(key="graph_cap").set_value(25).run()
    assert not at.exception
    text = summary(at)
    assert text.startswith("Showing 25 of 35 notes (cap 25): the 25 with the most links")
    assert len(canvas(at)["nodes"]) == 25
    at.sidebar.multiselect(key="graph_tags").set_value(["travel"]).run()
    assert summary(at).startswith("Showing 2 of 2 notes;")
    at.sidebar.multiselect(key="graph_tags").set_value([]).run()
    at.sidebar.text_input(key="graph_text").input("glacier").run()
    assert summary(at).startswith("Showing 1 of 1 notes;")
    at.sidebar.text_input(key="graph_text").input("no such words anywhere").run()
    assert any("No note matches" in x.value for x in at.info)
    assert not at.exception


def test_focus_from_another_page_shows_neighbourhood_and_details(app_home: Settings, embedder) -> None:
    store, ids = seed(app_home, embedder, extra=3)
    at = AppTest.from_file(APP, default_timeout=90)
    at.session_state["focus_note"] = ids[1]
    at = graph_page(at)
    assert at.session_state["graph_pick"] == ids[1]
    assert summary(at).startswith("Showing 3 of 3 notes within 1 link of the focused note")
    data = canvas(at)
    drawn = {n["id"] for n in data["nodes"]}
    assert node(data, ids[1])["shape"] == "star" and {ids[0], ids[2]} <= drawn and ids[3] not in drawn
    assert data["selected"] == ids[1]
    # details: full content as text, links in with who made them, evolution changes
    assert any(c.value == "Anna loves mountains and takes photos of glaciers." for c in at.code)
    tables = [t.value for t in at.dataframe]
    links_in = next(t for t in tables if "from" in t.columns)
    assert sorted(links_in["by"]) == ["linker", "person"]
    evolved = next(t for t in tables if "before" in t.columns)
    assert list(evolved["after"]) == ["photography in the mountains"]
    # depth 2 reaches no further here; dropping the focus shows everything again
    at.sidebar.slider(key="graph_depth").set_value(2).run()
    assert summary(at).startswith("Showing 3 of 3 notes within 2 links")
    at.sidebar.toggle(key="graph_ego").set_value(False).run()
    assert summary(at).startswith("Showing 8 of 8 notes;")
    assert not at.exception


def test_link_kinds_hide_similarity_links_until_chosen(app_home: Settings, embedder) -> None:
    from memory_core.memory.link_kinds import similar_reason

    store, ids = seed(app_home, embedder)
    store.link(ids[0], ids[2], similar_reason(0.71), by="system")
    store.link(ids[1], ids[2], "Both are about mountains (cosine 0.52).", by="system")
    at = graph_page()
    kinds = at.sidebar.multiselect(key="graph_link_kinds")
    assert "similarity" not in kinds.value and "topic" in kinds.value and "entity" in kinds.value
    assert "person" not in kinds.options  # the person's own links are always drawn, not a choice
    assert "4 links drawn" in summary(at)  # the topic link ("about mountains") is drawn, similarity is not
    kinds.set_value([*kinds.value, "similarity"]).run()
    assert "5 links drawn" in summary(at)
    kinds.set_value([]).run()
    assert "1 link drawn;" in summary(at)  # only the person's


def test_query_param_focus_and_hostile_details(app_home: Settings, embedder) -> None:
    store, ids = seed(app_home, embedder)
    at = AppTest.from_file(APP, default_timeout=90)
    at.query_params["note"] = ids[3]
    at = graph_page(at)
    assert at.session_state["graph_pick"] == ids[3]
    assert summary(at).startswith("Showing 2 of 2 notes within 1 link")
    assert any(c.value == SCRIPT for c in at.code)  # shown literally, as code text
    context = [m.value for m in at.markdown if m.value.startswith("**Context:**")]
    assert context and "\\<img src\\=x onerror\\=alert\\(1\\)\\>" in context[0]
    assert not re.search(r"(?<!\\)[<>]", context[0])  # every angle bracket is backslash-escaped
    links_out = next(t.value for t in at.dataframe if "to" in t.value.columns)
    assert list(links_out["by"]) == ["system"] and list(links_out["reason"]) == ["similar " + SCRIPT]


def test_missing_focus_warns(app_home: Settings, embedder) -> None:
    seed(app_home, embedder)
    at = AppTest.from_file(APP, default_timeout=90)
    at.session_state["focus_note"] = "0000000000-gone"
    at = graph_page(at)
    assert any("No note with id" in w.value for w in at.warning)
    assert summary(at).startswith("Showing 5 of 5 notes;")


def test_pick_physics_off_community_colours_and_inline_edit(app_home: Settings, embedder) -> None:
    store, ids = seed(app_home, embedder)
    at = graph_page()
    at.sidebar.toggle(key="graph_physics").set_value(False).run()
    at.sidebar.radio(key="graph_colour").set_value("community").run()
    assert not at.exception
    data = canvas(at)
    assert data["options"]["physics"]["enabled"] is False and all("x" in n for n in data["nodes"])
    assert any(v.startswith("community 1") for v in at.dataframe[0].value["legend"])
    at.selectbox(key="graph_pick").set_value(ids[2]).run()
    assert at.session_state["focus_note"] == ids[2]
    assert at.query_params["note"] == ids[2]
    assert summary(at).startswith("Showing 5 of 5 notes;")  # picking alone keeps the whole graph
    at.button(key="graph_focus_btn").click().run()
    assert summary(at).startswith("Showing 2 of 2 notes within 1 link")
    at.button(key="graph_unfocus").click().run()
    assert summary(at).startswith("Showing 5 of 5 notes;")
    assert any(c.value == "The quarterly budget review is on Friday." for c in at.code)
    at.text_input(key=f"graph_ed_tags_{ids[2]}").input("work, finance")
    at.text_input(key=f"graph_ed_context_{ids[2]}").input("a meeting about money")
    next(b for b in at.button if b.label == "Save").click().run()
    assert not at.exception and not at.error
    note = MemoryStore(app_home, embedder).get(ids[2])  # read back from disk
    assert note.tags == ["work", "finance"] and note.context == "a meeting about money"
    assert [(c.field, c.by) for c in note.history[-2:]] == [("tags", "person"), ("context", "person")]
    assert any("Saved" in s.value for s in at.success)
    # an empty content is refused with a message, nothing changes
    at.text_area(key=f"graph_ed_content_{ids[2]}").input("   ")
    next(b for b in at.button if b.label == "Save").click().run()
    assert any("Not saved" in e.value and "cannot be empty" in e.value for e in at.error) and not at.exception
    assert MemoryStore(app_home, embedder).get(ids[2]).content == "The quarterly budget review is on Friday."


def test_open_in_notes(app_home: Settings, embedder) -> None:
    store, ids = seed(app_home, embedder)
    at = AppTest.from_file(APP, default_timeout=90)
    at.session_state["focus_note"] = ids[0]
    at = graph_page(at)
    at.button(key="graph_open_notes").click().run()
    assert not at.exception
    assert at.title[0].value.endswith("Notes")
    assert at.session_state["focus_note"] == ids[0]
