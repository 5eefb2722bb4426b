"""Is a line a capable model wrote grounded in the sources it cites? Rejected when not.

Why these checks (the proposals' rule, ``memory.proposals``, applied to a summary line): a summary
may reword, but what it says must come from its sources. So (1) it cites at least one source it was
given; (2) most of its content words (stems) occur in the cited sources (MIN_OVERLAP); (3) every name
and every number in it occurs in them: names and figures are where an invented line does harm ("your
sister Lena" from notes about "Anna"); (4) it is one plain sentence: no JSON or prompt pieces.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..memory.proposals import content_stems, has_fragment
from ..store.lexical import TOKEN_RE

MIN_OVERLAP = 0.7  # share of the line's content words found in its cited sources
WORDS = (3, 45)
_NUMBER_RE = re.compile(r"\d+(?:[.,:]\d+)*")


@dataclass(frozen=True)
class Verdict:
    ok: bool
    why: str = ""
    overlap: float = 0.0


def _names(text: str) -> set[str]:
    """Capitalised words not opening a sentence (the names a line states), as written."""
    out: set[str] = set()
    for sentence in re.split(r"(?<=[.!?:])\s+", text):
        tokens = TOKEN_RE.findall(sentence)
        out |= {t for t in tokens[1:] if t[:1].isupper() and len(t) > 1 and t.lower() != "i"}
    return out


def judge_line(text: str, cited: list[str]) -> Verdict:
    """Judge one model-written line against the texts of the sources it cites."""
    if not isinstance(text, str) or not text.strip():
        return Verdict(False, "empty line")
    if not cited:
        return Verdict(False, "cites no source")
    if has_fragment(text):
        return Verdict(False, "carries JSON or prompt text")
    words = TOKEN_RE.findall(text)
    if not WORDS[0] <= len(words) <= WORDS[1]:
        return Verdict(False, f"has {len(words)} words; a line has {WORDS[0]}-{WORDS[1]}")
    source = " ".join(cited)
    source_words = {w.lower() for w in TOKEN_RE.findall(source)}
    missing_names = sorted(n for n in _names(text) if n.lower() not in source_words)
    if missing_names:
        return Verdict(False, f"names {', '.join(missing_names)}, which its sources do not")
    numbers = set(_NUMBER_RE.findall(text)) - set(_NUMBER_RE.findall(source))
    if numbers:
        return Verdict(False, f"states {', '.join(sorted(numbers))}, which its sources do not")
    mine = content_stems(text)
    if not mine:
        return Verdict(False, "says nothing of its sources")
    overlap = len(mine & content_stems(source)) / len(mine)
    if overlap < MIN_OVERLAP:
        return Verdict(False, f"only {overlap:.0%} of its words are in its sources", overlap)
    return Verdict(True, "", overlap)


__all__ = ["MIN_OVERLAP", "Verdict", "judge_line"]
