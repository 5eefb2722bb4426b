"""The VAULT pages in real Chromium: a note's history diff with hostile text, the Notes page as of a
past date (banner, read-only), Insights time axes for one day of notes, and a vault zip imported on
the Import / Export page with its per-file report. Screenshots go to test-artifacts/.

Why a browser: AppTest sees the Markdown a page sends, not what the front end makes of it. The diff
marks (``:red-background[~~...~~]`` around escaped note text) and plotly's axis ticks can only be
checked once rendered.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browserkit import ARTIFACTS, require_browser, settle

from memory_core.config import Settings
from memory_core.notes import Note
from memory_core.store import MemoryStore

pytestmark = pytest.mark.browser

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "vault"
HOSTILE = "Skiing <script>alert(1)</script> <img src=x onerror=alert(1)> in the [Alps](http://evil.invalid)"


def _seed(home: Path, embedder) -> None:
    import memory_core.notes
    import memory_core.store.fold

    store = MemoryStore(Settings(data_dir=str(home)), embedder)
    with pytest.MonkeyPatch.context() as mp:
        def at(when: str) -> None:
            mp.setattr(memory_core.store.fold, "now_iso", lambda: when)
            mp.setattr(memory_core.notes, "now_iso", lambda: when)

        at("2024-03-01T10:00:00+00:00")
        with store.writing() as w:
            w.put(Note("Hiking in the Alps with Anna.", id="note-a", timestamp="2024-03-01T09:00:00+00:00"))
            w.put(Note("Anna loves glaciers.", id="note-b", timestamp="2024-03-01T11:30:00+00:00"))
            w.put(Note("Budget review at noon.", id="note-c", timestamp="2024-03-01T12:00:00+00:00"))
        at("2024-03-05T10:00:00+00:00")
        store.update("note-a", content=HOSTILE, tags=["<b>winter</b>"])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, embedder, streamlit_server) -> Iterator[dict[str, Any]]:
    require_browser()
    tmp = tmp_path_factory.mktemp("browser-vault")
    home = tmp / "home"
    _seed(home, embedder)
    with streamlit_server(home, tmp / "streamlit.log") as app:
        yield {"base": app.base, "tmp": tmp}


@pytest.fixture(scope="module")
def page(server: dict[str, Any], chromium) -> Iterator[Any]:
    with chromium(server["tmp"] / "profile") as pg:
        pg.dialogs = []
        pg.on("dialog", lambda d: (pg.dialogs.append(d.message), d.dismiss()))
        yield pg


def _nothing_ran(page: Any) -> None:
    assert page.evaluate("() => document.querySelectorAll('img[src=\"x\"]').length") == 0
    links = page.evaluate("() => [...document.querySelectorAll('a')].filter(a => a.href.includes('evil'))"
                          ".map(a => a.parentElement.outerHTML.slice(0, 600))")
    assert not links, links
    assert not page.dialogs


def test_history_diff_renders_hostile_text_literally(server: dict[str, Any], page: Any) -> None:
    page.goto(f"{server['base']}/notes?note=note-a")
    settle(page)
    page.get_by_text("History (2 changes)").wait_for()
    main = page.locator('[data-testid="stMainBlockContainer"]')
    text = main.inner_text()
    assert "<script>alert(1)</script>" in text and "<b>winter</b>" in text
    marks = page.evaluate("""() => [...document.querySelectorAll('[data-testid="stMarkdownContainer"] span')]
        .filter(s => getComputedStyle(s).backgroundColor !== 'rgba(0, 0, 0, 0)').map(s => s.innerText)""")
    assert any("<script>alert(1)</script>" in m for m in marks), marks  # inside a coloured mark, as text
    assert page.evaluate("() => document.querySelectorAll('del, s').length") > 0  # removed words struck out
    _nothing_ran(page)
    page.screenshot(path=str(ARTIFACTS / "vault-notes-history-diff.png"), full_page=True)


def test_notes_as_of_a_past_date(server: dict[str, Any], page: Any) -> None:
    page.goto(f"{server['base']}/notes")
    settle(page)
    page.get_by_text("Look back in time").click()
    settle(page)
    for part, value in (("year", "2024"), ("month", "03"), ("day", "02")):  # the date field's segments
        page.get_by_role("spinbutton", name=f"{part}, As of (UTC)").click()
        page.keyboard.type(value)
    page.keyboard.press("Tab")  # opens the calendar at the typed month; picking the day commits it
    page.locator('[role="gridcell"] [aria-label*="March 2, 2024"]').first.click()
    page.keyboard.press("Escape")
    page.get_by_text("The memory as it was on 2024-03-02 23:59 UTC").wait_for()
    settle(page)
    text = page.locator('[data-testid="stMainBlockContainer"]').inner_text()
    assert "Read-only" in text and "3 notes then" in text
    assert page.locator('[data-testid="stDataFrame"]').count() == 1
    assert not page.get_by_role("button", name="Save").count()
    page.screenshot(path=str(ARTIFACTS / "vault-notes-as-of.png"), full_page=True)
    _nothing_ran(page)


def test_insights_time_axis_for_one_day(server: dict[str, Any], page: Any) -> None:
    page.goto(f"{server['base']}/insights")
    settle(page)
    page.wait_for_selector(".js-plotly-plot .xtick text")
    ticks = page.evaluate("""() => [...document.querySelectorAll('.js-plotly-plot')][0]
        .querySelectorAll('.xtick text').length ? [...[...document.querySelectorAll('.js-plotly-plot')][0]
        .querySelectorAll('.xtick text')].map(t => t.textContent) : []""")
    assert ticks and all(len(t) == 5 and t[2] == ":" for t in ticks), ticks  # "09:00", "12:00": hours of the day
    assert "hour of 01 Mar 2024" in page.locator('[data-testid="stMainBlockContainer"]').inner_text()
    page.screenshot(path=str(ARTIFACTS / "vault-insights-one-day.png"), full_page=True)
    _nothing_ran(page)


def test_vault_zip_import_report(server: dict[str, Any], page: Any, tmp_path: Path) -> None:
    zpath = tmp_path / "my-vault.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        for path in sorted(FIXTURE.rglob("*")):
            if path.is_file():
                zf.write(path, f"my-vault/{path.relative_to(FIXTURE).as_posix()}")
    assert zipfile.is_zipfile(io.BytesIO(zpath.read_bytes()))
    page.goto(f"{server['base']}/transfer")
    settle(page)
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(zpath))
    page.get_by_role("button", name="Import 8 files").click()
    page.get_by_text("could not be imported").wait_for()
    settle(page)
    text = page.locator('[data-testid="stMainBlockContainer"]').inner_text()
    assert "6 added" in text and "2 refused" in text
    assert "Latin-1 note.md: not UTF-8" in text and "Broken front matter.md" in text
    page.screenshot(path=str(ARTIFACTS / "vault-import-report.png"), full_page=True)
    _nothing_ran(page)
