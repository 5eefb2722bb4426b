"""Test doubles: a scripted LLM for control-flow tests, and a cheap deterministic embedder.

The scripted LLM goes through the real ``_Base`` logic (trimming, validation, retry, fallback);
only the model call itself is replaced.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from memory_core.models.llm import _Base

Step = str | BaseException | Callable[[list[dict[str, str]], dict[str, Any] | None], str]


class ScriptedLLM(_Base):
    """Answers each call with the next scripted step: a string, an exception to raise, or a function."""

    def __init__(self, script: list[Step] | None = None, default: str = "{}", n_ctx: int = 2048) -> None:
        self.script = list(script or [])
        self.default = default
        self.n_ctx = n_ctx
        self.name = "scripted"
        self.calls: list[dict[str, Any]] = []

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def _next(self, messages: list[dict[str, str]], response_format: dict[str, Any] | None) -> str:
        self.calls.append({"messages": messages, "response_format": response_format})
        step = self.script.pop(0) if self.script else self.default
        if isinstance(step, BaseException):
            raise step
        if callable(step):
            return step(messages, response_format)
        return step

    def _complete(self, messages, max_tokens, temperature, response_format, stream):  # type: ignore[override]
        text = self._next(messages, response_format)
        if stream:
            return text
        return {"choices": [{"message": {"content": text}}],
                "usage": {"prompt_tokens": sum(len(m["content"].split()) for m in messages),
                          "completion_tokens": len(text.split())}}

    def _pieces(self, raw_stream: Any) -> Iterator[str]:
        words = str(raw_stream).split(" ")
        for i, word in enumerate(words):
            yield word if i == len(words) - 1 else word + " "


def offered_ids(response_format: dict[str, Any] | None) -> list[str]:
    """The neighbour ids a link/evolve schema admits (its enum)."""
    schema = (response_format or {}).get("schema", {})
    return schema["properties"]["links"]["items"]["properties"]["id"]["enum"]


def enrichment(keywords: list[str], context: str, tags: list[str]) -> str:
    return json.dumps({"keywords": keywords, "context": context, "tags": tags})


class HashEmbedder:
    """Deterministic 64-d unit vectors from word hashes: similar word sets give similar vectors."""

    name = "hash"
    dim = 64

    def embed(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in text.lower().split():
                h = int(hashlib.md5(word.encode()).hexdigest(), 16)
                out[i, h % self.dim] += 1.0
            norm = np.linalg.norm(out[i]) or 1.0
            out[i] /= norm
        return out
