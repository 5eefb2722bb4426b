"""``memex`` commands about the data folder as a whole: export, import, vault, reindex, stats, doctor."""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict
from pathlib import Path

from ..errors import InputError
from .common import out, resume_queued, settings_of, store_of


def cmd_export(args: argparse.Namespace) -> int:
    from ..transfer.memex_json import export_json, export_to_file

    store = store_of(args)
    if args.output in (None, "-"):
        print(export_json(store))
        return 0
    n = export_to_file(store, args.output)
    out(args, {"exported": n, "file": args.output}, f"exported {n} notes to {args.output}")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from ..transfer.memex_json import import_file

    try:
        raw = sys.stdin.buffer.read() if args.file == "-" else Path(args.file).read_bytes()
    except OSError as exc:
        raise InputError(f"Cannot read {args.file}: {exc.strerror or exc}") from exc
    store = store_of(args)
    resume_queued(store)
    report = import_file(store, raw, replace=args.replace)
    out(args, asdict(report), f"imported {report.added} new, replaced {report.replaced}, "
        f"skipped {len(report.skipped)} existing")
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
