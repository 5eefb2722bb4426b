"""What both backends share: streaming with an abort check, and structured (JSON) calls that are
bounded, validated, retried once and then answered by a fallback.

Why: tiny models misbehave (repeat one word until the token cap, invent junk tags), so a caller of
``structured`` always gets a usable value and never an exception; a backend only says how to start
a completion and how to read its pieces.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

from .protocol import Fallback, Validator
from .results import (
    AbortCheck,
    ChatResult,
    Interrupted,
    Message,
    StructuredResult,
    TokenStream,
    TrimReport,
    Usage,
)
from .trim import fit_messages

REPEAT_PENALTY = 1.15


class _Base:
    name: str = "llm"
    n_ctx: int = 2048
    seed: int = 42

    # subclasses provide these three
    def count_tokens(self, text: str) -> int:  # pragma: no cover - overridden
        raise NotImplementedError

    def _complete(self, messages: list[Message], max_tokens: int, temperature: float,
                  response_format: dict[str, Any] | None, stream: bool) -> Any:  # pragma: no cover
        raise NotImplementedError

    def _pieces(self, raw_stream: Any) -> Iterator[str]:  # pragma: no cover
        raise NotImplementedError

    def _pieces_info(self, raw_stream: Any, info: dict[str, Any]) -> Iterator[str]:
        """``_pieces`` that also records ``info["finish_reason"]``; backends that know it override this."""
        return self._pieces(raw_stream)

    def _with_abort(self, raw_stream: Any, abort: AbortCheck | None) -> Any:
        """Give a backend the abort check for its prompt evaluation too (the local one checks it between
        chunks of the prompt); by default the check runs per token only (TokenStream)."""
        return raw_stream

    # -- context fitting ------------------------------------------------------------------
    def fit_messages(self, messages: list[Message], max_tokens: int) -> tuple[list[Message], TrimReport]:
        """Cut a prompt so prompt + reply fit in n_ctx (see ``trim.fit_messages``)."""
        return fit_messages(messages, max_tokens, self.n_ctx, self.count_tokens)

    # -- public calls -------------------------------------------------------------------------
    def chat(self, messages: list[Message], max_tokens: int = 256, temperature: float = 0.7,
             abort: AbortCheck | None = None, repeat_penalty: float | None = None) -> ChatResult:
        stream = self.stream(messages, max_tokens=max_tokens, temperature=temperature, abort=abort,
                             repeat_penalty=repeat_penalty)
        text = "".join(stream)
        return ChatResult(text=text, usage=stream.usage, trim=stream.trim)

    def stream(self, messages: list[Message], max_tokens: int = 256, temperature: float = 0.7,
               abort: AbortCheck | None = None, repeat_penalty: float | None = None) -> TokenStream:
        """``repeat_penalty`` (default REPEAT_PENALTY): 1.0 for answers that should repeat the prompt's
        words (a fact quoted from memory), since llama.cpp's penalty also counts the prompt's tokens."""
        msgs, trim = self.fit_messages(messages, max_tokens)
        usage = Usage(calls=1, prompt_tokens=trim.prompt_tokens)
        started = time.perf_counter()
        raw = self._complete(msgs, max_tokens, temperature, None, stream=True)
        if repeat_penalty is not None and isinstance(raw, dict) and "repeat_penalty" in raw:
            raw["repeat_penalty"] = float(repeat_penalty)
        raw = self._with_abort(raw, abort)
        info: dict[str, Any] = {}
        return TokenStream(self._pieces_info(raw, info), usage, trim, started, info=info, max_tokens=max_tokens,
                           abort=abort)

    def structured(self, messages: list[Message], schema: dict[str, Any], validate: Validator,
                   fallback: Fallback, max_tokens: int = 200, abort: AbortCheck | None = None) -> StructuredResult:
        """JSON constrained by ``schema`` (llama.cpp grammar), checked by ``validate``.

        Attempt 1 at temperature 0.2, attempt 2 at 0 with the problems spelled out; if both fail,
        ``fallback()``. Model errors (timeouts, HTTP errors, crashes) count as failed attempts.
        With ``abort``, the answer is streamed and ``abort()`` checked at every token: when it says
        stop, ``Interrupted`` propagates (no fallback; the caller retries the whole call later).
        """
        usage = Usage()
        problems: list[str] = []
        raws: list[str] = []
        msgs, trim = self.fit_messages(messages, max_tokens)
        for attempt, temperature in enumerate((0.2, 0.0)):
            call_msgs = msgs
            if attempt and problems:
                call_msgs = [*msgs, {"role": "user", "content":
                                     "Your previous answer was rejected: " + "; ".join(problems[-3:])
                                     + ". Answer again with valid JSON taken from the text."}]
                call_msgs, _ = self.fit_messages(call_msgs, max_tokens)
            started = time.perf_counter()
            try:
                text, prompt_toks, completion_toks = self._complete_json(call_msgs, schema, max_tokens, temperature,
                                                                         abort)
            except Interrupted:
                raise
            except Exception as exc:  # noqa: BLE001 - any model failure is an attempt that failed
                usage.add(Usage(calls=1, seconds=time.perf_counter() - started))
                problems.append(f"model error: {type(exc).__name__}: {exc}"[:300])
                continue
            usage.add(Usage(1, prompt_toks, completion_toks, time.perf_counter() - started))
            raws.append(text)
            try:
                data = json.loads(text)
            except json.JSONDecodeError as exc:
                problems.append(f"invalid JSON ({exc.msg} at char {exc.pos})")
                continue
            value, found = validate(data)
            problems.extend(found)
            if value is not None:
                return StructuredResult(value, "model" if attempt == 0 else "model-retry", usage,
                                        problems, raws, trim)
        try:
            value = fallback()
        except Exception as exc:  # noqa: BLE001 - the contract is: never raise to the caller
            problems.append(f"fallback failed: {exc}")
            value = {}
        return StructuredResult(value, "fallback", usage, problems, raws, trim)

    def _complete_json(self, msgs: list[Message], schema: dict[str, Any], max_tokens: int,
                       temperature: float, abort: AbortCheck | None = None) -> tuple[str, int, int]:
        response_format = {"type": "json_object", "schema": schema}
        if abort is not None:  # streamed, so that it can stop at any token
            raw = self._with_abort(self._complete(msgs, max_tokens, temperature, response_format, stream=True), abort)
            stream = TokenStream(self._pieces_info(raw, {}), Usage(), TrimReport(), time.perf_counter(),
                                 abort=abort)
            text = "".join(stream)
            return text, sum(self.count_tokens(m["content"]) + 6 for m in msgs), stream.usage.completion_tokens
        out = self._complete(msgs, max_tokens, temperature, response_format, stream=False)
        text = out["choices"][0]["message"]["content"] or ""
        usage = out.get("usage") or {}
        return text, int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0))
