"""safe_markdown over a table of hostile inputs: nothing that could load survives, harmless Markdown does.

The rendered HTML comes from markdown-it (CommonMark) with its HTML option on, i.e. the most
permissive renderer: if raw HTML passed through, it would show up here as a tag. The real renderer
(Streamlit's react-markdown) is exercised by tests/browser/test_browser_render.py.
"""

from __future__ import annotations

import re

import pytest
from markdown_it import MarkdownIt

import memory_core.explore.render as render
from memory_core.explore.render import escape_markdown, is_inert, safe_markdown

HTML = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
U = "http://127.0.0.1:9/leak"
# Tags that make a browser fetch or run something, or link away.
BAD_TAG = re.compile(r"<\s*(img|iframe|script|video|audio|source|link|style|object|embed|svg|math|picture|"
                     r"frame|frameset|base|meta|form|input|a|image|track|applet|portal)\b", re.I)

ATTR = re.compile(r"<[a-z][^>]*\s(src|href|srcset|data|poster|action)\s*=", re.I)

HOSTILE = [
    ("inline image", f"![x]({U}/1.png)", ["image: x", f"{U}/1.png"]),
    ("image with title", f'![cat]({U}/2.png "a cat")', [f"{U}/2.png"]),
    ("image in angle brackets", f"![x](<{U}/3 b.png>)", [f"{U}/3 b.png"]),
    ("empty alt", f"![]({U}/4.png)", ["image:", f"{U}/4.png"]),
    ("reference image", f"![pic][p]\n\n[p]: {U}/5.png", ["image: pic", f"{U}/5.png"]),
    ("collapsed reference image", f"![p][]\n\n[p]: {U}/6.png", [f"{U}/6.png"]),
    ("shortcut reference image", f"![p]\n\n[P]: <{U}/7.png>", [f"{U}/7.png"]),
    ("reference defined first", f"[p]: {U}/8.png 'title'\n\n![x][p]", [f"{U}/8.png"]),
    ("linked image (badge)", f"[![b]({U}/9.svg)]({U}/page)", [f"{U}/9.svg", f"{U}/page"]),
    ("img tag", f"<img src={U}/10.png>", [f"<img src={U}/10.png>"]),
    ("img onerror", "<img src=x onerror=alert(1)>", ["<img src=x onerror=alert(1)>"]),
    ("iframe", f'<iframe src="{U}/11"></iframe>', ["<iframe", f"{U}/11"]),
    ("script", "<script>fetch('http://127.0.0.1:9/12')</script>", ["<script>", "</script>"]),
    ("video", f"<video src={U}/13.mp4 autoplay></video>", ["<video"]),
    ("audio", f"<audio autoplay><source src={U}/14.mp3></audio>", ["<audio", "<source"]),
    ("link stylesheet", f'<link rel="stylesheet" href="{U}/15.css">', ["<link"]),
    ("style import", f"<style>@import url({U}/16.css);</style>", ["<style>"]),
    ("object", f'<object data="{U}/17.swf"></object>', ["<object"]),
    ("svg image", f'<svg><image href="{U}/18.png"/></svg>', ["<svg>"]),
    ("html block", f'<div>\n<img src="{U}/19.png">\n</div>', ["<div>"]),
    ("html comment", f"<!-- <img src={U}/20.png> -->", ["<!--"]),
    ("inline link", f"[click here]({U}/21)", ["click here", f"{U}/21"]),
    ("link with title", f'[t]({U}/22 "title")', [f"{U}/22"]),
    ("autolink", f"<{U}/23>", [f"{U}/23"]),
    ("bare url", f"see {U}/24.png.", [f"{U}/24.png"]),
    ("www url", "go to www.example.com/x now", ["www.example.com/x"]),
    ("javascript link", "[x](javascript:alert(1))", ["javascript:alert(1)"]),
    ("data uri image", "![x](data:image/png;base64,iVBORw0KGgo=)", ["data:image/png"]),
    ("reference link", f"[site][s]\n\n[s]: {U}/25", [f"{U}/25"]),
    ("image in list", f"- one\n- ![x]({U}/26.png)\n  - nested <img src={U}/27>", [f"{U}/26.png"]),
    ("image in table", f"| a | b |\n|---|---|\n| ![x]({U}/28.png) | <img src={U}/29> |", [f"{U}/28.png"]),
    ("image in blockquote", f"> quote ![x]({U}/30.png)", [f"{U}/30.png"]),
    ("image in heading", f"# Title ![x]({U}/31.png)", [f"{U}/31.png"]),
    ("escaped backtick then image", f"\\`![x]({U}/32.png)\\`", [f"{U}/32.png"]),
    ("code span across paragraphs", f"a `b\n\nc ![x]({U}/33.png) `d", [f"{U}/33.png"]),
    ("unclosed code span", f"`x ![y]({U}/34.png)", [f"{U}/34.png"]),
    ("backslash before image", f"a\\![x]({U}/35.png)", [f"{U}/35.png"]),
    ("nested brackets", f"[a [b] c]({U}/36) ![[x]]({U}/37.png)", [f"{U}/36"]),
    ("entity-encoded tag", "&lt;img src=x&gt; &#60;script&#62;", []),
    ("setext heading", f"![x]({U}/38.png)\n===", [f"{U}/38.png"]),
    ("crlf line ends", f"line one\r\n![x]({U}/39.png)\r\n", [f"{U}/39.png"]),
    ("streamlit colour directive", f":red[![x]({U}/40.png)]", [f"{U}/40.png"]),
    ("many images", " ".join(f"![{i}]({U}/m{i}.png)" for i in range(30)), [f"{U}/m29.png"]),
]


# Links in Streamlit's GFM renderer, not in CommonMark: bare URLs are autolinked, javascript: is kept.
GFM_ONLY = {"bare url", "www url", "javascript link"}


def html_of(markdown: str) -> str:
    return HTML.render(markdown)


def visible_text(html: str) -> str:
    import html as html_mod

    return html_mod.unescape(re.sub(r"<[^>]+>", "", html))


@pytest.mark.parametrize("name,text,visible", HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_input_renders_inert_and_visible(name: str, text: str, visible: list[str]) -> None:
    out = safe_markdown(text)
    html = html_of(out)
    assert not BAD_TAG.search(html), f"{name}: a fetching/linking tag survived: {html}"
    assert not ATTR.search(html), f"{name}: a tag with an address survived: {html}"
    assert is_inert(out)
    shown = visible_text(html)
    for piece in visible:
        assert piece in shown, f"{name}: {piece!r} is not visible in {shown!r}"


@pytest.mark.parametrize("name,text,visible", HOSTILE, ids=[h[0] for h in HOSTILE])
def test_the_hostile_inputs_really_are_hostile(name: str, text: str, visible: list[str]) -> None:
    """Control: unfiltered, these inputs do produce images/links/HTML (or are entity tricks)."""
    html = html_of(text)
    if name == "entity-encoded tag":
        assert "&lt;img" in html  # decoded to text, never a tag: safe even unfiltered
    elif name in GFM_ONLY:
        pass  # only GFM (Streamlit) makes these links; CommonMark (markdown-it) leaves them text
    else:
        assert BAD_TAG.search(html) or not is_inert(text), f"{name} is not hostile: {html}"


def test_image_becomes_labelled_text_with_its_address() -> None:
    assert safe_markdown(f"![a cat]({U}/cat.png)") == f"\\[image: a cat — `{U}/cat.png`\\]"


def test_link_keeps_its_text_and_shows_its_address() -> None:
    assert safe_markdown(f"read [the **docs**]({U}/docs)") == f"read the **docs** (`{U}/docs`)"


HARMLESS = [
    ("bold and italic", "**bold** and *it*", ["<strong>bold</strong>", "<em>it</em>"]),
    ("list", "- one\n- two\n\n1. first", ["<li>one</li>", "<ol>"]),
    ("heading", "## Plans", ["<h2>Plans</h2>"]),
    ("code span with html", "use `<img src=x>` here", ["<code>&lt;img src=x&gt;</code>"]),
    ("fenced code with html", "```html\n<iframe src=x></iframe>\n![x](y)\n```",
     ["<pre><code class=\"language-html\">&lt;iframe src=x&gt;&lt;/iframe&gt;\n![x](y)\n</code></pre>"]),
    ("indented code", "text\n\n    <b>code</b>\n", ["<pre><code>&lt;b&gt;code&lt;/b&gt;"]),
    ("table", "| a | b |\n|---|---|\n| 1 | 2 |", ["<table>", "<td>1</td>"]),
    ("blockquote", "> said so", ["<blockquote>"]),
    ("strikethrough", "~~old~~ new", ["<s>old</s>"]),
    ("prices stay prices", "It cost $5 and $10.", ["It cost $5 and $10."]),
    ("comparison", "3 < 5 and 5 > 3", ["3 &lt; 5 and 5 &gt; 3"]),
    ("brackets in prose", "an array [1, 2] and [note]", ["an array [1, 2] and [note]"]),
    ("writer's escapes", "a \\*literal\\* star", ["a *literal* star"]),
    ("hard break", "line one\\\nline two", ["line one<br />"]),
]


@pytest.mark.parametrize("name,text,expected", HARMLESS, ids=[h[0] for h in HARMLESS])
def test_harmless_markdown_is_kept(name: str, text: str, expected: list[str]) -> None:
    html = html_of(safe_markdown(text))
    for piece in expected:
        assert piece in html, f"{name}: {piece!r} not in {html!r}"


def test_empty_and_plain_text_unchanged() -> None:
    assert safe_markdown("") == ""
    assert safe_markdown("   ") == "   "
    assert safe_markdown("Just words, nothing else.") == "Just words, nothing else."


def test_when_the_rewrite_leaves_something_unsafe_everything_is_escaped(monkeypatch: pytest.MonkeyPatch) -> None:
    text = f"**hi** ![x]({U}/a.png)"
    monkeypatch.setattr(render, "_rewrite", lambda t: t)  # a rewrite that missed the image
    out = safe_markdown(text)
    assert out == escape_markdown(text)
    assert is_inert(out) and "![x]" in visible_text(html_of(out))


def test_when_the_rewrite_raises_everything_is_escaped(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(_t: str) -> str:
        raise RuntimeError("parser surprise")

    monkeypatch.setattr(render, "_rewrite", boom)
    assert safe_markdown("<img src=x>") == escape_markdown("<img src=x>")


def test_escape_markdown_shows_text_exactly() -> None:
    text = "  <b>x</b> ![i](u) [l](v) `c` $5 **s** :red[x]\nnext"
    html = html_of(escape_markdown(text))
    assert not BAD_TAG.search(html)
    assert visible_text(html).replace("\u00a0", " ").replace("\n", "").strip() == text.replace("\n", "").strip()


def test_long_mixed_reply_is_inert() -> None:
    chunk = f"Some **text** with `code`, a [link]({U}/x) and ![img]({U}/y.png) and <b>tag</b>.\n\n"
    out = safe_markdown(chunk * 300)
    assert is_inert(out) and out.count("image: img") == 300
    assert not BAD_TAG.search(html_of(out))
