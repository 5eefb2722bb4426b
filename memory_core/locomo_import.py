"""Turn a LoCoMo-format conversation file into notes to add (the Import page uses this).

Why a separate, small module: the benchmark (memory_core/locomo.py) parses the same format for its
evaluation, with one fresh store per sample; importing into a person's memory needs less (the turns,
their times and references) but must check the whole file first, so a malformed file is refused
with a message naming the problem before anything is written.

Each turn becomes one ``NewItem``: content ``"Speaker: text"`` plus the photo caption when there is
one; timestamp = its session's date plus one second per turn (so notes sort in dialogue order);
``source_ref = "<sample_id>/<dia_id>"`` (several conversations can share one store).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from .errors import ImportFormatError
from .pipeline import NewItem

MAX_BYTES = 256 * 1024 * 1024
_SESSION = re.compile(r"session_(\d+)")
_DATE_FORMATS = ("%I:%M %p on %d %B, %Y", "%I:%M %p on %d %b, %Y", "%I:%M %p on %B %d, %Y", "%d %B, %Y",
                 "%d %B %Y", "%Y-%m-%d %H:%M", "%Y-%m-%d")


@dataclass
class Conversation:
    sample_id: str
    speakers: list[str]
    sessions: int
    items: list[NewItem] = field(default_factory=list)
    skipped_turns: int = 0


def looks_like_locomo(data: Any) -> bool:
    """A list of samples (or one sample) that each hold a "conversation" object."""
    if isinstance(data, dict):
        data = [data]
    return isinstance(data, list) and bool(data) and all(isinstance(x, dict) and "conversation" in x for x in data)


def parse_session_date(text: str) -> datetime:
    """'1:56 pm on 8 May, 2023' (LoCoMo's form) and a few plain forms; taken as UTC."""
    cleaned = " ".join(str(text).replace("\u202f", " ").split())
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(cleaned, fmt).replace(tzinfo=timezone.utc)
        except ValueError:
            continue
    try:
        dt = datetime.fromisoformat(cleaned)
    except ValueError as exc:
        raise ImportFormatError(f"the session date {text!r} is not a date Memex can read "
                                "(expected e.g. '1:56 pm on 8 May, 2023').") from exc
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


def turn_content(turn: dict[str, Any]) -> str:
    speaker = str(turn.get("speaker") or "").strip()
    text = str(turn.get("text") or "").strip()
    caption = str(turn.get("blip_caption") or "").strip()
    body = text
    if caption:
        body = f"{text} [shares a photo: {caption}]" if text else f"[shares a photo: {caption}]"
    return f"{speaker}: {body}" if speaker else body


def parse_sample(sample: dict[str, Any], index: int) -> Conversation:
    sample_id = str(sample.get("sample_id") or f"conv-{index + 1}")
    where = f"conversation {sample_id!r}"
    conv = sample.get("conversation")
    if not isinstance(conv, dict):
        raise ImportFormatError(f"In {where}: \"conversation\" must be an object.")
    sessions = sorted((int(m.group(1)), key) for key in conv if (m := _SESSION.fullmatch(key)))
    if not sessions:
        raise ImportFormatError(f"In {where}: no \"session_1\", \"session_2\", ... lists.")
    out = Conversation(sample_id=sample_id, speakers=[str(conv[k]) for k in ("speaker_a", "speaker_b") if k in conv],
                       sessions=len(sessions))
    for number, key in sessions:
        turns = conv[key]
        if not isinstance(turns, list):
            raise ImportFormatError(f"In {where}: \"{key}\" must be a list of turns.")
        date_text = conv.get(f"{key}_date_time")
        try:
            start = parse_session_date(date_text) if date_text else None
        except ImportFormatError as exc:
            raise ImportFormatError(f"In {where}, {key}: {exc}") from None
        for t, turn in enumerate(turns):
            if not isinstance(turn, dict):
                raise ImportFormatError(f"In {where}, {key}, turn {t + 1}: a turn must be an object.")
            for name in ("speaker", "text", "dia_id", "blip_caption"):
                if turn.get(name) is not None and not isinstance(turn[name], str):
                    raise ImportFormatError(f"In {where}, {key}, turn {t + 1}: \"{name}\" must be text.")
            content = turn_content(turn)
            if not content.split(":", 1)[-1].strip():
                out.skipped_turns += 1
                continue
            dia_id = str(turn.get("dia_id") or f"D{number}:{t + 1}")
            when = (start + timedelta(seconds=t)).isoformat() if start else None
            out.items.append(NewItem(content=content, timestamp=when, source="import",
                                     source_ref=f"{sample_id}/{dia_id}"))
    return out


def parse_locomo(raw: bytes | str) -> list[Conversation]:
    """Check a whole LoCoMo-format file; ImportFormatError names the first problem, nothing is written."""
    if isinstance(raw, bytes):
        if len(raw) > MAX_BYTES:
            raise ImportFormatError(f"The file is {len(raw) / 1e6:.0f} MB; at most {MAX_BYTES // 2**20} MiB.")
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ImportFormatError(f"The file is not UTF-8 text (byte {exc.start}).") from exc
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ImportFormatError(f"The file is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}.") from exc
    if isinstance(data, dict) and "conversation" in data:
        data = [data]
    if not isinstance(data, list) or not data:
        raise ImportFormatError("A LoCoMo file is a JSON list of samples, each with a \"conversation\" object.")
    conversations = []
    for i, sample in enumerate(data):
        if not isinstance(sample, dict) or "conversation" not in sample:
            raise ImportFormatError(f"Sample #{i + 1} has no \"conversation\" object.")
        conversations.append(parse_sample(sample, i))
    if not any(c.items for c in conversations):
        raise ImportFormatError("The file holds no dialogue turn with text.")
    return conversations
