"""Shared fixtures and the markers' meaning, for every folder under tests/ (one folder per package).

Models are loaded once per test session: they are real and take seconds to load. A test is marked
``real_model`` when it uses the ``embedder`` or ``real_llm`` fixture (directly or through ``store``,
``app_home``, ...), ``server`` when it starts the app (``streamlit_server``) and ``browser`` when it
opens Chromium (``chromium``); so ``-m "not real_model and not browser and not server"`` is the suite of
seconds, and plain ``pytest`` still runs everything. Tests that load a model or start a server otherwise (a CLI subprocess, a
Chroma or llama.cpp server) carry the mark explicitly.

The helpers (fakes.py, fakehub.py, ggufs.py, browserkit.py) are imported by name from any folder:
tests/ is on sys.path (``pythonpath`` in pyproject.toml).
"""

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
# No idle consolidation in tests (digests appearing in a store under a test's feet, app servers included);
# tests/chat/test_consolidating.py runs the idle trigger itself.
os.environ["MEMEX_IDLE_CONSOLIDATION"] = "0"
os.environ.setdefault("MEMEX_CACHE_DIR", str(Path(os.environ.get("PYTEST_TMPDIR", "/tmp")) / "memex-test-cache"))

from memory_core.config import Settings  # noqa: E402

# Fixtures that load a real model: a test using any of them (even through another fixture) is real_model.
REAL_MODEL_FIXTURES = frozenset({"embedder", "real_llm"})
# Fixtures that start a long-lived process (the app): a test using one is server.
SERVER_FIXTURES = frozenset({"streamlit_server"})
BROWSER_FIXTURES = frozenset({"chromium"})


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark each test by what it really loads, so a marker filter cannot let a model load slip through."""
    for item in items:
        used = set(getattr(item, "fixturenames", ()))
        if used & REAL_MODEL_FIXTURES:
            item.add_marker(pytest.mark.real_model)
        if used & SERVER_FIXTURES:
            item.add_marker(pytest.mark.server)
        if used & BROWSER_FIXTURES:
            item.add_marker(pytest.mark.browser)


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


@pytest.fixture
def hash_embedder():
    """The cheap deterministic stand-in for MiniLM (tests/fakes.py): for control flow, not for meaning."""
    from fakes import HashEmbedder

    return HashEmbedder()


@pytest.fixture
def hstore(tmp_path: Path, hash_embedder):
    """A real store (Chroma on disk in tmp_path) over the fake embedder: a store test in milliseconds."""
    from memory_core.store import MemoryStore

    return MemoryStore(Settings(data_dir=str(tmp_path / "home")), hash_embedder)


@pytest.fixture(scope="session")
def streamlit_server():
    """Start the app: ``with streamlit_server(home, log) as app: page.goto(app.base)`` (tests/browserkit.py).

    A function rather than a running server, because each browser module seeds its own data folder
    (and some start the app twice, or on a probe script): the start-up, health wait and stop are shared.
    """
    from browserkit import run_streamlit

    return run_streamlit


@pytest.fixture(scope="session")
def chromium():
    """Open headless Chromium: ``with chromium(profile_dir) as page: ...`` (tests/browserkit.py)."""
    from browserkit import chromium as open_chromium

    return open_chromium
