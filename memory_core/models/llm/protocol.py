"""The ``LLM`` protocol: what the chat and the memory writer call, whichever backend answers.

Both backends (local.py, server.py) and the tests' scripted model satisfy it through ``base._Base``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from .results import AbortCheck, ChatResult, Message, StructuredResult, TokenStream

Validator = Callable[[Any], tuple[dict[str, Any] | None, list[str]]]
Fallback = Callable[[], dict[str, Any]]


class LLM(Protocol):
    name: str
    n_ctx: int

    def count_tokens(self, text: str) -> int: ...
    def chat(self, messages: list[Message], max_tokens: int = 256, temperature: float = 0.7,
             abort: AbortCheck | None = None) -> ChatResult: ...
    def stream(self, messages: list[Message], max_tokens: int = 256, temperature: float = 0.7,
               abort: AbortCheck | None = None, repeat_penalty: float | None = None) -> TokenStream: ...
    def structured(self, messages: list[Message], schema: dict[str, Any], validate: Validator,
                   fallback: Fallback, max_tokens: int = 200, abort: AbortCheck | None = None
                   ) -> StructuredResult: ...
