"""Keywords and tags a person can read, without a model: YAKE, then a filter for what YAKE lets through.

Why YAKE (Campos et al., 2020; the ``yake`` package): an unsupervised, single-document keyword
extractor that needs no model download and takes ~2 ms a note. It scores candidate phrases by
position, frequency and spread, which suits short chat turns. What it lets through and a person
does not want as a keyword is filtered here: greetings ("Hiya"), light verbs ("called", "went"),
speaker labels ("person", "memex") and phrases made of them ("called Biscuit" -> "Biscuit").
Tags are the lower-case keywords (topics); names stay keywords, not tags, unless a name is all
the note is about.
"""

from __future__ import annotations

import functools
import re
import threading
from typing import Any

from ..store.lexical import STOPWORDS, TOKEN_RE, stem
from .worth import GREETINGS, THANKS

MAX_KEYWORDS = 6
MAX_TAGS = 3
LIGHT_WORDS = frozenset("""called named call name went go goes going gone got get gets getting said say says
saying told tell make made making did do does doing done like liked want wanted think thought know knew
really thing things stuff lot lots yesterday today tomorrow tonight day days time times week year way kind
sort bit person people memex user assistant speaker someone something anything everything also just
still even ever back much many well pretty quite maybe actually guess mean means meant let lets
""".split()) | GREETINGS | THANKS | frozenset("""ok okay yes yeah yep yup no nope nah lol haha hahaha hmm hm
ah oh wow gotcha sure alright right""".split())
_LOCAL = threading.local()
_SPEAKER_RE = re.compile(r"^\s*[A-Z][\w .'-]{0,40}:\s")


def _extractor() -> Any:
    ex = getattr(_LOCAL, "yake", None)
    if ex is None:
        import yake

        ex = _LOCAL.yake = yake.KeywordExtractor(lan="en", n=2, top=12, dedupLim=0.7)
    return ex


def _junk(word: str) -> bool:
    w = word.lower()
    return w in STOPWORDS or w in LIGHT_WORDS or len(w) < 3 or w.isdigit()


@functools.lru_cache(maxsize=4096)
def _keywords(text: str, speakers: tuple[str, ...]) -> tuple[str, ...]:
    body = _SPEAKER_RE.sub("", text, count=1)
    names = {s.lower() for s in speakers}
    try:
        found = [kw for kw, _score in _extractor().extract_keywords(body)]
    except Exception:  # noqa: BLE001 - YAKE on odd input (only symbols): fall back to plain words
        found = []
    if not found:
        found = [w for w in TOKEN_RE.findall(body)]
    phrases: list[list[str]] = []
    for kw in found:
        words = [w for w in TOKEN_RE.findall(kw) if not _junk(w) and w.lower() not in names]
        if len(words) > 1 and any(w[0].isupper() or w.lower().endswith(("ed", "ing")) for w in words):
            phrases.extend([w] for w in words)  # "sister Carla", "Biscuit chased": not one keyword
        elif words:
            phrases.append(words)
    out: list[str] = []
    seen: set[str] = set()
    for words in phrases:
        stems = [stem(w.lower()) for w in words]
        key = " ".join(stems)
        if key in seen or (len(stems) == 1 and any(stems[0] in s.split(" ") for s in seen)):
            continue
        if len(stems) > 1 and all(x in seen for x in stems):
            continue
        seen.add(key)
        out.append(" ".join(words))
    in_phrases = {stem(w.lower()) for kw in out if " " in kw for w in kw.split()}
    out = [kw for kw in out if " " in kw or stem(kw.lower()) not in in_phrases][:MAX_KEYWORDS]
    return tuple(out)


def keywords(text: str, speakers: tuple[str, ...] = ()) -> list[str]:
    """Up to six content-word keywords of ``text``, best first (names keep their capital)."""
    return list(_keywords(text, tuple(speakers)))


def tags_from(text: str, kws: list[str], is_word: Any = None) -> list[str]:
    """Topic tags: keywords written in lower case in the text (so not names), as lower-case tags."""
    tags: list[str] = []
    for kw in kws:
        if any(w[0].isupper() for w in kw.split()) or not re.search(rf"\b{re.escape(kw)}\b", text):
            continue
        tag = kw.lower()
        if any(w.endswith("ed") and len(w) > 4 for w in tag.split()):
            continue  # "adopted", "hiked": what happened, not what it is about
        if is_word is not None and not all(is_word(part) for part in tag.split()):
            continue
        if tag not in tags:
            tags.append(tag)
        if len(tags) >= MAX_TAGS:
            break
    return tags


def is_readable_keyword(word: str) -> bool:
    """The model's keyword is judged by the same filter YAKE's go through."""
    words = TOKEN_RE.findall(word)
    return bool(words) and not all(_junk(w) for w in words) and not any(w.lower() in LIGHT_WORDS for w in words)
