"""Quick health check: the llm, store, chat, ui and locomo benchmarks at a small size, one summary table.

Each benchmark runs through its own ``run(args)`` with its own arguments (small sizes unless
``--size default``), in a temporary data directory that carries a copy of your settings: the same
model and weights, but your memory and your saved full-size results are left alone. A benchmark
whose module is not there is listed as "missing"; one that fails is listed as "failed" with the
reason, and the others still run. The summary is saved as <data dir>/bench/all-latest.json.
Exit status: 0 when every benchmark ran, 1 otherwise.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from . import load_results, print_table, save_results

NAMES = ("llm", "store", "chat", "ui", "locomo")

# Small sizes, by argument name (``dest``) of each benchmark's own parser. Names a benchmark does not
# define are ignored, so this table can name options before the module that owns them exists.
SMALL: dict[str, dict[str, Any]] = {
    "llm": {"runs": 1, "max_tokens": 32, "notes": 3},
    "store": {"sizes": "500", "full_writes": 2, "queries": 16},
    "chat": {"sizes": "300", "turns": 3, "runs": 1, "max_tokens": 32},
    "ui": {"sizes": "300", "runs": 1},
    "locomo": {"quiet": True},
}

# Headline figures per benchmark when its module has no ``figures(results)``: (label, path in results).
HEADLINES: dict[str, list[tuple[str, str]]] = {
    "llm": [("tokens/s", "memex.tokens_per_s"), ("bare tokens/s", "bare.tokens_per_s"),
            ("overhead %", "overhead_pct"), ("structured valid", "structured.valid_rate")],
}



def _store_figures(res: dict[str, Any]) -> dict[str, Any]:
    sizes = res.get("sizes") or {}
    if not sizes:
        return {}
    size, block = next(iter(sizes.items()))
    out = {f"ingest notes/s @{size}": block.get("ingest_notes_per_s"),
           "hybrid+links p50 ms": _get(block, "search_ms.hybrid+links.p50"),
           "full write p50 s": _get(res, "full_mode.latency_p50_s")}
    return {k: v for k, v in out.items() if v is not None}


FIGURES: dict[str, Any] = {"store": _store_figures}

FIXTURE = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "locomo_small.json"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--size", choices=("small", "default"), default="small",
                        help="small: a quick check (default); default: each benchmark's own default size")
    parser.add_argument("--only", help="comma list of benchmarks to run (default: all)")
    parser.add_argument("--skip", help="comma list of benchmarks to leave out")
    parser.add_argument("--locomo-file", help=f"LoCoMo file for the locomo check (default: {FIXTURE.name} "
                        "from the source tree)")
    parser.add_argument("--verbose", action="store_true", help="show each benchmark's own output")


def _get(data: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(data, dict) or part not in data:
            return None
        data = data[part]
    return data


def _numbers(data: Any, prefix: str = "", out: dict[str, Any] | None = None, limit: int = 4) -> dict[str, Any]:
    """The first few numeric leaves of a results dict (a fallback summary)."""
    out = {} if out is None else out
    if isinstance(data, dict):
        for key, value in data.items():
            if len(out) >= limit:
                break
            if key in ("ran", "machine", "benchmark", "settings", "versions", "seed"):
                continue
            _numbers(value, f"{prefix}{key}.", out, limit)
    elif isinstance(data, (int, float)) and not isinstance(data, bool) and len(out) < limit:
        out[prefix.rstrip(".")] = data
    return out


def figures(name: str, module: Any, results: dict[str, Any] | None) -> dict[str, Any]:
    """Headline figures: the module's own ``figures(results)``, else ours (FIGURES, HEADLINES), else a fallback."""
    if not results:
        return {}
    own = getattr(module, "figures", None)
    if callable(own):
        try:
            return dict(own(results))
        except Exception:  # noqa: BLE001 - a summary must not hide the run that worked
            pass
    if name in FIGURES:
        try:
            picked = FIGURES[name](results)
        except Exception:  # noqa: BLE001
            picked = {}
        if picked:
            return picked
    if name in HEADLINES:
        picked = {label: _get(results, path) for label, path in HEADLINES[name]}
        picked = {k: v for k, v in picked.items() if v is not None}
        if picked:
            return picked
    return _numbers(results)


def _format(figs: dict[str, Any]) -> str:
    parts = []
    for key, value in figs.items():
        parts.append(f"{key} {value:.3g}" if isinstance(value, float) else f"{key} {value}")
    return "; ".join(parts)


def run_one(name: str, home: Path, *, size: str = "small", extra: list[str] | None = None,
            overrides: dict[str, Any] | None = None, verbose: bool = False) -> dict[str, Any]:
    """Run one benchmark's ``run(args)`` against data dir ``home``; never raises.

    Returns {"name", "status": ok / failed / missing, "seconds", "detail", "figures", "results"}.
    """
    row: dict[str, Any] = {"name": name, "status": "ok", "seconds": 0.0, "detail": "", "figures": {},
                           "results": None}
    try:
        module = importlib.import_module(f"{__package__}.{name}")
    except ModuleNotFoundError as exc:
        if exc.name == f"{__package__}.{name}":
            row.update(status="missing", detail=f"memory_core/bench/{name}.py does not exist yet")
            return row
        row.update(status="failed", detail=f"import: {exc}")
        return row
    except Exception as exc:  # noqa: BLE001
        row.update(status="failed", detail=f"import: {type(exc).__name__}: {exc}")
        return row
    if not callable(getattr(module, "run", None)) or not callable(getattr(module, "add_arguments", None)):
        row.update(status="failed", detail="module has no run(args) / add_arguments(parser)")
        return row
    buffer = io.StringIO()
    started = time.perf_counter()
    try:
        parser = argparse.ArgumentParser(prog=f"memex bench {name}", add_help=False)
        parser.add_argument("--data-dir")
        parser.add_argument("--json", action="store_true")
        module.add_arguments(parser)
        with contextlib.redirect_stderr(buffer):  # argparse complains on stderr before SystemExit
            args = parser.parse_args([*(extra or []), "--data-dir", str(home)])
        changes = dict(SMALL.get(name, {})) if size == "small" else {}
        changes.update(overrides or {})
        for dest, value in changes.items():
            if hasattr(args, dest):
                setattr(args, dest, value)
        target = contextlib.nullcontext() if verbose else contextlib.redirect_stdout(buffer)
        with target:
            code = module.run(args)
        if code:
            row.update(status="failed", detail=f"exit status {code}: " + _last_line(buffer.getvalue()))
    except SystemExit as exc:
        row.update(status="failed", detail=f"argument error ({exc.code}): " + _last_line(buffer.getvalue()))
    except Exception as exc:  # noqa: BLE001 - one broken benchmark must not stop the check
        row.update(status="failed", detail=f"{type(exc).__name__}: {exc}"[:300])
    row["seconds"] = time.perf_counter() - started
    results = load_results(home, name)
    if row["status"] == "ok":
        if results is None:
            row["detail"] = "ran, but saved no results"
        row["results"] = results
        row["figures"] = figures(name, module, results)
    return row


def _last_line(text: str) -> str:
    lines = [x.strip() for x in text.strip().splitlines() if x.strip()]
    return lines[-1][:200] if lines else ""


def _names(spec: str | None) -> list[str]:
    return [x.strip() for x in (spec or "").split(",") if x.strip()]


def run(args: argparse.Namespace) -> int:
    from ..config import load_settings
    from ..errors import InputError

    settings = load_settings(args.data_dir)
    names = _names(args.only) or list(NAMES)
    unknown = [n for n in names + _names(args.skip) if n not in NAMES]
    if unknown:
        raise InputError(f"Unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(NAMES)}.")
    names = [n for n in names if n not in set(_names(args.skip))]
    locomo_file = Path(args.locomo_file) if args.locomo_file else FIXTURE
    rows: list[dict[str, Any]] = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="memex-bench-all-") as tmp:
        for name in names:
            home = Path(tmp) / name
            settings.replace(data_dir=str(home)).save()  # the person's settings, in a throwaway data dir
            print(f"bench all: {name} ...", file=sys.stderr, flush=True)
            extra: list[str] = []
            if name == "locomo":
                if not locomo_file.is_file():
                    rows.append({"name": name, "status": "missing", "seconds": 0.0, "figures": {},
                                 "detail": f"no LoCoMo file at {locomo_file} (give --locomo-file)",
                                 "results": None})
                    continue
                extra = [str(locomo_file)]
            rows.append(run_one(name, home, size=args.size, extra=extra, verbose=args.verbose))
    total = time.perf_counter() - started
    print_table(["benchmark", "status", "seconds", "figures"],
                [[r["name"], r["status"], r["seconds"], _format(r["figures"]) or r["detail"]] for r in rows])
    for r in rows:
        if r["status"] == "ok" and r["detail"]:
            print(f"note: {r['name']}: {r['detail']}")
    bad = [r for r in rows if r["status"] != "ok"]
    print(f"{len(rows) - len(bad)} of {len(rows)} benchmarks ran ({args.size} size) in {total:.1f}s")
    path = save_results(settings.home, "all", {"size": args.size, "seconds": total, "benchmarks": rows})
    print(f"saved {path}")
    return 1 if bad else 0
