"""Judging a model-proposed change to a note before it may touch the note.

Why judge against the TARGET note: the issue's trial had the evolver write the new note's text into
older notes ("the Alps-hike note's context became 'How is it that I have a golden retriever called
Biscuit?'"). A change to a note must be about that note: its words must come from the note's own
content (stems shared with the target), and it must be at least as close to the target as to the
note whose arrival prompted it. Three rules more: a field a person edited is never overwritten by a
model; nothing that looks like JSON or prompt text gets in; a link reason is a short readable sentence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ..retrieval.entities import mentions
from ..store.lexical import STOPWORDS, TOKEN_RE, stem
from .validation import _grounded_tag as grounded_tag
from .validation import clean_context, clean_tags

MIN_CONTEXT_OVERLAP = 0.5  # share of the proposal's content words that occur in the target note
MIN_TAG_SIMILARITY = 0.30  # a tag not in the target's words must be this close to its content (MiniLM)
SOURCE_MARGIN = 0.05  # a proposal closer to the new note than to its target by this much is about the new note
REASON_WORDS = (2, 20)
FRAGMENT_RE = re.compile(
    r"[{}\[\]<>\"`|\\]|\b(id|ids|links|evolve|context|tags|reason|keywords|json|note)\s*:|"
    r"\b(new|existing) notes?\b|\bassistant\b|\bsystem\b|\buser\b|im_start|im_end|\}\s*,", re.IGNORECASE)


@dataclass
class Judgement:
    """``ok``: grounded and clean; ``value``: the cleaned value; ``grounding``: scores and a sentence."""

    ok: bool
    value: Any = None
    reasons: list[str] = field(default_factory=list)
    grounding: dict[str, Any] = field(default_factory=dict)

    @property
    def why(self) -> str:
        return "; ".join(self.reasons) or str(self.grounding.get("why", ""))


def content_stems(text: str) -> set[str]:
    return {stem(w) for w in (t.lower() for t in TOKEN_RE.findall(text)) if w not in STOPWORDS and len(w) > 2}


def has_fragment(text: str) -> bool:
    """JSON or prompt pieces: braces, quotes, "id:", "NEW note", chat-template tokens."""
    return bool(FRAGMENT_RE.search(text or ""))


def person_edited(note: Any, field_name: str) -> bool:
    """Did a person ever write this field? Then no model may overwrite it."""
    return any(c.field == field_name and c.by == "person" for c in getattr(note, "history", []))


def _target_text(note: Any) -> str:
    return " ".join([note.content, " ".join(note.keywords)])


def judge_context(target: Any, proposed: Any, source: Any = None, similarity: Any = None) -> Judgement:
    """A new context sentence for ``target``. ``similarity(a, b)`` (MiniLM cosine) is optional."""
    if person_edited(target, "context"):
        return Judgement(False, reasons=["a person wrote this note's context"])
    if not isinstance(proposed, str) or has_fragment(proposed):
        return Judgement(False, reasons=["the context carries JSON or prompt text"])
    text, problems = clean_context(proposed)
    if not text:
        return Judgement(False, reasons=problems or ["the context is not a sentence"])
    if text.rstrip(".").lower() == (target.context or "").rstrip(".").lower():
        return Judgement(False, reasons=["the context is unchanged"])
    words = content_stems(text)
    shared = words & content_stems(_target_text(target))
    overlap = len(shared) / len(words) if words else 0.0
    grounding: dict[str, Any] = {"overlap": round(overlap, 3), "shared": sorted(shared)}
    if similarity is not None:
        grounding["similarity_target"] = round(float(similarity(text, target.content)), 3)
        if source is not None:
            grounding["similarity_source"] = round(float(similarity(text, source.content)), 3)
    if overlap < MIN_CONTEXT_OVERLAP:
        return Judgement(False, reasons=[f"only {overlap:.0%} of its words are in the note"], grounding=grounding)
    if "similarity_source" in grounding and \
            grounding["similarity_source"] > grounding["similarity_target"] + SOURCE_MARGIN:
        return Judgement(False, reasons=["it describes the new note, not this one"], grounding=grounding)
    grounding["why"] = f"{overlap:.0%} of its words are in the note ({', '.join(sorted(shared)[:5])})"
    return Judgement(True, text, grounding=grounding)


def judge_tags(target: Any, proposed: Any, similarity: Any = None, speakers: set[str] | None = None) -> Judgement:
    """Tags for ``target``: real words, from its content (or close to it), no speaker names."""
    if person_edited(target, "tags"):
        return Judgement(False, reasons=["a person wrote this note's tags"])
    items = proposed if isinstance(proposed, list) else []
    if any(not isinstance(t, str) or has_fragment(t) for t in items):
        return Judgement(False, reasons=["a tag carries JSON or prompt text"])
    tags, problems = clean_tags(items, target.content)
    own = content_stems(_target_text(target))
    names = {s.lower() for s in speakers or set()} | {"person", "memex", "user", "assistant"}
    kept: list[str] = []
    scores: dict[str, float] = {}
    for tag in tags:
        if tag in names:
            problems.append(f"tag {tag!r} is a speaker's name")
            continue
        if content_stems(tag) & own or grounded_tag(tag, _target_text(target)):
            kept.append(tag)
            scores[tag] = 1.0
        elif similarity is not None and (score := float(similarity(tag, target.content))) >= MIN_TAG_SIMILARITY:
            kept.append(tag)
            scores[tag] = round(score, 3)
        else:
            problems.append(f"tag {tag!r} is not about this note")
    new = [t for t in kept if t not in target.tags]
    if not new:
        return Judgement(False, reasons=problems or ["no new tag"], grounding={"scores": scores})
    value = list(dict.fromkeys([*target.tags, *new]))[:5]
    return Judgement(True, value, reasons=problems, grounding={
        "scores": scores, "why": f"tags {', '.join(new)} come from the note's own words or meaning"})


def clean_reason(reason: Any) -> tuple[str, list[str]]:
    """A link reason: a short readable sentence, or "" with why not."""
    if not isinstance(reason, str):
        return "", ["the reason is not text"]
    text = " ".join(reason.split()).strip()
    if has_fragment(text):
        return "", ["the reason carries JSON or prompt text"]
    words = TOKEN_RE.findall(text)
    if not REASON_WORDS[0] <= len(words) <= REASON_WORDS[1]:
        return "", [f"the reason has {len(words)} words; it must have {REASON_WORDS[0]}-{REASON_WORDS[1]}"]
    letters = sum(ch.isalpha() or ch.isspace() for ch in text)
    if letters < 0.85 * len(text) or text.count("?") > 0:
        return "", ["the reason is not a plain sentence"]
    return text[0].upper() + text[1:].rstrip(" .,;:") + ".", []


def judge_link(source: Any, target: Any, reason: Any, similarity: float | None = None,
               min_similarity: float = 0.45) -> Judgement:
    """A link from ``source`` to ``target``: a readable reason, and the notes really share something
    (a name, content words, or a close meaning)."""
    text, problems = clean_reason(reason)
    if not text:
        return Judgement(False, reasons=problems)
    shared_names = set(mentions(source.content)) & set(mentions(target.content))
    shared_words = content_stems(source.content) & content_stems(target.content)
    grounding: dict[str, Any] = {"shared_names": sorted(shared_names), "shared_words": sorted(shared_words)[:8]}
    if similarity is not None:
        grounding["similarity"] = round(float(similarity), 3)
    if shared_names:
        grounding["why"] = f"both name {', '.join(sorted(shared_names))}"
    elif len(shared_words) >= 2:
        grounding["why"] = f"both mention {', '.join(sorted(shared_words)[:4])}"
    elif similarity is not None and similarity >= min_similarity:
        grounding["why"] = f"close in meaning (cosine {similarity:.2f})"
    else:
        return Judgement(False, reasons=["the two notes share no name, words or meaning"], grounding=grounding)
    return Judgement(True, text, grounding=grounding)
