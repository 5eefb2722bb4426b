"""Search page: ask the memory what it holds, and see *why* each note came back.

The search runs on every page run against the store as it is now (no caching), so an edit made
on another page or by the chat's background writer shows at once. A note counts as "recalled"
(last_accessed, retrieval_count) only when a query is submitted, not on every rerun of the page.
Note text is shown through ``escape_markdown``/``explore.snippets``: every punctuation character is escaped,
so it is never interpreted as HTML or Markdown (stricter than ``render.safe_markdown``), and matched
words are in bold. Each result shows its trace: rank, score and the signals that put it there
(``memory_core.retrieval.trace``); "Show on the graph" draws the same trace on the Graph page (``?query=``).
"Why (not) this note?" explains any note for the query, recalled or not (``retrieval.explain``).
"""

from __future__ import annotations

import streamlit as st

from memory_core.errors import MemexError
from memory_core.explore.render import escape_markdown
from memory_core.explore.snippets import search_snippet
from memory_core.explore.wording import count
from memory_core.retrieval import RETRIEVERS, search
from memory_core.retrieval import trace as tr
from pages.common import memory_size, open_store_or_stop, settings, show_error, text_and_buttons, text_part
from pages.components.explain_panel import explain_panel
from pages.components.trace_panel import trace_table

EXPLAIN_KEY = "search_explain"
RETRIEVER_HELP = {
    "recall": "the chat's recall: contextual, plus the words of a speaker the question names first, a token-level "
              "rerank and a step to notes sharing a name",
    "contextual+ppr": "contextual, plus a PageRank walk over the names the notes share",
    "contextual": "BM25 and MiniLM on each note and on the note with what was said before it",
    "hybrid+links": "BM25 and MiniLM similarity blended, plus the notes linked to the top hits",
    "hybrid": "BM25 and MiniLM similarity blended",
    "bm25": "lexical only: shared words (names, dates, rare words)",
    "dense": "meaning only: MiniLM embedding similarity",
}


def open_in(note_id: str, page: str) -> None:
    st.session_state["focus_note"] = note_id
    st.switch_page(page)


st.title("🔎 Search")
s = settings()
store = open_store_or_stop()

default_retriever = "hybrid+links" if s.link_expansion else "hybrid"
with st.form("search_form", border=False):
    c_query, c_k, c_ret = st.columns([6, 1, 2])
    query = c_query.text_input("Query", key="search_query", placeholder="What do you want to recall?")
    k = c_k.number_input("k", min_value=1, max_value=50, value=max(1, min(50, s.recall_k or 5)), key="search_k")
    retriever = c_ret.selectbox("Retriever", RETRIEVERS, index=RETRIEVERS.index(default_retriever),
                                key="search_retriever",
                                help="\n".join(f"- **{name}**: {text}" for name, text in RETRIEVER_HELP.items()))
    st.form_submit_button("Search", type="primary")

st.caption(f"{count(memory_size(store), 'note')} in memory · {RETRIEVER_HELP[retriever]}")

if not query.strip():
    st.info("Type a query and press Enter. Results show their score, why they were returned, and the "
            "matched words in bold.")
    st.stop()

if not len(store):
    st.info("The memory is empty: chat, add a note on the Notes page, or import a file first.")
    st.stop()

signature = (query, int(k), retriever)
fresh_query = st.session_state.get("_search_last") != signature
try:
    hits = search(store, s, query, int(k), retriever=retriever, touch=fresh_query)
except MemexError as exc:
    show_error(exc, "Search failed")
    st.stop()
st.session_state["_search_last"] = signature

notes = store.notes_view()


def why_panel(first: list[str]) -> None:
    """"Why (not) this note?" for this query, k and retriever: any note, recalled or not."""
    with st.expander("Why (not) this note? Pick any note, recalled or not",
                     expanded=bool(st.session_state.get(f"{EXPLAIN_KEY}_pick"))):
        explain_panel(store, notes, query, first=first, key=EXPLAIN_KEY, k=int(k), retriever=retriever)


def explain_this(note_id: str) -> None:
    st.session_state[f"{EXPLAIN_KEY}_pick"] = note_id
    st.session_state[f"{EXPLAIN_KEY}_find"] = ""


if not hits:
    st.warning("No note matches. Try other words, or the dense retriever for matches by meaning.")
    why_panel([])
    st.stop()

trace = tr.from_hits(hits, query)
heading = text_and_buttons()
heading.subheader(count(len(hits), "result"), width="stretch")
if heading.button("Show on the graph", icon="🧭", key="search_trace_graph",
                  help="Draw these results on the Graph page: highlighted with rank and score, the rest faded."):
    st.switch_page("pages/graph.py", query_params={"query": query, "k": str(int(k)), "retriever": retriever})
with st.expander("Why these notes: the recall trace (rank, score, signals)"):
    trace_table(trace, notes, key="search_trace_table")
why_panel([h.note.id for h in hits])
for rank, hit in enumerate(hits, start=1):
    note = hit.note
    with st.container(border=True, key=f"hit_{rank}"):
        row = text_and_buttons()
        head = text_part(row, f"hit_{rank}")
        buttons = row.container(horizontal=True, width="content", gap="small")  # they wrap together
        head.markdown(f"**{rank}.** {escape_markdown(note.title)}")
        kind = {"linked": "🔗 linked", "lexical+dense": "🔤+🧭 lexical + dense", "lexical": "🔤 lexical",
                "dense": "🧭 dense"}[hit.kind]
        head.caption(f"score {hit.score:.3f} · {kind} · {escape_markdown(note.timestamp[:16].replace('T', ' '))}"
                     f" · {escape_markdown(note.source)}" + (f" · tags: {escape_markdown(', '.join(note.tags))}" if note.tags else ""))
        if buttons.button("Notes", key=f"open_notes_{note.id}", icon="🗒️", help="Open this note on the Notes page"):
            open_in(note.id, "pages/notes.py")
        if buttons.button("Graph", key=f"open_graph_{note.id}", icon="🕸️", help="Show this note in the graph"):
            open_in(note.id, "pages/graph.py")
        buttons.button("Why", key=f"why_{note.id}", icon="❔", on_click=explain_this, args=(note.id,),
                       help="Explain its rank: each signal, the words it has and lacks, the cut")
        st.markdown(search_snippet(note.content, hit.matched_terms))
        reasons = []
        for reason in hit.reasons:
            if reason.startswith("linked from") and hit.via in notes:
                reason = f"linked from '{notes[hit.via].title}' ({hit.via[:8]})"
            reasons.append(escape_markdown(reason))
        st.caption("Why: " + " · ".join(reasons) if reasons else "Why: linked neighbour")
        entry = trace.entry(note.id)
        if entry is not None and entry.signals:
            st.caption("Signals: " + " · ".join(f"{escape_markdown(tr.SIGNALS.get(k, k))} {v:.2f}"
                                                for k, v in entry.signals.items()))
