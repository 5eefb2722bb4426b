"""``memex queue``: the memory writes not done yet, and why; ``memex queue run`` does them now.

Why a command: a write queued by ``memex chat`` (without ``--wait``) is done by the next Memex process
that writes. A script that needs every told fact stored before it goes on says so with ``queue run``,
and ``queue`` alone shows what is waiting without changing a byte.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import TYPE_CHECKING, Any

from .queue_report import pending_report

if TYPE_CHECKING:
    from ..config import Settings

RUN_TIMEOUT = 1800.0


def add_arguments(parser: argparse.ArgumentParser, common: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="queue_action", metavar="ACTION")
    run = sub.add_parser("run", parents=[common], help="do every pending write now and wait for them",
                         description="Do every pending memory write now (every conversation) and wait for them.")
    run.add_argument("--timeout", type=float, default=RUN_TIMEOUT, help="seconds to wait at most")


def run(args: argparse.Namespace, settings: Settings) -> int:
    from ..episodes.conversations import ConversationStore

    conversations = ConversationStore(settings.home)
    if getattr(args, "queue_action", None) != "run":
        return _show(args, pending_report(conversations))
    from ..store import open_store
    from .lifecycle import get_writer
    from .session import ChatSession

    writer = get_writer()
    session = ChatSession(open_store(settings), settings, None, conversations, writer)
    started = time.monotonic()
    jobs = session.resume_pending()
    if not args.json:
        print(f"writing {len(jobs)} pending memory write(s)…", file=sys.stderr, flush=True)
    for jid in jobs:
        writer.wait(jid, max(0.0, args.timeout - (time.monotonic() - started)))
    # a stored note's enrichment is queued as its store ends: wait for those too
    writer.wait_idle(max(0.0, args.timeout - (time.monotonic() - started)))
    finished = [writer.job(j) for j in jobs]
    counts: dict[str, int] = {}
    for job in finished:
        state = job.state if job is not None else "unknown"
        counts[state] = counts.get(state, 0) + 1
    left = pending_report(conversations, writer)
    if args.json:
        print(json.dumps({"resumed": len(jobs), "states": counts, "pending": left,
                          "seconds": round(time.monotonic() - started, 1)}, ensure_ascii=False, indent=2))
    else:
        print(f"done: {', '.join(f'{n} {s}' for s, n in sorted(counts.items())) or 'nothing was pending'}; "
              f"{len(left)} still pending")
        for item in left:
            print(f"  {item['message']}  {item['state']}: {item['why']}")
    return 1 if counts.get("failed") else 0


def _show(args: argparse.Namespace, items: list[dict[str, Any]]) -> int:
    if args.json:
        print(json.dumps(items, ensure_ascii=False, indent=2))
    elif not items:
        print("no memory writes pending")
    else:
        for item in items:
            print(f"{item['conversation_id'][:8]}  {item['message']}  {item['state']}: {item['why']}")
    return 0
