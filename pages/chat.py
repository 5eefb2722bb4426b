"""Chat page: talk to the local model while its memory recalls and grows.

A thin view over ``memory_core.chat``: ``ChatSession.reply`` recalls notes, builds a prompt a small
model can answer from and streams the reply; the person's message is then written to memory by the
process's single background ``MemoryWriter``, which gives way to any reply at its next token. The
page only lays out: the conversation list (sidebar, top), messages with what memory did with each,
the notes behind each reply, and the memory queue (polled by a fragment while writes are under way).

Conversations live in ``<home>/conversations/`` and survive reloads and restarts; the open one is
in the address (``?conversation=<id>``). "New conversation" opens an empty one at once (saved with
its first message).
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from memory_core.chat import ChatSession, Conversation, ConversationStore, get_writer
from memory_core.errors import MemexError
from memory_core.explore.render import escape_markdown
from memory_core.explore.wording import count
from memory_core.notes import MAX_CONTENT_CHARS
from pages.chat_widgets import better_model_offer, memory_queue, show_message, stream_reply
from pages.common import llm, memory_size, open_store_or_stop, settings, show_error, show_flash

SIDEBAR_CONVERSATIONS = 12
MAX_LISTED = 200


def choose_conversation(conversation_id: str | None) -> None:
    st.session_state["chat_conv"] = conversation_id
    if conversation_id:
        st.query_params["conversation"] = conversation_id
    else:
        st.query_params.pop("conversation", None)


def new_conversation() -> None:
    """Open a new, empty conversation now: the next message lands in it."""
    choose_conversation(ConversationStore.new_id())
    st.session_state.pop("chat_continue", None)


def current_conversation_id(conversations: ConversationStore) -> str | None:
    """The open conversation: this session's choice, else ``?conversation=``, else the latest one."""
    qp = st.query_params.get("conversation")
    if qp and qp != st.session_state.get("chat_conv") and qp != st.session_state.get("_chat_qp_seen"):
        st.session_state["_chat_qp_seen"] = qp
        if conversations.exists(qp):
            st.session_state["chat_conv"] = qp
    if "chat_conv" not in st.session_state:
        listing = conversations.list()
        choose_conversation(listing[0].id if listing else ConversationStore.new_id())
    return st.session_state["chat_conv"]


def conversation_list(conversations: ConversationStore, conv_id: str | None, conv: Conversation | None) -> None:
    """Newest first; the open one highlighted, with rename and delete."""
    listing = conversations.list()
    for item in listing[:SIDEBAR_CONVERSATIONS]:
        conversation_button(item, conv_id)
    if len(listing) > SIDEBAR_CONVERSATIONS:
        with st.expander(f"Older ({len(listing) - SIDEBAR_CONVERSATIONS})"):
            for item in listing[SIDEBAR_CONVERSATIONS:MAX_LISTED]:
                conversation_button(item, conv_id)
    for name, problem in conversations.broken:
        st.warning(f"Skipped the damaged conversation file {escape_markdown(name)}: {escape_markdown(problem)}")
    if conv is None:
        return
    c1, c2 = st.columns(2)
    with c1.popover("Rename", icon="✏️", width="stretch"):
        title = st.text_input("Name", value=conv.title, key=f"chat_rename_{conv.id}", max_chars=60)
        if st.button("Save", key="chat_rename_save", type="primary"):
            try:
                conversations.rename(conv.id, title)
            except MemexError as exc:
                show_error(exc)
            else:
                st.rerun()
    with c2.popover("Delete", icon="🗑️", width="stretch"):
        st.caption("The conversation is removed; notes already written to memory stay.")
        if st.button("Delete", type="primary", key="chat_delete"):
            conversations.delete(conv.id)
            new_conversation()
            st.rerun()


def conversation_button(item: Any, conv_id: str | None) -> None:
    st.button(escape_markdown(item.title), key=f"chat_open_{item.id}", width="stretch",
              type="primary" if item.id == conv_id else "secondary", on_click=choose_conversation,
              args=(item.id,), help=f"{count(item.messages, 'message')} · last {item.updated[:16].replace('T', ' ')}")


# ---- the page ----------------------------------------------------------------------------------------
st.title("💬 Chat")
try:
    s = settings()
except MemexError as exc:
    show_error(exc, "Settings")
    st.stop()
store = open_store_or_stop()
conversations = ConversationStore(s.home)
writer = get_writer()

model: Any = None
model_error: BaseException | None = None
try:
    model = llm(s)
except Exception as exc:  # noqa: BLE001 - any load failure is shown, the page still renders
    model_error = exc
session = ChatSession(store, s, model, conversations, writer) if model is not None else None
if session is not None:
    session.warm_episodes()  # the episode index built while the person types, not on the first question

conv_id = current_conversation_id(conversations)
conv: Conversation | None = None
if conv_id and conversations.exists(conv_id):
    try:
        conv = conversations.load(conv_id)
    except MemexError as exc:
        show_error(exc, "This conversation cannot be opened")
        new_conversation()
        conv_id = st.session_state["chat_conv"]

# ---- sidebar: conversations first, then the memory queue and the controls ------------------------------
with st.sidebar:
    st.button("New conversation", icon="➕", key="chat_new", on_click=new_conversation, width="stretch",
              type="primary")
    conversation_list(conversations, conv_id, conv)
    st.divider()
    queue_box = st.container()
    with st.expander("Chat settings"):
        remember_default = conv.remember if conv is not None else s.remember_chat
        remember = st.toggle("Remember this conversation", value=remember_default, key=f"chat_remember_{conv_id}",
                             help="Write what you say to memory in the background (never the replies).")
        if conv is not None and remember != conv.remember:
            conversations.set_remember(conv.id, remember)
        k = st.slider("Notes recalled (k)", 0, 20, min(20, s.recall_k), key="chat_k",
                      help="How many notes are searched for each message; the top 3 are given to the model.")
        temperature = st.slider("Temperature", 0.0, 2.0, float(s.temperature), 0.05, key="chat_temperature",
                                help="Questions answered from memory are decoded greedily (temperature 0).")
        max_tokens_cap = max(16, min(4096, (model.n_ctx if model is not None else s.n_ctx) - 256))
        if st.session_state.get("chat_max_tokens", 0) > max_tokens_cap:  # a smaller model was chosen meanwhile
            st.session_state["chat_max_tokens"] = max_tokens_cap
        max_tokens = st.number_input("Max tokens per reply", 16, max_tokens_cap,
                                     max(16, min(max_tokens_cap, s.max_tokens)), step=16, key="chat_max_tokens",
                                     help="Replies stop at this length (then “Continue” writes more).")

# ---- main: the conversation ----------------------------------------------------------------------------
# One fixed slot above the messages, whatever it shows (a notice, the model caption, or nothing): the
# messages then keep their positions between the run that streams a reply and the rerun that shows it
# saved, so Streamlit replaces them in place instead of showing the streamed copy beside the saved one.
with st.container():
    show_flash("chat")
    if model_error is not None:
        show_error(model_error, "The language model cannot be used")
        if s.llm_backend == "server":
            st.info(f"Fix: start the llama.cpp server at {escape_markdown(s.server_url)} (e.g. `python -m llama_cpp.server "
                    "--model FILE.gguf`), or open **Settings** and switch the backend to a GGUF file. The other "
                    "pages keep working without a model.")
        else:
            st.info("Fix: open **Settings** and give the full path to a `.gguf` model file, or leave the model "
                    "path empty to use the bundled SmolLM2-135M. The other pages keep working without a model.")
        st.page_link("pages/settings.py", label="Open Settings", icon="⚙️")
    else:
        n = memory_size(store)
        hint = "" if conv is not None else (
            " Say something; relevant notes are recalled for every message." if n else
            " The memory is empty: what you say here is remembered (toggle in Chat settings).")
        st.caption(f"{escape_markdown(model.name)} · {count(n, 'note')} in memory.{hint}")
        better_model_offer(conv.messages if conv is not None else [],
                           bundled=s.llm_backend == "local" and not s.model_path.strip())

if conv is not None:
    for message in conv.messages:
        show_message(message, conv, session, writer)

continuing = st.session_state.pop("chat_continue", None)
if continuing and session is not None and conv is not None:
    with st.chat_message("assistant"):
        try:
            more = session.continue_reply(conv.id, continuing, max_tokens=int(max_tokens),
                                          temperature=float(temperature))
        except MemexError as exc:
            show_error(exc, "The reply cannot be continued")
        else:
            stream_reply(more)
            st.rerun()

prompt = st.chat_input("Message Memex", key="chat_input", disabled=session is None, submit_mode="disable",
                       max_chars=MAX_CONTENT_CHARS)
if prompt is not None and session is not None:
    if not prompt.strip():
        st.warning("Type a message first: an empty message is not sent.")
    else:
        with st.chat_message("user"):
            st.markdown(escape_markdown(prompt))
        with st.chat_message("assistant"):
            try:
                with st.spinner("Recalling memories…"):
                    reply = session.reply(conv_id, prompt, k=int(k), temperature=float(temperature),
                                          max_tokens=int(max_tokens), remember=remember)
            except MemexError as exc:
                show_error(exc, "The message could not be sent")
                st.stop()
            choose_conversation(reply.conversation_id)
            stream_reply(reply)
        if reply.job_id:
            st.session_state["_chat_polling"] = True
        st.rerun()

polling = writer.pending() > 0
if polling:
    st.session_state["_chat_polling"] = True
with queue_box:
    st.fragment(memory_queue, run_every=1.0 if polling else None)(writer, conversations)
