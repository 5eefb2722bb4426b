"""`memex review` and `memex revert`: the inbox and the revert plan for scripts and terminals.

Both say exactly what will change before it changes: review lists each proposal's before/after;
revert prints the plan (field by field, marking the fields the person edited since) and applies it
only after a yes, typed at a terminal or given as ``--yes`` (required when not on a terminal).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

from ..errors import InputError

if TYPE_CHECKING:
    from ..store import Store


def _short(value: Any, limit: int = 70) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def add_review_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", nargs="?", default="list", choices=("list", "accept", "reject", "accept-all"),
                   help="list (default), accept ID, reject ID, accept-all")
    p.add_argument("id", nargs="?", help="proposal id (or a unique prefix)")
    p.add_argument("--edit", help="accept with this value instead (context text, or comma-separated tags)")
    p.add_argument("--all-statuses", action="store_true", help="list accepted and rejected ones too")
    p.add_argument("--turned-down", action="store_true",
                   help="list the model's proposals the checker turned down, with why (accept one anyway by id)")


def run_review(args: argparse.Namespace, store: Store, out: Any) -> int:
    from . import review
    from .inbox import inbox

    box = inbox(store)
    if args.action == "list":
        items = review.declined(store) if getattr(args, "turned_down", False) else \
            box.list(None if args.all_statuses else "pending")
        data = [review.describe(p) for p in items]
        lines = []
        for p in items:
            title = store.get(p.target_id).title if p.target_id in store else "(deleted note)"
            lines += [f"{p.id[:8]}  {p.kind:<7} {p.status:<8} {p.proposed_by}  on '{title}'",
                      f"    before: {_short(p.before)}", f"    after:  {_short(p.after)}",
                      f"    why:    {_short(p.resolution_note if review.is_declined(p) else p.grounding.get('why', ''), 90)}"]
        out(args, data, "\n".join(lines) or "no proposals waiting")
        return 0
    if args.action == "accept-all":
        counts = review.accept_all(store)
        out(args, counts, f"accepted {counts['accepted']}; out of date (rejected) {counts['stale']}; "
                          f"failed {counts['failed']}")
        return 0
    if not args.id:
        raise InputError(f"`memex review {args.action}` needs a proposal id (see `memex review list`).")
    if args.action == "accept":
        edited: Any = None
        if args.edit is not None:
            known = box.get(args.id) if args.id in [x.id for x in box.list(None)] else None
            kind = known.kind if known else ""
            edited = [t.strip() for t in args.edit.split(",") if t.strip()] if kind == "tags" else args.edit
        p = review.accept(store, args.id, edited_after=edited)
        out(args, review.describe(p), f"accepted {p.id[:8]}: {p.kind} of {p.target_id[:8]} is now "
                                      f"{_short(edited if edited is not None else p.after)}")
        return 0
    p = review.reject(store, args.id)
    out(args, review.describe(p), f"rejected {p.id[:8]}; the note is unchanged")
    return 0


def add_revert_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("id")
    p.add_argument("version", type=int, help="0 = as created; N = after the N-th recorded change")
    p.add_argument("--field", action="append", dest="fields", metavar="F",
                   help="revert only this field (repeat for more): content, keywords, context, tags, ...")
    p.add_argument("--yes", action="store_true", help="apply without asking (required when not on a terminal)")


def run_revert(args: argparse.Namespace, store: Store, out: Any) -> int:
    nid = store.resolve_id(args.id)
    plan = store.revert_plan(nid, args.version, args.fields)
    rows = [{"field": fc.field, "current": fc.current, "target": fc.target, "conflict": fc.conflict} for fc in plan]
    if not plan:
        out(args, {"id": nid, "version": args.version, "plan": [], "applied": False},
            f"nothing to change: {nid[:8]} already matches version {args.version}"
            + (f" in {', '.join(args.fields)}" if args.fields else ""))
        return 0
    lines = [f"reverting {nid[:8]} to version {args.version} will change:"]
    for fc in plan:
        mark = "  (you edited this after that version)" if fc.conflict else ""
        lines.append(f"  {fc.field}: {_short(fc.current)}  ->  {_short(fc.target)}{mark}")
    untouched = "every other field stays as it is" if args.fields or len(plan) < 2 else ""
    if untouched:
        lines.append(f"  ({untouched})")
    if not args.yes:
        if not sys.stdin.isatty() or getattr(args, "json", False):
            out(args, {"id": nid, "version": args.version, "plan": rows, "applied": False},
                "\n".join(lines) + "\nnot applied: run again with --yes to apply")
            return 1
        print("\n".join(lines))
        if input("apply? [y/N] ").strip().lower() not in ("y", "yes"):
            print("not applied")
            return 1
        lines = []
    note = store.revert(nid, args.version, fields=args.fields)
    out(args, {"id": nid, "version": args.version, "plan": rows, "applied": True, "now_version": note.version_count()},
        "\n".join([*lines, f"reverted {nid[:8]} (now version {note.version_count()})"]).strip())
    return 0
