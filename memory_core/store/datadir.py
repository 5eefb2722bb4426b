"""The data directory: the marker file that says "this folder is Memex's" and which format it holds.

Why a marker: Memex never writes into a folder it did not create, so pointing it at the wrong
place (a documents folder, a typo) cannot damage anything. The marker also records the on-disk
format, so an older Memex refuses a newer store instead of misreading it, and a newer Memex
knows it must migrate an older one (see migrations.py).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ..errors import StoreError
from ..notes import now_iso

MARKER_FILE = "memex.json"
# 1: one Chroma record per note, links and the whole history inside its metadata.
# 2: an append-only event log in Chroma; the notes collection is a view folded from it.
FORMAT_VERSION = 2
OUR_FILES = {MARKER_FILE, "settings.json", "chroma", "conversations", "bench", "memex.lock", "generation",
             "exports", "chroma-server", "cache", "backups", "recall.json", "chroma.new", "chroma.old",
             "generation.tmp", "recall.json.tmp", "memex.tmp", "epoch", "epoch.tmp", "chroma.new.done", "chroma.new.payload", "locks"}


def read_marker(home: Path) -> dict[str, Any] | None:
    """The marker's content, None when there is none; StoreError when it is damaged."""
    marker = Path(home) / MARKER_FILE
    if not marker.exists():
        return None
    try:
        info = json.loads(marker.read_text(encoding="utf-8"))
        int(info["format"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise StoreError(
            f"{marker} is damaged ({exc}). Memex will not touch this folder; restore the file from a "
            "backup, or point MEMEX_HOME at another folder."
        ) from exc
    return info


def write_marker(home: Path, version: int, **extra: Any) -> None:
    """Replace the marker atomically (temp file + rename): a crash leaves the old or the new one."""
    home = Path(home)
    info = read_marker(home) or {"created": now_iso()}
    info.update(extra, format=version)
    tmp = home / "memex.tmp"
    tmp.write_text(json.dumps(info), encoding="utf-8")
    os.replace(tmp, home / MARKER_FILE)


def prepare_data_dir(home: Path) -> int:
    """Make sure ``home`` is a Memex data directory, creating it when new; return its format version.

    Refuses (StoreError) a folder that holds other things, a damaged marker, or a format newer
    than this code knows. An older format is returned as is: opening the store migrates it.
    """
    home = Path(home)
    if home.exists() and not home.is_dir():
        raise StoreError(f"The data directory {home} is a file, not a folder. Choose another MEMEX_HOME.")
    info = read_marker(home)
    if info is not None:
        version = int(info["format"])
        if version > FORMAT_VERSION:
            raise StoreError(
                f"{home} was written by a newer Memex (store format {version}; this Memex reads formats up "
                f"to {FORMAT_VERSION}). Upgrade Memex to open it; nothing was changed."
            )
        return version
    if home.exists():
        foreign = sorted(p.name for p in home.iterdir() if p.name not in OUR_FILES)
        if foreign:
            shown = ", ".join(foreign[:5]) + (" ..." if len(foreign) > 5 else "")
            raise StoreError(
                f"{home} is not a Memex data directory (it holds {shown}). Memex will not write into it: "
                "choose an empty or new folder with --data-dir or MEMEX_HOME."
            )
    home.mkdir(parents=True, exist_ok=True)
    write_marker(home, FORMAT_VERSION)
    return FORMAT_VERSION
