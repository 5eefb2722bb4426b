"""Download a GGUF from the Hugging Face hub into ``<data dir>/models/``: size first, resumable, verified.

Why not ``hf_hub_download``: it writes to a process-unique temporary file and deletes it when the
download fails, so a closed laptop or a dropped connection starts a 2 GB download again from zero,
and it checks the size but not the checksum. This module uses huggingface_hub's own pieces — the
HEAD call (``get_hf_file_metadata``: size, commit, the LFS sha256 from ``X-Linked-Etag``) and its
streaming ``http_get`` (Range requests, retries on dropped connections) — around a ``.part`` file
that survives interruptions, and verifies the sha256 before the file gets its final name.

This is the only place in Memex that reaches the network, and only when the person asks for a
download: Memex otherwise runs with ``HF_HUB_OFFLINE=1``, which is lifted for this call alone.
``HF_ENDPOINT`` (read at call time) points it at a mirror, or at a local test server.
"""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import json
import os
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ..errors import ModelError
from .gguf_info import is_gguf
from .locate import models_dir

if TYPE_CHECKING:
    from ..config import Settings

Progress = Callable[[int, int], None]  # (bytes done, bytes total)
PART_SUFFIX = ".part"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_SAFE_NAME = re.compile(r"^[A-Za-z0-9._+-]+$")
_OFFLINE_LOCK = threading.Lock()


@dataclass(frozen=True)
class Recommended:
    """A small instruct model known to work with llama.cpp; size is the file's, for showing before asking."""

    key: str
    title: str
    repo_id: str
    filename: str
    size_bytes: int
    parameters: str
    note: str


RECOMMENDED: tuple[Recommended, ...] = (
    Recommended("qwen2.5-0.5b", "Qwen2.5 0.5B Instruct", "Qwen/Qwen2.5-0.5B-Instruct-GGUF",
                "qwen2.5-0.5b-instruct-q4_k_m.gguf", 491_400_032, "0.5B",
                "Small and quick; follows instructions far better than the bundled 135M model."),
    Recommended("qwen2.5-1.5b", "Qwen2.5 1.5B Instruct", "Qwen/Qwen2.5-1.5B-Instruct-GGUF",
                "qwen2.5-1.5b-instruct-q4_k_m.gguf", 1_117_320_736, "1.5B",
                "A good default on a laptop: answers from memory reliably, about 2 GB of RAM."),
    Recommended("llama-3.2-1b", "Llama 3.2 1B Instruct", "bartowski/Llama-3.2-1B-Instruct-GGUF",
                "Llama-3.2-1B-Instruct-Q4_K_M.gguf", 807_694_464, "1.2B", "Meta's small model; Llama 3.2 licence."),
    Recommended("llama-3.2-3b", "Llama 3.2 3B Instruct", "bartowski/Llama-3.2-3B-Instruct-GGUF",
                "Llama-3.2-3B-Instruct-Q4_K_M.gguf", 2_019_377_696, "3.2B",
                "Noticeably better answers; slower on 2 cores, about 3.5 GB of RAM."),
    Recommended("smollm2-360m", "SmolLM2 360M Instruct", "bartowski/SmolLM2-360M-Instruct-GGUF",
                "SmolLM2-360M-Instruct-Q4_K_M.gguf", 270_590_880, "360M", "The bundled model's bigger sibling."),
    Recommended("smollm2-1.7b", "SmolLM2 1.7B Instruct", "bartowski/SmolLM2-1.7B-Instruct-GGUF",
                "SmolLM2-1.7B-Instruct-Q4_K_M.gguf", 1_055_609_824, "1.7B", "SmolLM2's largest instruct model."),
    Recommended("gemma-3-1b", "Gemma 3 1B it", "bartowski/google_gemma-3-1b-it-GGUF",
                "google_gemma-3-1b-it-Q4_K_M.gguf", 806_058_496, "1B", "Google's small model; Gemma terms of use."),
)


UPGRADE_KEYS = ("qwen2.5-1.5b", "qwen2.5-0.5b")  # for better answers from notes: the first that fits in RAM
UPGRADE_MIN_RAM = {"qwen2.5-1.5b": 6 * 1024 ** 3, "qwen2.5-0.5b": 0}


def recommended_upgrade(ram_bytes: int | None = None) -> Recommended:
    """The download the chat recommends when the bundled model's answers are weak.

    Why Qwen2.5: it follows "answer from what the user told you" far better than SmolLM2-135M, at
    491 MB (0.5B) or 1.1 GB (1.5B, about 2 GB of RAM while running); the 1.5B is offered when the
    machine has 6 GB of RAM or more, else the 0.5B."""
    if ram_bytes is None:
        try:
            ram_bytes = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        except (ValueError, OSError, AttributeError):
            ram_bytes = 0
    by_key = {r.key: r for r in RECOMMENDED}
    return next(by_key[k] for k in UPGRADE_KEYS if ram_bytes >= UPGRADE_MIN_RAM[k])


@dataclass
class RemoteFile:
    """What the hub says about a file before any byte is downloaded."""

    repo_id: str
    filename: str
    revision: str  # the commit the file was resolved at
    size_bytes: int
    sha256: str  # the LFS sha256 ("" when the hub gave none: then only the size is checked)
    url: str  # where the bytes come from (a CDN location after the hub's redirect)
    etag: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class DownloadCancelled(ModelError):
    """The person stopped the download; the part already downloaded is kept for resuming."""


def target_path(settings: Settings, filename: str) -> Path:
    """``<data dir>/models/<basename>``: a file in a repository folder lands in models/ all the same."""
    name = (filename or "").replace("\\", "/").split("/")[-1]
    if not name or name in (".", "..") or not _SAFE_NAME.match(name):
        raise ModelError(f"{filename!r} is not a plain file name; give the GGUF file's name in the repository.")
    if not name.lower().endswith(".gguf"):
        raise ModelError(f"{filename} is not a .gguf file; Memex runs GGUF models (llama.cpp).")
    return models_dir(settings) / name


def remote_file(repo_id: str, filename: str, revision: str = "main", token: str | bool | None = None) -> RemoteFile:
    """The file's size, commit and sha256 from one HEAD request (raises ModelError with the reason)."""
    from huggingface_hub import get_hf_file_metadata, hf_hub_url

    _check_repo_id(repo_id)
    url = hf_hub_url(repo_id, filename, revision=revision, endpoint=endpoint())
    with hub_online(), _hub_errors(repo_id, filename):
        meta = get_hf_file_metadata(url, token=token)
    if not meta.commit_hash:
        raise ModelError(f"{endpoint()} does not answer like a Hugging Face hub (no X-Repo-Commit header); "
                         "check HF_ENDPOINT.")
    if meta.size is None:
        raise ModelError(f"The hub did not say how big {repo_id}/{filename} is; not downloading blind.")
    etag = meta.etag or ""
    return RemoteFile(repo_id=repo_id, filename=filename, revision=meta.commit_hash, size_bytes=int(meta.size),
                      sha256=etag if _SHA256.match(etag) else "", url=meta.location or url, etag=etag)


def download_model(repo_id: str, filename: str, settings: Settings, progress: Progress | None = None,
                   revision: str = "main", token: str | bool | None = None,
                   cancel: threading.Event | None = None, remote: RemoteFile | None = None) -> Path:
    """Download ``filename`` of ``repo_id`` to ``<data dir>/models/`` and return its path.

    Resumes a ``.part`` left by an interrupted download of the same file version; verifies the
    sha256; the final name appears only for a complete, verified GGUF. A file already there with
    the right size and checksum is not downloaded again. ``cancel`` (set from another thread)
    stops it at the next chunk with DownloadCancelled, keeping the part.
    """
    target = target_path(settings, filename)
    remote = remote or remote_file(repo_id, filename, revision=revision, token=token)
    if target.exists():
        if target.stat().st_size == remote.size_bytes and _verified(target, remote):
            _report(progress, remote.size_bytes, remote.size_bytes)
            return target
        raise ModelError(f"{target} already exists and is a different file; move it away to download this one.")
    target.parent.mkdir(parents=True, exist_ok=True)
    _check_space(target.parent, remote.size_bytes)
    part = target.with_name(target.name + PART_SUFFIX)
    stamp = part.with_name(part.name + ".json")
    done = _resumable_bytes(part, stamp, remote)
    stamp.write_text(json.dumps(remote.to_dict()), encoding="utf-8")
    _fetch(remote, part, done, progress, cancel, token)
    if part.stat().st_size != remote.size_bytes:
        raise ModelError(f"The download of {filename} stopped at {part.stat().st_size:,} of {remote.size_bytes:,} "
                         "bytes; run it again to resume.")
    if not _verified(part, remote):
        part.unlink(missing_ok=True)
        stamp.unlink(missing_ok=True)
        raise ModelError(f"The downloaded {filename} does not match the hub's sha256 checksum; it was deleted. "
                         "Try again (the connection or a proxy may have altered it).")
    if not is_gguf(part):
        part.unlink(missing_ok=True)
        stamp.unlink(missing_ok=True)
        raise ModelError(f"{repo_id}/{filename} is not a GGUF file; it was deleted.")
    os.replace(part, target)
    stamp.unlink(missing_ok=True)
    _write_origin(target, remote)
    return target


def partial_downloads(settings: Settings) -> list[dict[str, Any]]:
    """Interrupted downloads that can be resumed: file name, bytes so far, total, repository."""
    out = []
    folder = models_dir(settings)
    for stamp in sorted(folder.glob(f"*.gguf{PART_SUFFIX}.json")) if folder.is_dir() else []:
        part = stamp.with_name(stamp.name.removesuffix(".json"))
        try:
            data = json.loads(stamp.read_text(encoding="utf-8"))
            out.append({"filename": data["filename"], "repo_id": data["repo_id"], "total": int(data["size_bytes"]),
                        "done": part.stat().st_size if part.exists() else 0})
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return out


def endpoint() -> str:
    """The hub address: ``$HF_ENDPOINT`` now (huggingface_hub reads it only once, at import)."""
    return (os.environ.get("HF_ENDPOINT") or "https://huggingface.co").rstrip("/")


# ---- the pieces --------------------------------------------------------------------------------------
@contextlib.contextmanager
def hub_online() -> Iterator[None]:
    """Lift huggingface_hub's offline switch for one explicit request, then put it back.

    Telemetry stays off meanwhile: with it on, huggingface_hub also fetches an "agent harnesses"
    list from the hub and adds the torch version to the user agent; a download needs neither.
    """
    from huggingface_hub import constants

    with _OFFLINE_LOCK:
        before = constants.HF_HUB_OFFLINE, constants.HF_HUB_DISABLE_TELEMETRY
        constants.HF_HUB_OFFLINE, constants.HF_HUB_DISABLE_TELEMETRY = False, True
        try:
            yield
        finally:
            constants.HF_HUB_OFFLINE, constants.HF_HUB_DISABLE_TELEMETRY = before


@contextlib.contextmanager
def _hub_errors(repo_id: str, filename: str) -> Iterator[None]:
    """huggingface_hub / httpx errors as one sentence a person can act on."""
    from huggingface_hub import errors as hf

    where = f"{repo_id}/{filename}"
    try:
        yield
    except ModelError:
        raise
    except hf.GatedRepoError as exc:
        raise ModelError(f"{repo_id} is gated: accept its licence on the hub and log in (`hf auth login`) "
                         "to download it.") from exc
    except hf.RepositoryNotFoundError as exc:
        raise ModelError(f"No repository {repo_id} on {endpoint()} (or it is private).") from exc
    except hf.RevisionNotFoundError as exc:
        raise ModelError(f"{repo_id} has no such revision.") from exc
    except (getattr(hf, "RemoteEntryNotFoundError", hf.EntryNotFoundError), hf.EntryNotFoundError) as exc:
        raise ModelError(f"{repo_id} has no file {filename}.") from exc
    except hf.HfHubHTTPError as exc:
        status = getattr(getattr(exc, "response", None), "status_code", "?")
        raise ModelError(f"The hub refused {where} (HTTP {status}).") from exc
    except OSError as exc:  # connection refused, DNS, timeouts (httpx errors are not OSErrors: below)
        raise ModelError(f"Cannot reach {endpoint()} to download {where}: {exc}") from exc
    except Exception as exc:
        if type(exc).__module__.startswith(("httpx", "httpcore")):
            raise ModelError(f"Cannot reach {endpoint()} to download {where}: {type(exc).__name__}: {exc}") from exc
        raise


def _check_repo_id(repo_id: str) -> None:
    if not re.match(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$", repo_id or ""):
        raise ModelError(f"{repo_id!r} is not a repository id; it looks like 'Qwen/Qwen2.5-0.5B-Instruct-GGUF'.")


def _check_space(folder: Path, size: int) -> None:
    import shutil

    free = shutil.disk_usage(folder).free
    if free < size:
        raise ModelError(f"Not enough disk space in {folder}: {size / 1e9:.1f} GB needed, {free / 1e9:.1f} GB free.")


def _resumable_bytes(part: Path, stamp: Path, remote: RemoteFile) -> int:
    """Bytes of ``part`` that belong to this very file version; an old or foreign part is discarded."""
    if not part.exists():
        return 0
    try:
        old = json.loads(stamp.read_text(encoding="utf-8"))
        same = (old.get("etag") == remote.etag and old.get("size_bytes") == remote.size_bytes
                and old.get("repo_id") == remote.repo_id)
    except (OSError, ValueError, AttributeError):
        same = False
    size = part.stat().st_size
    if not same or size > remote.size_bytes:
        part.unlink()
        return 0
    return size


def _fetch(remote: RemoteFile, part: Path, done: int, progress: Progress | None,
           cancel: threading.Event | None, token: str | bool | None) -> None:
    """Append the missing bytes to ``part`` with huggingface_hub's ``http_get`` (Range + retries)."""
    from huggingface_hub.file_download import http_get
    from huggingface_hub.utils import build_hf_headers

    headers = build_hf_headers(token=token)
    if urlsplit(remote.url).netloc != urlsplit(endpoint()).netloc:
        headers.pop("authorization", None)  # never send a token to a CDN
    bar = _bar_class(progress, cancel, remote.size_bytes)
    _report(progress, done, remote.size_bytes)
    if done >= remote.size_bytes:
        return
    kwargs: dict[str, Any] = dict(resume_size=done, headers=headers, expected_size=remote.size_bytes)
    if "tqdm_class" in inspect.signature(http_get).parameters:
        kwargs["tqdm_class"] = bar
    else:  # older huggingface_hub: hand it the bar itself
        kwargs["_tqdm_bar"] = bar(total=remote.size_bytes, initial=done)
    fh = part.open("r+b") if part.exists() else part.open("wb")
    with fh, hub_online(), _hub_errors(remote.repo_id, remote.filename):
        fh.seek(0, os.SEEK_END)
        http_get(remote.url, fh, **kwargs)


def _bar_class(progress: Progress | None, cancel: threading.Event | None, total: int) -> type:
    """A tqdm stand-in that reports to ``progress`` and raises DownloadCancelled when ``cancel`` is set."""

    class Bar:
        def __init__(self, *args: Any, total: int | None = total, initial: int = 0, **kwargs: Any) -> None:
            self.n = initial
            self.total = total or 0

        def update(self, n: int = 1) -> None:
            self.n += n
            _report(progress, self.n, self.total)
            if cancel is not None and cancel.is_set():
                raise DownloadCancelled("The download was stopped; the part downloaded so far is kept. "
                                        "Start it again to resume.")

        def close(self) -> None:
            pass

        def __enter__(self) -> Bar:
            return self

        def __exit__(self, *exc: Any) -> None:
            return None

    return Bar


def _report(progress: Progress | None, done: int, total: int) -> None:
    if progress is not None:
        progress(done, total)


def _verified(path: Path, remote: RemoteFile) -> bool:
    """The sha256 matches the hub's (when the hub gave one); else the size alone decides."""
    if not remote.sha256:
        return path.stat().st_size == remote.size_bytes
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest() == remote.sha256


def _write_origin(target: Path, remote: RemoteFile) -> None:
    """``<file>.origin.json`` beside the model: where it came from (shown in the listing)."""
    with contextlib.suppress(OSError):
        target.with_name(target.name + ".origin.json").write_text(json.dumps(remote.to_dict(), indent=1),
                                                                  encoding="utf-8")


def origin(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.with_name(path.name + ".origin.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
