"""Safe rendering in a real browser: hostile reply and note text makes 0 requests to a listener.

A tiny HTTP server on 127.0.0.1 counts every request it gets. Hostile Markdown points images,
``<img>``, ``<iframe>``, ``<video>``, ``<link>``, ``<object>`` and a plain link at it.

1. A probe app (a one-file Streamlit script) shows the hostile text through plain ``st.markdown``
   and through ``safe_markdown``: the plain one makes the browser fetch (the control: the listener
   works and the leak is real), the safe one makes 0 requests, and its text shows the addresses.
2. The real app, with that text stored as an assistant reply (a conversation file) and as a note:
   the Chat, Notes (table and detail), Search and Graph pages are opened and the listener must still
   see 0 requests.
3. The same text streamed as a new reply by a stand-in llama.cpp server (the "server" backend):
   0 requests while it streams, and the finished reply shows the addresses as text.

Chromium is Debian's (/usr/bin/chromium); without it the test skips unless MEMEX_REQUIRE_BROWSER is set.
"""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browserkit import ARTIFACTS, require_browser
from browserkit import settle as settle_app

from memory_core.config import Settings

pytestmark = pytest.mark.browser

# Paths the listener may be asked for, one per way of loading something.
KINDS = ("md-image", "ref-image", "img-tag", "iframe", "video", "link-css", "object", "clicklink")


def hostile(port: int) -> str:
    u = f"http://127.0.0.1:{port}"
    return (f"Here is what I found ![x]({u}/md-image.png) about your dog.\n\n"
            f"![logo][r]\n\n[r]: {u}/ref-image.png\n\n"
            f"<img src=\"{u}/img-tag.png\"> and <iframe src=\"{u}/iframe\"></iframe>\n\n"
            f"<video src=\"{u}/video.mp4\" autoplay></video> <link rel=\"stylesheet\" href=\"{u}/link-css.css\">\n\n"
            f"<object data=\"{u}/object\"></object> and a [link to click]({u}/clicklink) — **bold stays bold**.")


class _Counter(http.server.BaseHTTPRequestHandler):
    seen: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        type(self).seen.append(self.path)
        body = b"GIF89a\x01\x00\x01\x00\x00\x00\x00;"
        self.send_response(200)
        self.send_header("Content-Type", "image/gif")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def listener() -> Iterator[dict[str, Any]]:
    handler = type("Counter", (_Counter,), {"seen": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield {"port": server.server_address[1], "seen": handler.seen}
    finally:
        server.shutdown()
        server.server_close()


def settle(page: Any, extra_seconds: float = 2.0) -> None:
    """The page's title is drawn and Streamlit is idle; then time for any media to start loading."""
    settle_app(page, timeout_ms=120_000, extra_seconds=extra_seconds)


def fetched(seen: list[str]) -> list[str]:
    return sorted({kind for path in seen for kind in KINDS if path.lstrip("/").startswith(kind)})


FETCH_ATTRS = ("src", "srcset", "data", "poster", "background", "action", "formaction")


def pointing_at(page: Any, port: int) -> dict[str, list[str]]:
    """Elements, in every frame, whose attributes point at the listener: {"fetch": [...], "link": [...]}.

    "fetch" are attributes a browser loads by itself (src, srcset, data, poster, ...); "link" are
    ``<a href>``, which load nothing until clicked.
    """
    found: dict[str, list[str]] = {"fetch": [], "link": []}
    for frame in page.frames:
        try:
            got = frame.evaluate("""([port, attrs]) => {
                const needle = '127.0.0.1:' + port;
                const out = {fetch: [], link: []};
                for (const el of document.querySelectorAll('*')) {
                    for (const a of attrs) {
                        const v = el.getAttribute(a);
                        if (v && v.includes(needle)) out.fetch.push(el.tagName + ' ' + a + '=' + v);
                    }
                    const h = el.getAttribute('href');
                    if (h && h.includes(needle)) (el.tagName === 'A' ? out.link : out.fetch).push(el.tagName + ' href=' + h);
                }
                return out;
            }""", [port, list(FETCH_ATTRS)])
        except Exception:  # noqa: BLE001 - a frame navigated away meanwhile
            continue
        found["fetch"] += got["fetch"]
        found["link"] += got["link"]
    return found


@pytest.fixture(scope="module")
def browser_page(tmp_path_factory: pytest.TempPathFactory, chromium) -> Iterator[Any]:
    """One Chromium page for the module (Playwright's sync API allows one running instance at a time)."""
    require_browser()
    with chromium(tmp_path_factory.mktemp("chromium") / "profile") as p:
        yield p


PROBE = """
from pathlib import Path
import streamlit as st
from memory_core.explore.render import safe_markdown

text = Path({path!r}).read_text()
st.title("probe")
st.markdown(safe_markdown(text) if st.query_params.get("mode") == "safe" else text)
"""


def test_plain_markdown_leaks_and_safe_markdown_fetches_nothing(listener: dict[str, Any], tmp_path: Path,
                                                                 browser_page: Any, streamlit_server) -> None:
    page = browser_page
    seen, port = listener["seen"], listener["port"]
    text_file = tmp_path / "hostile.md"
    text_file.write_text(hostile(port))
    script = tmp_path / "probe.py"
    script.write_text(PROBE.format(path=str(text_file)))
    ARTIFACTS.mkdir(exist_ok=True)
    with streamlit_server(tmp_path / "home", tmp_path / "probe.log", script=script) as app:
        base = app.base
        seen.clear()
        page.goto(f"{base}/?mode=safe")
        settle(page, extra_seconds=3)
        page.screenshot(path=str(ARTIFACTS / "render-probe-safe.png"), full_page=True)
        main = page.locator('[data-testid="stMainBlockContainer"]').inner_text()
        safe_requests, safe_elements = list(seen), pointing_at(page, port)

        seen.clear()
        page.goto(f"{base}/?mode=raw")
        settle(page)
        deadline = time.monotonic() + 10
        while not seen and time.monotonic() < deadline:
            time.sleep(0.2)
        page.screenshot(path=str(ARTIFACTS / "render-probe-raw.png"), full_page=True)
        raw_kinds = fetched(seen)
    assert safe_requests == [], f"safe_markdown still made the browser fetch {safe_requests}"
    assert safe_elements == {"fetch": [], "link": []}, f"elements pointing at the listener: {safe_elements}"
    for visible in (f"http://127.0.0.1:{port}/md-image.png", "image: x", '<img src="', "<iframe",
                    f"http://127.0.0.1:{port}/clicklink", "link to click", f"http://127.0.0.1:{port}/ref-image.png"):
        assert visible in main, f"{visible!r} is not shown in the safe rendering:\n{main}"
    # The control: Streamlit's own st.markdown fetches Markdown images (reference-style too) ...
    assert {"md-image", "ref-image"} <= set(raw_kinds), f"plain st.markdown fetched only {raw_kinds}"
    # ... but, with unsafe_allow_html off (the default), not raw HTML tags: they are shown as text.
    assert not {"img-tag", "iframe", "video", "link-css", "object"} & set(raw_kinds), raw_kinds
    assert "clicklink" not in raw_kinds  # a link is never followed without a click


@pytest.fixture(scope="module")
def app_home(tmp_path_factory: pytest.TempPathFactory, embedder, listener: dict[str, Any]) -> dict[str, Any]:
    """A data directory with the hostile text as a note and as a stored assistant reply."""
    from memory_core.chat import ConversationStore
    from memory_core.episodes.conversations import new_message
    from memory_core.memory.pipeline import MemoryPipeline, NewItem
    from memory_core.store import MemoryStore

    tmp = tmp_path_factory.mktemp("render-app")
    home = tmp / "home"
    settings = Settings(data_dir=str(home))
    store = MemoryStore(settings, embedder)
    text = hostile(listener["port"])
    report = MemoryPipeline(store, settings).add_many(
        [NewItem("My dog is called Bruno.", source="manual"), NewItem(text, source="manual")])
    note_id = report.note_ids[1]
    del store
    conversations = ConversationStore(home)
    conv = conversations.new()
    conv.messages.append(new_message("user", "What is my dog's name?"))
    recalled = [{"id": note_id, "rank": 1, "score": 0.9, "signals": {}, "via": None, "kind": "hybrid",
                 "reasons": [text[:200]], "matched_terms": [], "title": text[:120], "in_prompt": True,
                 "timestamp": "2024-01-01T10:00:00+00:00"}]
    conv.messages.append(new_message("assistant", text, recalled=recalled, model="SmolLM2-135M-Instruct"))
    conversations.save(conv)
    return {"home": home, "tmp": tmp, "note_id": note_id, "conversation_id": conv.id}


@pytest.fixture(scope="module")
def app_page(listener: dict[str, Any], app_home: dict[str, Any], browser_page: Any, streamlit_server
             ) -> Iterator[dict[str, Any]]:
    """The real app on that data directory, for the module."""
    tmp = app_home["tmp"]
    with streamlit_server(app_home["home"], tmp / "app.log") as app:
        yield {"base": app.base, "page": browser_page, "log": tmp / "app.log"}


def visit(app_page: dict[str, Any], listener: dict[str, Any], name: str, path: str,
          then: Any = None, ready: str = "") -> tuple[list[str], list[str]]:
    """Open one page; (problems, click-only links to the listener).

    ``ready``: a selector that appears once the hostile text is on the page, so "nothing was
    fetched" is never concluded from a page that had not drawn it yet.
    """
    seen, page = listener["seen"], app_page["page"]
    problems: list[str] = []
    links: list[str] = []
    seen.clear()
    try:
        page.goto(app_page["base"] + path)
        settle(page, extra_seconds=0.5)
        if ready:
            page.wait_for_selector(ready, timeout=120_000)
        settle(page)
        if then is not None:
            then(page, problems)
        elements = pointing_at(page, listener["port"])
        if elements["fetch"]:
            problems.append(f"{name}: elements that load from the listener: {elements['fetch'][:5]}")
        links = [f"{name}: {x}" for x in elements["link"][:5]]
    except Exception as exc:  # noqa: BLE001 - record it and go on to the next page
        problems.append(f"{name}: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}")
    page.screenshot(path=str(ARTIFACTS / f"render-{name}.png"), full_page=True)
    if seen:
        problems.append(f"{name}: the browser fetched {fetched(seen) or seen} from the listener")
    return problems, links


def test_chat_page_with_a_hostile_stored_reply_fetches_nothing(listener: dict[str, Any], app_home: dict[str, Any],
                                                               app_page: dict[str, Any]) -> None:
    def conversation_shown(page: Any, problems: list[str]) -> None:
        main = page.locator('[data-testid="stMainBlockContainer"]').inner_text()
        if "What is my dog" not in main:
            problems.append("chat: the stored conversation is not shown")
        port = listener["port"]
        for visible in (f"http://127.0.0.1:{port}/md-image.png", "image: x", "<iframe", "link to click"):
            if visible not in main:
                problems.append(f"chat: {visible!r} is not shown as text in the reply")

    problems, _links = visit(app_page, listener, "chat", f"/?conversation={app_home['conversation_id']}",
                             conversation_shown, ready='[data-testid="stChatMessage"] >> text=bold stays bold')
    assert not problems, "\n".join(problems) + f"\n(server log: {app_page['log']})"


def test_notes_search_and_graph_pages_with_a_hostile_note_fetch_nothing(
        listener: dict[str, Any], app_home: dict[str, Any], app_page: dict[str, Any]) -> None:
    def search(page: Any, problems: list[str]) -> None:
        box = page.locator('[data-testid="stMainBlockContainer"] [data-testid="stTextInput"] input').first
        box.fill("dog found iframe link")
        box.press("Enter")
        page.wait_for_selector('[data-testid="stMainBlockContainer"] .st-key-hit_1', timeout=90_000)
        settle(page)
        if "<iframe" not in page.locator('[data-testid="stMainBlockContainer"]').inner_text():
            problems.append("search: the hostile note is not shown as text")
        # "Why" on the hostile note: its explanation (title, reasons) is drawn too, as text
        page.locator(f'.st-key-why_{app_home["note_id"]} button').first.click()
        code = page.locator('[data-testid="stMainBlockContainer"] [data-testid="stCode"]',
                            has_text="query: dog found").first
        code.wait_for(timeout=90_000)
        settle(page)
        if f"found ![x](http://127.0.0.1:{listener['port']}/md" not in code.inner_text():  # its title, as typed
            problems.append("search: the explained hostile note is not shown as text")

    problems: list[str] = []
    links: list[str] = []
    main = '[data-testid="stMainBlockContainer"]'
    for name, path, then, ready in [
            ("notes-table", "/notes", None, f'{main} [data-testid="stDataFrame"]'),
            ("notes-detail", f"/notes?note={app_home['note_id']}", None, f"{main} >> text=link to click"),
            ("search", "/search", search, ""),
            ("graph", f"/graph?note={app_home['note_id']}", None, f'{main} [data-testid="stCode"]')]:
        found, linked = visit(app_page, listener, name, path, then, ready)
        problems += found
        links += linked
    if links:
        print("links to the listener (they load nothing until clicked):", *links, sep="\n  ")
    assert not problems, "\n".join(problems) + f"\n(server log: {app_page['log']})"


# ---- a reply while it streams ----------------------------------------------------------------------------
def _fake_llm_server(text: str) -> tuple[http.server.ThreadingHTTPServer, str]:
    """An OpenAI-compatible llama.cpp server stand-in that streams ``text`` (the ServerLLM backend)."""
    import json

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def _json(self, code: int, data: Any) -> None:
            body = json.dumps(data).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:  # noqa: N802
            self._json(200, {"data": [{"id": "hostile-model"}]})

        def do_POST(self) -> None:  # noqa: N802
            request = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
            if self.path != "/v1/chat/completions":
                return self._json(404, {"error": "no such endpoint"})
            if not request.get("stream"):
                return self._json(200, {"choices": [{"message": {"content": "{}"}, "finish_reason": "stop"}],
                                        "usage": {"prompt_tokens": 1, "completion_tokens": 1}})
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Connection", "close")
            self.end_headers()
            words = text.split(" ")
            for i, word in enumerate(words):
                piece = word + (" " if i < len(words) - 1 else "")
                chunk = {"choices": [{"delta": {"content": piece}, "finish_reason": None}]}
                self.wfile.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
                self.wfile.flush()
                time.sleep(0.05)
            done = {"choices": [{"delta": {}, "finish_reason": "stop"}]}
            self.wfile.write(b"data: " + json.dumps(done).encode() + b"\n\ndata: [DONE]\n\n")
            self.wfile.flush()
            self.close_connection = True

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def test_a_reply_fetches_nothing_while_it_streams(listener: dict[str, Any], tmp_path: Path,
                                                  browser_page: Any, streamlit_server) -> None:
    """A model (a stand-in llama.cpp server) streams the hostile text into a new chat message."""
    page = browser_page
    seen, port = listener["seen"], listener["port"]
    server, url = _fake_llm_server(hostile(port))
    home = tmp_path / "home"
    Settings(data_dir=str(home), llm_backend="server", server_url=url, remember_chat=False).save()
    ARTIFACTS.mkdir(exist_ok=True)
    try:
        with streamlit_server(home, tmp_path / "app.log") as app:
            page.goto(app.base + "/")
            settle(page, extra_seconds=0.5)
            seen.clear()
            box = page.locator('[data-testid="stChatInput"] textarea')
            box.fill("What did you find about my dog?")
            box.press("Enter")
            page.wait_for_selector('[data-testid="stChatMessage"] >> text=bold stays bold', timeout=120_000)
            settle(page)
            page.screenshot(path=str(ARTIFACTS / "render-chat-streamed.png"), full_page=True)
            main = page.locator('[data-testid="stMainBlockContainer"]').inner_text()
    finally:
        server.shutdown()
        server.server_close()
    assert not seen, f"the browser fetched {fetched(seen) or seen} while the reply streamed"
    assert "image: x" in main, "the finished reply is not shown through safe_markdown"
