"""``memex models``: list the GGUF models on this machine, show the recommended ones, download one.

    memex models [list] [--json] [--chat-only]
    memex models recommended [--json]
    memex models download REPO FILE  |  memex models download KEY   (KEY from `memex models recommended`)
            [--revision REV] [--dry-run]

The download prints the size first, then a progress line on stderr; Ctrl-C keeps the part
downloaded so far, and the same command resumes it.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import InputError, MemexError
from .download import (
    RECOMMENDED,
    DownloadCancelled,
    download_model,
    partial_downloads,
    remote_file,
    target_path,
)
from .gguf_info import human_size
from .locate import list_local_models, model_folders, resolve_model_path

if TYPE_CHECKING:
    from ..config import Settings


def add_arguments(parser: argparse.ArgumentParser, common: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="models_command", metavar="ACTION")
    p = sub.add_parser("list", parents=[common], help="GGUF models found on this machine (the default)")
    p.add_argument("--chat-only", action="store_true", help="leave out embedding models")
    sub.add_parser("recommended", parents=[common], help="small instruct models known to work, with sizes")
    p = sub.add_parser("download", parents=[common], help="download a GGUF into the data directory's models/")
    p.add_argument("repo", help="a Hugging Face repository id (e.g. Qwen/Qwen2.5-0.5B-Instruct-GGUF) or a "
                                "recommended model's key (e.g. qwen2.5-0.5b)")
    p.add_argument("file", nargs="?", help="the .gguf file in the repository (not needed with a key)")
    p.add_argument("--revision", default="main", help="branch, tag or commit (default: main)")
    p.add_argument("--dry-run", action="store_true", help="show the size and where it would go; download nothing")
    parser.add_argument("--chat-only", action="store_true", help=argparse.SUPPRESS)


def run(args: argparse.Namespace, settings: Settings) -> int:
    action = getattr(args, "models_command", None) or "list"
    if action == "recommended":
        return _recommended(args)
    if action == "download":
        return _download(args, settings)
    return _list(args, settings)


def _print_json(data: Any) -> None:
    import json

    print(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def _list(args: argparse.Namespace, settings: Settings) -> int:
    models = list_local_models(settings, include_embedding=not getattr(args, "chat_only", False))
    current = _current_path(settings)
    if args.json:
        _print_json({"models": [dict(m.to_dict(), current=_same(m.path, current)) for m in models],
                     "searched": [{"source": s, "folder": str(f), "exists": f.is_dir()}
                                  for s, f in model_folders(settings)],
                     "partial_downloads": partial_downloads(settings)})
        return 0
    if not models:
        print("No GGUF models found.")
    for m in models:
        mark = "*" if _same(m.path, current) else " "
        if m.error:
            print(f"{mark} {m.path}\n    unreadable: {m.error}")
            continue
        kind = " (embedding model)" if m.embedding else ""
        print(f"{mark} {m.name}{kind} [{m.source}{' · ' + m.repo_id if m.repo_id else ''}]\n"
              f"    {m.size_label} parameters · {m.quantisation} · {human_size(m.size_bytes)} · "
              f"context {m.context_length:,} · {m.architecture}\n    {m.path}")
    for part in partial_downloads(settings):
        print(f"  (interrupted download: {part['repo_id']}/{part['filename']}, {human_size(part['done'])} of "
              f"{human_size(part['total'])}; `memex models download {part['repo_id']} {part['filename']}` resumes)")
    folders = model_folders(settings)
    print("Searched: " + ", ".join(f"{f}{'' if f.is_dir() else ' (absent)'}" for _s, f in folders)
          + "\n* = the model in use (Settings)")
    return 0


def _recommended(args: argparse.Namespace) -> int:
    if args.json:
        _print_json([asdict(r) for r in RECOMMENDED])
        return 0
    for r in RECOMMENDED:
        print(f"{r.key:<14} {r.title:<24} {human_size(r.size_bytes):>7}  {r.repo_id} {r.filename}\n"
              f"{'':<15}{r.note}")
    return 0


def _resolve(args: argparse.Namespace) -> tuple[str, str]:
    if args.file:
        return args.repo, args.file
    for r in RECOMMENDED:
        if r.key == args.repo.lower():
            return r.repo_id, r.filename
    keys = ", ".join(r.key for r in RECOMMENDED)
    raise InputError(f"Give a repository and a file, or one of the recommended keys: {keys}.")


def _download(args: argparse.Namespace, settings: Settings) -> int:
    repo_id, filename = _resolve(args)
    target = target_path(settings, filename)
    remote = remote_file(repo_id, filename, revision=args.revision)
    about = (f"{repo_id}/{filename}: {human_size(remote.size_bytes)} ({remote.size_bytes:,} bytes), commit "
             f"{remote.revision[:12]}, sha256 {remote.sha256[:16] + '…' if remote.sha256 else 'not given'}\n"
             f"  -> {target}")
    print(about, file=sys.stderr if args.json else sys.stdout)
    if args.dry_run:
        if args.json:
            _print_json({"remote": remote.to_dict(), "target": str(target), "downloaded": False})
        return 0
    cancel = threading.Event()
    shown = [0.0]

    def progress(done: int, total: int) -> None:
        now = time.monotonic()
        if now - shown[0] >= 0.5 or done >= total:
            shown[0] = now
            pct = 100 * done / total if total else 100
            print(f"\r  {human_size(done)} of {human_size(total)} ({pct:.0f}%)", end="", file=sys.stderr, flush=True)

    try:
        path = download_model(repo_id, filename, settings, progress=progress, cancel=cancel, remote=remote)
    except KeyboardInterrupt:
        print("\nmemex: download stopped; the same command resumes it.", file=sys.stderr)
        return 130
    except DownloadCancelled:
        print("\nmemex: download stopped; the same command resumes it.", file=sys.stderr)
        return 130
    print(file=sys.stderr)
    if args.json:
        _print_json({"remote": remote.to_dict(), "target": str(path), "downloaded": True})
    else:
        print(f"Saved and verified: {path}\nUse it: Settings → Model manager, or set model_path in settings.json.")
    return 0


def _same(a: str, b: str) -> bool:
    try:
        return bool(a and b) and Path(a).resolve() == Path(b).resolve()
    except OSError:
        return False


def _current_path(settings: Settings) -> str:
    try:
        return str(resolve_model_path(settings.model_path))
    except MemexError:
        return ""
