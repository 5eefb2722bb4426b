"""Benchmarks: scripts that print figures (``memex bench NAME``); never timed tests.

Each module has ``add_arguments(parser)`` and ``run(args) -> int``, imports its heavy dependencies
inside ``run`` (the CLI imports every module to build its help), and saves its results as JSON in
``<data dir>/bench/<name>-latest.json`` so the Insights page can show them.
"""

from __future__ import annotations

import json
import platform
from pathlib import Path
from typing import Any

from ..notes import now_iso


def save_results(home: Path, name: str, results: dict[str, Any]) -> Path:
    """Write ``bench/<name>-latest.json`` (with when and where it ran) and return its path."""
    folder = Path(home) / "bench"
    folder.mkdir(parents=True, exist_ok=True)
    payload = {"benchmark": name, "ran": now_iso(), "machine": platform.platform(), **results}
    path = folder / f"{name}-latest.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(payload, indent=2, default=str), encoding="utf-8")
    tmp.replace(path)
    return path


def load_results(home: Path, name: str) -> dict[str, Any] | None:
    path = Path(home) / "bench" / f"{name}-latest.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


def print_table(headers: list[str], rows: list[list[Any]]) -> None:
    """A plain aligned table on stdout."""
    cells = [[str(h) for h in headers]] + [[f"{c:.3f}" if isinstance(c, float) else str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    for j, r in enumerate(cells):
        print("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))))
        if j == 0:
            print("  ".join("-" * w for w in widths))
