"""``memex`` commands about the data folder as a whole: export, import, vault, reindex, stats, doctor."""

from __future__ import annotations

import argparse

from .common import out, settings_of, store_of
from .import_command import cmd_import

__all__ = ["cmd_doctor", "cmd_export", "cmd_import", "cmd_reindex", "cmd_stats", "cmd_vault"]


def cmd_export(args: argparse.Namespace) -> int:
    from ..transfer.memex_json import export_json, export_to_file

    store = store_of(args)
    if args.output in (None, "-"):
        print(export_json(store))
        return 0
    n = export_to_file(store, args.output)
    out(args, {"exported": n, "file": args.output}, f"exported {n} notes to {args.output}")
    return 0


def cmd_reindex(args: argparse.Namespace) -> int:
    report = store_of(args).reindex()
    out(args, report, f"rebuilt the notes view and indexes from {report['events']} change(s): "
        f"{report['notes']} note(s), {report['embedded']} re-embedded")
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    store = store_of(args)
    s = store.stats()
    text = "\n".join(f"{k:>17}: {v}" for k, v in s.items())
    out(args, s, text)
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    from .doctor import run_doctor

    return run_doctor(settings_of(args), as_json=args.json, quick=args.quick)


def cmd_vault(args: argparse.Namespace) -> int:
    from ..transfer.vault.cli import run

    return run(args, store_of(args))
