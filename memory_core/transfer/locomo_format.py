"""The LoCoMo format: long conversations (sessions of dated turns) with questions and evidence ids.

LoCoMo (Maharana et al., 2024) is the public benchmark for long-term conversational memory; its files
are also a way to bring a long conversation in (the Import/Export page). A lenient reader: files in the
wild hold malformed evidence ids ("D:11:26", "D8:6; D9:17" in one string); what can be split is split,
what cannot is dropped and counted, so a figure is never silently computed on less evidence.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from ..errors import ImportFormatError, InputError

CATEGORIES: dict[int, str] = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop", 5: "adversarial"}


ADVERSARIAL = 5


TURN_SECONDS = 5  # turns of one session get the session time plus this per turn, so their order is kept


DIA_ID_RE = re.compile(r"^D(\d+):(\d+)$")


_ID_IN_TEXT_RE = re.compile(r"D\d+:\d+")


_SESSION_KEY_RE = re.compile(r"^session_(\d+)$")


_MONTHS = {m.lower(): i for i, m in enumerate(
    ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
     "November", "December"], start=1)}


_MONTHS["sept"] = 9


_DATE_RE = re.compile(
    r"^\s*(\d{1,2})[:.](\d{2})\s*([ap])\.?\s*m\.?\s*(?:on\s+)?(\d{1,2})\s+([A-Za-z]+)\.?,?\s+(\d{4})\s*$",
    re.IGNORECASE)


@dataclass
class Turn:
    dia_id: str
    speaker: str
    text: str
    timestamp: str  # ISO 8601, UTC
    session: int
    blip_caption: str = ""
    img_url: str = ""

    @property
    def content(self) -> str:
        """The note's content: ``Speaker: text`` plus the photo caption when the turn shared a photo."""
        body = f"{self.speaker}: {self.text}".rstrip()
        if self.blip_caption:
            body += f" [photo: {self.blip_caption}]"
        return body


@dataclass
class Question:
    sample_id: str
    index: int  # position in the sample's "qa" list
    question: str
    answer: str  # the gold answer; for category 5 the adversarial answer (the trap)
    category: int
    evidence: list[str]  # valid dia_ids present in the conversation, in file order, no duplicates
    raw_evidence: list[Any] = field(default_factory=list)

    @property
    def adversarial(self) -> bool:
        return self.category == ADVERSARIAL

    @property
    def key(self) -> str:
        return f"{self.sample_id}#{self.index}"


@dataclass
class Sample:
    sample_id: str
    speakers: list[str]
    turns: list[Turn]
    questions: list[Question]
    sessions: int = 0


@dataclass
class EvidenceReport:
    """What the lenient evidence parser did, so dropped evidence is visible in the results."""

    entries: int = 0  # raw evidence entries (strings) read
    kept: int = 0  # valid ids kept
    split: int = 0  # entries holding several ids, split into them
    duplicates: int = 0  # ids listed twice for the same question (kept once)
    malformed: int = 0  # entries (or parts) that are no dia_id, e.g. "D:11:26"
    unknown: int = 0  # well-formed ids naming no turn of the conversation
    dropped: list[dict[str, Any]] = field(default_factory=list)  # where and what, for the report

    @property
    def dropped_total(self) -> int:
        return self.malformed + self.unknown


@dataclass
class LocomoData:
    samples: list[Sample]
    evidence: EvidenceReport
    problems: list[str] = field(default_factory=list)  # other leniencies: skipped turns, bad dates
    sha256: str = ""

    @property
    def turn_count(self) -> int:
        return sum(len(s.turns) for s in self.samples)

    @property
    def question_count(self) -> int:
        return sum(len(s.questions) for s in self.samples)


def parse_session_time(value: Any) -> datetime | None:
    """"1:56 pm on 8 May, 2023" -> aware UTC datetime; ISO 8601 is accepted too. None when unreadable."""
    if not isinstance(value, str) or not value.strip():
        return None
    m = _DATE_RE.match(value)
    if m:
        hour, minute, half, day, month_name, year = m.groups()
        month = _MONTHS.get(month_name.lower())
        h = int(hour)
        if month is None or not 1 <= h <= 12 or int(minute) > 59:
            return None
        h = h % 12 + (12 if half.lower() == "p" else 0)
        try:
            return datetime(int(year), month, int(day), h, int(minute), tzinfo=timezone.utc)
        except ValueError:
            return None
    try:
        dt = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return dt.astimezone(timezone.utc) if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


def split_evidence(entry: Any) -> tuple[list[str], list[str]]:
    """One raw evidence entry -> (well-formed dia_ids, malformed parts).

    "D1:3" -> ["D1:3"]; "D1:3; D2:4" or "D1:3,D2:4" -> both ids; "D:11:26" -> malformed;
    a non-string -> malformed.
    """
    if not isinstance(entry, str):
        return [], [repr(entry)]
    text = entry.strip()
    if DIA_ID_RE.match(text):
        return [text], []
    good: list[str] = []
    bad: list[str] = []
    for part in re.split(r"[;,\s]+", text):
        if not part:
            continue
        if DIA_ID_RE.match(part):
            good.append(part)
        else:
            bad.append(part)
    return good, bad


def _sessions(conv: dict[str, Any]) -> list[tuple[int, list[Any], Any]]:
    found = []
    for key, value in conv.items():
        m = _SESSION_KEY_RE.match(key)
        if m and isinstance(value, list):
            n = int(m.group(1))
            found.append((n, value, conv.get(f"session_{n}_date_time")))
    return sorted(found, key=lambda x: x[0])


def parse_locomo(raw: Any) -> LocomoData:
    """Parse LoCoMo JSON (text, bytes or the loaded list). Raises ImportFormatError for an unusable file."""
    digest = ""
    if isinstance(raw, (str, bytes)):
        data_bytes = raw.encode("utf-8") if isinstance(raw, str) else raw
        digest = hashlib.sha256(data_bytes).hexdigest()
        try:
            raw = json.loads(data_bytes)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ImportFormatError(f"The LoCoMo file is not valid JSON: {exc}") from None
    if isinstance(raw, dict) and isinstance(raw.get("conversation"), dict):
        raw = [raw]  # a single sample
    if not isinstance(raw, list):
        raise ImportFormatError("A LoCoMo file must hold a JSON list of samples "
                                "(objects with 'sample_id', 'conversation' and 'qa').")
    evidence = EvidenceReport()
    problems: list[str] = []
    samples: list[Sample] = []
    seen_ids: set[str] = set()
    for pos, item in enumerate(raw):
        if not isinstance(item, dict) or not isinstance(item.get("conversation"), dict):
            problems.append(f"sample {pos + 1}: no 'conversation' object; skipped")
            continue
        sid = str(item.get("sample_id") or f"sample-{pos + 1}")
        if sid in seen_ids:
            sid = f"{sid}-{pos + 1}"
            problems.append(f"sample {pos + 1}: duplicate sample_id, renamed {sid}")
        seen_ids.add(sid)
        sample = _parse_sample(sid, item, evidence, problems)
        if not sample.turns:
            problems.append(f"{sid}: no usable turns; skipped")
            continue
        samples.append(sample)
    if not samples:
        raise ImportFormatError("The LoCoMo file holds no usable conversation"
                                + (f" ({problems[0]})." if problems else "."))
    return LocomoData(samples, evidence, problems, digest)


def _parse_sample(sid: str, item: dict[str, Any], evidence: EvidenceReport, problems: list[str]) -> Sample:
    conv = item["conversation"]
    speakers = [str(conv[k]) for k in ("speaker_a", "speaker_b") if conv.get(k)]
    turns: list[Turn] = []
    seen: set[str] = set()
    previous: datetime | None = None
    sessions = _sessions(conv)
    for n, rows, when in sessions:
        start = parse_session_time(when)
        if start is None:
            # Keep order: an unreadable date becomes one hour after the previous session.
            start = (previous + timedelta(hours=1)) if previous else datetime(2000, 1, 1, tzinfo=timezone.utc)
            problems.append(f"{sid}: session {n} date {when!r} unreadable; using {start.isoformat()}")
        previous = start + timedelta(seconds=TURN_SECONDS * len(rows))
        for i, row in enumerate(rows):
            if not isinstance(row, dict):
                problems.append(f"{sid}: session {n} turn {i + 1} is not an object; skipped")
                continue
            dia = str(row.get("dia_id", "")).strip()
            text = str(row.get("text") or "").strip()
            caption = str(row.get("blip_caption") or "").strip()
            if not DIA_ID_RE.match(dia) or dia in seen:
                problems.append(f"{sid}: session {n} turn {i + 1} has a missing, malformed or repeated dia_id "
                                f"{dia!r}; skipped")
                continue
            if not text and not caption:
                problems.append(f"{sid}: turn {dia} is empty; skipped")
                continue
            seen.add(dia)
            img = row.get("img_url") or ""
            turns.append(Turn(dia, str(row.get("speaker") or "?"), text,
                              (start + timedelta(seconds=TURN_SECONDS * i)).isoformat(), n, caption,
                              str(img[0] if isinstance(img, list) and img else img)))
    questions: list[Question] = []
    qa = item.get("qa") or []
    if not isinstance(qa, list):
        problems.append(f"{sid}: 'qa' is not a list; no questions")
        qa = []
    for qi, q in enumerate(qa):
        if not isinstance(q, dict) or not str(q.get("question") or "").strip():
            problems.append(f"{sid}: question {qi + 1} has no text; skipped")
            continue
        try:
            category = int(q["category"])
        except (KeyError, TypeError, ValueError):
            problems.append(f"{sid}: question {qi + 1} has no numeric category; skipped")
            continue
        if category == ADVERSARIAL:
            gold = q.get("adversarial_answer", q.get("answer", ""))
        else:
            gold = q.get("answer", q.get("adversarial_answer", ""))
        raw_ev = q.get("evidence") or []
        if not isinstance(raw_ev, list):
            raw_ev = [raw_ev]
        ids: list[str] = []
        for entry in raw_ev:
            evidence.entries += 1
            good, bad = split_evidence(entry)
            if len(good) + len(bad) > 1:
                evidence.split += 1
            for part in bad:
                evidence.malformed += 1
                evidence.dropped.append({"sample_id": sid, "question": qi, "entry": entry, "part": part,
                                         "why": "malformed"})
            for dia in good:
                if dia not in seen:
                    evidence.unknown += 1
                    evidence.dropped.append({"sample_id": sid, "question": qi, "entry": entry, "part": dia,
                                             "why": "no such turn"})
                elif dia in ids:
                    evidence.duplicates += 1
                else:
                    evidence.kept += 1
                    ids.append(dia)
        questions.append(Question(sid, qi, str(q["question"]).strip(), "" if gold is None else str(gold),
                                  category, ids, list(raw_ev)))
    return Sample(sid, speakers, turns, questions, len(sessions))


def load_locomo(path: str | Path) -> LocomoData:
    """Read and parse a LoCoMo file; a missing or unreadable file is an InputError naming it."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise InputError(f"Cannot read the LoCoMo file {p}: {exc.strerror or exc}.") from None
    try:
        return parse_locomo(raw)
    except ImportFormatError as exc:
        raise ImportFormatError(f"{p}: {exc}") from None


def category_name(category: int) -> str:
    return CATEGORIES.get(category, f"category {category}")
