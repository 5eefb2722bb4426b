"""What every page shares: settings, the store, the models, the background writer, error display.

Models and the store are process-wide (``st.cache_resource``): loading them is slow, and every
browser tab must see the same memory. Errors from memory_core are MemexError with a message written
for the person; ``show_error`` displays it, never a traceback.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import streamlit as st

from memory_core.config import Settings, load_settings
from memory_core.errors import MemexError
from memory_core.explore.insights import memories
from memory_core.explore.render import diff_markdown, escape_markdown, safe_markdown

if TYPE_CHECKING:
    from memory_core.models.embeddings import Embedder
    from memory_core.models.llm import LLM
    from memory_core.store import Store


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
def _embedder(key: tuple[Any, ...], _settings: Settings) -> Embedder:
    from memory_core.models.embeddings import get_embedder

    return get_embedder(_settings)


@st.cache_resource(show_spinner="Opening the memory store...")
def _store(key: tuple[Any, ...], _settings: Settings) -> Store:
    from memory_core.store import MemoryStore

    emb = _embedder((_settings.embedding_backend, _settings.embedding_model_path), _settings)
    return MemoryStore(_settings, emb)


def store(s: Settings | None = None) -> Store:
    """The MemoryStore for the configured data directory (raises MemexError with a clear message)."""
    s = s or settings()
    key = (str(s.home), s.store_backend, s.chroma_host, s.chroma_port, s.embedding_backend, s.embedding_model_path)
    return _store(key, s)


@st.cache_resource(show_spinner="Loading the language model...")
def _llm(key: tuple[Any, ...], _settings: Settings) -> LLM:
    from memory_core.models.llm import get_llm

    return get_llm(_settings)


def llm(s: Settings | None = None) -> LLM:
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
    text = escape_markdown(text) if escape else safe_markdown(text)
    st.error(f"{what}: {text}" if what else text)


def open_store_or_stop() -> Store:
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


def _resume_queued_writes(the_store: Store) -> None:
    from memory_core.chat import ChatSession, ConversationStore, get_writer

    s, sweeps, now = the_store.settings, _last_sweeps(), time.monotonic()
    if now - sweeps.get(str(s.home), -SWEEP_SECONDS) < SWEEP_SECONDS:
        return
    sweeps[str(s.home)] = now
    try:  # the model loads only when a resumed write needs it (get_llm: the same one the Chat page uses)
        ChatSession(the_store, s, None, ConversationStore(s.home), get_writer()).resume_pending()
    except MemexError as exc:
        show_error(exc, "Queued memory writes could not be resumed")
    from memory_core.chat.consolidating import get_consolidator

    get_consolidator(the_store)  # digests and the profile, rebuilt in the background when idle


def flash(scope: str, kind: str, text: str) -> None:
    """Queue a message (st.success/info/warning/error/toast) for the page ``scope`` to show after a rerun."""
    st.session_state.setdefault(f"_{scope}_flash", []).append((kind, text))


def show_flash(scope: str) -> None:
    """Show and forget the messages queued for ``scope``."""
    for kind, text in st.session_state.pop(f"_{scope}_flash", []):
        getattr(st, kind)(safe_markdown(text))  # messages may quote note text or an error about it


# ---- shared widgets: a note card, a diff -------------------------------------------------------
# Written once, used by the Notes page, the Review inbox, the Graph's side panel and the time views.
# Note text goes through st.code (shown as written) or escape_markdown (inert Markdown, the one
# escaper: memory_core.explore.render), never as HTML.
def note_card(note: Any, *, key: str = "", heading: bool = True) -> None:
    """A note's title, provenance line, content (verbatim) and enrichment (keywords, tags, context)."""
    if heading:
        st.subheader(escape_markdown(note.title))
    meta = [f"id `{note.id}`", f"source {escape_markdown(note.source)}"]
    if note.source_ref:
        meta.append(f"ref {escape_markdown(note.source_ref)}")
    meta.append(f"time {escape_markdown(note.timestamp)}")
    meta.append(f"recalled {note.retrieval_count}×" + (f" (last {escape_markdown(note.last_accessed)})"
                                                      if note.last_accessed else ""))
    st.caption(" · ".join(meta))
    if getattr(note, "superseded_by", ""):
        st.info(f"Replaced by note `{escape_markdown(note.superseded_by[:8])}`"
                + (f" since {escape_markdown(note.valid_until)}" if note.valid_until else "") + ".")
    if note.needs_enrichment:
        st.warning("The model could not enrich this note; it is marked for re-enrichment (`memex reenrich`).")
    st.code(note.content, language=None, wrap_lines=True)
    c1, c2 = st.columns(2)
    c1.markdown("**Keywords:** " + (escape_markdown(", ".join(note.keywords)) or "—"))
    c1.markdown("**Tags:** " + (escape_markdown(", ".join(note.tags)) or "—"))
    c2.markdown("**Context:** " + (escape_markdown(note.context) or "—"))
    recall_context = " · ".join(x.strip() for x in getattr(note, "turn_context", "").split("\n") if x.strip())
    st.markdown("**Context used for recall:** " + (escape_markdown(recall_context) if recall_context else
                                                    "— (none: the note is found by its own words)"),
                help="What was said before this note, and when: search also matches the note through it. "
                     "Only your own words, never Memex's replies.")
    note_episode(note)


def note_episode(note: Any) -> None:
    """The episode a chat note came from: its conversation, the day, and the turns around the message
    (as text), with a link that opens that conversation on the Chat page."""
    from memory_core.episodes.conversations import ConversationStore
    from memory_core.episodes.segments import episode_of

    cid, mid = getattr(note, "conversation_id", ""), getattr(note, "message_id", "")
    found = episode_of(ConversationStore(settings().home), cid, mid) if cid and mid else None
    if found is None:
        return
    title, turns = found
    who = {"user": "You", "assistant": "Memex"}
    day = next((t.day for t in turns if t.message_id == mid), "")
    lines = [("**" if t.message_id == mid else "") + escape_markdown(f"{who.get(t.role, t.role)}: {t.text[:300]}")
             + ("**" if t.message_id == mid else "") for t in turns]
    c1, c2 = st.columns([4, 1], vertical_alignment="center")
    c1.markdown(f"**From the conversation** “{escape_markdown(title or '(untitled)')}”"
                + (f" on {escape_markdown(day)}" if day else "") + ":  \n" + "  \n".join(lines))
    c2.page_link("pages/chat.py", label="Open the conversation", icon="💬", query_params={"conversation": cid})


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
            lines.append("**added:** " + ", ".join(f":green-background[{escape_markdown(x)}]" for x in diff.added))
        if diff.removed:
            lines.append("**removed:** " + ", ".join(f":red-background[~~{escape_markdown(x)}~~]" for x in diff.removed))
        if lines:
            st.markdown("  \n".join(lines))
    if not whole and diff.kind != "value" and diff.old_text and diff.new_text:
        return
    before, after = st.columns(2)
    before.caption("before")
    before.code(diff.old_text, language=None, wrap_lines=True)
    after.caption("after")
    after.code(diff.new_text, language=None, wrap_lines=True)


def text_and_buttons() -> Any:
    """A row for a line of text (or an expander) followed by its buttons, each button as wide as its label.

    Why not ``st.columns([5, 1])``: a column's width is a fixed share of the page, so at a narrow window
    (or inside an expander) the button's label was cut to "Re…" or "W" (a browser trial found this
    on the Chat page's Why buttons). Here the text takes what the buttons leave, and when the row is too
    narrow for both the buttons wrap onto a line of their own instead of being cut.
    """
    return st.container(horizontal=True, vertical_alignment="center", gap="small")


def text_part(row: Any, key: str) -> Any:
    """The text's place in a ``text_and_buttons`` row: it takes the room the buttons leave, but not less than
    the minimum in assets/app.css (its key says so), below which the buttons move to the next line."""
    return row.container(width="stretch", key=f"textpart_{key}")


def memory_size(store: Any) -> int:
    """How many notes the person has: Memex's digests and profile lines are summaries of them, not more
    notes (as ``store.stats()`` and Insights count; a consolidation of 3 notes read "9 notes in memory")."""
    return len(memories(store.notes_view()))
