"""``memex`` commands that hand over to a package's own command-line module: models, chat, queue, bench."""

from __future__ import annotations

import argparse
import importlib

from .common import settings_of

BENCHMARKS = ("llm", "store", "chat", "answers", "ui", "locomo", "notes", "memory", "history_import", "consolidation",
              "links", "episodes", "all")
BENCH_PACKAGE = "memory_core.bench"


def cmd_models(args: argparse.Namespace) -> int:
    from ..models.cli import run

    return run(args, settings_of(args))


def cmd_chat(args: argparse.Namespace) -> int:
    from ..chat.cli import run

    return run(args, settings_of(args))


def cmd_queue(args: argparse.Namespace) -> int:
    from ..chat.queue_cli import run

    return run(args, settings_of(args))


def cmd_consolidate(args: argparse.Namespace) -> int:
    from ..chat.consolidate_cli import run

    return run(args, settings_of(args))


def cmd_bench(args: argparse.Namespace) -> int:
    module = importlib.import_module(f"{BENCH_PACKAGE}.{args.bench}")
    return int(module.run(args) or 0)
