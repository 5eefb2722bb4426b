"""Judging what a small model wrote about a note, and writing it without a model when it fails.

Why content checks and not just JSON shape: with a schema-constrained grammar SmolLM2-135M always
returns well-formed JSON, but often with junk inside (a tag "LGBTQSGVPBKMZAwLJNjY", the keyword
"I"). So: keywords must come from the text, tags must be short real words (a word is "real" if
it is a whole word in the BERT vocabulary bundled with MiniLM, or it appears in the text), and a
context must read like a sentence. Whatever survives is kept; the rest is filled deterministically.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from typing import Any

from ..store.lexical import STOPWORDS, TOKEN_RE, stem
from .enrich import is_readable_keyword

MAX_KEYWORDS = 6
MAX_TAGS = 5
MAX_CONTEXT_CHARS = 200
TAG_RE = re.compile(r"^[a-z][a-z0-9]*(?:[- ][a-z0-9]+){0,2}$")

# The grammar itself keeps the worst junk out: tags are one lowercase word, keywords one to three
# plain words. (Measured on SmolLM2-135M: with free strings 3 of 20 answers had usable content;
# with these patterns and a one-shot example, 18 of 20.)
ENRICH_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "keywords": {"type": "array", "minItems": 1, "maxItems": MAX_KEYWORDS,
                     "items": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9'-]{1,15}( [A-Za-z0-9'-]{1,15}){0,2}$"}},
        "context": {"type": "string", "maxLength": MAX_CONTEXT_CHARS},
        "tags": {"type": "array", "minItems": 1, "maxItems": 3,
                 "items": {"type": "string", "pattern": "^[a-z]{3,15}$"}},
    },
    "required": ["keywords", "context", "tags"],
}
ENRICH_EXAMPLE_NOTE = "Bought fresh bread and goat cheese at the farmers market on Sunday."
ENRICH_EXAMPLE_ANSWER = {"keywords": ["bread", "goat cheese", "farmers market"],
                         "context": "A Sunday shopping trip to the farmers market.", "tags": ["shopping", "food"]}


@functools.lru_cache(maxsize=1)
def _vocabulary() -> frozenset[str]:
    """Whole words of the BERT uncased vocabulary shipped with MiniLM (about 20k English words)."""
    try:
        from ..models.embedder_base import minilm_path

        lines = (minilm_path() / "vocab.txt").read_text(encoding="utf-8").splitlines()
    except Exception:  # noqa: BLE001 - without the vocabulary we rely on the text and shape checks
        return frozenset()
    return frozenset(w for w in lines if w.isalpha() and w.islower() and len(w) > 1)


def _words(text: str) -> set[str]:
    return {w.lower() for w in TOKEN_RE.findall(text)}


def is_real_word(word: str, text_words: set[str]) -> bool:
    """A word from the text, or a dictionary word; anything else is probably invented."""
    if word in text_words:
        return True
    vocab = _vocabulary()
    if vocab:
        return word in vocab
    # No vocabulary: accept only pronounceable lower-case words of sane length.
    return 2 < len(word) <= 16 and bool(re.search(r"[aeiouy]", word)) and not re.search(r"[^aeiouy]{5}", word)


def clean_keywords(items: Any, content: str) -> tuple[list[str], list[str]]:
    """Keep keywords whose every word occurs in the text (and that are not stopwords)."""
    problems: list[str] = []
    if not isinstance(items, list):
        return [], ["keywords is not a list"]
    text_stems = {stem(w) for w in _words(content)}
    kept: list[str] = []
    for item in items:
        if not isinstance(item, str):
            problems.append(f"keyword {item!r} is not text")
            continue
        kw = " ".join(item.replace("_", " ").split()).strip(" .,;:!?\"'")
        words = [w.lower() for w in TOKEN_RE.findall(kw)]
        if not words or len(kw) > 40 or len(words) > 4:
            problems.append(f"keyword {item!r} is empty or too long")
        elif all(w in STOPWORDS for w in words):
            problems.append(f"keyword {item!r} is a stopword")
        elif not is_readable_keyword(kw):
            problems.append(f"keyword {item!r} is a filler word")
        elif not all(stem(w) in text_stems for w in words):
            problems.append(f"keyword {item!r} is not in the text")
        elif kw.lower() not in (k.lower() for k in kept):
            kept.append(kw)
    return kept[:MAX_KEYWORDS], problems


def clean_tags(items: Any, content: str) -> tuple[list[str], list[str]]:
    """Keep short lower-case tags made of real words (1-3 words, at most 24 characters)."""
    problems: list[str] = []
    if not isinstance(items, list):
        return [], ["tags is not a list"]
    text_words = _words(content)
    kept: list[str] = []
    for item in items:
        if not isinstance(item, str):
            problems.append(f"tag {item!r} is not text")
            continue
        tag = item.strip().lstrip("#").lower().replace("_", "-")
        if not tag or len(tag) > 24 or not TAG_RE.match(tag):
            problems.append(f"tag {item!r} is not a short word")
        elif not all(is_real_word(part, text_words) for part in re.split(r"[- ]", tag)):
            problems.append(f"tag {item!r} is not a real word")
        elif tag in STOPWORDS or not is_readable_keyword(tag):
            problems.append(f"tag {item!r} is a stopword or filler word")
        elif not _grounded_tag(tag, content):
            problems.append(f"tag {item!r} is not about the note")
        elif tag not in kept:
            kept.append(tag)
    return kept[:MAX_TAGS], problems


def _grounded_tag(tag: str, content: str) -> bool:
    """A tag must name something in the note: words of its text (by stem), or a broad topic whose
    cue words the text contains (``TOPIC_HINTS``). This is what keeps "happy", "sunny", "shopping"
    off a note about night shifts."""
    stems = {stem(w) for w in _words(content)}
    parts = [stem(p) for p in re.split(r"[- ]", tag)]
    if all(p in stems for p in parts):
        return True
    return any(h in stems for h in TOPIC_HINTS.get(tag, ()))


# Topic tags a note may carry without the word itself: tag -> stems that must be in the note.
TOPIC_HINTS: dict[str, tuple[str, ...]] = {
    "travel": ("trip", "flight", "fli", "travel", "holiday", "hike", "abroad", "visit", "journey"),
    "pets": ("dog", "cat", "puppi", "kitten", "retriev", "pet", "hamster", "parrot"),
    "dogs": ("dog", "puppi", "retriev", "labrador", "poodl", "terrier"),
    "cats": ("cat", "kitten"),
    "work": ("job", "work", "offic", "shift", "boss", "colleagu", "career"),
    "family": ("sister", "brother", "mum", "mom", "dad", "father", "mother", "daughter", "son", "parent",
               "grandma", "grandpa", "aunt", "uncl", "cousin"),
    "health": ("doctor", "allergi", "allerg", "sick", "hospit", "ill", "medicin", "injuri", "broke"),
    "food": ("bread", "chees", "sushi", "pizza", "cook", "dinner", "lunch", "breakfast", "meal", "eat",
             "vegetarian", "bake"),
    "music": ("concert", "band", "guitar", "piano", "song", "sing", "album"),
    "sport": ("marathon", "run", "swim", "footbal", "tenni", "gym", "ski", "hike", "cycl"),
    "learning": ("cours", "class", "learn", "studi", "lesson", "school", "univers"),
    "shopping": ("shop", "bought", "buy", "market", "store"),
    "hiking": ("hike", "trail", "mountain", "alp"),
    "mountains": ("alp", "mountain", "peak", "hike", "pyrene"),
}


def clean_context(value: Any) -> tuple[str, list[str]]:
    """A context is one sentence of 4 to 40 words, mostly letters, not a word repeated over and over."""
    if not isinstance(value, str):
        return "", ["context is not text"]
    text = " ".join(value.split())
    words = TOKEN_RE.findall(text)
    if not 4 <= len(words) <= 40:
        return "", [f"context has {len(words)} words; it must be one sentence of 4-40 words"]
    letters = sum(ch.isalpha() or ch.isspace() for ch in text)
    if letters < 0.8 * len(text):
        return "", ["context is not prose"]
    top = Counter(w.lower() for w in words).most_common(1)[0][1]
    if top > max(3, len(words) // 3):
        return "", ["context repeats one word"]
    if text.lower() == str(ENRICH_EXAMPLE_ANSWER["context"]).lower():
        return "", ["context copies the prompt's example"]
    text = text[:MAX_CONTEXT_CHARS].rstrip()
    if text[-1] not in ".!?":
        text += "."
    return text[0].upper() + text[1:], []


def validate_enrichment(data: Any, content: str) -> tuple[dict[str, Any] | None, list[str]]:
    """Accept when a keyword and a tag or a context survive the checks; fill a missing part from the text."""
    if not isinstance(data, dict):
        return None, ["answer is not a JSON object"]
    keywords, p1 = clean_keywords(data.get("keywords"), content)
    tags, p2 = clean_tags(data.get("tags"), content)
    context, p3 = clean_context(data.get("context"))
    problems = p1 + p2 + p3
    if not keywords or not (tags or context):
        return None, problems or ["nothing usable"]
    if not (tags and context):
        fill = fallback_enrichment(content)
        missing = "tags" if not tags else "context"
        problems.append(f"{missing} taken from the text instead")
        tags, context = tags or fill["tags"], context or fill["context"]
    return {"keywords": keywords, "tags": tags, "context": context}, problems


def extract_keywords(content: str, n: int = 5) -> list[str]:
    """YAKE keywords of the content, filtered for readability (see ``enrich``): the deterministic
    stand-in for the model, and the yardstick its keywords are judged against."""
    from .enrich import keywords

    return keywords(content)[:n]


def fallback_enrichment(content: str) -> dict[str, Any]:
    """YAKE keywords, tags from the lower-case ones that are real words, context from the first sentence."""
    keywords = extract_keywords(content, MAX_KEYWORDS)
    from .enrich import tags_from

    text_words = _words(content)
    tags = tags_from(content, keywords, is_word=lambda w: is_real_word(w, text_words))
    from .worth import judge_turn

    sentences = re.split(r"(?<=[.!?])\s+", " ".join(content.split()))
    first = next((x for x in sentences if judge_turn(x).worth), sentences[0])  # not "Hiya!"
    context = first if len(first) <= 160 else first[:157].rsplit(" ", 1)[0] + "..."
    if context and context[-1] not in ".!?":
        context += "."
    plain = [w for w in TOKEN_RE.findall(content) if len(w) > 2 and w.lower() not in STOPWORDS][:1]
    return {"keywords": keywords or plain or [content.split()[0][:40]], "tags": tags[:3],
            "context": context or "A note."}
