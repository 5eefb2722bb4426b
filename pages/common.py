"""What every page shares: settings, the store, the models, the background writer, error display.

Models and the store are process-wide (``st.cache_resource``): loading them is slow, and every
browser tab must see the same memory. Errors from memory_core are MemexError with a message written
for the person; ``show_error`` displays it, never a traceback.
"""

from __future__ import annotations

import re
import time
from typing import Any

import streamlit as st

from memory_core.config import Settings, load_settings
from memory_core.errors import MemexError
from memory_core.explore.render import safe_markdown


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
    from memory_core.models.embeddings import get_embedder

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
    from memory_core.models.llm import get_llm

    return get_llm(_settings)


def llm(s: Settings | None = None) -> Any:
    """The language model for these settings, loaded once per process."""
    s = s or settings()
    key = (s.llm_backend, s.model_path, s.server_url, s.n_ctx, s.threads, s.seed)
    return _llm(key, s)


def show_error(exc: BaseException, what: str = "", *, escape: bool = False) -> None:
    """An error as one line, never a traceback.

    ``escape=True`` makes the message inert Markdown: use it whenever the message may quote a file's
    or a note's own text (imports, edits). Without it the message still goes through ``safe_markdown``:
    an id taken from the URL (``?note=...``) ends up in "No note with id ..." and must not be able to
    make the browser fetch an image. ``what`` is the page's own words.
    """
    text = str(exc) if isinstance(exc, MemexError) else f"unexpected {type(exc).__name__}: {exc}"
    text = md_escape(text) if escape else safe_markdown(text)
    st.error(f"{what}: {text}" if what else text)


def open_store_or_stop() -> Any:
    """The store, or an error message and ``st.stop()`` when the data directory cannot be used.

    Opening it also resumes the memory writes left queued on disk (by ``memex chat``, a closed tab, an
    earlier run of the app): at the app's start and then at most every ``SWEEP_SECONDS``."""
    try:
        the_store = store()
    except MemexError as exc:
        show_error(exc, "The memory store cannot be opened")
        st.stop()
    _resume_queued_writes(the_store)
    return the_store


SWEEP_SECONDS = 15.0


@st.cache_resource
def _last_sweeps() -> dict[str, float]:
    return {}


def _resume_queued_writes(the_store: Any) -> None:
    from memory_core.chat import ChatSession, ConversationStore, get_writer

    s, sweeps, now = the_store.settings, _last_sweeps(), time.monotonic()
    if now - sweeps.get(str(s.home), -SWEEP_SECONDS) < SWEEP_SECONDS:
        return
    sweeps[str(s.home)] = now
    try:  # the model loads only when a resumed write needs it (get_llm: the same one the Chat page uses)
        ChatSession(the_store, s, None, ConversationStore(s.home), get_writer()).resume_pending()
    except MemexError as exc:
        show_error(exc, "Queued memory writes could not be resumed")


# ---- showing note text safely ------------------------------------------------------------------
# Note text is data. Where it must go through Markdown (st.markdown, st.caption, labels), every
# ASCII punctuation character is backslash-escaped (CommonMark allows that for all of them), so
# "<script>", "[x](y)", "![img](url)", "**", ":red[...]" or "$x$" show literally and nothing is
# interpreted. Leading spaces become non-breaking ones (an indented line would otherwise become a code
# block that shows the backslashes) and line breaks become hard breaks.
_MD_ESCAPES = {c: "\\" + c for c in "\\`*_{}[]()#+-.!|<>~$:=\"'&^%@/,;?"}


# Escapes do not stop GFM's autolinks: Streamlit's Markdown turns "http\:\/\/x", "www\.x" and
# "a\@b\.c" into links after decoding the escapes (seen in Chromium). An invisible word joiner
# (U+2060) inside "://", after "www" and before "@" breaks the pattern; the text looks the same.
_NO_AUTOLINK = [(re.compile(r"\\:\\/\\/"), "\\:\u2060\\/\\/"), (re.compile(r"(?i)\b(www)\\\."), "\\1\u2060\\."),
                (re.compile(r"\\@"), "\u2060\\@")]


def md_escape(text: str) -> str:
    """Note text made inert for st.markdown: it displays exactly as written, and nothing becomes a link."""
    lines = []
    for line in str(text).split("\n"):
        body = line.lstrip(" \t")
        indent = "\u00a0" * (len(line) - len(body))
        lines.append(indent + "".join(_MD_ESCAPES.get(c, c) for c in body.rstrip("\r")))
    out = "  \n".join(lines)
    for pattern, repl in _NO_AUTOLINK:
        out = pattern.sub(repl, out)
    return out


def highlight_md(text: str, terms: list[str] | set[str]) -> str:
    """``md_escape(text)`` with the words whose BM25 term is in ``terms`` in bold.

    Terms are the index's stemmed tokens (``Hit.matched_terms``), so "hiking" is bold for the term
    "hike"; matching goes through the same tokenizer as the index.
    """
    from memory_core.store.lexical import STOPWORDS, TOKEN_RE, stem

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
        getattr(st, kind)(safe_markdown(text))  # messages may quote note text or an error about it


# ---- shared widgets: a note card, a diff -------------------------------------------------------
# Written once, used by the Notes page, the Review inbox, the Graph's side panel and the time views.
# Note text goes through st.code (shown as written) or md_escape (inert Markdown), never as HTML.
def note_card(note: Any, *, key: str = "", heading: bool = True) -> None:
    """A note's title, provenance line, content (verbatim) and enrichment (keywords, tags, context)."""
    if heading:
        st.subheader(md_escape(note.title))
    meta = [f"id `{note.id}`", f"source {md_escape(note.source)}"]
    if note.source_ref:
        meta.append(f"ref {md_escape(note.source_ref)}")
    meta.append(f"time {md_escape(note.timestamp)}")
    meta.append(f"recalled {note.retrieval_count}×" + (f" (last {md_escape(note.last_accessed)})"
                                                      if note.last_accessed else ""))
    st.caption(" · ".join(meta))
    if getattr(note, "superseded_by", ""):
        st.info(f"Replaced by note `{md_escape(note.superseded_by[:8])}`"
                + (f" since {md_escape(note.valid_until)}" if note.valid_until else "") + ".")
    if note.needs_enrichment:
        st.warning("The model could not enrich this note; it is marked for re-enrichment (`memex reenrich`).")
    st.code(note.content, language=None, wrap_lines=True)
    c1, c2 = st.columns(2)
    c1.markdown("**Keywords:** " + (md_escape(", ".join(note.keywords)) or "—"))
    c1.markdown("**Tags:** " + (md_escape(", ".join(note.tags)) or "—"))
    c2.markdown("**Context:** " + (md_escape(note.context) or "—"))


def _marked(text: str, mark: str) -> str:
    """Escaped text inside a colour mark, line by line (a mark cannot span lines), spaces kept outside."""
    out = []
    for line in text.split("\n"):
        core = line.strip()
        if not core:
            out.append(md_escape(line))
            continue
        lead, trail = line[:len(line) - len(line.lstrip())], line[len(line.rstrip()):]
        out.append(md_escape(lead) + mark.replace("TEXT", md_escape(core)) + md_escape(trail))
    return "  \n".join(out)


def diff_markdown(segments: list[Any]) -> str:
    """A word diff as inert Markdown: removed words struck through in red, added ones in green."""
    parts = []
    for seg in segments:
        if seg.op == "equal":
            parts.append(md_escape(seg.text))
        elif seg.op == "delete":
            parts.append(_marked(seg.text, ":red-background[~~TEXT~~]"))
        else:
            parts.append(_marked(seg.text, ":green-background[TEXT]"))
    return "".join(parts)


def diff_view(diff: Any, *, whole: bool = True) -> None:
    """One field's before/after (a ``memory_core.explore.diff.FieldDiff``): the changes, then both values as text.

    ``whole=False`` shows only the changes (for long lists of diffs, e.g. "what changed since").
    """
    if diff.kind == "text":
        if diff.old_text and diff.new_text:
            st.markdown(diff_markdown(diff.segments))
    elif diff.kind == "list":
        lines = []
        if diff.added:
            lines.append("**added:** " + ", ".join(f":green-background[{md_escape(x)}]" for x in diff.added))
        if diff.removed:
            lines.append("**removed:** " + ", ".join(f":red-background[~~{md_escape(x)}~~]" for x in diff.removed))
        if lines:
            st.markdown("  \n".join(lines))
    if not whole and diff.kind != "value" and diff.old_text and diff.new_text:
        return
    before, after = st.columns(2)
    before.caption("before")
    before.code(diff.old_text, language=None, wrap_lines=True)
    after.caption("after")
    after.code(diff.new_text, language=None, wrap_lines=True)
