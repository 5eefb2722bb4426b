"""The graph view without Streamlit: filters, cap, ego graph, colours, link styles and escaping.

Notes are built in memory (no store, no model) so each case states exactly which notes exist and
how they link. One test loads the generated HTML in headless Chromium when it is installed, to see
that a hostile note's tooltip shows its text literally and runs nothing.
"""

from __future__ import annotations

import html
import json
import re
import shutil
from datetime import date

import pytest

from memory_core.errors import InputError
from memory_core.explore import graphhtml as gh
from memory_core.explore import graphstyle as gs
from memory_core.explore import graphview as gv
from memory_core.memory.link_kinds import KINDS as LINK_KINDS
from memory_core.memory.link_kinds import similar_reason
from memory_core.notes import Change, Link, Note
from memory_core.store import build_graph

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"


def make(content: str, *, tags: tuple[str, ...] = (), source: str = "manual", ts: str = "2024-01-01T10:00:00+00:00",
         recalled: int = 0, nid: str | None = None) -> Note:
    note = Note(content=content, tags=list(tags), source=source, timestamp=ts, retrieval_count=recalled)
    if nid:
        note.id = nid
    return note


def link(a: Note, b: Note, by: str = "linker", reason: str = "related") -> None:
    a.links.append(Link(target=b.id, reason=reason, by=by))


def as_dict(*notes: Note) -> dict[str, Note]:
    return {n.id: n for n in notes}


def view_of(notes: dict[str, Note], **query) -> gv.GraphView:
    return gv.build_view(notes, build_graph(notes), gv.GraphQuery(**query))


def embedded(page: str, name: str) -> list[dict]:
    """The node or edge data as the page's script receives it."""
    m = re.search(rf"var {name} = (.*?);\n", page)
    assert m, f"no {name} in the page"
    return json.loads(m.group(1))


# ---- filters ---------------------------------------------------------------------------------------
def test_filters_tags_sources_text_and_time() -> None:
    a = make("Hiking in the Alps", tags=("travel", "outdoor"), source="chat", ts="2024-01-05T10:00:00+00:00")
    b = make("Budget meeting on Friday", tags=("work",), source="manual", ts="2024-02-10T23:30:00+00:00")
    c = make("Trip to Lisbon, pastel de nata", tags=("Travel",), source="import", ts="2024-03-01T08:00:00+00:00")
    d = make("Untagged thought about the Alps", source="chat", ts="2024-02-11T00:00:00+00:00")
    notes = as_dict(a, b, c, d)

    assert set(view_of(notes).node_ids) == {a.id, b.id, c.id, d.id}
    assert set(view_of(notes, tags=("travel",)).node_ids) == {a.id, c.id}  # case-insensitive, any of
    assert set(view_of(notes, tags=("work", "outdoor")).node_ids) == {a.id, b.id}
    assert set(view_of(notes, sources=("chat",)).node_ids) == {a.id, d.id}
    assert set(view_of(notes, text="alps").node_ids) == {a.id, d.id}
    assert set(view_of(notes, text=b.id[:8]).node_ids) == {b.id}  # an id works as text
    # days are inclusive: the 10th includes 23:30 that day, the 11th starts at midnight
    feb10 = view_of(notes, since=date(2024, 2, 10), until=date(2024, 2, 10))
    assert feb10.node_ids == [b.id]
    assert set(view_of(notes, since=date(2024, 2, 11)).node_ids) == {c.id, d.id}
    combined = view_of(notes, tags=("travel",), sources=("import",), until=date(2024, 12, 31))
    assert combined.node_ids == [c.id] and combined.matched == 1 and combined.total == 4
    assert view_of(notes, text="nothing like this").node_ids == []


def test_bad_query_is_refused_with_a_message() -> None:
    notes = as_dict(make("x"))
    for bad in ({"cap": 0}, {"cap": gv.MAX_CAP + 1}, {"depth": 4}, {"rank": "random"}, {"colour_by": "mood"},
                {"size_by": "length"}):
        with pytest.raises(InputError):
            view_of(notes, **bad)


# ---- the cap -----------------------------------------------------------------------------------------
def test_cap_keeps_the_most_linked_and_says_so() -> None:
    hub = make("hub", ts="2023-01-01T00:00:00+00:00")
    spokes = [make(f"spoke {i}", ts=f"2024-01-{i + 1:02d}T00:00:00+00:00", recalled=i) for i in range(20)]
    for s in spokes:
        link(s, hub)
    second = spokes[0]
    for s in spokes[1:4]:
        link(s, second)
    notes = as_dict(hub, *spokes)
    view = view_of(notes, cap=8)
    assert view.shown == 8 and view.matched == 21
    assert view.node_ids[:2] == [hub.id, second.id]  # 20 links, then 4 links
    # then 2 links each, then 1 link each; ties broken by newest first
    assert view.node_ids[2:] == [spokes[i].id for i in (3, 2, 1, 19, 18, 17)]
    assert view.summary.startswith("Showing 8 of 21 notes (cap 8): the 8 with the most links")
    assert all(u in view.node_ids and v in view.node_ids for u, v, _ in view.edges)
    assert len(view.edges) == 1 + 3 * 2 + 3  # second -> hub; spokes 1-3 -> hub, second; 19,18,17 -> hub

    newest = view_of(notes, cap=3, rank="newest")
    assert newest.node_ids == [spokes[19].id, spokes[18].id, spokes[17].id]
    assert "newest" in newest.summary
    recalled = view_of(notes, cap=2, rank="recalled")
    assert recalled.node_ids == [spokes[19].id, spokes[18].id]

    full = view_of(notes)
    assert full.shown == 21 and full.summary.startswith("Showing 21 of 21 notes;")


def test_cap_holds_in_the_html_too() -> None:
    notes = as_dict(*[make(f"note {i}") for i in range(40)])
    page = gh.to_html(view_of(notes, cap=7))
    assert len(embedded(page, "nodes")) == 7


# ---- focus (ego graph) ---------------------------------------------------------------------------
def chain() -> list[Note]:
    """a -> b <- c -> d -> e : five notes in a line, links in both directions."""
    a, b, c, d, e = (make(f"note {x}", tags=("t",), nid=f"note-{x}") for x in "abcde")
    link(a, b)
    link(c, b)
    link(c, d)
    link(d, e)
    return [a, b, c, d, e]


def test_ego_depth_follows_links_either_way() -> None:
    a, b, c, d, e = chain()
    notes = as_dict(a, b, c, d, e)
    one = view_of(notes, focus=c.id, depth=1)
    assert set(one.node_ids) == {b.id, c.id, d.id}
    assert one.rings == {c.id: 0, b.id: 1, d.id: 1}
    assert one.node_ids[0] == c.id
    assert "within 1 link of the focused note" in one.summary
    assert set(view_of(notes, focus=c.id, depth=2).node_ids) == {a.id, b.id, c.id, d.id, e.id}
    assert set(view_of(notes, focus=a.id, depth=2).node_ids) == {a.id, b.id, c.id}
    assert set(view_of(notes, focus=a.id, depth=3).node_ids) == {a.id, b.id, c.id, d.id}


def test_ego_respects_filters_and_keeps_the_focus() -> None:
    a, b, c, d, e = chain()
    d.tags = ["other"]
    notes = as_dict(a, b, c, d, e)
    # d is filtered out, so e cannot be reached through it; the focus itself need not match
    view = view_of(notes, focus=c.id, depth=3, tags=("t",))
    assert set(view.node_ids) == {a.id, b.id, c.id}
    view = view_of(notes, focus=d.id, depth=1, tags=("t",))
    assert set(view.node_ids) == {c.id, d.id, e.id}


def test_ego_cap_keeps_nearest_rings_first() -> None:
    centre = make("centre", nid="centre")
    near = [make(f"near {i}", nid=f"near-{i}") for i in range(3)]
    far = [make(f"far {i}", nid=f"far-{i}") for i in range(6)]
    for i, n in enumerate(near):
        link(centre, n)
        for f in far[2 * i:2 * i + 2]:
            link(n, f)
    for f in far[:4]:  # far notes with many links must still come after the near ring
        for g in far[4:]:
            link(f, g)
    notes = as_dict(centre, *near, *far)
    view = view_of(notes, focus=centre.id, depth=2, cap=5)
    assert view.node_ids[0] == centre.id
    assert set(view.node_ids[1:4]) == {n.id for n in near}
    assert view.matched == 10 and view.shown == 5
    assert "nearest rings first" in view.summary


def test_missing_focus_is_reported_not_raised() -> None:
    notes = as_dict(*chain())
    view = view_of(notes, focus="no-such-note", depth=2)
    assert view.focus_missing and view.focus is None and view.shown == 5


# ---- colours, sizes, styles ----------------------------------------------------------------------
def test_colour_by_tag_uses_the_most_common_tag_in_view() -> None:
    a = make("a", tags=("rare", "common"))
    b = make("b", tags=("common",))
    c = make("c", tags=("common", "other"))
    d = make("d")
    view = view_of(as_dict(a, b, c, d), colour_by="tag")
    assert view.groups[a.id] == view.groups[b.id] == view.groups[c.id] == "common"
    assert view.colours[a.id] == gs.PALETTE[0]
    assert view.groups[d.id] == "(no tags)"
    nodes = [e for e in view.legend if e.kind == "node"]
    assert (nodes[0].label, nodes[0].count) == ("common", 3)


def test_colour_by_community_is_deterministic() -> None:
    left = [make(f"left {i}", tags=("alpine",)) for i in range(4)]
    right = [make(f"right {i}", tags=("money",)) for i in range(3)]
    alone = make("alone")
    for group in (left, right):
        for x in group:
            for y in group:
                if x.id < y.id:
                    link(x, y)
    notes = as_dict(*left, *right, alone)
    view = view_of(notes, colour_by="community")
    assert len({view.colours[n.id] for n in left}) == 1
    assert len({view.colours[n.id] for n in right}) == 1
    assert view.colours[left[0].id] != view.colours[right[0].id]
    assert view.groups[left[0].id] == "community 1 · alpine"
    assert view.groups[alone.id] == "not linked in this view"
    again = view_of(notes, colour_by="community")
    assert again.colours == view.colours


def test_sizes_by_degree_or_retrievals() -> None:
    hub, x, y = make("hub", recalled=0), make("x", recalled=9), make("y", recalled=0)
    link(x, hub)
    link(y, hub)
    notes = as_dict(hub, x, y)
    by_degree = view_of(notes, size_by="degree")
    assert by_degree.sizes[hub.id] > by_degree.sizes[x.id] == by_degree.sizes[y.id]
    by_recall = view_of(notes, size_by="retrievals")
    assert by_recall.sizes[x.id] > by_recall.sizes[hub.id] == by_recall.sizes[y.id]


def test_links_told_apart_by_who_made_them_and_evolution_marked() -> None:
    a, b, c, d, e = (make(x) for x in "abcde")
    link(a, b, by="linker")
    link(a, c, by="person")
    link(a, d, by="system", reason="similar (cosine 0.91)")
    link(a, e, by="import")
    b.history.append(Change("context", "old", "new", by="evolver"))
    b.history.append(Change("tags", ["x"], ["y"], by="evolver"))
    a.history.append(Change("evolution", None, {"shown": [b.id], "linked": [b.id], "evolved": [b.id]}, by="evolver"))
    view = view_of(as_dict(a, b, c, d, e), link_kinds=LINK_KINDS)  # similarity too (hidden by default)
    page = gh.to_html(view)
    edges = {x["to"]: x for x in embedded(page, "edges")}
    styles = {(x["color"], x["width"], json.dumps(x["dashes"])) for x in edges.values()}
    assert len(styles) == 4
    assert edges[b.id]["color"] == gs.EDGE_STYLES["linker"][0] and edges[b.id]["dashes"] is False
    assert edges[d.id]["dashes"] == gs.EDGE_STYLES["system"][2]
    assert view.evolved == {b.id: 2}  # the decision record on a is not a change to a
    nodes = {x["id"]: x for x in embedded(page, "nodes")}
    assert nodes[b.id]["shape"] == "diamond" and nodes[b.id]["color"]["border"] == gs.EVOLVED_BORDER
    assert nodes[a.id]["shape"] == "dot" and nodes[a.id]["color"]["border"] != gs.EVOLVED_BORDER
    legend = {(e.kind, e.style): e.count for e in view.legend}
    assert legend[("edge", "linker")] == legend[("edge", "person")] == legend[("edge", "system")] == 1
    assert legend[("marker", "diamond")] == 1


def test_link_kinds_choose_what_is_drawn_and_walked_and_the_persons_links_always_show() -> None:
    a, b, c, d, e, f = (make(x) for x in "abcdef")
    link(a, b, by="system", reason=similar_reason(0.71))
    link(a, c, by="system", reason="Both name Biscuit.")
    link(a, d, by="system", reason="Both are about basil (cosine 0.48).")
    link(a, e, by="person", reason="linked by hand")
    link(b, f, by="linker", reason="both about work")
    notes = as_dict(a, b, c, d, e, f)

    def drawn(**query) -> set[tuple[str, str]]:
        return {(u, v) for u, v, _ in view_of(notes, **query).edges}

    assert drawn() == {(a.id, c.id), (a.id, d.id), (a.id, e.id), (b.id, f.id)}  # the default: no similarity
    assert drawn(link_kinds=LINK_KINDS) == {(a.id, x.id) for x in (b, c, d, e)} | {(b.id, f.id)}
    assert drawn(link_kinds=()) == {(a.id, e.id)}  # nothing chosen: the person's own links still show
    assert drawn(link_kinds=("topic",)) == {(a.id, d.id), (a.id, e.id)}
    # a focus walks the drawn links only: b is reached through its similarity link only when it is drawn
    assert set(view_of(notes, focus=a.id, depth=2).node_ids) == {a.id, c.id, d.id, e.id}
    assert set(view_of(notes, focus=a.id, depth=2, link_kinds=("similarity", "model")).node_ids) == \
        {a.id, b.id, e.id, f.id}
    assert {"entity", "topic", "model", "person", "correction"} <= set(gv.DEFAULT_LINK_KINDS)
    assert "similarity" not in gv.DEFAULT_LINK_KINDS
    with pytest.raises(InputError, match="Unknown link kind"):
        view_of(notes, link_kinds=("magic",))


def test_physics_off_gets_a_fixed_layout() -> None:
    notes = as_dict(*chain())
    view = view_of(notes, physics=False)
    assert view.positions is not None and set(view.positions) == set(notes)
    page = gh.to_html(view)
    nodes = embedded(page, "nodes")
    assert all("x" in n and "y" in n for n in nodes)
    options = json.loads(re.search(r"var options = (.*?);\n", page).group(1))
    assert options["physics"]["enabled"] is False
    assert view_of(notes, physics=False).positions == view.positions  # seeded
    assert view_of(notes).positions is None


# ---- escaping and offline HTML ---------------------------------------------------------------------
def hostile_notes() -> dict[str, Note]:
    s = make(SCRIPT, tags=("<b>tag</b>",))
    s.context = "context with " + IMG
    s.keywords = ["</script><script>alert(2)</script>"]
    i = make(IMG + " and a link href=javascript:alert(3)")
    link(s, i, reason="because " + SCRIPT)
    return as_dict(s, i)


def test_hostile_text_is_escaped_in_tooltips_and_inert_in_labels() -> None:
    notes = hostile_notes()
    s, i = notes.values()
    page = gh.to_html(view_of(notes, focus=s.id))
    benign = gh.to_html(view_of(as_dict(make("plain"), make("text")), focus=None))
    # nothing from a note appears as markup anywhere in the page
    for raw in (SCRIPT, IMG, "</script><script>alert(2)", "<b>tag</b>"):
        assert raw not in page
    assert page.count("<script") == benign.count("<script")  # no note opened a script element
    assert page.count("</script") == benign.count("</script")
    assert "innerHTML = escaped" in page and "popup.innerHTML" not in page
    nodes = {n["id"]: n for n in embedded(page, "nodes")}
    # tooltips carry the escaped form of everything
    assert html.escape(SCRIPT) in nodes[s.id]["title"]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in nodes[s.id]["title"]
    assert html.escape(IMG) in nodes[s.id]["title"] and html.escape("<b>tag</b>") in nodes[s.id]["title"]
    assert html.escape("</script><script>alert(2)</script>") in nodes[s.id]["title"]
    assert "&lt;img src=x onerror=alert(1)&gt;" in nodes[i.id]["title"]
    assert "<" not in nodes[s.id]["title"] and "<" not in nodes[i.id]["title"]
    # labels are drawn on the canvas as text: the note's own title, kept as it is
    assert nodes[s.id]["label"] == SCRIPT and nodes[i.id]["label"] == i.title
    # and in the page source they are JSON with < and > escaped
    assert "\\u003cscript\\u003ealert(1)\\u003c/script\\u003e" in page
    edge = embedded(page, "edges")[0]
    assert edge["title"].startswith("because &lt;script&gt;")


def test_page_is_self_contained() -> None:
    page = gh.to_html(view_of(hostile_notes()))
    assert "new vis.Network" in page and "vis-network" in page.lower()
    assert not re.search(r"<script[^>]*\bsrc=", page)
    assert "<link" not in page
    assert "cdn.jsdelivr" not in page and "cdnjs" not in page


@pytest.mark.browser
def test_hostile_tooltip_shows_literally_in_chromium() -> None:
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    playwright = pytest.importorskip("playwright.sync_api")
    if not shutil.which(chromium) and not __import__("os").path.exists(chromium):
        pytest.skip("Chromium is not installed")
    notes = hostile_notes()
    s, i = notes.values()
    page_html = gh.to_html(view_of(notes, physics=False))
    dialogs: list[str] = []
    requests: list[str] = []
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"])
        try:
            page = browser.new_page()
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.on("request", lambda r: requests.append(r.url))
            page.set_content(page_html)
            page.wait_for_function("window.memexGraph !== undefined")
            assert page.evaluate("window.memexGraph.nodes") == 2
            for nid, expected in ((s.id, SCRIPT), (i.id, IMG)):
                pos = page.evaluate("id => { const n = window.memexGraph.network;"
                                    " return n.canvasToDOM(n.getPositions([id])[id]); }", nid)
                page.mouse.move(pos["x"], pos["y"])
                page.wait_for_function("() => { const t = document.querySelector('.vis-tooltip');"
                                       " return t && t.style.visibility === 'visible'; }", timeout=5000)
                text = page.evaluate("document.querySelector('.vis-tooltip').innerText")
                assert text.startswith(expected), text
                page.mouse.move(1, 1)
                page.wait_for_timeout(300)
            assert page.evaluate("document.images.length") == 0
            assert page.evaluate("document.querySelectorAll('script').length") == 2
        finally:
            browser.close()
    assert dialogs == []
    assert [u for u in requests if not u.startswith(("about:", "data:"))] == []
