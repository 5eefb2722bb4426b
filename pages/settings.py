"""Settings page: which model (the model manager: models on this machine, downloads), how much
context, how memory is written and recalled.

Everything is saved to ``<data dir>/settings.json`` through ``Settings.replace(...).save()`` (validated,
atomic). A new model path, backend or context size is checked before saving: the file must be a GGUF
(``check_gguf``) and must actually load (or the server must answer), so a typo can never leave the
Chat page without a model. The load goes through the same process-wide cache the Chat page uses
(``pages.common.llm``), so the model loaded here is the one the chat picks up after saving.

The embedding model is not switched on a memory that already holds notes (the rule and its reason:
``memory_core.models.switch``).
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from memory_core.config import Settings
from memory_core.errors import MemexError
from memory_core.explore.render import escape_markdown
from memory_core.models.switch import EMBEDDING_FIELDS, LLM_FIELDS, changed, embedder_switch_problem
from pages.common import flash, llm, settings, show_error, show_flash, store
from pages.model_manager import model_manager

TEST_PROMPT = [{"role": "user", "content": "In one or two sentences: why do people keep a diary?"}]
TEST_TOKENS = 48


def bundled_hint() -> str:
    from memory_core.models.locate import bundled_model_path

    try:
        return f"empty = the bundled {bundled_model_path().name}"
    except MemexError as exc:
        return f"bundled model unavailable: {exc}"


def check_llm(candidate: Settings) -> Any:
    """The model for these settings, loaded (raises MemexError with the reason)."""
    if candidate.llm_backend == "local" and candidate.model_path.strip():
        from memory_core.models.locate import check_gguf

        check_gguf(candidate.model_path)
    return llm(candidate)


def notes_in_memory(s: Settings) -> int | None:
    try:
        return len(store(s))
    except MemexError:
        return None


def test_model(model: Any) -> None:
    """A short generation, streamed, with its speed."""
    from memory_core.chat import close_stream

    stream = model.stream(TEST_PROMPT, max_tokens=TEST_TOKENS, temperature=0.7)
    pieces = iter(stream)
    try:
        with st.chat_message("assistant"):
            st.write_stream(pieces)
    finally:
        pieces.close()  # type: ignore[attr-defined]
        close_stream(stream)
    usage = stream.usage
    rate = usage.completion_tokens / usage.seconds if usage.seconds else 0.0
    st.success(f"{escape_markdown(model.name)}: {usage.completion_tokens} tokens in {usage.seconds:.2f}s = "
               f"**{rate:.1f} tokens/s**; first token after {(stream.first_token_seconds or 0):.2f}s "
               f"(prompt {usage.prompt_tokens} tokens, context window {model.n_ctx}).")


# ---- the page ----------------------------------------------------------------------------------------
st.title("⚙️ Settings")
try:
    s = settings()
except MemexError as exc:
    show_error(exc, "The settings cannot be read")
    st.stop()
st.caption(f"Saved in {escape_markdown(str(s.home / 'settings.json'))}. Changes apply to every page from the next "
           "message or page load.")

show_flash("settings")
model_manager(s, check_llm)
st.divider()

with st.form("settings_form"):
    st.subheader("Language model")
    c1, c2 = st.columns([1, 3])
    backend = c1.radio("Backend", ["local", "server"], index=["local", "server"].index(s.llm_backend),
                       key="set_llm_backend", format_func={"local": "GGUF file", "server": "llama.cpp server"}.get)
    model_path = c2.text_input("Model file (.gguf), for the GGUF-file backend", value=s.model_path,
                               key="set_model_path", placeholder=bundled_hint())
    server_url = c2.text_input("Server URL, for the server backend", value=s.server_url, key="set_server_url",
                               help="An OpenAI-compatible llama.cpp server, e.g. `python -m llama_cpp.server "
                                    "--model FILE.gguf` (http://127.0.0.1:8000).")
    c1, c2, c3, c4 = st.columns(4)
    n_ctx = c1.number_input("Context window (n_ctx)", 256, 131072, int(s.n_ctx), step=256, key="set_n_ctx")
    n_threads = c2.number_input("Threads (0 = all cores)", 0, 256, int(s.n_threads), key="set_n_threads")
    temperature = c3.slider("Default temperature", 0.0, 2.0, float(s.temperature), 0.05, key="set_temperature")
    max_tokens = c4.number_input("Default max tokens per reply", 1, 8192, int(s.max_tokens), step=16,
                                 key="set_max_tokens")

    st.subheader("Embeddings")
    c1, c2 = st.columns([1, 3])
    embedding_backend = c1.selectbox("Embedding model", ["minilm", "gguf"],
                                     index=["minilm", "gguf"].index(s.embedding_backend), key="set_embedding_backend",
                                     format_func={"minilm": "all-MiniLM-L6-v2 (bundled)", "gguf": "GGUF file"}.get)
    embedding_model_path = c2.text_input("GGUF embedding model file", value=s.embedding_model_path,
                                         key="set_embedding_model_path",
                                         help="Only for the GGUF embedding model, e.g. nomic-embed or bge.")

    st.subheader("Memory")
    c1, c2, c3 = st.columns(3)
    recall_k = c1.number_input("Notes recalled per message (k)", 0, 50, int(s.recall_k), key="set_recall_k")
    neighbours_k = c2.number_input("Neighbours shown to the linker", 0, 50, int(s.neighbours_k),
                                   key="set_neighbours_k")
    fast_link_threshold = c3.slider("Fast-mode link threshold (cosine)", 0.0, 1.0, float(s.fast_link_threshold),
                                    0.01, key="set_fast_link_threshold")
    c1, c2 = st.columns(2)
    evolution = c1.toggle("Evolution: the model may update neighbours' context and tags", value=s.evolution,
                          key="set_evolution")
    remember_chat = c2.toggle("Remember new conversations by default", value=s.remember_chat,
                              key="set_remember_chat")

    st.subheader("Retrieval")
    c1, c2, c3, c4 = st.columns(4)
    lexical_weight = c1.slider("Lexical (BM25) weight", 0.0, 1.0, float(s.lexical_weight), 0.05,
                               key="set_lexical_weight")
    dense_weight = c2.slider("Dense (MiniLM) weight", 0.0, 1.0, float(s.dense_weight), 0.05, key="set_dense_weight")
    link_weight = c3.slider("Linked-note weight", 0.0, 1.0, float(s.link_weight), 0.05, key="set_link_weight")
    link_expansion = c4.toggle("Add linked notes (link expansion)", value=s.link_expansion, key="set_link_expansion")

    b1, b2, _ = st.columns([1, 1, 4])
    save = b1.form_submit_button("Save", type="primary", icon="💾")
    test = b2.form_submit_button("Test model", icon="🧪", help="Load the model above (without saving) and generate a "
                                 "short reply")

if save or test:
    changes = dict(
        llm_backend=backend, model_path=model_path.strip(), server_url=server_url.strip(), n_ctx=int(n_ctx),
        n_threads=int(n_threads), temperature=float(temperature), max_tokens=int(max_tokens),
        embedding_backend=embedding_backend, embedding_model_path=embedding_model_path.strip(),
        recall_k=int(recall_k), neighbours_k=int(neighbours_k), fast_link_threshold=float(fast_link_threshold),
        evolution=bool(evolution), remember_chat=bool(remember_chat), lexical_weight=float(lexical_weight),
        dense_weight=float(dense_weight), link_weight=float(link_weight), link_expansion=bool(link_expansion),
    )
    try:
        candidate = s.replace(**changes)
    except MemexError as exc:
        show_error(exc, "Not saved")
        st.stop()
    llm_changed = changed(candidate, s, LLM_FIELDS)
    model: Any = None
    if llm_changed or test:
        try:
            with st.spinner("Loading the model…"):
                model = check_llm(candidate)
        except MemexError as exc:
            show_error(exc, "The model cannot be used" + (", so nothing was saved" if save else ""))
            st.stop()
        except Exception as exc:  # noqa: BLE001
            show_error(exc, "The model cannot be used" + (", so nothing was saved" if save else ""))
            st.stop()
    if save:
        if changed(candidate, s, EMBEDDING_FIELDS):
            with st.spinner("Checking the embedding model…"):
                problem = embedder_switch_problem(candidate, s, notes_in_memory(s))
            if problem:
                st.error("Not saved: " + problem)
                st.stop()
        try:
            path = candidate.save()
        except (MemexError, OSError) as exc:
            show_error(exc, "Not saved")
            st.stop()
        flash("settings", "success", f"Saved to {escape_markdown(str(path))}"
              + (f"; model {escape_markdown(model.name)} loaded." if model else "."))
    if test and model is not None:
        try:
            test_model(model)
        except MemexError as exc:
            show_error(exc, "The test generation failed")
        except Exception as exc:  # noqa: BLE001
            show_error(exc, "The test generation failed")
    elif save:
        st.rerun()
