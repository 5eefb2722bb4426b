"""Real MiniLM embeddings: offline, 384-d, normalised, meaningful."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

# Put first in a subprocess's code: any attempt to open a connection fails it.
NO_NETWORK = """
import socket
def refuse(*a, **k):
    raise AssertionError("network access attempted")
socket.socket.connect = refuse
socket.create_connection = refuse
"""


@pytest.mark.real_model
def test_embeddings_are_normalised_384d_and_meaningful(embedder) -> None:
    vecs = embedder.embed(["A dog plays fetch in the park.", "A puppy chases a ball on the grass.",
                           "The central bank raised interest rates.", ""])
    assert vecs.shape == (4, 384) and vecs.dtype == np.float32
    assert np.allclose(np.linalg.norm(vecs[:3], axis=1), 1.0, atol=1e-4)
    assert vecs[0] @ vecs[1] > vecs[0] @ vecs[2] + 0.2
    assert embedder.embed([]).shape == (0, 384)


@pytest.mark.real_model
def test_minilm_loads_with_the_network_cut_off() -> None:
    """No hub call even when a network is up: every socket connection attempt fails the test."""
    code = NO_NETWORK + """
import os
for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
    os.environ.pop(var, None)
from memory_core.models.embeddings import MiniLMEmbedder
print(MiniLMEmbedder().embed(["hello world"]).shape)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "(1, 384)" in out.stdout


@pytest.mark.real_model
def test_gguf_embedding_backend_through_llama_cpp(tmp_path) -> None:
    """Any GGUF works as an embedding model; the bundled SmolLM2 file stands in for a real embedder here."""
    from memory_core.config import Settings
    from memory_core.models.embeddings import get_embedder
    from memory_core.models.llm import bundled_model_path

    settings = Settings(data_dir=str(tmp_path), embedding_backend="gguf", embedding_model_path=str(bundled_model_path()),
                        n_threads=2)
    emb = get_embedder(settings)
    vecs = emb.embed(["A dog plays fetch in the park.", "A puppy chases a ball on the grass.",
                      "The central bank raised interest rates."])
    assert vecs.shape == (3, emb.dim) and emb.dim > 0
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-4)
    assert vecs[0] @ vecs[1] > vecs[0] @ vecs[2]
    assert get_embedder(settings) is emb


def test_gguf_embedding_backend_needs_a_real_file(tmp_path) -> None:
    from memory_core.errors import ModelError
    from memory_core.models.embeddings import GGUFEmbedder

    with pytest.raises(ModelError, match="Model file not found"):
        GGUFEmbedder(str(tmp_path / "missing.gguf"))


@pytest.mark.real_model
def test_text_that_is_not_valid_unicode_still_embeds(embedder) -> None:
    """A query with a stray non-UTF-8 byte (a lone surrogate) must not crash the tokenizer."""
    vecs = embedder.embed(["caf\udce9 au lait on the terrace", "café au lait on the terrace", "\ud800"])
    assert vecs.shape == (3, 384) and np.isfinite(vecs).all()
    assert vecs[0] @ vecs[1] > 0.7


TEXTS = ["A dog plays fetch in the park.", "my sister Carla moved to Lisbon last spring", "", "  ",
         "Leo turns 7 on 2026-05-04 🎂 — café crème", "word " * 400,  # past the 256-token limit: truncated alike
         "Tags: hiking, alps\nContext: the person likes mountains."]


@pytest.mark.real_model
def test_onnx_embedder_gives_pytorchs_vectors(embedder) -> None:
    """The app's embedder (ONNX Runtime) and sentence-transformers agree on every kind of text, one or many.

    42 texts are two batches, run side by side on the embedder's pool: each vector must still land
    in its own text's row."""
    from memory_core.models.embeddings import MiniLMEmbedder
    from memory_core.models.onnx_minilm import OnnxMiniLMEmbedder

    assert isinstance(embedder, OnnxMiniLMEmbedder)
    from memory_core.models.onnx_minilm import BATCH

    many = TEXTS * 6
    assert len(many) > BATCH
    torch_vecs = MiniLMEmbedder().embed(many)
    for got in (embedder.embed(many), np.vstack([embedder.embed([t]) for t in many])):
        assert got.shape == torch_vecs.shape and got.dtype == np.float32
        assert np.min(np.sum(got * torch_vecs, axis=1)) > 0.9999


@pytest.mark.real_model
def test_both_embedders_give_the_same_token_vectors_in_one_pass(embedder) -> None:
    """The fallback (sentence-transformers) pools its sentence vectors from the same pass as its token
    vectors; both must match the ONNX embedder's, token for token."""
    from memory_core.models.embeddings import MiniLMEmbedder

    fallback = MiniLMEmbedder()
    pooled, tokens = fallback.embed_tokens(TEXTS)
    assert np.min(np.sum(pooled * fallback.embed(TEXTS), axis=1)) > 0.9999
    onnx_pooled, onnx_tokens = embedder.embed_tokens(TEXTS)
    assert np.min(np.sum(pooled * onnx_pooled, axis=1)) > 0.9999
    for mine, theirs in zip(tokens, onnx_tokens):
        assert mine.shape == theirs.shape  # an empty text has no word pieces in either
        assert not len(mine) or np.min(np.sum(mine * theirs, axis=1)) > 0.999


@pytest.mark.real_model
def test_onnx_export_is_cached_checked_and_replaced_when_damaged(tmp_path, monkeypatch) -> None:
    from memory_core.models import onnx_minilm

    monkeypatch.setenv("MEMEX_CACHE_DIR", str(tmp_path))
    (tmp_path / "minilm-l6-v2-0123456789abcdef.onnx").write_bytes(b"an export for other library versions")
    calls = []
    real_export = onnx_minilm.export
    monkeypatch.setattr(onnx_minilm, "export", lambda *a: (calls.append(a), real_export(*a))[1])
    first = onnx_minilm.OnnxMiniLMEmbedder()
    assert calls and first.model_file.parent == tmp_path and first.model_file.stat().st_size > 50_000_000
    assert [p.name for p in tmp_path.iterdir()] == [first.model_file.name]  # no .part file left behind
    reference = first.embed(TEXTS)

    onnx_minilm.OnnxMiniLMEmbedder()
    assert len(calls) == 1  # the second one reuses the export

    first.model_file.write_bytes(first.model_file.read_bytes()[:1000])  # a write cut off half-way
    again = onnx_minilm.OnnxMiniLMEmbedder()
    assert len(calls) == 2 and np.allclose(again.embed(TEXTS), reference, atol=1e-5)


@pytest.mark.real_model
def test_without_the_onnx_path_the_bundled_minilm_falls_back_to_pytorch(tmp_path, monkeypatch) -> None:
    """An export that cannot run costs speed, never a memory: the same model on PyTorch, reason kept."""
    from memory_core.errors import ModelError
    from memory_core.models import embeddings, onnx_minilm

    monkeypatch.setenv("MEMEX_CACHE_DIR", str(tmp_path))

    def broken(*_a) -> None:
        raise ModelError("cannot export MiniLM to ONNX: No module named 'onnx'")

    monkeypatch.setattr(onnx_minilm, "export", broken)
    emb = embeddings.bundled_minilm()
    assert isinstance(emb, embeddings.MiniLMEmbedder) and "No module named 'onnx'" in emb.fallback_reason
    assert emb.embed(["hello world"]).shape == (1, 384)


@pytest.mark.real_model
def test_default_embedder_exports_and_loads_with_the_network_cut_off(tmp_path) -> None:
    """The ONNX export comes from the installed package alone: no socket is opened, even on a first run."""
    code = NO_NETWORK + """
import os, sys
for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
    os.environ.pop(var, None)
from memory_core.config import Settings
from memory_core.models.embeddings import get_embedder
emb = get_embedder(Settings())
print(type(emb).__name__, getattr(emb, "fallback_reason", ""), emb.embed(["hello world"]).shape)
print("torch imported" if "torch" in sys.modules else "no torch")
"""
    env = {**os.environ, "MEMEX_CACHE_DIR": str(tmp_path)}
    for run in ("exports", "reuses"):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env)
        assert out.returncode == 0, out.stderr[-2000:]
        assert "OnnxMiniLMEmbedder  (1, 384)" in out.stdout, (run, out.stdout)
    assert "no torch" in out.stdout  # the second run needs neither torch nor sentence-transformers
