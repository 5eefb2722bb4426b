"""LoCoMo metrics: evidence recall@k at two levels, MRR, token F1 and BLEU-1 of answers, abstention on
adversarial questions, and their aggregates per category.

Why two levels: systems publish LoCoMo recall at the turn level (is the gold turn among the top k
notes?) or at the session level (is the gold turn's *session* among the sessions of the top k
turns?). The session level is much easier (a conversation has ~20-30 sessions, hundreds of
turns), so a figure is only comparable with another of the same level; the benchmark reports both,
with the definitions beside them (``DEFINITIONS``).
"""

from __future__ import annotations

import math
import re
import string
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..transfer.locomo_format import ADVERSARIAL, Question, category_name

KS: tuple[int, ...] = (1, 5, 10, 25)

LEVELS: tuple[str, ...] = ("turn", "session")

# What each figure means, printed under the tables and saved in the JSON results.
DEFINITIONS: dict[str, str] = {
    "turn any@k": "share of questions with at least one gold evidence turn among the top k notes",
    "turn all@k": "share of questions with every gold evidence turn among the top k notes",
    "session any@k": "share of questions where the session of at least one gold evidence turn is among "
                     "the sessions of the top k notes (turns)",
    "session all@k": "share of questions where the sessions of all gold evidence turns are among the "
                     "sessions of the top k notes (turns)",
    "MRR": "mean of 1/rank of the first gold evidence turn (session level: of the first note from a gold "
           "session); 0 when none is retrieved",
}


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


def session_metrics(ranked: Sequence[str], evidence: Iterable[str], session_of: Mapping[str, Any],
                    ks: Sequence[int] = KS) -> dict[str, Any]:
    """Session-level recall@k any/all and reciprocal rank for one question, keys prefixed ``session_``.

    Each retrieved turn (dia_id) stands for its session: a gold session counts as found at k when
    any of the top k notes is a turn of it. A note with no known session (no dia_id) matches none.
    """
    ranked_sessions = [session_of.get(ref, _NO_SESSION) for ref in ranked]
    gold = [session_of[e] for e in evidence if e in session_of]
    per_turn = evidence_metrics(ranked_sessions, gold, ks)
    return {f"session_{key}": value for key, value in per_turn.items()}


_NO_SESSION = object()  # stands for a note that maps to no session: equal to no gold session


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (0.0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    idx = max(0, min(len(ordered) - 1, math.ceil(pct / 100 * len(ordered)) - 1))
    return float(ordered[idx])


def aggregate_retrieval(rows: list[dict[str, Any]], ks: Sequence[int] = KS) -> dict[str, Any]:
    """Mean recall@k any/all and MRR over per-question metric dicts (as from ``evidence_metrics``), and
    the session level (``session_recall_any@k``, ..., ``session_mrr``) when every row has it."""
    n = len(rows)
    out: dict[str, Any] = {"n": n}
    prefixes = [""] + (["session_"] if all("session_rr" in r for r in rows) else [])
    for pre in prefixes:
        for k in ks:
            for kind in ("any", "all"):
                out[f"{pre}recall_{kind}@{k}"] = sum(r[f"{pre}{kind}@{k}"] for r in rows) / n if n else 0.0
        out[f"{pre}mrr"] = sum(r[f"{pre}rr"] for r in rows) / n if n else 0.0
    return out


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
