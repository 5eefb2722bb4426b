"""Names of people, pets, places and things in a note, found without a model.

Why capitalisation: in the person's own words a name is capitalised ("a golden retriever called
Biscuit", "Lena lives in Porto"), and that is a signal a rule reads exactly; a 135M model does not.
A capitalised word inside a sentence is a *strong* mention; one that opens a sentence ("Biscuit is
afraid of thunderstorms") is *weak*, since any first word is capitalised: a weak mention counts
when the same name is a strong mention somewhere (another note, or the same one), or when it is not
an ordinary word. Two notes naming the same entity get linked (``memory.linking``) and the
personalized-PageRank graph signal walks through entity nodes (``retrieval.graph``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from ..store.lexical import STOPWORDS

_SENTENCE_RE = re.compile(r"(?<=[.!?])\s+|\n+")
_TOKEN_RE = re.compile(r"[A-Za-z][A-Za-z'\-]*")
_SPEAKER_RE = re.compile(r"^\s*[A-Z][\w .'-]{0,40}:\s")  # "Caroline: ..." (LoCoMo turns)
NOT_NAMES = frozenset("""i i'm i've i'd i'll monday tuesday wednesday thursday friday saturday sunday
january february march april may june july august september october november december today tomorrow
yesterday tonight actually also then so and but well yes no oh ok okay hey hi hello thanks thank sure
yeah wow just still now last next this that these those my our your his her their we you they he she
it its there here what when where why how who which maybe really anyway btw lol haha please sorry
great good nice cool awesome amazing mr mrs ms dr memex person""".split())


def _clean(token: str) -> str:
    token = token.strip("'-")
    if token.lower().endswith("'s"):
        token = token[:-2]
    return token


def mentions(text: str) -> dict[str, bool]:
    """Entity key (lower case) -> True for a strong mention, False for a weak one."""
    body = _SPEAKER_RE.sub("", text, count=1)
    found: dict[str, bool] = {}
    for sentence in _SENTENCE_RE.split(body):
        tokens = _TOKEN_RE.findall(sentence)
        for i, raw in enumerate(tokens):
            token = _clean(raw)
            if len(token) < 2 or not token[0].isupper() or token.isupper() and len(token) > 5:
                continue
            key = token.lower()
            if key in STOPWORDS or key in NOT_NAMES:
                continue
            strong = i > 0
            found[key] = found.get(key, False) or strong
    return found


def entities(text: str, strong_elsewhere: Iterable[str] = (), vocabulary: frozenset[str] = frozenset()) -> set[str]:
    """The entities a text names: strong mentions, plus weak ones that are strong elsewhere or are not
    ordinary (lower-case dictionary) words."""
    known = set(strong_elsewhere)
    out: set[str] = set()
    for key, strong in mentions(text).items():
        if strong or key in known or (vocabulary and key not in vocabulary):
            out.add(key)
    return out


def display(key: str) -> str:
    """How to show an entity key in a link reason."""
    return key[:1].upper() + key[1:]
