"""Backend 2: a llama.cpp server (OpenAI-compatible HTTP), e.g. ``python -m llama_cpp.server``."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

from ...errors import ModelError
from .base import REPEAT_PENALTY, _Base
from .results import Message


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
