"""What a search hit shows (explore.snippets) and the one escaper under it (explore.render.escape_markdown)."""

from __future__ import annotations

from markdown_it import MarkdownIt

from memory_core.explore.render import diff_markdown, escape_markdown, is_inert
from memory_core.explore.snippets import SNIPPET_CHARS, highlight_markdown, search_snippet, snippet
from memory_core.store.lexical import tokenize


def test_short_text_is_whole_and_long_text_is_cut_around_the_first_match() -> None:
    assert snippet("A short note about hiking.", tokenize("hiking")) == "A short note about hiking."
    text = "filler " * 200 + "We went hiking in the Alps. " + "more " * 200
    cut = snippet(text, tokenize("hiking"))
    assert cut.startswith("…") and cut.endswith("…") and "hiking in the Alps" in cut
    assert len(cut) == SNIPPET_CHARS + 2  # the window and the two marks
    assert cut.index("hiking") == 1 + SNIPPET_CHARS // 3  # a third of the window before the word
    unmatched = snippet(text, tokenize("glacier"))
    assert unmatched.startswith("filler") and unmatched.endswith("…")  # no match: the start


def test_search_snippet_bolds_the_matched_words_of_the_window() -> None:
    text = "x " * 600 + "Hiking <b>boots</b> for the hike"
    out = search_snippet(text, tokenize("hike"), limit=60)
    assert out.count("**") == 4  # "Hiking" and "hike", each between a pair
    assert "\\<b\\>" in out and "<b>" not in out
    assert highlight_markdown("the hike", []) == escape_markdown("the hike")


def test_escape_markdown_breaks_autolinks_and_keeps_the_text() -> None:
    for text in ("see http://evil.example/x", "www.evil.example", "mail me: a@b.example"):
        out = escape_markdown(text)
        assert "\u2060" in out and is_inert(out)
        html = MarkdownIt("commonmark").render(out)
        assert "<a" not in html and html.replace("\u2060", "").count(text.split()[-1]) == 1
    assert escape_markdown("a\r\nb\rc") == "a  \nb  \nc"  # every line break is a hard break


def test_diff_markdown_is_inert_and_marks_both_sides() -> None:
    from memory_core.explore.diff import text_diff

    out = diff_markdown(text_diff("Anna lives in Berlin", "Anna lives in <b>Lisbon</b> ![x](http://e/x.png)"))
    assert ":red-background[~~Berlin~~]" in out and ":green-background[" in out
    assert is_inert(out) and "<b>" not in out
