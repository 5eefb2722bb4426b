"""The ``memex`` argument parser: one subcommand per command body, in groups by topic.

The groups follow the order ``memex --help`` has always listed the commands in.

Why apart from the bodies: the parser is read to learn what the command accepts, the bodies to learn
what it does; ``build_parser`` only strings the groups together.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable
from typing import Any

from ..notes import SOURCES
from . import data_commands as data
from . import note_commands as notes
from . import run_commands as runs

AddCommand = Callable[[str, Any, str], argparse.ArgumentParser]


def build_parser() -> argparse.ArgumentParser:
    """The whole ``memex`` parser; every subcommand takes ``--data-dir`` and ``--json``."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", help="data directory (default: $MEMEX_HOME or ~/.memex)")
    common.add_argument("--json", action="store_true", help="print JSON for scripts")

    parser = argparse.ArgumentParser(prog="memex", description="Memex: local agentic memory (A-MEM) over llama.cpp.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, func: Any, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, parents=[common], help=help_text, description=help_text)
        p.set_defaults(func=func)
        return p

    _note_commands(add)
    _note_changes(add)
    _data_commands(add, common)
    _run_commands(add, common)
    _bench_commands(add, common)
    return parser


def _note_commands(add: AddCommand) -> None:
    """add, search, explain, show, list: writing a note and reading notes."""
    p = add("add", notes.cmd_add, "Add a note through the A-MEM path (enrich, link, evolve).")
    p.add_argument("text", nargs="?", help="the note's text")
    p.add_argument("--file", help="read the text from a file (- for standard input)")
    p.add_argument("--mode", choices=("full", "fast"), default="full", help="full: with the model; fast: no model")
    p.add_argument("--source", choices=("manual", "chat", "import"), default="manual")
    p.add_argument("--timestamp", help="ISO 8601 time of the memory (default: now)")

    p = add("search", notes.cmd_search, "Search the memory (hybrid BM25 + dense, with link expansion).")
    p.add_argument("query")
    p.add_argument("-k", type=int, default=5)
    p.add_argument("--retriever", choices=("recall", "contextual", "contextual+ppr", "hybrid+links", "hybrid", "bm25", "dense"))
    # A search from the command line is a look, not a recall by the chat: it changes nothing on disk
    # unless asked to count (``--no-touch`` is the default and stays accepted).
    p.add_argument("--touch", action="store_true", help="count this search as a recall of the notes found")
    p.add_argument("--no-touch", dest="touch", action="store_false", help=argparse.SUPPRESS)

    p = add("explain", notes.cmd_explain,
            "Why a note is (or is not) recalled for a query: its rank among all notes, each signal, the query "
            "words it has and lacks, what excluded it, and how far it was from the cut.")
    p.add_argument("query")
    p.add_argument("note", help="the note's id or a unique id prefix (6+ characters)")
    p.add_argument("-k", type=int, help="the cut (default: the chat's recall_k setting)")
    p.add_argument("--retriever", choices=("contextual", "contextual+ppr", "hybrid+links", "hybrid", "bm25", "dense"),
                   help="the retriever to explain (default: the chat's, contextual)")
    p.add_argument("--chat", action="store_true",
                   help="the chat's view: the time span the question names (read as of now) ranks its notes "
                        "first, and the relevance floor leaves weak matches out (the search has neither)")

    p = add("show", notes.cmd_show, "Show one note (id or unique id prefix).")
    p.add_argument("id")
    p.add_argument("--history", action="store_true", help="list every recorded change")

    p = add("list", notes.cmd_list, "List notes, optionally filtered.")
    p.add_argument("--tag")
    p.add_argument("--source", choices=SOURCES)
    p.add_argument("--text", help="case-insensitive text match")
    p.add_argument("--since", help="ISO 8601 time")
    p.add_argument("--until", help="ISO 8601 time")


def _note_changes(add: AddCommand) -> None:
    """edit, delete, forget, reindex, link, unlink, revert, review: changing the notes that exist."""
    from ..memory.cli import add_revert_arguments, add_review_arguments

    p = add("edit", notes.cmd_edit, "Edit a note (recorded in its history, re-embedded).")
    p.add_argument("id")
    p.add_argument("--content")
    p.add_argument("--file", help="new content from a file (- for standard input)")
    p.add_argument("--context")
    p.add_argument("--tags", help="comma-separated")
    p.add_argument("--keywords", help="comma-separated")
    p.add_argument("--timestamp")

    p = add("delete", notes.cmd_delete, "Delete notes and every link to them.")
    p.add_argument("ids", nargs="+")

    p = add("forget", notes.cmd_forget,
            "Forget notes, alive or already deleted: purge their text from the log, other notes and disk.")
    p.add_argument("ids", nargs="+")

    add("reindex", data.cmd_reindex, "Rebuild the notes view, graph and search index from the change log.")

    p = add("link", notes.cmd_link, "Link one note to another by hand.")
    p.add_argument("source")
    p.add_argument("target")
    p.add_argument("--reason")

    p = add("unlink", notes.cmd_unlink, "Remove the link between two notes.")
    p.add_argument("source")
    p.add_argument("target")

    add_revert_arguments(add("revert", notes.cmd_revert,
                             "Revert a note (or some fields) to an earlier version; shows the plan first."))
    add_review_arguments(add("review", notes.cmd_review,
                             "The review inbox: what the model proposed (list, accept ID, reject ID, accept-all)."))


def _data_commands(add: AddCommand, common: argparse.ArgumentParser) -> None:
    """export, import, stats, reenrich, doctor, vault: the data folder as a whole."""
    from ..transfer.vault.cli import add_arguments as vault_arguments

    p = add("export", data.cmd_export, "Export every note (with links and history) as JSON.")
    p.add_argument("output", nargs="?", help="file to write (default: standard output)")

    p = add("import", data.cmd_import,
            "Import a file, recognised by its content: a Memex export (a malformed one changes nothing), a "
            "ChatGPT or Claude export (conversations.json or the zip), a plain chat history (JSON or JSONL, "
            "see docs/import.md), or a Markdown vault (a folder or a zip, as `memex vault import`).")
    p.add_argument("file", metavar="FILE|DIR", help="the file or folder to import (- for standard input)")
    p.add_argument("--replace", action="store_true", help="Memex export: overwrite notes whose id already exists")

    add("stats", data.cmd_stats, "Counts: notes, links, tags, evolutions, disk size.")

    p = add("reenrich", notes.cmd_reenrich, "Ask the model again for notes marked for re-enrichment.")
    p.add_argument("ids", nargs="*")

    p = add("doctor", data.cmd_doctor, "Check the installation: versions, models, data directory, timings.")
    p.add_argument("--quick", action="store_true", help="skip loading the models")

    vault_arguments(add("vault", data.cmd_vault,
                        "Markdown vault for Obsidian: `vault export DIR|ZIP`, `vault import DIR|ZIP`."), common)


def _run_commands(add: AddCommand, common: argparse.ArgumentParser) -> None:
    """models, chat, queue: commands whose arguments their own package declares."""
    from ..chat.cli import add_arguments as chat_arguments
    from ..chat.consolidate_cli import add_arguments as consolidate_arguments
    from ..chat.queue_cli import add_arguments as queue_arguments
    from ..models.cli import add_arguments as models_arguments

    models_arguments(add("models", runs.cmd_models,
                         "GGUF models on this machine; `models download REPO FILE` (or a recommended key)."), common)
    chat_arguments(add("chat", runs.cmd_chat,
                       "One chat turn through the Chat page's path: recall, reply, memory write."))
    consolidate_arguments(add("consolidate", runs.cmd_consolidate,
                              "Rebuild the digests and the profile (what Memex knows about you) now; --show prints them."))
    queue_arguments(add("queue", runs.cmd_queue,
                        "Memory writes not done yet and why; `queue run` does them now and waits."), common)


def _bench_commands(add: AddCommand, common: argparse.ArgumentParser) -> None:
    """``bench NAME``: one subcommand per benchmark module, described by its docstring."""
    p = add("bench", runs.cmd_bench, "Benchmarks that print figures (llm, store, chat, ui, locomo, all).")
    bench_sub = p.add_subparsers(dest="bench", required=True, metavar="BENCH")
    for name in runs.BENCHMARKS:
        try:
            module = importlib.import_module(f"{runs.BENCH_PACKAGE}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{runs.BENCH_PACKAGE}.{name}":
                raise
            continue
        bp = bench_sub.add_parser(name, parents=[common], help=(module.__doc__ or name).strip().splitlines()[0],
                                  description=module.__doc__)
        module.add_arguments(bp)
        bp.set_defaults(func=runs.cmd_bench)
