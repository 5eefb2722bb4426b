"""Shared fixtures. Models are loaded once per test session: they are real and take seconds to load."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# Never let a test touch the person's real memory: MEMEX_HOME is overridden (not defaulted: a developer's
# own setting must not leak in), and every test gets a folder of its own (``_own_memex_home``). The cache
# (~/.cache/memex, where MiniLM's ONNX export lives) is shared by the test session; it holds no memories.
os.environ["MEMEX_HOME"] = str(Path(os.environ.get("PYTEST_TMPDIR", "/tmp")) / "memex-test-home-unused")
os.environ.setdefault("MEMEX_CACHE_DIR", str(Path(os.environ.get("PYTEST_TMPDIR", "/tmp")) / "memex-test-cache"))

from memory_core.config import Settings  # noqa: E402


@pytest.fixture(autouse=True)
def _own_memex_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test its own MEMEX_HOME (a test that wants a particular one sets it after this)."""
    monkeypatch.setenv("MEMEX_HOME", str(tmp_path_factory.mktemp("memex-home") / "home"))


@pytest.fixture(scope="session")
def embedder():
    """The real all-MiniLM-L6-v2 embedder the app uses (ONNX Runtime), loaded once."""
    from memory_core.models.embeddings import bundled_minilm

    emb = bundled_minilm()
    assert not getattr(emb, "fallback_reason", ""), emb.fallback_reason  # the ONNX path must work here
    return emb


@pytest.fixture(scope="session")
def real_llm():
    """The real bundled SmolLM2-135M model, loaded once."""
    from memory_core.models.llm import LocalLLM

    return LocalLLM(None, n_ctx=2048, n_threads=2, seed=42)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Default settings pointing at a fresh temporary data directory."""
    return Settings(data_dir=str(tmp_path / "home"))


@pytest.fixture
def store(settings: Settings, embedder):
    from memory_core.store import MemoryStore

    return MemoryStore(settings, embedder)


@pytest.fixture
def app_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, embedder) -> Settings:
    """Settings of a fresh MEMEX_HOME for AppTest runs of the pages, which use the session embedder.

    Seed it with ``MemoryStore(app_home, embedder)`` before ``AppTest.run()``. The pages' store cache
    (st.cache_resource) is keyed by the data dir, so every test gets its own store.
    """
    import memory_core.models.embeddings

    home = tmp_path / "app-home"
    monkeypatch.setenv("MEMEX_HOME", str(home))
    monkeypatch.setattr(memory_core.models.embeddings, "get_embedder", lambda _settings: embedder)
    return Settings(data_dir=str(home))
