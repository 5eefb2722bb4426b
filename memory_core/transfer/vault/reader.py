"""Read the Markdown files of a vault from a folder or a zip, without trusting either.

Why a separate step: an import is planned completely before the first write, so the files are read
into memory first. Limits keep a hostile zip (a "zip bomb", a million entries) or a huge folder from
exhausting memory; hidden folders (``.obsidian``, ``.trash``, ``.git``) and macOS's ``__MACOSX``
copies are not notes. Nothing is extracted to disk, so a zip entry named ``../../x.md`` is just a
name here.
"""

from __future__ import annotations

import io
import os
import zipfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath

from ...errors import InputError

MAX_FILES = 20_000
MAX_FILE_BYTES = 2 * 1024 * 1024  # a note holds at most 100,000 characters; front matter adds little
MAX_TOTAL_BYTES = 256 * 1024 * 1024


@dataclass
class VaultFile:
    """One Markdown file: its path inside the vault (``/``-separated), its bytes, its modification time."""

    path: str
    raw: bytes
    modified: str  # ISO time, "" when unknown
    too_big: bool = False

    @property
    def stem(self) -> str:
        return PurePosixPath(self.path).stem


def _skipped_part(part: str) -> bool:
    return part.startswith(".") or part == "__MACOSX"


def read_folder(folder: str | Path) -> list[VaultFile]:
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder} is not a folder.")
    files: list[VaultFile] = []
    total = 0
    for root, dirs, names in os.walk(folder, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not _skipped_part(d))
        for name in sorted(names):
            if not name.lower().endswith(".md") or name.startswith("."):
                continue
            path = Path(root) / name
            if path.is_symlink():
                continue
            rel = path.relative_to(folder).as_posix()
            try:
                size = path.stat().st_size
                modified = datetime.fromtimestamp(path.stat().st_mtime, timezone.utc).replace(microsecond=0)
                raw = b"" if size > MAX_FILE_BYTES else path.read_bytes()
            except OSError as exc:
                raise InputError(f"Cannot read {rel}: {exc.strerror or exc}") from exc
            total += len(raw)
            _check_limits(len(files) + 1, total)
            files.append(VaultFile(rel, raw, modified.isoformat(), too_big=size > MAX_FILE_BYTES))
    return files


def read_zip(data: bytes) -> list[VaultFile]:
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise InputError(f"This is not a zip file ({exc}).") from exc
    files: list[VaultFile] = []
    total = 0
    with zf:
        for info in sorted(zf.infolist(), key=lambda i: i.filename):
            name = info.filename.replace("\\", "/")
            parts = [p for p in name.split("/") if p not in ("", ".")]
            if info.is_dir() or not parts or not parts[-1].lower().endswith(".md"):
                continue
            if any(_skipped_part(p) for p in parts):
                continue
            too_big = info.file_size > MAX_FILE_BYTES
            try:
                raw = b"" if too_big else zf.read(info)
            except (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError) as exc:
                raise InputError(f"The zip entry {name} cannot be read ({exc}).") from exc
            total += len(raw)
            _check_limits(len(files) + 1, total)
            try:
                modified = datetime(*info.date_time, tzinfo=timezone.utc).isoformat()
            except ValueError:
                modified = ""
            files.append(VaultFile("/".join(parts), raw, modified, too_big=too_big))
    return _without_common_root(files)


def _without_common_root(files: list[VaultFile]) -> list[VaultFile]:
    """Paths relative to the vault: a zip of a folder holds "folder/..." for every entry; drop that part.

    Only a top folder that holds *every* file is dropped, so an exported vault zip
    ("memex-vault/notes/x.md") and the folder it came from ("notes/x.md") give the same paths.
    """
    while files and all("/" in f.path for f in files):
        top = {f.path.split("/", 1)[0] for f in files}
        if len(top) != 1:
            break
        for f in files:
            f.path = f.path.split("/", 1)[1]
    return files


def _check_limits(count: int, total: int) -> None:
    if count > MAX_FILES:
        raise InputError(f"The vault holds more than {MAX_FILES:,} Markdown files; import it in parts.")
    if total > MAX_TOTAL_BYTES:
        raise InputError(f"The vault's Markdown files add up to more than {MAX_TOTAL_BYTES // 2**20} MiB.")


def read_source(source: str | Path | bytes) -> tuple[str, list[VaultFile]]:
    """A folder path, a zip path, or zip bytes -> (a name for messages, the Markdown files)."""
    if isinstance(source, bytes):
        return "the zip", read_zip(source)
    path = Path(source)
    if path.is_dir():
        return str(path), read_folder(path)
    if not path.exists():
        raise InputError(f"{path} does not exist.")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"Cannot read {path}: {exc.strerror or exc}") from exc
    return str(path), read_zip(data)
