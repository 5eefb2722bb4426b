"""The Search page through AppTest, and the escaping that keeps note text from being rendered.

The escaping is checked with a real CommonMark renderer (markdown-it-py): for hostile text the
rendered HTML holds no tag but the ones we add (<p>, <br>, <strong>), and its text is the note's
text exactly.
"""

from __future__ import annotations

import html
import json
import re
import sys
from pathlib import Path

import pytest
from markdown_it import MarkdownIt
from streamlit.testing.v1 import AppTest

from memory_core.config import Settings
from memory_core.explore.render import escape_markdown
from memory_core.explore.snippets import highlight_markdown
from memory_core.memory.pipeline import MemoryPipeline, NewItem
from memory_core.store import MemoryStore

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # the pages package lives beside app.py, not in the installed package


APP = str(ROOT / "app.py")
SCRIPT = "<script>alert(1)</script> and some words"
IMG = "<img src=x onerror=alert(1)>"
TEXTS = [
    "I went hiking in the Alps with Anna last summer.",
    "Anna loves mountains and takes photos of glaciers.",
    "The quarterly budget review is on Friday.",
    SCRIPT,
    IMG,
]
HOSTILE = [
    SCRIPT, IMG, "[click](javascript:alert(1))", "![x](http://example.com/t.png)", "**bold** _it_ `code`",
    "# heading\n- item\n1. one\n> quote", "    indented code", ":red[colour] :smile: $x^2$", "a | b\n--|--\n1 | 2",
    "&lt;b&gt; &amp; &#60;script&#62;", "<div onclick=alert(1)>x</div>", "line one\nline two\n\nthird",
    "back\\slash and trailing\\", "html <!-- comment --> <?php ?> <![CDATA[x]]>", "https://example.com www.x.org",
    "___\n***\n---", "~~strike~~ ^sup^ ==mark== [^1]", "tab\tindent\n\tindented", "emoji 🗂️ ünïcödé 中文",
]
ALLOWED_TAGS = {"p", "/p", "br", "strong", "/strong"}


def rendered(markdown: str) -> str:
    return MarkdownIt("commonmark").enable("table").enable("strikethrough").render(markdown)


def text_of(rendered_html: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", rendered_html))


def plain(markdown: str) -> str:
    """Markdown with our backslash escapes removed: what the person reads."""
    return re.sub(r"\\(.)", r"\1", markdown)


def captions(at: AppTest) -> str:
    return " ".join(plain(c.value) for c in at.caption)


def norm(text: str) -> str:
    """What a person reads: non-breaking spaces as spaces, and without the invisible word joiners
    escape_markdown puts inside URLs so that they are not turned into links."""
    return " ".join(text.replace("\u00a0", " ").replace("\u2060", "").split())


@pytest.mark.parametrize("text", HOSTILE)
def test_escape_markdown_renders_text_literally(text: str) -> None:
    out = rendered(escape_markdown(text))
    tags = {t.split()[0].rstrip("/") for t in re.findall(r"<(/?[a-zA-Z][^>\s]*)[^>]*>", out)}
    assert tags <= ALLOWED_TAGS, (text, out)
    assert norm(text_of(out)) == norm(text)


@pytest.mark.parametrize("text", HOSTILE)
def test_highlight_bolds_only_matched_words(text: str) -> None:
    from memory_core.store.lexical import tokenize

    terms = tokenize(text)[:2]
    out = rendered(highlight_markdown(text, terms))
    tags = {t.split()[0].rstrip("/") for t in re.findall(r"<(/?[a-zA-Z][^>\s]*)[^>]*>", out)}
    assert tags <= ALLOWED_TAGS, (text, out)
    assert norm(text_of(out)) == norm(text)
    if terms:
        assert "<strong>" in out


def test_highlight_matches_stems() -> None:
    from memory_core.store.lexical import tokenize

    out = rendered(highlight_markdown("We were Hiking; hikes <b>hike</b>!", tokenize("hike")))
    assert out.count("<strong>") == 3
    assert "&lt;b&gt;" in out and "<b>" not in out


def seed(settings: Settings, embedder) -> tuple[MemoryStore, list[str]]:
    store = MemoryStore(settings, embedder)
    report = MemoryPipeline(store, settings.replace(fast_link_threshold=0.99)).add_many(
        [NewItem(t, timestamp=f"2024-01-0{i + 1}T10:00:00+00:00") for i, t in enumerate(TEXTS)])
    ids = report.note_ids
    store.link(ids[2], ids[0], "hand-made link")
    return store, ids


def search_page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=90)
    at.switch_page("pages/search.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def ask(at: AppTest, query: str, retriever: str | None = None, k: int | None = None) -> AppTest:
    at.text_input(key="search_query").input(query)
    if retriever:
        at.selectbox(key="search_retriever").set_value(retriever)
    if k:
        at.number_input(key="search_k").set_value(k)
    at.button[0].click().run()  # the form's submit button
    assert not at.exception, [e.value for e in at.exception]
    return at


def result_texts(at: AppTest) -> list[str]:
    return [m.value for m in at.markdown]


def test_empty_store(app_home: Settings) -> None:
    at = search_page()
    assert at.title[0].value.endswith("Search")
    ask(at, "anything")
    assert any("memory is empty" in x.value for x in at.info)


@pytest.mark.parametrize("retriever", ["hybrid+links", "hybrid", "bm25", "dense"])
def test_search_returns_seeded_note(app_home: Settings, embedder, retriever: str) -> None:
    store, ids = seed(app_home, embedder)
    at = ask(search_page(), "glaciers photos", retriever=retriever, k=3)
    texts = result_texts(at)
    first = [t for t in texts if "glaciers" in t][0]
    assert texts.index(first) <= 1  # the first result's title or its text
    assert any("score" in c.value for c in at.caption)
    if retriever != "dense":
        assert "**glaciers**" in " ".join(texts) and "**photos**" in " ".join(texts)
        assert "lexical: matched" in captions(at)
    else:
        assert "dense: similarity" in captions(at)


def test_linked_neighbour_is_explained(app_home: Settings, embedder) -> None:
    store, ids = seed(app_home, embedder)
    at = ask(search_page(), "quarterly budget", retriever="hybrid+links", k=5)
    text = captions(at)
    assert "linked from" in text and ids[2][:8] in text


def test_hostile_text_stays_literal(app_home: Settings, embedder) -> None:
    seed(app_home, embedder)
    at = ask(search_page(), "script alert onerror", retriever="bm25", k=5)
    texts = result_texts(at)
    body = [t for t in texts if "script" in t and "words" in t and not re.match(r"\*\*\d", t)][0]
    assert "<script>" not in body and "\\<" in body
    out = rendered(body)
    assert "<script" not in out and "&lt;" in out
    assert "<strong>script</strong>" in out  # the matched word is highlighted, as text
    assert norm(text_of(out)) == norm(SCRIPT)
    img = [t for t in texts if "onerror" in t and "src" in t and not re.match(r"\*\*\d", t)][0]
    assert "<img" not in rendered(img) and norm(text_of(rendered(img))) == IMG


def test_results_are_live_and_recall_is_counted_once(app_home: Settings, embedder) -> None:
    store, ids = seed(app_home, embedder)
    at = ask(search_page(), "budget review", retriever="bm25", k=1)
    assert any("quarterly" in t for t in result_texts(at))
    # recall counts live in the store instance that recalled (outside the write path): the page's one
    from pages.common import store as page_store

    assert page_store().get(ids[2]).retrieval_count == 1
    at.run()  # a rerun (e.g. any click) is not a new recall
    assert page_store().get(ids[2]).retrieval_count == 1
    store.update(ids[2], content="The budget review moved to a monthly slot.")
    at.run()
    assert not at.exception
    assert any("monthly" in t for t in result_texts(at))
    store.delete(ids[2])
    at.run()
    assert not any("monthly" in t for t in result_texts(at))


def test_open_result_in_notes(app_home: Settings, embedder) -> None:
    store, ids = seed(app_home, embedder)
    at = ask(search_page(), "glaciers", retriever="bm25", k=1)
    at.button(key=f"open_notes_{ids[1]}").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.session_state["focus_note"] == ids[1]
    assert at.title[0].value.endswith("Notes")
    assert at.selectbox(key="notes_pick").value == ids[1]


def test_open_result_in_graph_sets_focus(app_home: Settings, embedder) -> None:
    store, ids = seed(app_home, embedder)
    at = ask(search_page(), "glaciers", retriever="bm25", k=1)
    at.button(key=f"open_graph_{ids[1]}").click().run()
    assert at.session_state["focus_note"] == ids[1]
    assert "Graph" in at.title[0].value


def test_trace_signals_and_show_on_graph(app_home: Settings, embedder) -> None:
    store, ids = seed(app_home, embedder)
    at = ask(search_page(), "quarterly budget", retriever="hybrid+links", k=3)
    table = next(d.value for d in at.dataframe)
    assert list(table["rank"]) == [1, 2, 3] and {"lexical", "dense", "graph", "via"} <= set(table.columns)
    assert table["score"].is_monotonic_decreasing
    assert "Signals: lexical (shared words)" in captions(at)
    linked = table[table["via"] != ""]
    assert len(linked) >= 1 and linked.iloc[0]["via"].startswith("The quarterly budget")
    at.button(key="search_trace_graph").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value.endswith("Graph")
    assert at.query_params["query"] == ["quarterly budget"] or at.query_params["query"] == "quarterly budget"
    data = json.loads(at.get("bidi_component")[0].proto.json)
    labels = {n["id"]: n["label"] for n in data["nodes"]}
    assert labels[ids[2]].startswith("#1 · ") and sum(1 for v in labels.values() if v.startswith("#")) == 3
    assert any("What this search used" in i.value for i in at.info)


# ---- why (not) this note ---------------------------------------------------------------------------
def test_why_not_this_note(app_home: Settings, embedder) -> None:
    store, ids = seed(app_home, embedder)
    at = ask(search_page(), "glaciers photos", retriever="bm25", k=1)
    pick = at.selectbox(key="search_explain_pick")
    assert pick.value is None and pick.options[0].startswith("#1 · Anna loves mountains")
    pick.set_value(ids[2]).run()  # the budget note: shares no word with the query
    assert not at.exception, [e.value for e in at.exception]
    assert any("not recalled: no signal of the bm25 retriever found it" in plain(w.value) for w in at.warning)
    text = at.code[0].value
    assert "query words it has:   (none)" in text and "query words it lacks: glaciers, photos" in text
    # the "Why" button of a result explains that one: recalled, rank 1 of 5
    at.button(key=f"why_{ids[1]}").click().run()
    assert at.selectbox(key="search_explain_pick").value == ids[1]
    assert any(plain(s.value).startswith("recalled: rank 1 of 5 notes (k = 1)") for s in at.success)
    signals = at.dataframe[-1].value
    assert list(signals["signal"]) == ["lexical (shared words)"] and signals["raw"][0] != "-"
    assert "glaciers (content, keywords/tags/summary); photos (content, keywords/tags/summary)" in at.code[0].value


def test_why_not_finds_any_note_and_keeps_hostile_text_literal(app_home: Settings, embedder) -> None:
    store, ids = seed(app_home, embedder)
    at = ask(search_page(), "mountains", retriever="hybrid", k=1)
    at.text_input(key="search_explain_find").input("onerror").run()
    pick = at.selectbox(key="search_explain_pick")
    assert [o.endswith(ids[4][:8]) for o in pick.options] == [True]  # only the note with that word
    assert pick.options[0].startswith(IMG)  # the option label is the note's text as it is
    pick.set_value(ids[4]).run()
    assert not at.exception, [e.value for e in at.exception]
    assert f"note:  {ids[4][:8]}  {IMG}" in at.code[0].value  # a code block: shown, never rendered
    verdict = [w.value for w in at.warning][0]
    assert plain(verdict).startswith("not recalled: rank ") and "<" not in verdict.replace("\\<", "")


def test_the_count_of_notes_in_memory_leaves_out_memex_summaries(app_home: Settings, embedder) -> None:
    """3 notes and their consolidation (digests, profile lines) are 3 notes in memory, as Insights and
    `memex stats` say; the browser trial's Chat page said 9."""
    from memory_core.consolidation import consolidate, lines_of
    from memory_core.notes import Note

    store = MemoryStore(app_home, embedder)
    with store.writing() as w:
        for i, text in enumerate(["My sister Anna lives in Lisbon.", "I love sushi but I hate olives.",
                                  "Next month I plan to hike the Alps with Tom."]):
            w.put(Note(text, timestamp=f"2024-05-0{i + 1}T09:00:00+00:00", source="chat", speaker="person"))
    consolidate(store)
    assert lines_of(store, "digest") and len(store) > 3  # the summaries are there, and stored as notes
    at = search_page()
    assert any(c.value.startswith("3 notes in memory") for c in at.caption), [c.value for c in at.caption]
