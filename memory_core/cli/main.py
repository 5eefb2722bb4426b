"""The ``memex`` command: the same library as the app, for scripts and benchmarks.

Every subcommand takes ``--data-dir`` and ``--json``. Expected failures (bad input, a wrong model
path, a broken data folder) print one clear line on stderr and exit with status 2; they never
print a traceback. A process exits with 0, 1, 2 or 130, never by a signal (``entry``), and a command
that writes (``add``, ``import``, ``chat``, ``queue run``) also resumes the memory writes earlier runs
left queued.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ..config import Settings, load_settings
from ..errors import InputError, MemexError

BENCHMARKS = ("llm", "store", "chat", "answers", "ui", "locomo", "memory", "all")
BENCH_PACKAGE = "memory_core.bench"


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------
def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(args.data_dir)


def _store(args: argparse.Namespace) -> Any:
    from ..store import open_store

    return open_store(_settings(args))


def _pipeline(args: argparse.Namespace) -> Any:
    from ..memory.pipeline import MemoryPipeline

    store = _store(args)
    return MemoryPipeline(store, store.settings)


def _resume_queued(store: Any) -> None:
    """A process that writes does the memory writes earlier runs left queued too (in the background;
    at exit, ``entry`` lets the running one finish within a grace period and leaves the rest queued)."""
    from ..chat.session import ChatSession

    ChatSession(store, store.settings, None).resume_pending()


def _out(args: argparse.Namespace, data: Any, text: str) -> None:
    if getattr(args, "json", False):
        print(json.dumps(data, ensure_ascii=False, indent=2, default=str))
    else:
        print(text)


def _note_brief(note: Any) -> dict[str, Any]:
    return {"id": note.id, "title": note.title, "timestamp": note.timestamp, "tags": note.tags,
            "keywords": note.keywords, "context": note.context, "links": note.link_targets,
            "source": note.source, "needs_enrichment": note.needs_enrichment}


def _read_text(value: str | None, file: str | None) -> str:
    if file:
        path = Path(file)
        try:
            return sys.stdin.read() if file == "-" else path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"Cannot read {file}: {exc}") from exc
    if value is None:
        raise InputError("Give the text as an argument or with --file FILE (- for standard input).")
    return value


# ---------------------------------------------------------------------------------------------
# commands
# ---------------------------------------------------------------------------------------------
def cmd_add(args: argparse.Namespace) -> int:
    text = _read_text(args.text, args.file)
    pipe = _pipeline(args)
    _resume_queued(pipe.store)
    report = pipe.add(text, source=args.source, mode=args.mode, timestamp=args.timestamp)
    note = pipe.store.get(report.note_id)
    data = {"note": _note_brief(note), "report": asdict(report)}
    _out(args, data, f"added {note.id}\n  tags: {', '.join(note.tags)}\n  context: {note.context}\n"
         f"  links: {len(report.links)}  evolved: {len(report.evolved)}  llm calls: {report.usage.calls}"
         f"  tokens: {report.usage.prompt_tokens}+{report.usage.completion_tokens}"
         + ("\n  (marked for re-enrichment: the model's answer was not usable)" if report.needs_enrichment else ""))
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    from ..retrieval import search

    store = _store(args)
    hits = search(store, store.settings, args.query, k=args.k, retriever=args.retriever, touch=args.touch)
    data = [{"id": h.note.id, "score": round(h.score, 4), "kind": h.kind, "reasons": h.reasons,
             "title": h.note.title, "timestamp": h.note.timestamp} for h in hits]
    lines = [f"{i + 1:>2}. {h.score:.3f}  {h.note.id[:8]}  {h.note.title}\n      {'; '.join(h.reasons)}"
             for i, h in enumerate(hits)] or ["no matching notes"]
    _out(args, data, "\n".join(lines))
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    store = _store(args)
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
    _out(args, data, "\n".join(lines))
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    store = _store(args)
    notes = store.filter(tag=args.tag, source=args.source, text=args.text, since=args.since, until=args.until)
    data = [_note_brief(n) for n in notes]
    _out(args, data, "\n".join(f"{n.id[:8]}  {n.timestamp}  {n.title}" for n in notes) or "no notes")
    return 0


def cmd_edit(args: argparse.Namespace) -> int:
    store = _store(args)
    fields: dict[str, Any] = {}
    if args.content is not None or args.file:
        fields["content"] = _read_text(args.content, args.file)
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
    _out(args, _note_brief(note), f"updated {note.id} (version {note.version_count()})")
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    store = _store(args)
    n = store.delete(args.ids)
    _out(args, {"deleted": n}, f"deleted {n} note(s) and every link to them")
    return 0


def cmd_forget(args: argparse.Namespace) -> int:
    from dataclasses import asdict as _asdict

    report = _store(args).forget(args.ids)
    _out(args, _asdict(report), f"forgot {len(report.forgotten)} note(s): {report.events_redacted} change(s) redacted, "
         f"{len(report.notes_scrubbed)} other note(s) cleaned, store compacted: {report.compacted}")
    return 0


def cmd_reindex(args: argparse.Namespace) -> int:
    report = _store(args).reindex()
    _out(args, report, f"rebuilt the notes view and indexes from {report['events']} change(s): "
         f"{report['notes']} note(s), {report['embedded']} re-embedded")
    return 0


def cmd_link(args: argparse.Namespace) -> int:
    store = _store(args)
    changed = store.link(args.source, args.target, args.reason or "")
    _out(args, {"linked": changed}, "linked" if changed else "already linked")
    return 0


def cmd_unlink(args: argparse.Namespace) -> int:
    store = _store(args)
    changed = store.unlink(args.source, args.target)
    _out(args, {"unlinked": changed}, "unlinked" if changed else "there was no link")
    return 0


def cmd_revert(args: argparse.Namespace) -> int:
    from ..memory.cli import run_revert

    return run_revert(args, _store(args), _out)


def cmd_review(args: argparse.Namespace) -> int:
    from ..memory.cli import run_review

    return run_review(args, _store(args), _out)


def cmd_export(args: argparse.Namespace) -> int:
    from ..transfer.memex_json import export_json, export_to_file

    store = _store(args)
    if args.output in (None, "-"):
        print(export_json(store))
        return 0
    n = export_to_file(store, args.output)
    _out(args, {"exported": n, "file": args.output}, f"exported {n} notes to {args.output}")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from ..transfer.memex_json import import_file

    try:
        raw = sys.stdin.buffer.read() if args.file == "-" else Path(args.file).read_bytes()
    except OSError as exc:
        raise InputError(f"Cannot read {args.file}: {exc.strerror or exc}") from exc
    store = _store(args)
    _resume_queued(store)
    report = import_file(store, raw, replace=args.replace)
    _out(args, asdict(report), f"imported {report.added} new, replaced {report.replaced}, "
         f"skipped {len(report.skipped)} existing")
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    store = _store(args)
    s = store.stats()
    text = "\n".join(f"{k:>17}: {v}" for k, v in s.items())
    _out(args, s, text)
    return 0


def cmd_reenrich(args: argparse.Namespace) -> int:
    pipe = _pipeline(args)
    reports = pipe.reenrich(args.ids or None)
    fixed = sum(1 for r in reports if not r.needs_enrichment)
    _out(args, [asdict(r) for r in reports], f"re-enriched {fixed} of {len(reports)} note(s)")
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    from .doctor import run_doctor

    return run_doctor(_settings(args), as_json=args.json, quick=args.quick)


def cmd_vault(args: argparse.Namespace) -> int:
    from ..transfer.vault.cli import run

    return run(args, _store(args))


def cmd_models(args: argparse.Namespace) -> int:
    from ..models.cli import run

    return run(args, _settings(args))


def cmd_chat(args: argparse.Namespace) -> int:
    from ..chat.cli import run

    return run(args, _settings(args))


def cmd_queue(args: argparse.Namespace) -> int:
    from ..chat.queue_cli import run

    return run(args, _settings(args))


def cmd_bench(args: argparse.Namespace) -> int:
    module = importlib.import_module(f"{BENCH_PACKAGE}.{args.bench}")
    return int(module.run(args) or 0)


# ---------------------------------------------------------------------------------------------
# parser
# ---------------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", help="data directory (default: $MEMEX_HOME or ~/.memex)")
    common.add_argument("--json", action="store_true", help="print JSON for scripts")

    parser = argparse.ArgumentParser(prog="memex", description="Memex: local agentic memory (A-MEM) over llama.cpp.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, func: Any, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, parents=[common], help=help_text, description=help_text)
        p.set_defaults(func=func)
        return p

    p = add("add", cmd_add, "Add a note through the A-MEM path (enrich, link, evolve).")
    p.add_argument("text", nargs="?", help="the note's text")
    p.add_argument("--file", help="read the text from a file (- for standard input)")
    p.add_argument("--mode", choices=("full", "fast"), default="full", help="full: with the model; fast: no model")
    p.add_argument("--source", choices=("manual", "chat", "import"), default="manual")
    p.add_argument("--timestamp", help="ISO 8601 time of the memory (default: now)")

    p = add("search", cmd_search, "Search the memory (hybrid BM25 + dense, with link expansion).")
    p.add_argument("query")
    p.add_argument("-k", type=int, default=5)
    p.add_argument("--retriever", choices=("contextual", "contextual+ppr", "hybrid+links", "hybrid", "bm25", "dense"))
    # A search from the command line is a look, not a recall by the chat: it changes nothing on disk
    # unless asked to count (``--no-touch`` is the default and stays accepted).
    p.add_argument("--touch", action="store_true", help="count this search as a recall of the notes found")
    p.add_argument("--no-touch", dest="touch", action="store_false", help=argparse.SUPPRESS)

    p = add("show", cmd_show, "Show one note (id or unique id prefix).")
    p.add_argument("id")
    p.add_argument("--history", action="store_true", help="list every recorded change")

    p = add("list", cmd_list, "List notes, optionally filtered.")
    p.add_argument("--tag")
    p.add_argument("--source", choices=("manual", "chat", "import"))
    p.add_argument("--text", help="case-insensitive text match")
    p.add_argument("--since", help="ISO 8601 time")
    p.add_argument("--until", help="ISO 8601 time")

    p = add("edit", cmd_edit, "Edit a note (recorded in its history, re-embedded).")
    p.add_argument("id")
    p.add_argument("--content")
    p.add_argument("--file", help="new content from a file (- for standard input)")
    p.add_argument("--context")
    p.add_argument("--tags", help="comma-separated")
    p.add_argument("--keywords", help="comma-separated")
    p.add_argument("--timestamp")

    p = add("delete", cmd_delete, "Delete notes and every link to them.")
    p.add_argument("ids", nargs="+")

    p = add("forget", cmd_forget, "Forget notes: delete them and purge their text from the log, other notes and disk.")
    p.add_argument("ids", nargs="+")

    add("reindex", cmd_reindex, "Rebuild the notes view, graph and search index from the change log.")

    p = add("link", cmd_link, "Link one note to another by hand.")
    p.add_argument("source")
    p.add_argument("target")
    p.add_argument("--reason")

    p = add("unlink", cmd_unlink, "Remove the link between two notes.")
    p.add_argument("source")
    p.add_argument("target")

    p = add("revert", cmd_revert, "Revert a note (or some fields) to an earlier version; shows the plan first.")
    from ..memory.cli import add_revert_arguments, add_review_arguments

    add_revert_arguments(p)

    p = add("review", cmd_review, "The review inbox: what the model proposed (list, accept ID, reject ID, accept-all).")
    add_review_arguments(p)

    p = add("export", cmd_export, "Export every note (with links and history) as JSON.")
    p.add_argument("output", nargs="?", help="file to write (default: standard output)")

    p = add("import", cmd_import, "Import a Memex JSON export; a malformed file changes nothing.")
    p.add_argument("file", help="export file (- for standard input)")
    p.add_argument("--replace", action="store_true", help="overwrite notes whose id already exists")

    add("stats", cmd_stats, "Counts: notes, links, tags, evolutions, disk size.")

    p = add("reenrich", cmd_reenrich, "Ask the model again for notes marked for re-enrichment.")
    p.add_argument("ids", nargs="*")

    p = add("doctor", cmd_doctor, "Check the installation: versions, models, data directory, timings.")
    p.add_argument("--quick", action="store_true", help="skip loading the models")

    p = add("vault", cmd_vault, "Markdown vault for Obsidian: `vault export DIR|ZIP`, `vault import DIR|ZIP`.")
    from ..transfer.vault.cli import add_arguments as vault_arguments

    vault_arguments(p, common)

    p = add("models", cmd_models, "GGUF models on this machine; `models download REPO FILE` (or a recommended key).")
    from ..models.cli import add_arguments as models_arguments

    models_arguments(p, common)

    p = add("chat", cmd_chat, "One chat turn through the Chat page's path: recall, reply, memory write.")
    from ..chat.cli import add_arguments as chat_arguments

    chat_arguments(p)

    p = add("queue", cmd_queue, "Memory writes not done yet and why; `queue run` does them now and waits.")
    from ..chat.queue_cli import add_arguments as queue_arguments

    queue_arguments(p, common)

    p = add("bench", cmd_bench, "Benchmarks that print figures (llm, store, chat, ui, locomo, all).")
    bench_sub = p.add_subparsers(dest="bench", required=True, metavar="BENCH")
    for name in BENCHMARKS:
        try:
            module = importlib.import_module(f"{BENCH_PACKAGE}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{BENCH_PACKAGE}.{name}":
                raise
            continue
        bp = bench_sub.add_parser(name, parents=[common], help=module.__doc__.strip().splitlines()[0],
                                  description=module.__doc__)
        module.add_arguments(bp)
        bp.set_defaults(func=cmd_bench)
    return parser


PATH_ARGUMENTS = {"data_dir", "file", "output"}  # file names may hold any bytes; Memex never stores them


def _check_arguments(args: argparse.Namespace) -> None:
    """Refuse a text argument that is not valid Unicode before the command runs.

    Why: the shell hands a byte that is not UTF-8 (e.g. Latin-1 "caf\\xe9") to Python as a lone
    surrogate; stored, it would fail deep inside Chroma or an export. One clear line up front instead.
    """
    from ..notes import check_text

    for name, value in vars(args).items():
        if name in PATH_ARGUMENTS:
            continue
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, str):
                check_text(item, f"The argument {name.replace('_', '-')!r}")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        _check_arguments(args)
        return int(args.func(args) or 0)
    except MemexError as exc:
        print(f"memex: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("memex: interrupted; nothing half-written was kept.", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `memex list | head -1`: the reader has what it wanted
        _quiet_stdout()
        return 0
    except Exception as exc:  # noqa: BLE001 - a bug: one line for the person, the traceback on request
        if os.environ.get("MEMEX_DEBUG"):
            raise
        print(f"memex: unexpected error ({type(exc).__name__}: {' '.join(str(exc).split())[:300]}). "
              "This is a bug in Memex; run again with MEMEX_DEBUG=1 to see the traceback, and please "
              "report it.", file=sys.stderr)
        return 1


def entry() -> None:
    """The ``memex`` console script: ``main``, then an orderly end, then ``os._exit``.

    Why ``os._exit``: llama.cpp, ONNX Runtime and Chroma run native threads of their own, and CPython's
    teardown of their modules while one still runs ended ``memex chat`` with SIGSEGV or SIGABRT in about
    half of its runs. So the end is done here, in order, while everything is whole: the memory writer
    finishes or leaves its work (``chat.lifecycle``), stores flush and close, output is flushed; after
    that nothing is left for the interpreter to finalise, and the process leaves with its status.
    """
    from ..chat.lifecycle import end_process

    try:
        code = main()
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2)
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    except KeyboardInterrupt:
        code = 130
    code = end_process(code)
    os._exit(code)


def _quiet_stdout() -> None:
    """After a closed pipe, point stdout at /dev/null so the final flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


if __name__ == "__main__":
    entry()
