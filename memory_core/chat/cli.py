"""``memex chat MESSAGE``: one chat turn through exactly the Chat page's path, for scripts and tests.

Why the same path: ``ChatSession.reply`` recalls, builds the prompt, streams the reply and queues
the person's words on the memory writer, as the page does; a script that checks what the chat
remembers checks the real thing. Without ``--wait`` the process ends soon after the reply: the write
still running gets a short grace period (``memex`` says so), then stays "queued" on disk, and the next
Memex process that writes (the app, another ``memex chat``, ``memex add``, ``memex queue run``) does it,
exactly once (pending.py). ``--json`` lists every write still pending, and why.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import TYPE_CHECKING, Any

from ..episodes.conversations import PENDING_STATES
from ..errors import InputError, NotFoundError
from .queue_report import pending_report

if TYPE_CHECKING:
    from ..config import Settings

WAIT_SECONDS = 900.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("message", help="what you say")
    parser.add_argument("--conversation", metavar="ID", help="continue this conversation (default: a new one)")
    parser.add_argument("--wait", action="store_true",
                        help="wait for the memory write (and the model's enrichment of the note) and report its outcome")
    parser.add_argument("-k", type=int, default=None, help="notes recalled (default: the setting)")
    parser.add_argument("--max-tokens", type=int, default=None, help="reply length cap (default: the setting)")
    parser.add_argument("--timeout", type=float, default=WAIT_SECONDS, help="seconds --wait waits at most")


def recalled_summary(message: dict[str, Any]) -> list[dict[str, Any]]:
    keys = ("id", "rank", "score", "reasons", "signals", "via", "in_prompt", "title", "timestamp")
    return [{k: r.get(k) for k in keys if k in r} for r in message.get("recalled") or []]


def memory_summary(info: dict[str, Any] | None) -> dict[str, Any]:
    """The message's memory record as the JSON reports it (``stored`` / ``not_stored`` + why / ``merged``...)."""
    info = dict(info or {})
    if info.get("state") in PENDING_STATES:
        info["status"] = "queued"
        info.setdefault("reason", "the write runs in the background; use --wait to wait for it")
    return info


def run(args: argparse.Namespace, settings: Settings) -> int:
    from ..episodes.conversations import ConversationStore
    from ..models.llm import get_llm
    from ..store import open_store
    from .jobs import describe_outcome
    from .lifecycle import get_writer
    from .session import ChatSession

    conversations = ConversationStore(settings.home)
    if args.conversation and not conversations.exists(args.conversation):
        raise NotFoundError(f"No conversation with id {args.conversation!r}; leave out --conversation to start one.")
    if args.k is not None and args.k < 0:
        raise InputError("-k must be 0 or more.")
    if args.max_tokens is not None and args.max_tokens < 1:
        raise InputError("--max-tokens must be at least 1.")
    store = open_store(settings)
    session = ChatSession(store, settings, get_llm(settings), conversations, get_writer())
    reply = session.reply(args.conversation, args.message, k=args.k, max_tokens=args.max_tokens)
    pieces = reply.pieces()
    try:
        for piece in pieces:
            if not args.json:
                print(piece, end="", flush=True)
    finally:
        pieces.close()
    if not args.json:
        print()
    session.resume_pending()  # after the reply: what earlier runs left queued, in every conversation
    writer = session.writer
    if args.wait:
        if reply.touch_thread is not None:
            reply.touch_thread.join(30)
        deadline = time.monotonic() + args.timeout
        while time.monotonic() < deadline:  # the store, then the enrichment it queues
            active = [j for j in writer.jobs(reply.conversation_id) if j.active]
            if not active:
                break
            writer.wait(active[0].id, max(0.0, deadline - time.monotonic()))
    conv = conversations.load(reply.conversation_id)
    user = conv.message(reply.user_message["id"]) or reply.user_message
    assistant = conv.message(reply.message["id"]) if reply.message else None
    memory = memory_summary(user.get("memory"))
    if args.json:
        print(json.dumps({
            "conversation_id": reply.conversation_id, "message_id": user["id"],
            "reply_id": assistant["id"] if assistant else "", "reply": reply.text, "error": reply.error,
            "stopped_at_limit": reply.stopped_at_limit, "recalled": recalled_summary(assistant or {}),
            "episodes": (assistant or {}).get("episodes", []),
            "memory": memory, "prompt": (assistant or {}).get("prompt", {}), "usage": reply.usage,
            "time_span": (assistant or {}).get("time_span"),
            "pending": pending_report(conversations, writer),
        }, ensure_ascii=False, indent=2))
    else:
        status = memory.get("status", "")
        line = describe_outcome(memory) if memory.get("state") == "done" else (
            f"memory: {status or memory.get('state', '')}" + (f" ({memory['reason']})" if memory.get("reason") else "")
            if memory.get("state") != "failed" else f"memory write failed: {memory.get('error', '')}")
        print(f"[conversation {reply.conversation_id} · {line}]", file=sys.stderr)
    if reply.error:
        print(f"memex: {reply.error}", file=sys.stderr)
        return 1
    return 1 if memory.get("state") == "failed" else 0
