"""Rows the Insights page plots from saved LoCoMo results: recall@k per retriever and category, and
answer quality per category.

Why apart from the runner: the page reads saved results and needs none of the running.
"""

from __future__ import annotations

from typing import Any

from .locomo_metrics import KS


def recall_rows(results: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Long-format rows for plotting recall@k: one per retriever x category ("overall" too) x k.

    Each row: retriever, category ("overall" or the category name), category_id (0 = overall), k,
    recall_any, recall_all, mrr (turn level), session_any, session_all (session level; None in results
    saved before it was measured), n. Empty for missing or foreign results.
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
                             "session_any": agg.get(f"session_recall_any@{k}"),
                             "session_all": agg.get(f"session_recall_all@{k}"), "n": agg["n"]})
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
