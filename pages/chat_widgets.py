"""The Chat page's pieces: one message, its memory line, the recalled notes, the memory queue.

Why a module of its own: pages/chat.py then reads as the page's layout alone. Nothing here decides
anything about memory: the outcome shown is what ``memory_core.chat`` saved on the message.
Reply text goes through MODELS' ``safe_markdown`` (the browser fetches nothing); the person's words
and note text through ``escape_markdown`` (shown exactly as typed).
"""

from __future__ import annotations

import time
from typing import Any

import streamlit as st

from memory_core.chat import ChatSession, Conversation, ConversationStore, WriteJob
from memory_core.chat.jobs import STEPS, describe_enrichment, plain_step
from memory_core.chat.memory_state import Memory, Offer, message_memory
from memory_core.chat.queue_report import pending_report
from memory_core.errors import MemexError
from memory_core.explore.render import escape_markdown, safe_markdown
from memory_core.explore.wording import count
from memory_core.retrieval.timespan import TimeSpan
from pages.common import flash, show_error, text_and_buttons, text_part

GRAPH_PAGE = "pages/graph.py"
SETTINGS_PAGE = "pages/settings.py"
NOTES_PAGE = "pages/notes.py"
STREAM_REFRESH_S = 0.05  # a streaming reply is redrawn at most this often
FINISHED_LINES = {Memory.STORED: "🧠 ", Memory.NOT_STORED: "💤 ", Memory.OFF: "💤 Not stored: ",
                  Memory.CANCELLED: "✋ Not stored: you cancelled this memory write."}


def open_in(note_id: str, page: str) -> None:
    st.session_state["focus_note"] = note_id
    st.switch_page(page)


def show_reply_text(text: str) -> None:
    """A reply as Markdown that makes the browser fetch nothing (images and links become visible text)."""
    st.markdown(safe_markdown(text) if text else "*(no text)*")


def stream_reply(reply: Any) -> None:
    """Show a reply as it is written, through ``safe_markdown`` at every update (st.write_stream would
    render the model's raw Markdown, and a ``![x](http://...)`` would be fetched while it streams).
    A reply that fell back to its note is redrawn escaped once it ends: the note's ``#`` or ``**`` are
    the person's characters, not formatting. The model is released in this thread if the person leaves early."""
    pieces = reply.pieces()
    box = st.empty()
    text, shown_at = "", 0.0
    try:
        for piece in pieces:
            text += piece
            if time.monotonic() - shown_at > STREAM_REFRESH_S:
                box.markdown(safe_markdown(text) + " ▌")
                shown_at = time.monotonic()
        box.markdown(safe_markdown(text) if text else "*(no text)*")
    finally:
        pieces.close()
    if reply.fallback:  # the answer is the person's own note: shown exactly as typed, as once saved
        box.markdown(escape_markdown(reply.text))
    if reply.error:
        st.error(escape_markdown(reply.error))


def steps_line(current: str, why: str = "") -> str:
    """queued → storing → stored → enriching → enriched, the steps done ticked and the current one in bold
    (any other state, e.g. "retrying", in bold after them)."""
    at = STEPS.index(current) if current in STEPS else -1
    parts = [f"✓ {step}" if i < at else f"**{step}**" if i == at else step for i, step in enumerate(STEPS)]
    if at < 0:
        parts.append(f"**{escape_markdown(current)}**")
    return " → ".join(parts) + (f" ({escape_markdown(why)})" if why else "")


def stage_line(job: WriteJob) -> str:
    """Where a queued write is, as ``steps_line``, with why it waits when it does."""
    why = "paused while a reply is written" if job.paused else job.waiting
    return steps_line(plain_step(job), why)


def remember_button(session: ChatSession | None, conv: Conversation, mid: str, label: str = "Remember this",
                    force: bool = True) -> None:
    """"Remember this" (store it anyway) or "Retry" (the same write again, as forced as it was)."""
    help_text = "Store this message as a note anyway" if label == "Remember this" else "Try the memory write again"
    if st.button(label, key=f"chat_rem_{mid}", icon="📌" if label == "Remember this" else "🔁", type="tertiary",
                 disabled=session is None, help=help_text):
        try:
            session.remember_message(conv.id, mid, force=force)  # type: ignore[union-attr]
        except MemexError as exc:
            show_error(exc, "Could not queue the note")
        else:
            st.session_state["_chat_polling"] = True
            flash("chat", "toast", "Storing the message as a note in the background.")
            st.rerun()


def memory_line(message: dict[str, Any], conv: Conversation, session: ChatSession | None, writer: Any) -> None:
    """Under a person's message: what the memory did with it (``chat.memory_state``), and the action it offers."""
    mid = message["id"]
    state = message_memory(message, lambda job_id, m: (writer.job(job_id) if job_id else None)
                           or writer.active_job_for(m))
    kind = state.memory
    if kind is Memory.UNRECORDED:  # a message from before memory outcomes were recorded
        if state.offer is Offer.REMEMBER:
            remember_button(session, conv, mid)
        return
    if kind in FINISHED_LINES:
        row = text_and_buttons()
        line = FINISHED_LINES[kind] + (escape_markdown(state.text) if kind is not Memory.CANCELLED else "")
        row.caption(line + (f" · {count(state.proposals, 'proposal')} for review" if state.proposals else "")
                    + (enrichment_note((message.get("memory") or {}).get("enrichment"), writer, mid)
                       if kind is Memory.STORED else ""))
        if state.offer is Offer.REMEMBER:
            with row:
                remember_button(session, conv, mid)
        elif state.offer is Offer.OPEN and row.button("Open", key=f"chat_open_mem_{mid}", icon="🗒️", type="tertiary"):
            open_in(state.note_id, NOTES_PAGE)
        return
    if kind is Memory.FAILED:
        st.warning(f"Not stored in memory after {count(state.attempts, 'attempt')}: {escape_markdown(state.text)}"
                   if state.job is None else "Not stored in memory: " + escape_markdown(state.text))
        remember_button(session, conv, mid, label="Retry", force=state.force)
    elif kind is Memory.WAITING:
        st.caption("🧠 Waiting to be written to memory (queued by an earlier run; any Memex process that writes "
                   "will do it)…")
    elif kind is Memory.RETRYING:
        st.warning("The memory write failed and will be tried again: " + escape_markdown(state.text))
    elif kind is Memory.WRITING and state.job is not None:
        st.caption("🧠 Writing to memory: " + stage_line(state.job))
    else:
        st.caption("🧠 " + escape_markdown(state.text))


def enrichment_note(enrichment: Any, writer: Any, message_id: str) -> str:
    """" · enriching…" after a stored note's line: where the model's enrichment of it is."""
    if not isinstance(enrichment, dict) or not enrichment.get("state"):
        return ""
    state = enrichment["state"]
    if state == "done":
        return " · " + escape_markdown(describe_enrichment(enrichment))
    if state == "failed":
        return " · not enriched: " + escape_markdown(enrichment.get("error", "the model failed"))
    if state == "cancelled":
        return " · enrichment cancelled"
    job = writer.active_job_for(message_id, kind="enrich") if writer is not None else None
    step = plain_step(job) if job is not None else "stored"
    return " · enriching…" if step == "enriching" else " · waiting to be enriched by the model"


def from_memory_caption(message: dict[str, Any]) -> None:
    """The notes the reply was given, as text beside it: the answer is visible even when the model fumbles.
    A reply that fell back to its note already quotes the first one; the model's own words follow, small."""
    used = [r for r in message.get("recalled") or [] if r.get("in_prompt") and r.get("text")]
    from_exchange = (message.get("prompt") or {}).get("form") == "episode"
    if message.get("fallback"):
        used = used if from_exchange else used[1:]
        if message.get("model_reply", "").strip():
            st.caption(f"The model's answer, which did not use {'what was said' if from_exchange else 'your note'}: “"
                       + escape_markdown(" ".join(message["model_reply"].split())[:300]) + "”")
    for r in used[:3]:
        when = str(r.get("timestamp", ""))[:10]
        st.caption("📎 From your memory: “" + escape_markdown(r["text"]) + "”" + (f" ({when})" if when else ""))
    exchanges = [e for e in message.get("episodes") or [] if e.get("in_prompt") and e.get("text")]
    if message.get("fallback") and from_exchange:
        exchanges = exchanges[1:]  # the fallback reply already quotes the first exchange
    for ex in exchanges[:2]:
        st.caption(exchange_caption(ex))


def exchange_caption(ex: dict[str, Any]) -> str:
    """A recalled exchange under a reply: when and where it was said, then who said what (as text)."""
    when = str(ex.get("timestamp", ""))[:10]
    title = str(ex.get("title", "")).strip()
    head = "💬 From your memory, our conversation" + (f" on {when}" if when else "") \
        + (f" (“{escape_markdown(title)}”)" if title else "") + ":"
    return head + "  \n" + "  \n".join(escape_markdown(line) for line in str(ex["text"]).splitlines())


def show_recalled(message: dict[str, Any], conversation_id: str) -> None:
    """The recalled notes of a reply (expander), what was left out, and the link to its trace on the graph."""
    recalled = message.get("recalled") or []
    prompt = message.get("prompt") or {}
    span = TimeSpan.from_dict(message.get("time_span"))
    if span is not None:
        st.caption("🗓️ Time read from your message: " + escape_markdown(span.describe())
                   + " — memories from then came first.")
    if message.get("recall_error"):
        st.warning(f"Memory recall failed: {escape_markdown(message['recall_error'])}")
    if recalled:
        used = sum(1 for r in recalled if r.get("in_prompt"))
        row = text_and_buttons()
        with row, st.expander(f"Recalled memories ({len(recalled)}, {used} given to the model)"):
            for i, r in enumerate(recalled):
                nid = r.get("id", "")
                when = str(r.get("timestamp", ""))[:16].replace("T", " ")
                mark = " · given to the model" if r.get("in_prompt") else ""
                item = text_and_buttons()
                text = text_part(item, f"recalled_{message['id']}_{i}")
                buttons = item.container(horizontal=True, width="content", gap="small")  # they wrap together
                text.markdown(f"**#{r.get('rank', i + 1)}** · {r.get('score', 0):.3f} · {escape_markdown(when)}{mark}"
                           "  \n" + escape_markdown(r.get("title", "")))
                if r.get("reasons"):
                    text.caption(escape_markdown("; ".join(r["reasons"])))
                if buttons.button("Open", key=f"chat_n_{message['id']}_{i}", icon="🗒️", help="Open this note in Notes"):
                    open_in(nid, NOTES_PAGE)
                if buttons.button("Why", key=f"chat_why_{message['id']}_{i}", icon="❔",
                            help="Why this note was recalled (and ask about any other) on the reply's trace"):
                    st.session_state["trace_explain_preset"] = nid
                    st.switch_page(GRAPH_PAGE, query_params={"trace": f"{conversation_id}:{message['id']}"})
        row.page_link(GRAPH_PAGE, label="Show on graph", icon="🕸️",
                      query_params={"trace": f"{conversation_id}:{message['id']}"})
    show_exchanges(message)
    bits = []
    if prompt.get("history_dropped"):
        bits.append(count(prompt['history_dropped'], 'earlier message'))
    if prompt.get("truncated_chars"):
        bits.append(f"{count(prompt['truncated_chars'], 'character')} from the middle of the message")
    if prompt.get("notes_dropped"):
        bits.append(count(len(prompt['notes_dropped']), 'recalled note'))
    if bits:
        st.caption("To keep the prompt short for the model, it left out " + ", ".join(bits) + ".")


def show_exchanges(message: dict[str, Any]) -> None:
    """The earlier exchanges a reply recalled (episodes), apart from the notes."""
    episodes = [e for e in message.get("episodes") or [] if isinstance(e, dict)]
    if not episodes:
        return
    used = sum(1 for e in episodes if e.get("in_prompt"))
    with st.expander(f"Recalled exchanges ({len(episodes)}, {used} given to the model)"):
        for i, e in enumerate(episodes):
            mark = " · given to the model" if e.get("in_prompt") else ""
            st.markdown(f"**#{e.get('rank', i + 1)}** · {float(e.get('score', 0) or 0):.3f}{mark}")
            if e.get("text"):
                st.caption(exchange_caption(e))


def show_message(message: dict[str, Any], conv: Conversation, session: ChatSession | None, writer: Any) -> None:
    with st.chat_message(message["role"]):
        if message["role"] == "user":
            st.markdown(escape_markdown(message["content"]) if message["content"] else "*(empty)*")
            memory_line(message, conv, session, writer)
            return
        if message.get("fallback"):  # our sentence and the person's own words: shown exactly as typed
            st.markdown(escape_markdown(message["content"]))
        else:
            show_reply_text(message["content"])
        if message.get("error"):
            st.error(escape_markdown(message["error"]))
        if message.get("interrupted"):
            st.caption("(interrupted before the end)")
        from_memory_caption(message)
        if message.get("stopped_at_limit"):
            c1, c2 = st.columns([5, 1], vertical_alignment="center")
            c1.info("The reply stopped at the token limit (Max tokens per reply).")
            if c2.button("Continue", key=f"chat_cont_{message['id']}", icon="⏩", disabled=session is None):
                st.session_state["chat_continue"] = message["id"]
                st.rerun()
        usage = message.get("usage") or {}
        if usage.get("completion_tokens"):
            st.caption(f"{usage['completion_tokens']} tokens · {usage.get('tokens_per_s', 0):.1f} tokens/s · "
                       f"first token after {usage.get('first_token_seconds', 0):.2f}s · "
                       f"{escape_markdown(message.get('model', ''))}")
        show_recalled(message, conv.id)


def better_model_offer(messages: list[dict[str, Any]], bundled: bool) -> None:
    """After a few replies that fell back to the note (or always, small, with the bundled model): one
    click opens the model manager with the recommended download, its size first."""
    from memory_core.chat.fallback import MISSES_BEFORE_OFFER, misses
    from memory_core.models import human_size
    from memory_core.models.download import recommended_upgrade
    from pages.model_manager import recommend

    missed = misses(messages)
    r = recommended_upgrade()
    if missed >= MISSES_BEFORE_OFFER:
        c1, c2 = st.columns([4, 1], vertical_alignment="center")
        c1.info(f"{missed} answers in this conversation did not use your notes. A larger model answers from "
                f"them far better: {escape_markdown(r.title)}, a {human_size(r.size_bytes)} download.")
        clicked = c2.button("Get it", key="chat_better_model", icon="⬇️", type="primary")
    elif bundled:
        clicked = st.button("Answers are weak?", key="chat_better_model", icon="💡", type="tertiary",
                            help=f"A larger model ({escape_markdown(r.title)}, {human_size(r.size_bytes)}) answers from "
                                 "your notes far better than the bundled one.")
    else:
        return
    if clicked:
        recommend()
        st.switch_page(SETTINGS_PAGE)


def memory_queue(writer: Any, conversations: ConversationStore | None = None) -> None:
    """Every memory write not finished yet, labelled with its message, each with "Cancel"; below them the
    writes on disk this app is not doing (another process has them, or they wait for one), and why."""
    queued = writer.queue_view()
    elsewhere = [p for p in pending_report(conversations, writer)
                 if not writer.active_job_for(p["message_id"], kind=p["kind"])] if conversations is not None else []
    st.markdown(f"**Memory queue** ({len(queued) + len(elsewhere)})")
    if not queued and not elsewhere:
        st.caption("Nothing waiting: every message is written.")
    for item in elsewhere:
        st.caption(escape_markdown(item["message"]) + "  \n" + steps_line(item["state"], item["why"]))
    for job in queued:
        c1, c2 = st.columns([4, 1], vertical_alignment="center")
        c1.caption(escape_markdown(job.label) + "  \n" + (escape_markdown(job.describe()) if job.state == "retrying"
                                                    else stage_line(job)))
        help_text = "Cancel the model's enrichment (the note stays stored as it is)" if job.kind == "enrich" \
            else "Cancel this memory write (nothing is stored)"
        if c2.button("Cancel", key=f"chat_cancel_{job.id}", type="tertiary", help=help_text):
            writer.cancel(job.id)
            st.rerun()
    ids = {job.id for job in queued}
    finished = set(st.session_state.get("_chat_queue_ids", ())) - ids
    st.session_state["_chat_queue_ids"] = sorted(ids)
    if st.session_state.get("_chat_polling") and not queued:
        st.session_state["_chat_polling"] = False
        st.rerun()  # once: the messages then show their final memory state and polling stops
    elif finished and queued:
        st.rerun()  # a note was stored (its enrichment may still run): its message says so now
