"""Is the configured model capable enough to change existing notes on its own?

Why by size: the issue's trial showed SmolLM2-135M rewriting older notes with other notes' text;
grammar-bounded JSON makes its answers well-formed, not right. We read the parameter count from the
model's name (GGUF files and servers name it: "SmolLM2-135M-Instruct", "qwen2.5-7b-instruct") and
treat models from ``MIN_CAPABLE_B`` billion parameters up as capable. Unknown size: not capable
(its proposals wait for the person, which is safe).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..models.llm import LLM

MIN_CAPABLE_B = 3.0
_SIZE_RE = re.compile(r"(?<![a-z0-9])(\d+(?:\.\d+)?)\s*([mb])(?![a-z])", re.IGNORECASE)


def parameter_billions(name: str) -> float | None:
    """Largest "<n>M"/"<n>B" in the name, in billions; None when the name gives no size."""
    sizes = [float(n) / (1000.0 if unit.lower() == "m" else 1.0) for n, unit in _SIZE_RE.findall(name or "")]
    return max(sizes) if sizes else None


def model_is_capable(llm: LLM) -> bool:
    size = parameter_billions(str(getattr(llm, "name", "")))
    return size is not None and size >= MIN_CAPABLE_B


def model_label(llm: LLM) -> str:
    """A short name for ``proposed_by`` ("evolver:SmolLM2-135M-Instruct")."""
    name = str(getattr(llm, "name", "model"))
    name = re.sub(r"\.gguf$", "", name.rsplit("/", 1)[-1], flags=re.IGNORECASE)
    return name[:60] or "model"
