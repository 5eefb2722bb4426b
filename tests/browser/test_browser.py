"""The real app in a real browser: `streamlit run app.py` driven by Debian's Chromium through Playwright.

Why: AppTest runs page scripts without a browser, so it cannot see what the front end does with
note text (HTML injection, markdown rendering), whether the graph component really draws, or
whether navigation works by URL. This test seeds a temporary data directory (linked notes plus two
hostile notes), starts the app headless on 127.0.0.1, opens every page by its URL path, checks the
key elements, that the hostile text shows literally and that no JavaScript dialog ever fired, and
saves a screenshot of each page in test-artifacts/.

Chromium comes from Debian (scripts/ensure-chromium.sh); Playwright never downloads a browser.
Without /usr/bin/chromium the test skips, unless MEMEX_REQUIRE_BROWSER is set (CI), then it fails.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from browserkit import ARTIFACTS, require_browser, settle

from memory_core.config import Settings
from memory_core.memory.pipeline import MemoryPipeline, NewItem
from memory_core.store import MemoryStore

pytestmark = pytest.mark.browser

IMG = "<img src=x onerror=alert(1)>"
SCRIPT = "<script>alert(1)</script>"
TEXTS = [
    "I went hiking in the Alps with Anna last summer.",
    "Anna loves mountains and takes photos of glaciers.",
    "The quarterly budget review is on Friday.",
    "Budget planning for next year starts in March.",
    IMG,
    SCRIPT,
]
# url path -> page title as shown in the navigation
PAGES = {"": "Chat", "graph": "Graph", "notes": "Notes", "search": "Search", "review": "Review",
         "insights": "Insights", "transfer": "Import / Export", "settings": "Settings"}
@pytest.fixture(scope="module")
def app_server(tmp_path_factory: pytest.TempPathFactory, embedder, streamlit_server) -> Iterator[dict[str, Any]]:
    """The app on a seeded data folder (linked notes and two hostile ones), for the module."""
    require_browser()
    tmp = tmp_path_factory.mktemp("browser")
    home = tmp / "home"
    settings = Settings(data_dir=str(home))
    store = MemoryStore(settings, embedder)
    report = MemoryPipeline(store, settings.replace(fast_link_threshold=0.99)).add_many(
        [NewItem(t, timestamp=f"2024-01-0{i + 1}T10:00:00+00:00", source="manual") for i, t in enumerate(TEXTS)])
    ids = report.note_ids
    store.link(ids[0], ids[1], "both about Anna")
    store.link(ids[2], ids[3], "budget")
    store.link(ids[4], ids[5], "hostile pair")
    del store
    with streamlit_server(home, tmp / "streamlit.log") as app:
        yield {"base": app.base, "ids": ids, "log": app.log, "tmp": tmp}


class Checks:
    """Collects failed checks so one broken page does not hide what the others do."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def check(self, ok: Any, what: str) -> bool:
        if not ok:
            self.problems.append(what)
        return bool(ok)


def _nav_titles(page: Any) -> list[str]:
    """The sidebar's page titles (the icon is a separate line of the link's text)."""
    links = page.locator('[data-testid="stSidebarNavLink"]').all_inner_texts()
    return [[line.strip() for line in x.splitlines() if line.strip()][-1] for x in links if x.strip()]


def _main_text(page: Any) -> str:
    return page.locator('[data-testid="stMainBlockContainer"]').inner_text()


def _canvas_drawn(frame: Any) -> bool:
    """True when the graph component's canvas has non-blank pixels."""
    return bool(frame.evaluate("""() => {
        const c = document.querySelector('[data-testid="memex-graph"] canvas') || document.querySelector('canvas');
        if (!c || !c.width || !c.height) return false;
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let painted = 0;
        for (let i = 3; i < d.length; i += 4 * 7) { if (d[i] !== 0) painted++; }
        return painted > 50;
    }"""))


@pytest.fixture(scope="module")
def browser(app_server: dict[str, Any], chromium) -> Iterator[dict[str, Any]]:
    """One Chromium (fresh profile) for the module; records every JavaScript dialog and page error."""
    seen: dict[str, Any] = {"dialogs": [], "errors": []}
    with chromium(app_server["tmp"] / "chromium-profile") as page:
        page.on("dialog", lambda d: (seen["dialogs"].append(f"{d.type}: {d.message}"), d.dismiss()))
        page.on("pageerror", lambda exc: seen["errors"].append(str(exc)))
        seen["page"] = page
        yield seen


def _nothing_hostile_ran(browser: dict[str, Any], checks: Checks) -> None:
    for frame in browser["page"].frames:
        injected = frame.evaluate("() => document.querySelectorAll('img[src=\"x\"]').length")
        checks.check(injected == 0, f"an <img src=x> element exists in frame {frame.url[:60]}")
    checks.check(not browser["dialogs"], f"JavaScript dialogs fired: {browser['dialogs']}")
    checks.check(not [e for e in browser["errors"] if "alert" in e], f"page errors: {browser['errors']}")


def test_deep_link_to_a_note_as_the_first_visit(app_server: dict[str, Any], browser: dict[str, Any]) -> None:
    """A bookmarked /notes?note=<id>, opened before anything else: the app (its navigation) and the note.

    Runs first (file order) so that it is the first request the server sees.
    """
    page, ids, checks = browser["page"], app_server["ids"], Checks()
    page.goto(f"{app_server['base']}/notes?note={ids[4]}")
    settle(page)
    page.screenshot(path=str(ARTIFACTS / "notes-deep-link.png"), full_page=True)
    nav = _nav_titles(page)
    checks.check("Notes" in nav and "common" not in nav,
                 f"a deep link as the first visit does not get the app's navigation (sidebar: {nav}): Streamlit "
                 "runs the page file on its own, in its old pages/-folder mode, because app.py sits beside a "
                 "folder named 'pages'")
    checks.check(page.locator('[data-testid="stCode"]').filter(has_text=IMG).count() >= 1,
                 "notes?note=<id>: the hostile note's content is not shown literally in the detail")
    _nothing_hostile_ran(browser, checks)
    assert not checks.problems, "\n".join(checks.problems) + f"\n(server log: {app_server['log']})"


def test_every_page_in_chromium(app_server: dict[str, Any], browser: dict[str, Any]) -> None:
    page, base, ids, checks = browser["page"], app_server["base"], app_server["ids"], Checks()
    for path, title in PAGES.items():
        page.goto(f"{base}/{path}")
        try:
            settle(page)
            heading = page.locator('[data-testid="stMainBlockContainer"] h1').first.inner_text()
            checks.check(title.split(" ")[0] in heading, f"/{path}: heading is {heading!r}, expected {title!r}")
            errors = page.locator('[data-testid="stException"]')
            checks.check(errors.count() == 0, f"/{path}: shows a Python exception: {errors.all_inner_texts()[:1]}")
            nav = _nav_titles(page)
            checks.check(set(PAGES.values()) <= set(nav), f"/{path}: navigation shows {nav}")
            check_page(page, path, ids, checks)
        except Exception as exc:  # noqa: BLE001 - record it and go on to the next page
            checks.check(False, f"/{path}: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}")
        page.screenshot(path=str(ARTIFACTS / f"{path or 'chat'}.png"), full_page=True)
    _nothing_hostile_ran(browser, checks)
    assert not checks.problems, "\n".join(checks.problems) + f"\n(server log: {app_server['log']})"


def check_page(page: Any, path: str, ids: list[str], checks: Checks) -> None:
    """The key elements of one page."""
    main = page.locator('[data-testid="stMainBlockContainer"]')
    if path == "":
        checks.check(page.locator('[data-testid="stChatInput"] textarea').count() == 1, "chat: no chat input")
    elif path == "graph":
        # the graph is a components.v2 element in the page itself (no iframe): its canvas is in main
        frame_el = main.locator('[data-testid="memex-graph"]').first
        if not checks.check(frame_el.count() == 1, "graph: no graph component"):
            return
        try:
            frame = page
            frame.wait_for_selector('[data-testid="memex-graph"] canvas', timeout=30_000)
            deadline = time.monotonic() + 20
            while not _canvas_drawn(frame) and time.monotonic() < deadline:
                time.sleep(0.5)
            checks.check(_canvas_drawn(frame), "graph: the canvas in the component iframe stays blank")
        except Exception as exc:  # noqa: BLE001
            checks.check(False, f"graph: no canvas in the component iframe ({type(exc).__name__})")
    elif path == "notes":
        rows = main.locator('[data-testid="stDataFrame"] [role="row"]')
        checks.check(rows.count() == len(TEXTS) + 1, f"notes: the data editor shows {rows.count()} rows "
                                                     f"(expected a header and {len(TEXTS)} notes)")
        texts = " ".join(rows.all_inner_texts())
        checks.check(IMG in texts and SCRIPT in texts, "notes: the hostile notes are not in the table literally")
    elif path == "search":
        box = main.locator('[data-testid="stTextInput"] input').first
        box.fill("alert script onerror img")
        box.press("Enter")
        try:
            page.wait_for_selector('[data-testid="stMainBlockContainer"] .st-key-hit_1', timeout=60_000)
            settle(page)
        except Exception as exc:  # noqa: BLE001
            checks.check(False, f"search: no result appeared ({type(exc).__name__})")
            return
        text = _main_text(page)
        checks.check(SCRIPT in text, "search: the <script> note is not shown literally in the results")
        checks.check(IMG in text, "search: the <img onerror> note is not shown literally in the results")
        checks.check(main.locator("strong", has_text="script").count() >= 1,
                     "search: matched terms are not highlighted")
    elif path == "insights":
        checks.check(main.locator('[data-testid="stPlotlyChart"], .js-plotly-plot').count() >= 1,
                     "insights: no plotly chart")
    elif path == "transfer":
        checks.check(main.locator('[data-testid="stFileUploader"]').count() == 1, "transfer: no file uploader")
        labels = main.locator('[data-testid="stDownloadButton"]').all_inner_texts()
        checks.check(any("JSON" in x for x in labels) and any("vault" in x for x in labels),
                     f"transfer: download buttons are {labels}")
    elif path == "settings":
        widgets = main.locator('[data-testid="stTextInput"], [data-testid="stNumberInput"], '
                               '[data-testid="stSelectbox"]')
        checks.check(widgets.count() >= 1, "settings: no setting widgets")
