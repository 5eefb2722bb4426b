"""Backend 1: a GGUF file loaded in this process by llama-cpp-python."""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, cast

from ...errors import ModelError
from ..locate import resolve_model_path
from ..template import TemplateGuard  # the template's turn markers never reach a reply
from .base import REPEAT_PENALTY, _Base
from .results import AbortCheck, Interrupted, Message

if TYPE_CHECKING:
    from collections.abc import Iterator

    from llama_cpp.llama_types import CreateChatCompletionStreamResponse

PREFILL_CHUNK = 32  # a background call's prompt is read this many tokens at a time (a reply may cut in)


def free_at_exit(owner: object, llama: Any) -> weakref.finalize:
    """Free ``llama`` when ``owner`` is collected, or at exit while the interpreter is still whole.

    Why: left to ``Llama.__del__``, a model held by a module global (``st.cache_resource`` holds
    the app's) is freed during teardown after llama_cpp's globals are cleared, and prints a
    TypeError traceback every time the app stops. Call the returned finalizer to free it early.
    """
    return weakref.finalize(owner, llama.close)


class LocalLLM(_Base):
    """llama-cpp-python's ``Llama`` with the model's own chat template (read from the GGUF).

    One llama context cannot run two generations at once, so calls are serialised by a lock:
    the chat reply and the background memory writer take turns.
    """

    def __init__(self, model_path: str | os.PathLike[str] | None = None, n_ctx: int = 2048,
                 n_threads: int | None = None, seed: int = 42) -> None:
        path = resolve_model_path(model_path)
        try:
            from llama_cpp import Llama
        except ImportError as exc:  # pragma: no cover - install problem
            raise ModelError("llama-cpp-python is not installed; run `make setup`.") from exc
        try:
            self._llm = Llama(model_path=str(path), n_ctx=n_ctx, n_threads=n_threads or os.cpu_count(),
                              seed=seed, verbose=False)
        except Exception as exc:  # llama.cpp raises ValueError/RuntimeError with little detail
            raise ModelError(
                f"llama.cpp could not load {path} ({type(exc).__name__}: {exc}). The file may be "
                "truncated, or a model architecture this llama.cpp build does not know; try another GGUF."
            ) from exc
        self.path = path
        self.name = path.name
        self.n_ctx = self._llm.n_ctx()
        self.seed = seed
        self._lock = threading.RLock()
        self._formatter: Any = None  # the GGUF template's formatter, for the interruptible prefill
        self.guard = TemplateGuard.from_metadata(self._llm.metadata)
        self._free = free_at_exit(self, self._llm)

    def close(self) -> None:
        """Free the model's memory now (idempotent); the object cannot generate afterwards."""
        with self._lock:
            self._free()

    def count_tokens(self, text: str) -> int:
        if not text:
            return 0
        return len(self._llm.tokenize(text.encode("utf-8", "ignore"), add_bos=False, special=False))

    @property
    def llama(self) -> Any:
        """The underlying ``llama_cpp.Llama`` (benchmarks compare against it directly)."""
        return self._llm

    def _complete(self, messages: list[Message], max_tokens: int, temperature: float,
                  response_format: dict[str, Any] | None, stream: bool) -> Any:
        kwargs: dict[str, Any] = dict(messages=messages, max_tokens=max_tokens, temperature=temperature,
                                      repeat_penalty=REPEAT_PENALTY, seed=self.seed, stream=stream)
        if response_format:
            kwargs["response_format"] = response_format
        if not stream:
            with self._lock:
                return self._llm.create_chat_completion(**kwargs)
        return kwargs  # generation starts (under the lock) when the stream is iterated

    def _pieces(self, raw_stream: Any) -> Iterator[str]:
        return self._pieces_info(raw_stream, {})

    def _pieces_info(self, raw_stream: Any, info: dict[str, Any]) -> Iterator[str]:
        return self.guard.filter(self._raw_pieces(raw_stream, info), info)

    def _with_abort(self, raw_stream: Any, abort: AbortCheck | None) -> Any:
        if abort is not None and isinstance(raw_stream, dict):
            raw_stream["_abort"] = abort
        return raw_stream

    def _prefill(self, messages: list[Message], abort: AbortCheck) -> None:
        """Evaluate the prompt in chunks of PREFILL_CHUNK tokens, checking ``abort`` between chunks.

        Why: llama.cpp evaluates a prompt in one uninterruptible call, and a reply that arrives while a
        background call is in its prefill would wait for all of it. The KV cache this leaves is what
        ``create_chat_completion`` then finds as a matching prefix (it evaluates only the last token).
        Best effort: the prompt is formatted like llama-cpp-python's GGUF-template handler; if the
        formats differ, the prefix match is shorter and llama.cpp evaluates the rest (still correct).
        """
        llama = self._llm
        if self._formatter is None:
            if llama.chat_format != "chat_template.default" or "tokenizer.chat_template" not in llama.metadata:
                return
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter

            eos, bos = llama.token_eos(), llama.token_bos()
            self._formatter = Jinja2ChatFormatter(
                template=llama.metadata["tokenizer.chat_template"],
                eos_token=llama._model.token_get_text(eos) if eos != -1 else "",
                bos_token=llama._model.token_get_text(bos) if bos != -1 else "", stop_token_ids=[eos])
        result = self._formatter(messages=messages)
        tokens = llama.tokenize(result.prompt.encode("utf-8"), add_bos=not result.added_special, special=True)
        have = llama.input_ids[:llama.n_tokens].tolist()
        same = 0
        for a, b in zip(have, tokens[:-1], strict=False):
            if a != b:
                break
            same += 1
        llama.n_tokens = same  # eval() drops the KV cache after this point
        todo = tokens[same:-1]
        for i in range(0, len(todo), PREFILL_CHUNK):
            if abort():
                raise Interrupted("stopped while reading the prompt")
            llama.eval(todo[i:i + PREFILL_CHUNK])

    def _raw_pieces(self, raw_stream: Any, info: dict[str, Any]) -> Iterator[str]:
        abort = raw_stream.pop("_abort", None) if isinstance(raw_stream, dict) else None
        with self._lock:
            if abort is not None:
                try:
                    self._prefill(raw_stream["messages"], abort)
                except Interrupted:
                    raise
                except Exception:  # noqa: BLE001 - an optimisation only: generation evaluates the prompt anyway
                    self._llm.n_tokens = 0
            # stream=True: chunks (llama_cpp types the call as returning either a response or chunks)
            chunks = cast("Iterator[CreateChatCompletionStreamResponse]", self._llm.create_chat_completion(**raw_stream))
            for chunk in chunks:
                choice = chunk["choices"][0]
                if choice.get("finish_reason"):
                    info["finish_reason"] = choice["finish_reason"]
                piece = choice.get("delta", {}).get("content")
                if piece and isinstance(piece, str):
                    yield piece
