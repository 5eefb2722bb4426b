"""No button label is cut off, in real Chromium at a wide (1280 px) and a narrow (800 px) window.

Why a browser: a browser trial found labels cut to "Show on the gr…", "Save 0 ch…", and the Chat page's
Why buttons shown as "W"; how wide a button ends up is decided by the front end's layout, which AppTest
never sees. The check is the browser's own: an element of a button whose text is wider than its box.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from browserkit import ARTIFACTS, require_browser, settle

from memory_core.config import Settings
from memory_core.notes import Note
from memory_core.store import MemoryStore

pytestmark = pytest.mark.browser

CONV = "0c1a7a5e1ab3e1100000000000000001"  # a conversation id as the store makes them (32 hex digits)

# Every visible button and page link with a word of its label outside a box that clips it (overflow not
# visible: the label's own box or the button), as "label [text right edge > clip right edge]". A text
# node's range keeps its full laid-out width even where it is clipped, which is what this compares.
CUT_JS = """() => {
  const cut = [];
  for (const b of document.querySelectorAll('[data-testid="stMainBlockContainer"] :is(button, a)')) {
    if (b.offsetParent === null) continue;
    const walker = document.createTreeWalker(b, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      if (!/[A-Za-z]/.test(node.textContent)) continue;
      const range = document.createRange();
      range.selectNodeContents(node);
      const r = range.getBoundingClientRect();
      for (let box = node.parentElement; box; box = box.parentElement) {
        const style = getComputedStyle(box);
        const clips = style.overflowX !== 'visible' || style.textOverflow === 'ellipsis';
        const br = box.getBoundingClientRect();
        if (clips && (r.right > br.right + 1 || r.left < br.left - 1)) {
          cut.push(b.innerText.replace(/\\s+/g, ' ').trim() + ' [' + Math.round(r.right) + ' > ' + Math.round(br.right) + ']');
          break;
        }
        if (box === b) break;
      }
    }
  }
  return cut;
}"""


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory, embedder, streamlit_server) -> Iterator[dict[str, Any]]:
    require_browser()
    tmp = tmp_path_factory.mktemp("browser-labels")
    store = MemoryStore(Settings(data_dir=str(tmp / "home")), embedder)
    with store.writing() as w:
        for i, text in enumerate(["My sister Clara lives in Lyon and works as an architect.",
                                  "Clara's daughter Mia starts school in September.",
                                  "I adopted a cat named Miso in March 2024."]):
            w.put(Note(text, id=f"note-{i}", timestamp=f"2024-03-0{i + 1}T09:00:00+00:00"))
    store.link("note-1", "note-0")
    recalled = [{"id": f"note-{i}", "rank": i + 1, "score": 0.5 - i / 10, "timestamp": "2024-03-01T09:00:00+00:00",
                 "title": f"note {i}", "in_prompt": i == 0, "reasons": ["lexical: matched clara"]} for i in range(2)]
    conv = {"format": 1, "id": CONV, "title": "Clara", "created": "2024-03-04T10:00:00+00:00",
            "updated": "2024-03-04T10:00:00+00:00", "remember": True,
            "messages": [{"id": "m1", "role": "user", "content": "Where does Clara live?",
                          "at": "2024-03-04T10:00:00+00:00"},
                         {"id": "m2", "role": "assistant", "content": "In Lyon.", "at": "2024-03-04T10:00:05+00:00",
                          "recalled": recalled}]}
    (tmp / "home" / "conversations").mkdir(parents=True, exist_ok=True)
    (tmp / "home" / "conversations" / f"{CONV}.json").write_text(json.dumps(conv), encoding="utf-8")
    with streamlit_server(tmp / "home", tmp / "streamlit.log") as running:
        yield {"base": running.base, "tmp": tmp}


@pytest.mark.parametrize("width", [1280, 800])
def test_no_button_label_is_cut_off(app: dict[str, Any], chromium, width: int) -> None:
    cut: dict[str, list[str]] = {}
    with chromium(app["tmp"] / f"profile-{width}", width=width, height=800) as page:
        for name in ("chat", "search", "notes", "transfer"):
            page.goto(f"{app['base']}/?conversation={CONV}" if name == "chat" else f"{app['base']}/{name}")
            settle(page)
            if name == "chat":  # the recalled memories, each with its Open and Why buttons
                page.get_by_text("Recalled memories").first.click()
                page.get_by_role("button", name="Why").first.wait_for()
                page.wait_for_timeout(1000)  # the expander's opening animation
            if name == "search":
                box = page.get_by_role("textbox").first
                box.fill("Clara")
                box.press("Enter")
                settle(page)
                page.get_by_role("button", name="Why").first.wait_for()
            page.screenshot(path=str(ARTIFACTS / f"labels-{name}-{width}.png"), full_page=True)
            cut[name] = page.evaluate(CUT_JS)
    assert not any(cut.values()), cut
