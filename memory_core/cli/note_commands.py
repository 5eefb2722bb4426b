"""``memex`` commands about notes: add, search, show, list, edit, delete, forget, link, unlink, revert,
review and reenrich. Each reads its arguments, calls the library once, and prints the result.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from typing import Any

from ..errors import InputError
from .common import note_brief, out, pipeline_of, read_text, resume_queued, store_of


def cmd_add(args: argparse.Namespace) -> int:
    text = read_text(args.text, args.file)
    pipe = pipeline_of(args)
    resume_queued(pipe.store)
    report = pipe.add(text, source=args.source, mode=args.mode, timestamp=args.timestamp)
    note = pipe.store.get(report.note_id)
    data = {"note": note_brief(note), "report": asdict(report)}
    out(args, data, f"added {note.id}\n  tags: {', '.join(note.tags)}\n  context: {note.context}\n"
        f"  links: {len(report.links)}  evolved: {len(report.evolved)}  llm calls: {report.usage.calls}"
        f"  tokens: {report.usage.prompt_tokens}+{report.usage.completion_tokens}"
        + ("\n  (marked for re-enrichment: the model's answer was not usable)" if report.needs_enrichment else ""))
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    from ..retrieval import search

    store = store_of(args)
    hits = search(store, store.settings, args.query, k=args.k, retriever=args.retriever, touch=args.touch)
    data = [{"id": h.note.id, "score": round(h.score, 4), "kind": h.kind, "reasons": h.reasons,
             "title": h.note.title, "timestamp": h.note.timestamp} for h in hits]
    lines = [f"{i + 1:>2}. {h.score:.3f}  {h.note.id[:8]}  {h.note.title}\n      {'; '.join(h.reasons)}"
             for i, h in enumerate(hits)] or ["no matching notes"]
    out(args, data, "\n".join(lines))
    return 0


def cmd_explain(args: argparse.Namespace) -> int:
    """Why a note is (not) recalled for a query: rank, signals, words, exclusions, the cut."""
    from ..retrieval.explain import chat_span, explain
    from ..retrieval.explain_text import explanation_lines

    if not args.query.strip():
        raise InputError("Give the query to explain (it is empty).")
    store = store_of(args)
    span = chat_span(store, args.query) if args.chat else None  # the chat reads the question's time too
    e = explain(store, store.settings, args.query, args.note, k=args.k, retriever=args.retriever, chat=args.chat,
                span=span)
    out(args, e.to_dict(), "\n".join(explanation_lines(e)))
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    store = store_of(args)
    note = store.get(args.id)
    incoming = sorted(store.graph.predecessors(note.id)) if note.id in store.graph else []
    data = {**note.to_dict(), "incoming": incoming}
    lines = [f"id:        {note.id}", f"time:      {note.timestamp}", f"source:    {note.source} {note.source_ref}",
             f"keywords:  {', '.join(note.keywords)}", f"tags:      {', '.join(note.tags)}",
             f"context:   {note.context}", f"recalled:  {note.retrieval_count} times", "", note.content, ""]
    lines += [f"-> {link.target}  ({link.by}: {link.reason})" for link in note.links]
    lines += [f"<- {src}" for src in incoming]
    if args.history:
        lines.append("")
        lines += [f"v{i + 1} {c.at} {c.by:<8} {c.field}: {json.dumps(c.old, ensure_ascii=False)[:60]} -> "
                  f"{json.dumps(c.new, ensure_ascii=False)[:60]}" for i, c in enumerate(note.history)]
    out(args, data, "\n".join(lines))
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    store = store_of(args)
    notes = store.filter(tag=args.tag, source=args.source, text=args.text, since=args.since, until=args.until)
    data = [note_brief(n) for n in notes]
    out(args, data, "\n".join(f"{n.id[:8]}  {n.timestamp}  {n.title}" for n in notes) or "no notes")
    return 0


def cmd_edit(args: argparse.Namespace) -> int:
    store = store_of(args)
    fields: dict[str, Any] = {}
    if args.content is not None or args.file:
        fields["content"] = read_text(args.content, args.file)
    if args.context is not None:
        fields["context"] = args.context
    if args.tags is not None:
        fields["tags"] = [t.strip() for t in args.tags.split(",")]
    if args.keywords is not None:
        fields["keywords"] = [t.strip() for t in args.keywords.split(",")]
    if args.timestamp is not None:
        fields["timestamp"] = args.timestamp
    if not fields:
        raise InputError("Nothing to change: give --content, --file, --context, --tags, --keywords or --timestamp.")
    note = store.update(args.id, by="person", **fields)
    out(args, note_brief(note), f"updated {note.id} (version {note.version_count()})")
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    from ..chat.forgetting import delete_notes
    from ..episodes.conversations import ConversationStore

    store = store_of(args)
    n = delete_notes(store, ConversationStore(store.settings.home), args.ids)
    out(args, {"deleted": n}, f"deleted {n} note(s) and every link to them; their words are gone from other "
        "notes, search, exports and the store's files (your conversations keep what you typed)")
    return 0


def cmd_forget(args: argparse.Namespace) -> int:
    """Forget notes alive or already deleted; a deleted note's words are looked up in its conversation."""
    from ..chat.forgetting import forget_notes
    from ..episodes.conversations import ConversationStore

    store = store_of(args)
    report = forget_notes(store, ConversationStore(store.settings.home), args.ids)
    again = f" ({len(report.already_deleted)} deleted before, purged again)" if report.already_deleted else ""
    out(args, asdict(report), f"forgot {len(report.forgotten)} note(s){again}: {report.events_redacted} change(s) "
        f"redacted, {len(report.notes_scrubbed)} other note(s) cleaned, store compacted: {report.compacted}. "
        "Your conversations keep what you typed; delete a conversation to remove that too.")
    return 0


def cmd_link(args: argparse.Namespace) -> int:
    store = store_of(args)
    changed = store.link(args.source, args.target, args.reason or "")
    out(args, {"linked": changed}, "linked" if changed else "already linked")
    return 0


def cmd_unlink(args: argparse.Namespace) -> int:
    store = store_of(args)
    changed = store.unlink(args.source, args.target)
    out(args, {"unlinked": changed}, "unlinked" if changed else "there was no link")
    return 0


def cmd_revert(args: argparse.Namespace) -> int:
    from ..memory.cli import run_revert

    return run_revert(args, store_of(args), out)


def cmd_review(args: argparse.Namespace) -> int:
    from ..memory.cli import run_review

    return run_review(args, store_of(args), out)


def cmd_reenrich(args: argparse.Namespace) -> int:
    pipe = pipeline_of(args)
    reports = pipe.reenrich(args.ids or None)
    fixed = sum(1 for r in reports if not r.needs_enrichment)
    out(args, [asdict(r) for r in reports], f"re-enriched {fixed} of {len(reports)} note(s)")
    return 0
