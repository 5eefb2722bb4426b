"""Real MiniLM embeddings: offline, 384-d, normalised, meaningful."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest


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
    code = """
import socket
def refuse(*a, **k):
    raise AssertionError("network access attempted")
socket.socket.connect = refuse
socket.create_connection = refuse
import os
for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
    os.environ.pop(var, None)
from memory_core.embeddings import MiniLMEmbedder
print(MiniLMEmbedder().embed(["hello world"]).shape)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "(1, 384)" in out.stdout


@pytest.mark.real_model
def test_gguf_embedding_backend_through_llama_cpp(tmp_path) -> None:
    """Any GGUF works as an embedding model; the bundled SmolLM2 file stands in for a real embedder here."""
    from memory_core.config import Settings
    from memory_core.embeddings import get_embedder
    from memory_core.llm import bundled_model_path

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
    from memory_core.embeddings import GGUFEmbedder
    from memory_core.errors import ModelError

    with pytest.raises(ModelError, match="Model file not found"):
        GGUFEmbedder(str(tmp_path / "missing.gguf"))


@pytest.mark.real_model
def test_text_that_is_not_valid_unicode_still_embeds(embedder) -> None:
    """A query with a stray non-UTF-8 byte (a lone surrogate) must not crash the tokenizer."""
    vecs = embedder.embed(["caf\udce9 au lait on the terrace", "café au lait on the terrace", "\ud800"])
    assert vecs.shape == (3, 384) and np.isfinite(vecs).all()
    assert vecs[0] @ vecs[1] > 0.7
