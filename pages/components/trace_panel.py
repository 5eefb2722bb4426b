"""What a reply (or a query) recalled: finding the trace from the URL, and its table.

``?trace=<conversation id>:<message id>`` names a saved chat reply (the Chat page links here);
``?query=<text>`` runs that search now (the Search page links here). Either becomes a
``memory_core.retrieval.trace.Trace``; the table shows rank, score, each signal and the note it was reached
from, as dataframe cells (text, never HTML).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
import streamlit as st

from memory_core.errors import MemexError
from memory_core.explore.render import escape_markdown
from memory_core.explore.wording import agree, count
from memory_core.notes import Note
from memory_core.retrieval import RETRIEVERS
from memory_core.retrieval import trace as tr
from memory_core.retrieval.timespan import TimeSpan
from pages.common import settings
from pages.components.explain_panel import explain_panel

TRACE_K = 10


def _conversations() -> Any:
    from memory_core.chat import ConversationStore

    return ConversationStore(settings().home)


def from_reply(param: str, notes: Mapping[str, Note]) -> tr.Trace:
    """The trace of a saved chat reply; MemexError with a readable message when it cannot be found."""
    cid, mid = tr.parse_param(param)
    conv = _conversations().load(cid)
    message = conv.message(mid)
    if message is None:
        from memory_core.errors import NotFoundError

        raise NotFoundError("That reply is no longer in the conversation (it may have been deleted).")
    trace = tr.from_message(message, notes)
    trace.source = f"chat reply in “{conv.title or 'a conversation'}”"
    return trace


def from_query(store: Any, query: str, notes: Mapping[str, Note], k: int = TRACE_K,
               retriever: str | None = None) -> tr.Trace:
    """Run a search now (without counting it as a recall) and return its trace."""
    from memory_core.retrieval import search

    hits = search(store, settings(), query, max(1, min(50, k)), retriever=retriever if retriever in RETRIEVERS
                  else None, touch=False)
    trace = tr.from_hits(hits, query, source="this search")
    for e in trace.entries:
        e.missing = e.id not in notes
    return trace


def incoming_trace(store: Any, notes: Mapping[str, Note]) -> tr.Trace | None:
    """The trace the URL asks for (``trace`` or ``query``), or None. Problems are shown, not raised."""
    param = st.query_params.get("trace")
    query = st.query_params.get("query")
    try:
        if param:
            return from_reply(param, notes)
        if query and query.strip():
            k = st.query_params.get("k", "")
            return from_query(store, query, notes, int(k) if k.isdigit() else TRACE_K,
                              st.query_params.get("retriever"))
    except MemexError as exc:
        st.error(f"Cannot show this trace: {escape_markdown(str(exc))}")
    return None


def trace_table(trace: tr.Trace, notes: Mapping[str, Note], key: str) -> None:
    def title_of(nid: str) -> str:
        return notes[nid].title if nid in notes else f"{nid[:8]} (deleted)"

    df = pd.DataFrame(tr.rows(trace, title_of))
    config = {name: st.column_config.ProgressColumn(label, min_value=0.0, max_value=1.0, format="%.2f")
              for name, label in tr.SIGNALS.items()}
    config["score"] = st.column_config.NumberColumn("score", format="%.3f")
    config["via"] = st.column_config.TextColumn("reached from", help="link / graph expansion from this note")
    st.dataframe(df, hide_index=True, width="stretch", column_config=config, key=key)
    missing = sum(1 for e in trace.entries if e.missing)
    if missing:
        st.caption(f"{count(missing, 'recalled note')} {agree(missing, 'has', 'have')} been deleted since; "
                   f"{agree(missing, 'it is', 'they are')} listed but not drawn.")


def trace_explain(store: Any, notes: Mapping[str, Note], trace: tr.Trace) -> None:
    """"Why (not) this note?" for the trace's question: its recalled notes first, any other note too.

    A reply is explained the chat's way (its retriever, its k, its relevance floor) against the
    memory as it is now; a search with the URL's k and retriever."""
    if not trace.query.strip():
        st.caption("This reply was saved without its question, so there is nothing to explain it against.")
        return
    span = None
    if st.query_params.get("trace"):
        k, retriever, chat = None, None, True
        span = _saved_span(str(st.query_params.get("trace")))
        st.caption("Explained the chat's way (its retriever, k, the time span it read and its relevance floor) "
                   "against the memory as it is now: if notes changed since the reply, ranks may differ from "
                   "the trace's.")
    else:
        k_param = st.query_params.get("k", "")
        k = max(1, min(50, int(k_param))) if k_param.isdigit() else TRACE_K
        wanted = st.query_params.get("retriever")
        retriever, chat = (wanted if wanted in RETRIEVERS else None), False
    explain_panel(store, notes, trace.query, first=trace.present_ids, key="trace_explain", k=k,
                  retriever=retriever, chat=chat, span=span)


def _saved_span(param: str) -> TimeSpan | None:
    """The time span the chat read in the reply's question, as saved with the reply (None: none, or
    the reply cannot be read: the trace above already says why)."""
    try:
        cid, mid = tr.parse_param(param)
        message = _conversations().load(cid).message(mid)
    except MemexError:
        return None
    return TimeSpan.from_dict(message.get("time_span")) if message else None


def trace_header(trace: tr.Trace) -> None:
    st.info(f"**What {escape_markdown(trace.source or 'this search')} used** — query: "
            f"“{escape_markdown(trace.query or '(not saved)')}”. {count(len(trace.entries), 'recalled note')} "
            f"{agree(len(trace.entries), 'is', 'are')} highlighted "
            "with their rank and score (gold border); the rest of the graph is faded."
            + (f" Time read from the message: {escape_markdown(trace.span)}; notes inside it ranked first."
               if trace.span else ""), icon="🧭")
