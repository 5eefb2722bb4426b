"""``memex consolidate``: rebuild the digests and the profile now, and show them.

Why in the chat package: it runs through the same ``Consolidator`` as the app's idle runs (so it gives
way to a reply another thread of this process streams, and uses a configured capable model gated the
same way); a person at a terminal sees the report and, with ``--show``, what Memex knows about them.
"""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..config import Settings


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--show", action="store_true", help="print the profile and the digests after rebuilding")
    p.add_argument("--no-rebuild", dest="rebuild", action="store_false",
                   help="only show what is stored (with --show)")


def _lines(store: Any) -> dict[str, Any]:
    from ..consolidation import SECTION_TITLES, SECTIONS, cited, lines_of, section_of

    profile = {s: [] for s in SECTIONS}  # type: dict[str, list[dict[str, Any]]]
    for note in lines_of(store, "profile"):
        profile.setdefault(section_of(note), []).append({"id": note.id, "text": note.content, "cites": cited(note)})
    digests = [{"id": n.id, "key": n.source_ref, "text": n.content, "cites": cited(n)}
               for n in lines_of(store, "digest")]
    return {"profile": profile, "titles": SECTION_TITLES, "digests": digests}


def run(args: argparse.Namespace, settings: Settings) -> int:
    from ..store import open_store
    from .consolidating import get_consolidator

    store = open_store(settings)
    data: dict[str, Any] = {}
    text: list[str] = []
    if args.rebuild:
        report = get_consolidator(store).run_now()
        if report is None:
            text.append("A consolidation is already running in this process; try again when it is done.")
        else:
            data["report"] = {"summary": report.summary(), "profile_lines": report.profile_lines,
                              "digests": report.digests, "written_by": report.written_by,
                              "created": report.saved.created, "updated": report.saved.updated,
                              "kept_edited": report.saved.kept_edited, "removed": len(report.saved.removed),
                              "rejected": [{"line": a, "why": b} for a, b in report.rejected],
                              "seconds": round(report.seconds, 2)}
            text.append(report.summary())
    if args.show or args.json:
        shown = _lines(store)
        data.update(profile=shown["profile"], digests=shown["digests"])
        for section, rows in shown["profile"].items():
            text.append(f"\n{shown['titles'].get(section, section)}")
            text += [f"  - {r['text']}  [{', '.join(c[:8] for c in r['cites'])}]" for r in rows] or ["  (nothing yet)"]
        text.append("\nDigests")
        for d in shown["digests"]:
            text.append("  " + d["text"].replace("\n", "\n    "))
    if args.json:
        print(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        print("\n".join(text))
    return 0
