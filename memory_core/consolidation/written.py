"""Digests and profile sections written by a capable model, every line checked against its sources.

Why only capable models (``memory.capability``, the gate proposals use): a small model's summary reads
well and says things the notes do not. A capable model is given numbered sources and answers JSON
lines that each cite source numbers; a line is kept only when ``grounding.judge_line`` finds it in the
sources it cites. When no line survives, the extractive line stays (nothing invented is ever stored).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..memory.capability import model_label
from ..notes import Note
from .extract import Line
from .grounding import judge_line
from .sources import SECTION_TITLES, Said

if TYPE_CHECKING:
    from ..models.llm import LLM

MAX_SOURCES = 14
MAX_LINES = 6
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"lines": {"type": "array", "minItems": 1, "maxItems": MAX_LINES, "items": {
        "type": "object",
        "properties": {"text": {"type": "string", "maxLength": 240},
                       "sources": {"type": "array", "minItems": 1, "maxItems": 6,
                                   "items": {"type": "integer", "minimum": 1, "maximum": MAX_SOURCES}}},
        "required": ["text", "sources"]}}},
    "required": ["lines"],
}
SYSTEM = ("You condense a person's notes into short lines. Every line must say only what its numbered "
          "sources say, and list those source numbers. Do not add names, numbers or facts that are not in them.")


@dataclass
class Source:
    text: str
    note_id: str = ""  # empty for something the assistant said


@dataclass
class Written:
    lines: list[tuple[str, list[Source]]] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (line, why)


def ask(llm: LLM, task: str, sources: list[Source]) -> Written:
    """Ask the model for lines over ``sources``; keep the grounded ones."""
    sources = sources[:MAX_SOURCES]
    numbered = "\n".join(f"[{i}] {'(Memex said) ' if not s.note_id else ''}{s.text}" for i, s in enumerate(sources, 1))
    out = Written()

    def validate(data: Any) -> tuple[dict[str, Any] | None, list[str]]:
        kept: list[dict[str, Any]] = []
        problems: list[str] = []
        for item in (data or {}).get("lines", []) if isinstance(data, dict) else []:
            text = str(item.get("text", "")) if isinstance(item, dict) else ""
            picks = [int(n) for n in (item.get("sources") or []) if isinstance(n, int) and 1 <= n <= len(sources)] \
                if isinstance(item, dict) else []
            verdict = judge_line(text, [sources[n - 1].text for n in picks])
            if verdict.ok:
                kept.append({"text": " ".join(text.split()), "sources": picks})
            else:
                out.rejected.append((text, verdict.why))
                problems.append(f"line {text[:40]!r} {verdict.why}")
        return ({"lines": kept} if kept else None), problems

    messages = [{"role": "system", "content": SYSTEM},
                {"role": "user", "content": f"Sources:\n{numbered}\n\n{task}"}]
    result = llm.structured(messages, SCHEMA, validate, lambda: {"lines": []}, max_tokens=400)
    for item in result.value.get("lines", []):
        out.lines.append((item["text"], [sources[n - 1] for n in item["sources"]]))
    return out


def _cites(picked: list[Source]) -> list[str]:
    return list(dict.fromkeys(s.note_id for s in picked if s.note_id))


def write_section(llm: LLM, section: str, extracted: list[Line], notes: dict[str, Note]
                  ) -> tuple[list[Line], list[tuple[str, str]]]:
    """A profile section in the model's words, from the notes its extractive lines cite."""
    ids = list(dict.fromkeys(i for line in extracted for i in line.cites if i in notes))
    if not ids:
        return extracted, []
    sources = [Source(notes[i].content, i) for i in ids]
    task = f"Write up to {MAX_LINES} lines for the section '{SECTION_TITLES.get(section, section)}' of the person's profile."
    answer = ask(llm, task, sources)
    lines: list[Line] = []
    seen: dict[str, int] = {}
    for text, picked in answer.lines:
        cites = _cites(picked)
        if not cites:
            continue
        # named by what it cites (the model's wording changes between rebuilds; its sources do not)
        key = hashlib.sha1(",".join(sorted(cites)).encode()).hexdigest()[:12]
        seen[key] = seen.get(key, 0) + 1
        key += f"-{seen[key]}" if seen[key] > 1 else ""
        lines.append(Line("profile", f"{section}:m{key}", section, text, cites,
                          max(notes[i].timestamp for i in cites), written_by=model_label(llm)))
    return (lines or extracted), answer.rejected


def write_digest(llm: LLM, line: Line, notes: dict[str, Note], said: list[Said]) -> tuple[Line, list[tuple[str, str]]]:
    """A digest in the model's words: what the person told and decided, what Memex recommended."""
    sources = [Source(notes[i].content, i) for i in line.cites if i in notes] + [Source(s.text) for s in said]
    if not sources:
        return line, []
    answer = ask(llm, f"Write a digest of {line.title}: what the person told, what they decided, and what Memex "
                      "recommended.", sources)
    if not answer.lines:
        return line, answer.rejected
    cites = list(dict.fromkeys(i for _, picked in answer.lines for i in _cites(picked))) or line.cites
    heading = line.text.split("\n", 1)[0]
    text = heading + "\n" + "\n".join(f"- {t}" for t, _ in answer.lines)
    return Line(line.kind, line.key, line.section, text, cites, line.timestamp, line.conversation_id,
                model_label(llm), line.title, line.parts), answer.rejected


__all__ = ["SCHEMA", "Source", "Written", "ask", "write_digest", "write_section"]

