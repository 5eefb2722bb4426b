"""The explorer in real Chromium: click a graph node, a reply's trace, Review, and the time control.

Why a browser: AppTest runs page scripts without a front end, so it cannot prove that a click on
the canvas really reaches Python (the component's trigger value), that the trace highlights are
drawn, or that hostile note text stays text in the page. The app runs headless on 127.0.0.1
over a seeded temporary data directory; screenshots go to test-artifacts/ (gitignored).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browserkit import ARTIFACTS, require_browser, settle

from memory_core.config import Settings
from memory_core.notes import Link, Note
from memory_core.store import MemoryStore

pytestmark = pytest.mark.browser

IMG = "<img src=x onerror=alert(1)>"
SCRIPT = "<script>alert(1)</script>"


def _seed(home: Path, embedder: Any) -> dict[str, Any]:
    settings = Settings(data_dir=str(home))
    store = MemoryStore(settings, embedder)
    texts = ["I went hiking in the Alps with Anna last summer.",
             "Anna loves mountains and takes photos of glaciers.",
             "The quarterly budget review is on Friday.",
             "Budget planning for next year starts in March.",
             IMG, SCRIPT]
    notes = [Note(t, timestamp=f"2024-01-0{i + 1}T10:00:00+00:00", source="manual", tags=["t"])
             for i, t in enumerate(texts)]
    notes[0].links.append(Link(notes[1].id, reason="both about Anna", by="linker"))
    notes[2].links.append(Link(notes[3].id, reason="budget", by="person"))
    notes[4].links.append(Link(notes[5].id, reason="hostile " + SCRIPT, by="wikilink"))
    with store.writing() as w:
        for n in notes:
            w.put(n)
    ids = [n.id for n in notes]
    time.sleep(1.1)  # the edit below is a later moment (moments are to the second)
    store.update(ids[3], by="person", content="Budget planning moved to April.")
    from memory_core.store.proposals import Proposal

    pid = store.proposals.add(Proposal(target_id=ids[1], kind="context", before="",
                                       after="Anna photographs glaciers in the Alps", source_id=ids[0],
                                       proposed_by="evolver:SmolLM2-135M",
                                       grounding={"overlap": 0.8, "why": "80% of its words are in the note"}))
    # a saved chat reply that recalled three notes (the shape CHAT saves: Hit.trace_dict() + query)
    cid, mid = uuid.uuid4().hex, uuid.uuid4().hex[:12]
    conv = {"format": 1, "id": cid, "title": "Anna", "created": "2024-02-01T10:00:00+00:00",
            "updated": "2024-02-01T10:00:00+00:00", "remember": True, "messages": [
                {"id": "u1", "role": "user", "content": "Where did Anna go?", "at": "2024-02-01T10:00:00+00:00"},
                {"id": mid, "role": "assistant", "content": "To the Alps.", "at": "2024-02-01T10:00:05+00:00",
                 "recalled": [
                     {"id": ids[1], "rank": 1, "score": 0.91, "signals": {"lexical": 1.0, "dense": 0.8},
                      "via": "", "reasons": ["lexical: matched anna"], "matched_terms": ["anna"],
                      "query": "Where did Anna go?"},
                     {"id": ids[0], "rank": 2, "score": 0.55, "signals": {"graph": 0.6}, "via": ids[1],
                      "reasons": ["linked from Anna loves"], "matched_terms": [], "query": "Where did Anna go?"},
                     {"id": ids[5], "rank": 3, "score": 0.2, "signals": {"dense": 0.2}, "via": "",
                      "reasons": ["dense: " + IMG], "matched_terms": [], "query": "Where did Anna go?"}]}]}
    folder = home / "conversations"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{cid}.json").write_text(json.dumps(conv), encoding="utf-8")
    store.close()
    return {"ids": ids, "trace": f"{cid}:{mid}", "proposal": pid}


@pytest.fixture(scope="module")
def explorer(tmp_path_factory: pytest.TempPathFactory, embedder: Any, streamlit_server, chromium
             ) -> Iterator[dict[str, Any]]:
    """The app on the seeded data folder and one Chromium on it, for the module."""
    require_browser()
    tmp = tmp_path_factory.mktemp("explorer")
    home = tmp / "home"
    seeded = _seed(home, embedder)
    seen: dict[str, Any] = {"dialogs": [], "errors": []}
    with streamlit_server(home, tmp / "streamlit.log") as app, \
            chromium(tmp / "chromium-profile", height=900) as page:
        page.on("dialog", lambda d: (seen["dialogs"].append(f"{d.type}: {d.message}"), d.dismiss()))
        page.on("pageerror", lambda exc: seen["errors"].append(str(exc)))
        yield {"base": app.base, "page": page, "seen": seen, "log": app.log, "home": home, **seeded}


CANVAS = '[data-testid="memex-graph"]'
MOMENT = '[data-testid="stMainBlockContainer"] [data-testid="stSlider"] input[type="range"]'  # react-aria: hidden


def _wait_graph(page: Any, nodes: int | None = None) -> None:
    page.wait_for_selector(CANVAS + " canvas", timeout=60_000)
    page.wait_for_function(f"() => document.querySelector('{CANVAS}').getAttribute('data-nodes') !== null")
    if nodes is not None:
        got = int(page.locator(CANVAS).get_attribute("data-nodes"))
        assert got == nodes, f"the canvas draws {got} nodes, expected {nodes}"
    time.sleep(2.5)  # let the physics settle (positions are read at the click)


def _click_node(page: Any, nid: str) -> None:
    pos = page.evaluate(f"(id) => document.querySelector('{CANVAS}').memexNodeAt(id)", nid)
    assert pos, f"node {nid} is not drawn"
    page.mouse.click(pos["x"], pos["y"])


def _no_injection(ctx: dict[str, Any]) -> None:
    page = ctx["page"]
    assert page.evaluate("() => document.querySelectorAll('img[src=\"x\"]').length") == 0
    assert not ctx["seen"]["dialogs"], ctx["seen"]["dialogs"]


def test_click_a_node_opens_it_beside_the_graph(explorer: dict[str, Any]) -> None:
    page, ids = explorer["page"], explorer["ids"]
    page.goto(f"{explorer['base']}/graph")
    settle(page)
    _wait_graph(page, nodes=6)
    page.screenshot(path=str(ARTIFACTS / "explorer-graph.png"))
    box = page.locator(CANVAS).bounding_box()
    assert box["width"] >= 0.6 * 1400, f"the canvas is {box['width']:.0f}px wide, less than 60% of 1400"
    assert box["height"] >= 0.55 * 900, f"the canvas is {box['height']:.0f}px high"
    _click_node(page, ids[2])
    page.wait_for_function("(id) => location.search.includes('note=' + id)", arg=ids[2], timeout=30_000)
    settle(page)
    main = page.locator('[data-testid="stMainBlockContainer"]')
    assert main.locator('[data-testid="stCode"]').filter(has_text="The quarterly budget review is on Friday.").count()
    assert page.locator(CANVAS).get_attribute("data-selected") == ids[2]
    # the hostile note: its details show the text literally
    _click_node(page, ids[4])
    page.wait_for_function("(id) => location.search.includes('note=' + id)", arg=ids[4], timeout=30_000)
    settle(page)
    assert main.locator('[data-testid="stCode"]').filter(has_text=IMG).count() >= 1
    page.screenshot(path=str(ARTIFACTS / "explorer-graph-clicked.png"))
    # the choice survives a reload (it is in the URL)
    page.reload()
    settle(page)
    _wait_graph(page)
    assert main.locator('[data-testid="stCode"]').filter(has_text=IMG).count() >= 1
    _no_injection(explorer)


def test_a_replys_trace_is_highlighted(explorer: dict[str, Any]) -> None:
    page, ids = explorer["page"], explorer["ids"]
    page.goto(f"{explorer['base']}/graph?trace={explorer['trace']}")
    settle(page)
    _wait_graph(page)
    text = page.locator('[data-testid="stMainBlockContainer"]').inner_text()
    assert "Where did Anna go?" in text and "What chat reply" in text
    table = page.locator('[data-testid="stDataFrame"]').first
    assert table.count() == 1
    drawn = {n["id"]: n for n in page.evaluate(f"() => document.querySelector('{CANVAS}').memexDrawn()")}
    assert drawn[ids[1]]["label"].startswith("#1 · 0.91") and drawn[ids[0]]["label"].startswith("#2 · 0.55")
    assert drawn[ids[5]]["label"] == "#3 · 0.20\n" + SCRIPT  # hostile text drawn as text on the canvas
    gold = drawn[ids[1]]["border"]
    assert drawn[ids[0]]["border"] == gold and drawn[ids[5]]["border"] == gold
    faded = [n for n in drawn.values() if n["id"] not in (ids[0], ids[1], ids[5])]
    assert faded and all(n["border"] != gold and "rgba" in n["border"] for n in faded)
    page.screenshot(path=str(ARTIFACTS / "explorer-trace.png"))
    _no_injection(explorer)


def test_accept_a_proposal_in_review(explorer: dict[str, Any]) -> None:
    page, pid = explorer["page"], explorer["proposal"]
    page.goto(f"{explorer['base']}/review")
    settle(page)
    nav = page.locator('[data-testid="stSidebarNavLink"]').all_inner_texts()
    assert any("Review (1)" in x for x in nav), nav
    main = page.locator('[data-testid="stMainBlockContainer"]')
    page.wait_for_selector(f".st-key-review_accept_{pid} button", timeout=30_000)
    page.screenshot(path=str(ARTIFACTS / "explorer-review.png"))
    assert "Anna photographs glaciers in the Alps" in main.inner_text()
    page.locator(f".st-key-review_accept_{pid} button").click()
    page.wait_for_selector('[data-testid="stAlertContentSuccess"]', timeout=30_000)
    settle(page)
    assert f"Accepted proposal {pid}" in main.inner_text()
    assert "Nothing to review" in main.inner_text()
    nav = page.locator('[data-testid="stSidebarNavLink"]').all_inner_texts()
    assert not any("Review (1)" in x for x in nav), nav
    page.screenshot(path=str(ARTIFACTS / "explorer-review-accepted.png"))
    _no_injection(explorer)


def test_time_control_shows_a_note_as_it_was(explorer: dict[str, Any]) -> None:
    page, ids = explorer["page"], explorer["ids"]
    page.goto(f"{explorer['base']}/graph?note={ids[3]}")
    settle(page)
    _wait_graph(page)
    main = page.locator('[data-testid="stMainBlockContainer"]')
    code = main.locator('[data-testid="stCode"]')
    assert code.filter(has_text="Budget planning moved to April.").count() >= 1
    page.get_by_text("Look back in time").first.click()
    try:
        page.wait_for_selector(MOMENT, state="attached", timeout=30_000)
    finally:
        page.screenshot(path=str(ARTIFACTS / "explorer-as-of-toggle.png"))
    settle(page)
    thumb = page.locator(MOMENT).first
    thumb.focus()
    thumb.press("Home")  # the first moment the memory changed
    page.wait_for_function("() => document.body.innerText.includes('The memory as it was on')", timeout=30_000)
    settle(page)
    assert code.filter(has_text="Budget planning for next year starts in March.").count() >= 1
    assert code.filter(has_text="Budget planning moved to April.").count() == 0
    assert "Read-only" in main.inner_text() and "Edit this note" not in main.inner_text()
    page.screenshot(path=str(ARTIFACTS / "explorer-as-of.png"))
    _no_injection(explorer)
