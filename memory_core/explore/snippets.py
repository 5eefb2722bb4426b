"""A search hit's text as the Search page shows it: a window around the first matched word, with the
matched words in bold and everything else inert Markdown.

Why here: which part of a long note to show and which words to mark are decisions with rules of
their own (the index's tokenizer and stemmer decide what "matched" means, so "hiking" is bold for
the term "hike"), worth unit tests without a browser. The page only writes the result.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..store.lexical import STOPWORDS, TOKEN_RE, stem
from .render import escape_markdown

SNIPPET_CHARS = 700


def snippet(text: str, terms: Iterable[str], limit: int = SNIPPET_CHARS) -> str:
    """The whole text when short, else ``limit`` characters starting a third of the window before the
    first matched word (the start of the text when no word matched), with '…' where it was cut."""
    if len(text) <= limit:
        return text
    start = 0
    wanted = set(terms)
    for m in TOKEN_RE.finditer(text):
        if stem(m.group(0).lower()) in wanted:
            start = max(0, m.start() - limit // 3)
            break
    end = min(len(text), start + limit)
    return ("…" if start else "") + text[start:end] + ("…" if end < len(text) else "")


def highlight_markdown(text: str, terms: Iterable[str]) -> str:
    """``escape_markdown(text)`` with the words whose index term (``Hit.matched_terms``) is in ``terms`` in bold.

    Matching goes through the same tokenizer and stemmer as the index; stop words are never bold.
    """
    wanted = set(terms)
    if not wanted:
        return escape_markdown(text)
    out: list[str] = []
    pos = 0
    for m in TOKEN_RE.finditer(text):
        word = m.group(0).lower()
        if word in STOPWORDS or stem(word) not in wanted:
            continue
        out.append(escape_markdown(text[pos:m.start()]))
        out.append("**" + escape_markdown(m.group(0)) + "**")
        pos = m.end()
    out.append(escape_markdown(text[pos:]))
    return "".join(out)


def search_snippet(text: str, terms: Iterable[str], limit: int = SNIPPET_CHARS) -> str:
    """What a hit shows: its snippet, highlighted."""
    wanted = list(terms)
    return highlight_markdown(snippet(text, wanted, limit), wanted)
