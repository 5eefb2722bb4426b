"""One model per process: loading a GGUF takes seconds and hundreds of MB, so it happens once."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from ..locate import resolve_model_path
from .base import _Base
from .local import LocalLLM
from .server import ServerLLM

if TYPE_CHECKING:
    from ...config import Settings

_CACHE: dict[tuple[Any, ...], _Base] = {}
_CACHE_LOCK = threading.Lock()


def get_llm(settings: Settings) -> _Base:
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
