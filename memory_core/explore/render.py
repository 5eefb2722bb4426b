"""Markdown for model replies and note text that never makes the browser fetch anything.

Why: Streamlit's ``st.markdown`` renders ``![x](http://host/y)`` as an ``<img>``, so a model (or a
pasted note) could make the browser call any address on every page load, in an app whose promise
is that nothing leaves the machine. Plain escaping (``escape_markdown``, for note text in labels) would show replies
as one flat block; replies are Markdown on purpose (lists, bold, code), so this keeps the harmless
parts and turns every part that could load something into visible text:

- images (inline, reference-style) become ``[image: alt — `url`]``;
- links become ``text (`url`)`` and bare URLs become code: the address is visible, nothing is a link;
- raw HTML (any tag: ``<img>``, ``<iframe>``, ``<script>``, ...) is escaped and shows literally;
- ``$`` is escaped (no KaTeX: prices like "$5 and $10" stay prices);
- code spans and code blocks are kept as they are: their content is shown as text anyway.

The rewrite is checked by parsing the result again (markdown-it, CommonMark): if any image, link or
HTML survived, the whole text is shown escaped instead. Safe first, pretty second.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

_PUNCT = set("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
# Characters escaped in free text: they open HTML, links/images, code spans and math.
_FREE_ESCAPES = {"<": "\\<", "[": "\\[", "]": "\\]", "$": "\\$", "`": "\\`"}
# Everything that means something to Markdown, for text shown literally (alt text, URL-less fallbacks).
_ALL_ESCAPES = {c: "\\" + c for c in "\\`*_{}[]()#+-.!|<>~$:=\"'&^%@/,;?"}

_DEST = r"(?:<[^<>\n]*>|(?:\\.|[^\s()\\]|\([^\s()]*\))*)"
_TITLE = r"(?:\s+(?:\"[^\"\n]*\"|'[^'\n]*'|\([^()\n]*\)))?"
_INLINE_LINK = re.compile(r"(!?)\[((?:\\.|[^\\\[\]])*)\]\(\s*(" + _DEST + r")" + _TITLE + r"\s*\)")
_REF_LINK = re.compile(r"(!?)\[((?:\\.|[^\\\[\]])*)\](?:\[((?:\\.|[^\\\[\]])*)\])?")
_REF_DEF = re.compile(r"^ {0,3}\[((?:\\.|[^\\\[\]])+)\]:[ \t]*(<[^<>\n]*>|\S+)")
_BARE_URL = re.compile(r"(?<![\w/@])(?:(?:https?|ftp|file|data|javascript)://|www\.|data:)[^\s<>`\[\]]+",
                       re.IGNORECASE)
_BACKTICKS = re.compile(r"`+")
_TRAILING = ".,;:!?'\"*_~"

UNSAFE_TOKENS = frozenset({"image", "html_inline", "html_block", "link_open"})


# Escapes do not stop GFM's autolinks: Streamlit's Markdown turns "http\:\/\/x", "www\.x" and
# "a\@b\.c" into links after decoding the escapes (seen in Chromium). An invisible word joiner
# (U+2060) inside "://", after "www" and before "@" breaks the pattern; the text looks the same.
_NO_AUTOLINK = [(re.compile(r"\\:\\/\\/"), "\\:\u2060\\/\\/"), (re.compile(r"(?i)\b(www)\\\."), "\\1\u2060\\."),
                (re.compile(r"\\@"), "\u2060\\@")]


def escape_markdown(text: str) -> str:
    """Text made completely inert for Markdown: it displays exactly as written, nothing is interpreted,
    and nothing becomes a link. The one escaper for note text in labels, captions and messages.

    Every ASCII punctuation character is backslash-escaped (CommonMark allows it for all of them),
    leading spaces become non-breaking ones (an indented line would turn into a code block that
    shows the backslashes), line breaks become hard breaks, and GFM's autolinks are broken up.
    """
    lines = []
    for line in str(text).replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        body = line.lstrip(" \t")
        indent = "\u00a0" * (len(line) - len(body))
        lines.append(indent + "".join(_ALL_ESCAPES.get(c, c) for c in body))
    out = "  \n".join(lines)
    for pattern, repl in _NO_AUTOLINK:
        out = pattern.sub(repl, out)
    return out


def safe_markdown(text: str) -> str:
    """``text`` as Markdown whose rendering fetches nothing (see the module docstring for what changes)."""
    text = str(text or "").replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "\ufffd")
    if not text.strip():
        return text
    try:
        out = _rewrite(text)
    except Exception:  # noqa: BLE001 - a parser surprise must never show the text unsafely
        return escape_markdown(text)
    if not is_inert(out):
        return escape_markdown(text)
    return out


def is_inert(markdown: str) -> bool:
    """True when CommonMark parses ``markdown`` without any image, link or raw HTML."""
    return not _unsafe_tokens(_parser().parse(markdown))


def _unsafe_tokens(tokens: list[Any]) -> list[str]:
    found: list[str] = []
    for tok in tokens:
        if tok.type in UNSAFE_TOKENS:
            found.append(tok.type)
        if tok.children:
            found.extend(_unsafe_tokens(tok.children))
    return found


@lru_cache(maxsize=1)
def _parser() -> Any:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark").enable(["table", "strikethrough"])


# ---- the rewrite -------------------------------------------------------------------------------------
def _rewrite(text: str) -> str:
    lines = text.split("\n")
    tokens = _parser().parse(text)
    code: set[int] = set()
    units: dict[int, int] = {}  # first line -> end line (exclusive) of one inline block (a paragraph, a heading)
    for tok in tokens:
        if tok.map is None:
            continue
        start, end = tok.map
        if tok.type in ("fence", "code_block"):
            code.update(range(start, end))
        elif tok.type == "inline":
            units[start] = max(units.get(start, start + 1), end)
    defs = _definitions(lines, code)
    out: list[str] = []
    i = 0
    while i < len(lines):
        if i in code:
            out.append(lines[i])
            i += 1
            continue
        definition = _REF_DEF.match(lines[i])
        if definition:  # "[ref]: url" shown as text, its address as code
            rest = lines[i][definition.end():]
            out.append(_escape_free(lines[i][:definition.start(2)]) + _code(_strip_angle(definition.group(2)))
                       + _free(rest, defs))
            i += 1
            continue
        end = units.get(i, i + 1)
        while any(j in code for j in range(i, end)):  # never let a unit swallow code lines
            end -= 1
        end = max(end, i + 1)
        out.extend(_inline("\n".join(lines[i:end]), defs).split("\n"))
        i = end
    return "\n".join(out)


def _definitions(lines: list[str], code: set[int]) -> dict[str, str]:
    """Reference definitions (``[ref]: url``), so ``![x][ref]`` can be shown with its address."""
    defs: dict[str, str] = {}
    for n, line in enumerate(lines):
        if n in code:
            continue
        m = _REF_DEF.match(line)
        if m:
            defs.setdefault(_label(m.group(1)), _strip_angle(m.group(2)))
    return defs


def _label(s: str) -> str:
    return " ".join(s.split()).casefold()


def _strip_angle(url: str) -> str:
    return url[1:-1] if url.startswith("<") and url.endswith(">") else url


def _inline(text: str, defs: dict[str, str]) -> str:
    """One inline block: code spans kept, everything else made inert."""
    out: list[str] = []
    pos = 0
    for start, end in _code_spans(text):
        out.append(_free(text[pos:start], defs))
        out.append(text[start:end])
        pos = end
    out.append(_free(text[pos:], defs))
    return "".join(out)


def _code_spans(text: str) -> list[tuple[int, int]]:
    """Where CommonMark sees code spans: a run of n backticks closed by the next run of exactly n.

    Backticks after a backslash (outside code) do not open a span.
    """
    spans: list[tuple[int, int]] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text) and text[i + 1] in _PUNCT:
            i += 2
            continue
        if c != "`":
            i += 1
            continue
        opener = _BACKTICKS.match(text, i)
        assert opener is not None
        n = len(opener.group(0))
        for closer in _BACKTICKS.finditer(text, opener.end()):
            if len(closer.group(0)) == n:
                spans.append((i, closer.end()))
                i = closer.end()
                break
        else:
            i = opener.end()  # no closer: these backticks are literal (escaped later)
    return spans


def _free(text: str, defs: dict[str, str]) -> str:
    """Text outside code: links and images to visible text, bare URLs to code, the rest escaped."""
    out: list[str] = []
    pos = 0
    while pos < len(text):
        m = _next_construct(text, pos, defs)
        if m is None:
            out.append(_escape_free(text[pos:]))
            break
        start, end, rendered = m
        out.append(_escape_free(text[pos:start]))
        out.append(rendered)
        pos = end
    return "".join(out)


def _next_construct(text: str, pos: int, defs: dict[str, str]) -> tuple[int, int, str] | None:
    """The first link, image or bare URL at or after ``pos``, rendered inert."""
    best: tuple[int, int, str] | None = None
    for finder in (_find_inline_link, _find_ref_link, _find_bare_url):
        found = finder(text, pos, defs)
        if found and (best is None or found[0] < best[0]):
            best = found
    return best


def _escaped_at(text: str, i: int) -> bool:
    """True when the character at ``i`` is backslash-escaped (an odd number of backslashes before it)."""
    n = 0
    while i - n - 1 >= 0 and text[i - n - 1] == "\\":
        n += 1
    return n % 2 == 1


def _find_inline_link(text: str, pos: int, defs: dict[str, str]) -> tuple[int, int, str] | None:
    for m in _INLINE_LINK.finditer(text, pos):
        if _escaped_at(text, m.start()):
            continue
        return m.start(), m.end(), _render(bool(m.group(1)), m.group(2), _strip_angle(m.group(3)), defs)
    return None


def _find_ref_link(text: str, pos: int, defs: dict[str, str]) -> tuple[int, int, str] | None:
    if not defs:
        return None
    for m in _REF_LINK.finditer(text, pos):
        if _escaped_at(text, m.start()):
            continue
        label = m.group(3) if m.group(3) else m.group(2)
        url = defs.get(_label(label))
        if url is None:
            continue
        return m.start(), m.end(), _render(bool(m.group(1)), m.group(2), url, defs)
    return None


def _find_bare_url(text: str, pos: int, defs: dict[str, str]) -> tuple[int, int, str] | None:
    m = _BARE_URL.search(text, pos)
    if not m:
        return None
    url = m.group(0)
    while url and (url[-1] in _TRAILING or (url[-1] == ")" and url.count(")") > url.count("("))):
        url = url[:-1]
    if not url or url.lower() in ("www.", "data:"):
        return None
    return m.start(), m.start() + len(url), _code(url)


def _render(image: bool, label: str, url: str, defs: dict[str, str]) -> str:
    if image:
        alt = label.strip()
        return "\\[image: " + (escape_markdown(alt) + " — " if alt else "") + _code(url) + "\\]"
    inner = _free(label, defs) if label.strip() else ""
    if not url.strip():
        return inner
    if not inner or label.strip() == url:
        return _code(url)
    return inner + " (" + _code(url) + ")"


def _code(text: str) -> str:
    """``text`` as a code span: shown literally, never a link (GFM does not autolink inside code)."""
    text = " ".join(text.split()) or " "
    longest = max((len(r) for r in _BACKTICKS.findall(text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return fence + pad + text + pad + fence


def _escape_free(text: str) -> str:
    """Escape what could open HTML, a link, an image, a code span or math; keep other Markdown.

    Characters already escaped by the writer (``\\*``) stay as they are.
    """
    out: list[str] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\":
            if i + 1 < len(text) and text[i + 1] in _PUNCT:
                out.append(text[i:i + 2])  # the writer's own escape
                i += 2
                continue
            # A lone backslash: doubled, so it cannot escape what follows this piece (a code span
            # we add); before a line end it is kept, as a hard line break.
            out.append("\\" if i + 1 < len(text) and text[i + 1] == "\n" else "\\\\")
            i += 1
            continue
        out.append(_FREE_ESCAPES.get(c, c))
        i += 1
    return "".join(out)


# ---- a word diff as inert Markdown -------------------------------------------------------------------
def _marked(text: str, mark: str) -> str:
    """Escaped text inside a colour mark, line by line (a mark cannot span lines), spaces kept outside."""
    out = []
    for line in text.split("\n"):
        core = line.strip()
        if not core:
            out.append(escape_markdown(line))
            continue
        lead, trail = line[:len(line) - len(line.lstrip())], line[len(line.rstrip()):]
        out.append(escape_markdown(lead) + mark.replace("TEXT", escape_markdown(core)) + escape_markdown(trail))
    return "  \n".join(out)


def diff_markdown(segments: Iterable[Any]) -> str:
    """A word diff (``explore.diff`` segments) as inert Markdown: removed words struck through in red,
    added ones in green; every word is escaped, so a diff of hostile text shows the text."""
    parts = []
    for seg in segments:
        if seg.op == "equal":
            parts.append(escape_markdown(seg.text))
        elif seg.op == "delete":
            parts.append(_marked(seg.text, ":red-background[~~TEXT~~]"))
        else:
            parts.append(_marked(seg.text, ":green-background[TEXT]"))
    return "".join(parts)
