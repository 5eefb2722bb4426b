"""Chat page: talk to the local model while its Zettelkasten memory recalls and grows.

A thin view over ``memory_core.chat``: ``ChatSession.reply`` recalls notes, builds a prompt that
fits the context window and streams the reply; the exchange is then written to memory by the
process's single background ``MemoryWriter`` while the person reads on. The page only shows:
messages, the recalled notes behind each reply, and the writer's progress (polled by a fragment
that runs every second while a write for this conversation is under way).

Conversations live in ``<home>/conversations/`` and survive reloads and restarts; the open one is
in the address (``?conversation=<id>``). The person's words are shown exactly as typed (escaped,
never interpreted as Markdown or HTML); replies are Markdown with Streamlit's default HTML escaping.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from memory_core.chat import ChatSession, Conversation, ConversationStore, WriteJob, get_writer
from memory_core.errors import MemexError
from memory_core.notes import MAX_CONTENT_CHARS
from pages.common import flash, llm, md_escape, open_store_or_stop, settings, show_error, show_flash

STAGES = ("queued", "enriching", "linking", "evolved", "done")
SIDEBAR_CONVERSATIONS = 15
MAX_LISTED = 200


# ---- helpers ------------------------------------------------------------------------------------------
def open_in(note_id: str, page: str) -> None:
    st.session_state["focus_note"] = note_id
    st.switch_page(page)


def choose_conversation(conversation_id: str | None) -> None:
    st.session_state["chat_conv"] = conversation_id
    if conversation_id:
        st.query_params["conversation"] = conversation_id
    else:
        st.query_params.pop("conversation", None)


def current_conversation_id(conversations: ConversationStore) -> str | None:
    """The open conversation: this session's choice, else ``?conversation=``, else the latest one."""
    qp = st.query_params.get("conversation")
    if qp and qp != st.session_state.get("chat_conv") and qp != st.session_state.get("_chat_qp_seen"):
        st.session_state["_chat_qp_seen"] = qp
        if conversations.exists(qp):
            st.session_state["chat_conv"] = qp
    if "chat_conv" not in st.session_state:
        listing = conversations.list()
        choose_conversation(listing[0].id if listing else None)
    return st.session_state["chat_conv"]


def stage_line(job: WriteJob) -> str:
    """queued → enriching → linking → evolved N → done, with the current stage in bold."""
    current = "evolved" if job.state.startswith("evolved") else job.state
    parts = []
    for stage in STAGES:
        label = job.state if stage == "evolved" and current == "evolved" else stage
        parts.append(f"**{label}**" if stage == current else label)
    return " → ".join(parts)


def memory_caption(message: dict[str, Any], key: str, writer: Any) -> None:
    """What happened to the memory write of a reply (``memory``) or a "Remember this" (``remembered``)."""
    info = message.get(key)
    if not info:
        return
    what = "🧠 Remembered" if key == "memory" else "📌 Stored"
    state = info.get("state", "")
    if state == "done":
        note_id = info.get("note_id", "")
        c1, c2 = st.columns([5, 1], vertical_alignment="center")
        c1.caption(f"{what} as note `{note_id[:8]}` · linked to {info.get('links', 0)} · "
                   f"evolved {info.get('evolved', 0)} · {info.get('seconds', 0):.1f}s"
                   + (" · marked for re-enrichment" if info.get("needs_enrichment") else ""))
        if c2.button("Open", key=f"chat_open_mem_{key}_{message['id']}", icon="🗒️", type="tertiary"):
            open_in(note_id, "pages/notes.py")
    elif state == "failed":
        st.warning(f"Not stored in memory: {info.get('error', 'unknown error')}")
    else:
        job = writer.job(info.get("job", "")) if info.get("job") else None
        if job is None:
            st.caption("🧠 Not stored: the app stopped before this memory was written. "
                       "Use “Remember this” to store it now.")
        elif job.state == "failed":
            st.warning(f"Not stored in memory: {job.error}")
        elif job.state == "done":
            st.caption(f"{what} as note `{job.note_id[:8]}`")
        else:
            st.caption("🧠 Writing to memory: " + stage_line(job)
                       + (" (paused while a reply is written)" if job.paused else ""))


def show_recalled(message: dict[str, Any]) -> None:
    """The "Recalled memories" expander of a reply, and what was left out of its prompt."""
    recalled = message.get("recalled") or []
    prompt = message.get("prompt") or {}
    if message.get("recall_error"):
        st.warning(f"Memory recall failed: {message['recall_error']}")
    if recalled:
        used = sum(1 for r in recalled if r.get("in_prompt"))
        with st.expander(f"Recalled memories ({len(recalled)})"):
            if used < len(recalled):
                st.caption(f"{used} of {len(recalled)} went into the prompt; the others did not fit the context "
                           "window.")
            for i, r in enumerate(recalled):
                nid = r.get("id", "")
                when = str(r.get("timestamp", ""))[:16].replace("T", " ")
                mark = "" if r.get("in_prompt") else " · not in the prompt"
                c1, c2, c3 = st.columns([6, 1, 1], vertical_alignment="center")
                c1.markdown(f"**{r.get('score', 0):.3f}** · {md_escape(r.get('kind', ''))} · {md_escape(when)}{mark}"
                            "  \n" + md_escape(r.get("title", "")))
                if r.get("reasons"):
                    c1.caption(md_escape("; ".join(r["reasons"])))
                if c2.button("Notes", key=f"chat_n_{message['id']}_{i}", icon="🗒️", help="Open this note in Notes"):
                    open_in(nid, "pages/notes.py")
                if c3.button("Graph", key=f"chat_g_{message['id']}_{i}", icon="🕸️",
                             help="Focus this note in the Graph"):
                    open_in(nid, "pages/graph.py")
    bits = []
    if prompt.get("history_dropped"):
        bits.append(f"{prompt['history_dropped']} earlier message(s)")
    if prompt.get("truncated_chars"):
        bits.append(f"{prompt['truncated_chars']:,} characters from the middle of the message")
    if prompt.get("notes_dropped"):
        bits.append(f"{len(prompt['notes_dropped'])} recalled note(s)")
    if bits:
        st.caption("To fit the model's context window, the prompt left out " + ", ".join(bits) + ".")


def show_message(message: dict[str, Any], conv: Conversation, session: ChatSession | None, writer: Any) -> None:
    mid = message["id"]
    with st.chat_message(message["role"]):
        if message["role"] == "user":
            st.markdown(md_escape(message["content"]) if message["content"] else "*(empty)*")
        else:
            st.markdown(message["content"] or "*(no text)*")
            if message.get("error"):
                st.error(message["error"])
            if message.get("interrupted"):
                st.caption("(interrupted before the end)")
            usage = message.get("usage") or {}
            if usage.get("completion_tokens"):
                st.caption(f"{usage['completion_tokens']} tokens · {usage.get('tokens_per_s', 0):.1f} tokens/s · "
                           f"first token after {usage.get('first_token_seconds', 0):.2f}s · "
                           f"{md_escape(message.get('model', ''))}")
            show_recalled(message)
            memory_caption(message, "memory", writer)
        memory_caption(message, "remembered", writer)
        if not message.get("remembered") and message["content"].strip():
            if st.button("Remember this", key=f"chat_rem_{mid}", icon="📌", type="tertiary",
                         disabled=session is None, help="Store this message as a note (through the model)"):
                try:
                    session.remember(message["content"], conversation_id=conv.id, message_id=mid,
                                     source="manual", label="remember this")  # type: ignore[union-attr]
                except MemexError as exc:
                    show_error(exc, "Could not queue the note")
                else:
                    flash("chat", "toast", "Storing the message as a note in the background.")
                    st.rerun()


def memory_panel(conv_id: str | None) -> None:
    """The writer's jobs for this conversation; reruns the page once when the last one finishes."""
    writer = get_writer()
    jobs = writer.jobs(conv_id) if conv_id else []
    active = [j for j in jobs if j.active]
    st.markdown("**Memory writer**")
    if active:
        for job in active:
            st.caption(f"{md_escape(job.label or job.source)}: " + stage_line(job)
                       + (" (paused while a reply is written)" if job.paused else ""))
    else:
        st.caption("Idle: every exchange of this conversation is written." if jobs else
                   "Nothing to write yet.")
    for job in [j for j in jobs if not j.active][-3:]:
        st.caption(("✅ " if job.state == "done" else "⚠️ ") + md_escape(job.describe()))
    others = writer.pending() - len(active)
    if others > 0:
        st.caption(f"{others} write(s) for other conversations waiting.")
    if st.session_state.get("_chat_polling") and not active:
        st.session_state["_chat_polling"] = False
        st.rerun()  # once: the messages then show their final memory state and polling stops


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
except MemexError as exc:
    model_error = exc
except Exception as exc:  # noqa: BLE001 - any load failure is shown, the page still renders
    model_error = exc
session = ChatSession(store, s, model, conversations, writer) if model is not None else None

conv_id = current_conversation_id(conversations)
conv: Conversation | None = None
if conv_id:
    try:
        conv = conversations.load(conv_id)
    except MemexError as exc:
        show_error(exc, "This conversation cannot be opened")
        choose_conversation(None)
        conv_id = None

# ---- sidebar: conversations and controls ---------------------------------------------------------------
with st.sidebar:
    st.button("New conversation", icon="➕", key="chat_new", on_click=choose_conversation, args=(None,),
              width="stretch", type="primary")
    remember_default = conv.remember if conv is not None else s.remember_chat
    remember = st.toggle("Remember this conversation", value=remember_default, key=f"chat_remember_{conv_id or 'new'}",
                         help="Write each exchange to memory in the background (A-MEM: enrich, link, evolve).")
    if conv is not None and remember != conv.remember:
        conversations.set_remember(conv.id, remember)
    k = st.slider("Notes recalled (k)", 0, 20, min(20, s.recall_k), key="chat_k",
                  help="How many notes are searched for each message and offered to the model.")
    temperature = st.slider("Temperature", 0.0, 2.0, float(s.temperature), 0.05, key="chat_temperature")
    max_tokens_cap = max(16, min(4096, (model.n_ctx if model is not None else s.n_ctx) - 256))
    if st.session_state.get("chat_max_tokens", 0) > max_tokens_cap:  # a smaller model was chosen meanwhile
        st.session_state["chat_max_tokens"] = max_tokens_cap
    max_tokens = st.number_input("Max tokens per reply", 16, max_tokens_cap,
                                 max(16, min(max_tokens_cap, s.max_tokens)), step=16, key="chat_max_tokens",
                                 help="Replies stop at this length; the prompt gets the rest of the context window.")
    status_box = st.container()
    st.divider()
    listing = conversations.list()
    if listing:
        st.markdown("**Conversations**")

    def conversation_button(item: Any) -> None:
        st.button(md_escape(item.title), key=f"chat_open_{item.id}", width="stretch",
                  type="secondary" if item.id != conv_id else "primary", on_click=choose_conversation,
                  args=(item.id,), help=f"{item.messages} messages · last {item.updated[:16].replace('T', ' ')}")

    for item in listing[:SIDEBAR_CONVERSATIONS]:
        conversation_button(item)
    if len(listing) > SIDEBAR_CONVERSATIONS:
        with st.expander(f"Older ({len(listing) - SIDEBAR_CONVERSATIONS})"):
            for item in listing[SIDEBAR_CONVERSATIONS:MAX_LISTED]:
                conversation_button(item)
    for name, problem in conversations.broken:
        st.warning(f"Skipped the damaged conversation file {md_escape(name)}: {md_escape(problem)}")
    if conv is not None:
        with st.popover("Delete this conversation", icon="🗑️", width="stretch"):
            st.caption("The conversation is removed; notes already written to memory stay.")
            if st.button("Delete", type="primary", key="chat_delete"):
                conversations.delete(conv.id)
                choose_conversation(None)
                st.rerun()

# ---- main: the conversation ----------------------------------------------------------------------------
show_flash("chat")
if model_error is not None:
    show_error(model_error, "The language model cannot be used")
    if s.llm_backend == "server":
        st.info(f"Fix: start the llama.cpp server at {md_escape(s.server_url)} (e.g. `python -m llama_cpp.server "
                "--model FILE.gguf`), or open **Settings** and switch the backend to a GGUF file. The other "
                "pages keep working without a model.")
    else:
        st.info("Fix: open **Settings** and give the full path to a `.gguf` model file, or leave the model path "
                "empty to use the bundled SmolLM2-135M. The other pages keep working without a model.")
    st.page_link("pages/settings.py", label="Open Settings", icon="⚙️")
elif conv is None:
    n = len(store)
    st.caption(f"{md_escape(model.name)} · {n:,} notes in memory. " + (
        "Say something; relevant notes are recalled for every message." if n else
        "The memory is empty: what you say here is remembered (toggle in the sidebar)."))

if conv is not None:
    for message in conv.messages:
        show_message(message, conv, session, writer)

prompt = st.chat_input("Message Memex", key="chat_input", disabled=session is None, submit_mode="disable",
                       max_chars=MAX_CONTENT_CHARS)
if prompt is not None and session is not None:
    if not prompt.strip():
        st.warning("Type a message first: an empty message is not sent.")
    else:
        with st.chat_message("user"):
            st.markdown(md_escape(prompt))
        with st.chat_message("assistant"):
            try:
                with st.spinner("Recalling memories…"):
                    reply = session.reply(conv_id, prompt, k=int(k), temperature=float(temperature),
                                          max_tokens=int(max_tokens), remember=remember)
            except MemexError as exc:
                show_error(exc, "The message could not be sent")
                st.stop()
            choose_conversation(reply.conversation_id)
            pieces = reply.pieces()
            try:
                st.write_stream(pieces)
            finally:
                pieces.close()  # in this thread: a stream stopped early releases the model here
            if reply.error:
                st.error(reply.error)
        if reply.job_id:
            st.session_state["_chat_polling"] = True
        st.rerun()

polling = bool(conv_id) and writer.pending(conv_id) > 0
if polling:
    st.session_state["_chat_polling"] = True
with status_box:
    st.fragment(memory_panel, run_every=1.0 if polling else None)(conv_id)
