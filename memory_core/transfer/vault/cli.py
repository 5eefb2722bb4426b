"""``memex vault export DIR|ZIP`` and ``memex vault import DIR|ZIP``: the same functions as the pages.

Exit status of an import: 0 when every file was usable, 1 when some files were refused (each one
is named with the reason; the rest was imported), 2 when nothing could be read at all.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from .export import export_to_path
from .importer import VaultImportReport, import_vault

if TYPE_CHECKING:
    import argparse

    from ...store import Store


def report_text(report: VaultImportReport) -> str:
    lines = [f"{report.source}: {report.summary()}"]
    for f in report.files:
        if f.status == "refused":
            lines.append(f"  refused  {f.path}: {'; '.join(f.problems)}")
        elif f.problems:
            lines.append(f"  {f.status:<8} {f.path}: {'; '.join(f.problems)}")
        elif f.status in ("added", "updated"):
            what = f" ({', '.join(f.changed)})" if f.changed else ""
            lines.append(f"  {f.status:<8} {f.path}{what}")
    return "\n".join(lines)


def run(args: argparse.Namespace, store: Store) -> int:
    if args.vault_command == "export":
        kind, n = export_to_path(store, args.target)
        data = {"exported": n, "kind": kind, "target": args.target}
        print(json.dumps(data) if args.json else f"exported {n} notes as a vault {kind}: {args.target}")
        return 0
    report = import_vault(store, args.source)
    print(json.dumps(report.to_dict(), ensure_ascii=False, indent=2) if args.json else report_text(report))
    return 1 if report.refused else 0


def add_arguments(parser: Any, common: Any) -> None:
    """The export/import actions; ``common`` (--data-dir, --json) is accepted after them too."""
    sub = parser.add_subparsers(dest="vault_command", required=True, metavar="ACTION")
    p = sub.add_parser("export", parents=[common],
                       help="write every note as Markdown (a folder, or a zip when the name ends in .zip)")
    p.add_argument("target", metavar="DIR|ZIP")
    p = sub.add_parser("import", parents=[common], help="import a vault folder or zip; edited files update their note")
    p.add_argument("source", metavar="DIR|ZIP")
