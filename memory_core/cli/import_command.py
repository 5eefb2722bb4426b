"""``memex import FILE|DIR``: whatever it is given, recognised by content.

A Memex export (all or nothing, as before), a chat history (ChatGPT's or Claude's export, its zip, the
plain JSON/JSONL format: ``chat.history_import``), a Markdown vault (a folder or a zip: ``memex vault
import``). Why one command: a person has a file and wants it in; which importer reads it is Memex's
business. Exit status: 0 when all of it was imported, 1 when some parts were skipped (each is named), 2
when nothing could be (one line saying why, from ``main``).
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ..errors import ImportFormatError, InputError
from .common import out, resume_queued, store_of


def cmd_import(args: argparse.Namespace) -> int:
    if args.file != "-" and Path(args.file).is_dir():
        from ..transfer.vault.cli import report_text
        from ..transfer.vault.importer import import_vault

        report = import_vault(store_of(args), args.file)
        out(args, report.to_dict(), report_text(report))
        return 1 if report.refused else 0
    raw = _read(args.file)
    from ..transfer.imports import detect

    kind = detect(raw)
    store = store_of(args)
    if kind == "chat":
        return _chat_history(args, store, raw)
    if kind == "vault":
        from ..transfer.vault.cli import report_text
        from ..transfer.vault.importer import import_vault

        try:
            vault = import_vault(store, raw)
        except InputError as exc:  # a zip that is neither an export nor a vault
            raise ImportFormatError(f"{exc} The zip holds no conversations.json either, so it is no ChatGPT or "
                                    "Claude export; nothing was imported.") from exc
        out(args, vault.to_dict(), report_text(vault))
        return 1 if vault.refused else 0
    if kind == "locomo":
        raise ImportFormatError("This is a LoCoMo conversation file; import it on the Import / Export page, "
                                "or run `memex bench locomo` with it.")
    from ..transfer.memex_json import import_file

    resume_queued(store)
    done = import_file(store, raw, replace=args.replace)
    out(args, asdict(done), f"imported {done.added} new, replaced {done.replaced}, "
        f"skipped {len(done.skipped)} existing")
    return 0


def _read(file: str) -> bytes:
    from ..transfer.chat_history import read_file

    if file != "-":
        return read_file(file)
    try:
        return sys.stdin.buffer.read()
    except OSError as exc:
        raise InputError(f"Cannot read standard input: {exc.strerror or exc}") from exc


def _chat_history(args: argparse.Namespace, store: Any, raw: bytes) -> int:
    """Import a chat history; Ctrl-C stops it between two messages (what is finished stays finished)."""
    from ..chat.history_import import import_history
    from ..transfer.chat_history import parse_history

    history = parse_history(raw, "stdin" if args.file == "-" else Path(args.file).name)
    if not history.conversations and history.problems:
        raise ImportFormatError(f"No conversation in {history.name} could be read: {history.problems[0]}"
                                + (f" (and {len(history.problems) - 1} more)" if len(history.problems) > 1 else ""))
    resume_queued(store)
    cancel = threading.Event()
    show = sys.stderr.isatty() and not args.json
    if show:
        print(f"{history.name}: {history.describe()}", file=sys.stderr)

    def progress(done: int, total: int) -> None:
        if show and (done == total or done % 25 == 0):
            print(f"\r  {done:,} of {total:,} of your messages", end="", file=sys.stderr, flush=True)

    previous = _on_interrupt(cancel)
    try:
        report = import_history(store, store.settings, history, progress=progress, cancel=cancel)
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
        if show:
            print(file=sys.stderr)
    speed = f", {report.rate:.1f} of your messages/s" if report.written >= 100 else ""
    lines = [f"{history.name} ({history.describe()}): {report.summary()} (fast mode: no model{speed})"]
    lines += [f"  skipped  {p}" for p in report.skipped]
    lines += [f"  refused  {p}" for p in report.refused]
    out(args, report.to_dict(), "\n".join(lines))
    if report.cancelled:
        return 130
    return 1 if report.skipped or report.refused else 0


def _on_interrupt(cancel: threading.Event) -> Any:
    """Ctrl-C sets ``cancel`` (the import ends between two messages) instead of raising mid-write."""
    if threading.current_thread() is not threading.main_thread():
        return None
    with contextlib.suppress(ValueError, OSError):
        return signal.signal(signal.SIGINT, lambda *_: cancel.set())
    return None
