"""What every ``memex`` command body shares: its settings and store from ``--data-dir``, the text it
was given, and one way to print a result (``--json`` for scripts, lines for people).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config import Settings, load_settings
from ..errors import InputError

if TYPE_CHECKING:
    from ..store import Store


def settings_of(args: argparse.Namespace) -> Settings:
    """The settings of the data folder the command names (``--data-dir``, else the default)."""
    return load_settings(args.data_dir)


def store_of(args: argparse.Namespace) -> Any:
    """The store of that data folder, opened for this command."""
    from ..store import open_store

    return open_store(settings_of(args))


def pipeline_of(args: argparse.Namespace) -> Any:
    """The write path over that store (``add``, ``reenrich``)."""
    from ..memory.pipeline import MemoryPipeline

    store = store_of(args)
    return MemoryPipeline(store, store.settings)


def resume_queued(store: Store) -> None:
    """A process that writes does the memory writes earlier runs left queued too (in the background;
    at exit, ``entry`` lets the running one finish within a grace period and leaves the rest queued)."""
    from ..chat.session import ChatSession

    ChatSession(store, store.settings, None).resume_pending()


def out(args: argparse.Namespace, data: Any, text: str) -> None:
    """Print ``data`` as JSON with ``--json``, else ``text``."""
    if getattr(args, "json", False):
        print(json.dumps(data, ensure_ascii=False, indent=2, default=str))
    else:
        print(text)


def note_brief(note: Any) -> dict[str, Any]:
    """The fields of a note a listing shows (``--json``)."""
    return {"id": note.id, "title": note.title, "timestamp": note.timestamp, "tags": note.tags,
            "keywords": note.keywords, "context": note.context, "links": note.link_targets,
            "source": note.source, "needs_enrichment": note.needs_enrichment}


def read_text(value: str | None, file: str | None) -> str:
    """The text given as an argument, or read from ``--file`` (``-``: standard input)."""
    if file:
        path = Path(file)
        try:
            return sys.stdin.read() if file == "-" else path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"Cannot read {file}: {exc}") from exc
    if value is None:
        raise InputError("Give the text as an argument or with --file FILE (- for standard input).")
    return value
