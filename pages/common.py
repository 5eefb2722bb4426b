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


def _insist_on_navigation() -> None:
    """Make a deep link (e.g. a bookmarked /notes?note=ID) opened as a server's first request work.

    Streamlit decides once per process, at the first session, whether the app uses the old
    "pages/ folder" mode, by looking for a folder named ``pages`` beside the main script. Ours is
    that folder (the project layout asks for it) but the app navigates with ``st.navigation``. If the
    first request was a deep link, Streamlit ran the page file alone; we flip the flag and rerun, so
    app.py runs and its navigation serves the same URL.
    """
    try:
        from streamlit.runtime.pages_manager import PagesManager
    except ImportError:  # pragma: no cover - a Streamlit without this internal: nothing to fix
        return
    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


_insist_on_navigation()


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


# ---- showing note text safely ------------------------------------------------------------------
# Note text is data. Where it must go through Markdown (st.markdown, st.caption, labels), every
# ASCII punctuation character is backslash-escaped (CommonMark allows that for all of them), so
# "<script>", "[x](y)", "![img](url)", "**", ":red[...]" or "$x$" show literally and nothing is
# interpreted. Leading spaces become non-breaking ones (an indented line would otherwise become a code
# block that shows the backslashes) and line breaks become hard breaks.
_MD_ESCAPES = {c: "\\" + c for c in "\\`*_{}[]()#+-.!|<>~$:=\"'&^%@/,;?"}


def md_escape(text: str) -> str:
    """Note text made inert for st.markdown: it displays exactly as written."""
    lines = []
    for line in str(text).split("\n"):
        body = line.lstrip(" \t")
        indent = "\u00a0" * (len(line) - len(body))
        lines.append(indent + "".join(_MD_ESCAPES.get(c, c) for c in body.rstrip("\r")))
    return "  \n".join(lines)


def highlight_md(text: str, terms: list[str] | set[str]) -> str:
    """``md_escape(text)`` with the words whose BM25 term is in ``terms`` in bold.

    Terms are the index's stemmed tokens (``Hit.matched_terms``), so "hiking" is bold for the term
    "hike"; matching goes through the same tokenizer as the index.
    """
    from memory_core.lexical import STOPWORDS, TOKEN_RE, stem

    wanted = set(terms)
    if not wanted:
        return md_escape(text)
    out: list[str] = []
    pos = 0
    for m in TOKEN_RE.finditer(text):
        word = m.group(0).lower()
        if word in STOPWORDS or stem(word) not in wanted:
            continue
        out.append(md_escape(text[pos:m.start()]))
        out.append("**" + md_escape(m.group(0)) + "**")
        pos = m.end()
    out.append(md_escape(text[pos:]))
    return "".join(out)


def flash(scope: str, kind: str, text: str) -> None:
    """Queue a message (st.success/info/warning/error/toast) for the page ``scope`` to show after a rerun."""
    st.session_state.setdefault(f"_{scope}_flash", []).append((kind, text))


def show_flash(scope: str) -> None:
    """Show and forget the messages queued for ``scope``."""
    for kind, text in st.session_state.pop(f"_{scope}_flash", []):
        getattr(st, kind)(text)
