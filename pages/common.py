"""What every page shares: settings, the store, the models, the background writer, error display.

Models and the store are process-wide (``st.cache_resource``): loading them is slow, and every
browser tab must see the same memory. Errors from memory_core are MemexError with a message written
for the person; ``show_error`` displays it, never a traceback.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from memory_core.config import Settings, load_settings
from memory_core.errors import MemexError


def settings() -> Settings:
    """Current settings, read from the data directory's settings.json on every run (cheap)."""
    return load_settings()


@st.cache_resource(show_spinner="Loading the embedding model...")
def _embedder(key: tuple[Any, ...], _settings: Settings) -> Any:
    from memory_core.embeddings import get_embedder

    return get_embedder(_settings)


@st.cache_resource(show_spinner="Opening the memory store...")
def _store(key: tuple[Any, ...], _settings: Settings) -> Any:
    from memory_core.store import MemoryStore

    emb = _embedder((_settings.embedding_backend, _settings.embedding_model_path), _settings)
    return MemoryStore(_settings, emb)


def store(s: Settings | None = None) -> Any:
    """The MemoryStore for the configured data directory (raises MemexError with a clear message)."""
    s = s or settings()
    key = (str(s.home), s.store_backend, s.chroma_host, s.chroma_port, s.embedding_backend, s.embedding_model_path)
    return _store(key, s)


@st.cache_resource(show_spinner="Loading the language model...")
def _llm(key: tuple[Any, ...], _settings: Settings) -> Any:
    from memory_core.llm import get_llm

    return get_llm(_settings)


def llm(s: Settings | None = None) -> Any:
    """The language model for these settings, loaded once per process."""
    s = s or settings()
    key = (s.llm_backend, s.model_path, s.server_url, s.n_ctx, s.threads, s.seed)
    return _llm(key, s)


def show_error(exc: BaseException, what: str = "") -> None:
    """A MemexError's own message; anything else as a short, honest line (no traceback)."""
    prefix = f"{what}: " if what else ""
    if isinstance(exc, MemexError):
        st.error(prefix + str(exc))
    else:
        st.error(f"{prefix}unexpected {type(exc).__name__}: {exc}")


def open_store_or_stop() -> Any:
    """The store, or an error message and ``st.stop()`` when the data directory cannot be used."""
    try:
        return store()
    except MemexError as exc:
        show_error(exc, "The memory store cannot be opened")
        st.stop()
