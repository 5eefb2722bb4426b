"""The bundled all-MiniLM-L6-v2 run by ONNX Runtime: the same vectors as sentence-transformers, faster.

Why: embedding is most of the time of a bulk import and of the first query after start. Measured
here (2 cores, 2,048 note texts of ~28 tokens, batch 32): PyTorch through sentence-transformers
embeds 150-166 texts/s, ONNX Runtime on the exported graph 208-256 texts/s, and its vectors agree
with PyTorch's at cosine 1.000000 (float32 both: the same arithmetic, fewer framework steps). A
process that has the exported file also starts without importing torch.

What was measured and not taken: int8 weights (dynamic, per channel) embed 471 texts/s but move
the cosine between two notes by up to 0.06 (p99 0.039), while the duplicate threshold (0.91) sits
0.01 above the closest pair of different facts; bfloat16 through torch embeds 267 texts/s with
errors up to 0.003. Recall and merges decide what the person keeps, so the vectors stay float32.

Nothing is downloaded: the graph is exported once from the installed package (torch and onnx, ~3 s)
into Memex's cache folder, checked against PyTorch on probe sentences, and reused by later runs.
Anything that goes wrong (no onnx package, an export error, vectors that disagree) makes
``get_embedder`` fall back to the PyTorch embedder, so this can cost speed, never a memory.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from importlib import metadata
from pathlib import Path
from typing import Any, cast

import numpy as np

from ..errors import ModelError
from .embedder_base import VectorCache, hub_offline, minilm_path, readable_texts

MAX_TOKENS = 256  # sentence-transformers' max_seq_length for this model (sentence_bert_config.json)
BATCH = 32  # texts per run: fastest of 8/16/32/64/128/512 measured here (less padding, warm caches)
PROBES = ("A dog plays fetch in the park.", "The central bank raised interest rates again this spring.",
          "my sister Carla moved to Lisbon", "")
EXPORT_PREFIX = "minilm-l6-v2-"  # + a key of the model files and library versions (_export_key)
AGREEMENT = 0.9999  # least cosine between an exported vector and PyTorch's for the export to be used


def cache_dir() -> Path:
    """Where derived model files live: MEMEX_CACHE_DIR, else the XDG cache folder (~/.cache/memex)."""
    if os.environ.get("MEMEX_CACHE_DIR"):
        return Path(os.environ["MEMEX_CACHE_DIR"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "memex"


def _export_key(model_dir: Path) -> str:
    """Changes when the model files or the exporting libraries change, so a stale export is never used.

    Versions are read from the installed metadata: importing torch here would undo the start-up gain.
    """
    h = hashlib.sha1()
    for name in ("config.json", "tokenizer.json", "sentence_bert_config.json", "1_Pooling/config.json"):
        h.update((model_dir / name).read_bytes())
    weights = model_dir / "model.safetensors"
    h.update(str(weights.stat().st_size).encode())
    for package in ("torch", "onnx", "onnxruntime"):
        try:
            h.update(f"{package}={metadata.version(package)}".encode())
        except metadata.PackageNotFoundError:
            h.update(f"{package}=none".encode())
    return h.hexdigest()[:16]


def _check_mean_pooling(model_dir: Path) -> None:
    pooling = json.loads((model_dir / "1_Pooling" / "config.json").read_text(encoding="utf-8"))
    modules = json.loads((model_dir / "modules.json").read_text(encoding="utf-8"))
    if not pooling.get("pooling_mode_mean_tokens") or len(modules) != 3 \
            or not modules[-1]["type"].endswith("Normalize"):
        raise ModelError("this model is not mean-pooled and normalised; the ONNX path only mirrors that")


def export(model_dir: Path, target: Path) -> OnnxSession:
    """Export the transformer of the sentence-transformers model to ``target`` (atomically), checked.

    Returns the one-thread session the check ran on, so a first run does not load the file twice.
    """
    try:
        import onnx  # noqa: F401 - torch's exporter needs it; fail here with a clear reason
        import torch
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:
        raise ModelError(f"cannot export MiniLM to ONNX: {exc}") from exc

    hub_offline()
    st = SentenceTransformer(str(model_dir), device="cpu", local_files_only=True)
    bert = cast(torch.nn.Module, st[0].auto_model).eval()  # typed Tensor | Module by torch's __getattr__

    class Encoder(torch.nn.Module):
        """Keyword arguments in, last hidden state out: the exporter traces positional inputs."""

        def __init__(self, model: Any) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.model(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state

    sample = st.tokenizer(list(PROBES[:2]), padding=True, return_tensors="pt")
    names = ["input_ids", "attention_mask", "token_type_ids"]
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(f"{target.name}.{os.getpid()}.part")
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the tracer's notes on mask shapes: about tracing, not the result
            torch.onnx.export(Encoder(bert), tuple(sample[n] for n in names), str(part), input_names=names,
                              output_names=["hidden"], opset_version=17, dynamo=False,
                              dynamic_axes={n: {0: "batch", 1: "tokens"} for n in [*names, "hidden"]})
        expected = st.encode(list(PROBES), convert_to_numpy=True, normalize_embeddings=True)
        session = OnnxSession(part, model_dir)  # the file is read into memory here
        got = session.embed(list(PROBES))
        agreement = float(np.min(np.sum(expected * got, axis=1)))
        if agreement < AGREEMENT:
            raise ModelError(f"the exported model disagrees with PyTorch (cosine {agreement:.5f})")
        os.replace(part, target)  # another process exporting at once writes the same bytes
        for stale in target.parent.glob(f"{EXPORT_PREFIX}*.onnx"):  # exports for other versions: 90 MB each
            if stale != target:
                stale.unlink(missing_ok=True)
        return session
    finally:
        part.unlink(missing_ok=True)


class OnnxSession:
    """One single-threaded ONNX Runtime session plus the model's own tokenizer, pooling and normalisation.

    Why one thread: a bulk embed runs whole batches side by side on a thread pool instead (one per
    core). Alone, both ways embed the same (~300-320 texts/s here); beside a fast import's other
    work they do not: ORT's own two-thread pool spins on every operator of a small batch and took
    CPU from the thread writing the store (2,048 notes: 138 notes/s at 12.4 ms of CPU a note),
    batches side by side do not (155 notes/s at 10.4 ms). One session also loads the file once.
    """

    def __init__(self, model_file: Path, model_dir: Path) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self._session = ort.InferenceSession(str(model_file), options, providers=["CPUExecutionProvider"])
        self._tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self._tokenizer.no_padding()  # tokenizer.json pads every text to 128; pad per batch instead
        self._tokenizer.enable_truncation(MAX_TOKENS)

    def embed(self, texts: list[str], pool: ThreadPoolExecutor | None = None) -> np.ndarray:
        """Vectors for ``texts``, BATCH at a time; with ``pool``, batches run side by side on it."""
        out = np.zeros((len(texts), 384), dtype=np.float32)

        def run(rows: np.ndarray) -> None:
            out[rows] = self._run([texts[i] for i in rows])

        _in_batches(texts, run, pool)
        return out

    def _hidden(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """The model's last hidden state per token, and the mask of real (not padding) tokens."""
        encoded = self._tokenizer.encode_batch(texts)
        width = max(len(e.ids) for e in encoded)
        ids = np.zeros((len(texts), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        for r, e in enumerate(encoded):
            ids[r, :len(e.ids)] = e.ids
            mask[r, :len(e.ids)] = 1
        hidden = self._session.run(None, {"input_ids": ids, "attention_mask": mask,
                                          "token_type_ids": np.zeros_like(ids)})[0]
        return hidden, mask

    def _run(self, texts: list[str]) -> np.ndarray:
        hidden, mask = self._hidden(texts)
        return _pool(hidden, mask)

    def embed_tokens(self, texts: list[str], pool: ThreadPoolExecutor | None = None
                     ) -> tuple[np.ndarray, list[np.ndarray]]:
        """(sentence vectors, one unit-length vector per real token of each text), one model pass.

        The sentence vectors are the same as ``embed``'s (the same pooling of the same hidden state),
        so token vectors cost no second pass. The [CLS] and [SEP] tokens are left out: they stand for
        the whole text, not for any of its words. With ``pool``, batches run side by side on it.
        """
        pooled = np.zeros((len(texts), 384), dtype=np.float32)
        tokens: list[np.ndarray] = [np.zeros((0, 384), dtype=np.float32)] * len(texts)

        def run(rows: np.ndarray) -> None:
            hidden, mask = self._hidden([texts[i] for i in rows])
            pooled[rows] = _pool(hidden, mask)
            for r, i in enumerate(rows):
                vecs = hidden[r, 1:max(1, int(mask[r].sum()) - 1)]
                tokens[i] = vecs / np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)

        _in_batches(texts, run, pool)
        return pooled, tokens


def _pool(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """sentence-transformers' mean pooling over the real tokens, then unit length."""
    weights = mask[..., None].astype(np.float32)
    pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
    norms = np.linalg.norm(pooled, axis=1, keepdims=True)
    return pooled / np.maximum(norms, 1e-12)


class OnnxMiniLMEmbedder:
    """all-MiniLM-L6-v2 through ONNX Runtime: 384-d, unit length, PyTorch's vectors (see module doc)."""

    dim = 384
    name = "all-MiniLM-L6-v2"
    runtime = "ONNX Runtime"

    def __init__(self, model_dir: Path | None = None) -> None:
        self._dir = model_dir or minilm_path()
        try:
            _check_mean_pooling(self._dir)
            self.model_file = cache_dir() / f"{EXPORT_PREFIX}{_export_key(self._dir)}.onnx"
            self._small = self._open_or_export()
        except ModelError:
            raise
        except Exception as exc:  # noqa: BLE001 - any failure here means "use PyTorch instead"
            raise ModelError(f"ONNX MiniLM unavailable: {type(exc).__name__}: {exc}") from exc
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._cache = VectorCache()  # the same notes are embedded again turn after turn (see VectorCache)

    def _open_or_export(self) -> OnnxSession:
        """The cached export, or a fresh one when it is missing or does not load (a cut-off write)."""
        if self.model_file.is_file():
            try:
                return OnnxSession(self.model_file, self._dir)
            except Exception:  # noqa: BLE001 - a damaged cache file is replaced, not trusted
                self.model_file.unlink(missing_ok=True)
        return export(self._dir, self.model_file)

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self._cache.embed(readable_texts(texts), self._embed, self.dim)

    def _embed(self, texts: list[str]) -> np.ndarray:
        if len(texts) <= BATCH or (os.cpu_count() or 1) == 1:
            return self._small.embed(texts)
        with self._lock:  # only to create the pool once; runs need no lock (ORT sessions are thread-safe)
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=os.cpu_count(), thread_name_prefix="memex-minilm")
        return self._small.embed(texts, self._pool)

    def embed_tokens(self, texts: list[str]) -> tuple[np.ndarray, list[np.ndarray]]:
        """Sentence vectors and per-token vectors in one pass (see ``OnnxSession.embed_tokens``)."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32), []
        texts = readable_texts(texts)
        if len(texts) <= BATCH or (os.cpu_count() or 1) == 1:
            return self._small.embed_tokens(texts)
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=os.cpu_count(), thread_name_prefix="memex-minilm")
        return self._small.embed_tokens(texts, self._pool)


def _in_batches(texts: list[str], run: Callable[[np.ndarray], None], pool: ThreadPoolExecutor | None) -> None:
    """Call ``run`` on batches of row numbers, texts of similar length together (less padding per batch),
    side by side on ``pool`` when there is more than one batch."""
    order = np.argsort([len(t) for t in texts], kind="stable")
    chunks = [order[start:start + BATCH] for start in range(0, len(texts), BATCH)]
    if pool is None or len(chunks) == 1:
        for rows in chunks:
            run(rows)
    else:
        for _ in pool.map(run, chunks):
            pass
