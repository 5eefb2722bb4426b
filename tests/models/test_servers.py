"""The two server modes, against real servers started on 127.0.0.1 by the tests.

- the LLM backend talking to llama-cpp-python's own OpenAI-compatible server;
- the store on a Chroma server (`chroma run`).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from memory_core.config import Settings
from memory_core.errors import ModelError
from memory_core.memory.pipeline import MemoryPipeline, enrichment_messages
from memory_core.memory.validation import ENRICH_SCHEMA, fallback_enrichment, validate_enrichment
from memory_core.models.llm import ServerLLM, bundled_model_path
from memory_core.store import MemoryStore

pytestmark = pytest.mark.server  # starts llama.cpp and Chroma servers


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, proc: subprocess.Popen, seconds: float = 120) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        if proc.poll() is not None:
            tail = proc.stdout.read()[-2000:] if proc.stdout else "(see its log file)"
            raise RuntimeError(f"server exited with {proc.returncode}: {tail}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except Exception:  # noqa: BLE001 - not up yet
            time.sleep(0.5)
    raise RuntimeError(f"{url} did not answer within {seconds}s")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="module")
def llama_server() -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(bundled_model_path()), "--host", "127.0.0.1",
         "--port", str(port), "--n_ctx", "2048", "--n_threads", "2", "--verbose", "False"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(url + "/v1/models", proc)
        yield url
    finally:
        stop(proc)


@pytest.mark.real_model
def test_server_backend_streams_chats_and_returns_structured_json(llama_server: str) -> None:
    llm = ServerLLM(llama_server, n_ctx=2048)
    assert llm.count_tokens("hello world") >= 2
    stream = llm.stream([{"role": "user", "content": "Name three fruits."}], max_tokens=24, temperature=0.0)
    pieces = list(stream)
    assert len(pieces) > 1 and "".join(pieces).strip()
    text = "Remember to renew my passport before the trip to Japan in April."
    result = llm.structured(enrichment_messages(text), ENRICH_SCHEMA, lambda d: validate_enrichment(d, text),
                            lambda: fallback_enrichment(text), max_tokens=160)
    assert result.raw and result.usage.calls >= 1
    if result.valid:
        assert validate_enrichment(result.value, text)[0] is not None


@pytest.mark.real_model
def test_pipeline_runs_against_the_server_backend(llama_server: str, tmp_path: Path, embedder) -> None:
    settings = Settings(data_dir=str(tmp_path / "home"), llm_backend="server", server_url=llama_server)
    store = MemoryStore(settings, embedder)
    pipe = MemoryPipeline(store, settings, ServerLLM(llama_server))
    first = pipe.add("Anna and I went hiking in the Swiss Alps last July.")
    second = pipe.add("Anna bought new hiking boots for the Alps.")
    assert first.usage.calls >= 1 and second.usage.calls >= 2
    assert len(store) == 2


def test_unreachable_server_is_a_clear_error() -> None:
    with pytest.raises(ModelError, match="Cannot reach a llama.cpp server at http://127.0.0.1:9"):
        ServerLLM("http://127.0.0.1:9", timeout=2)


@pytest.fixture
def chroma_server(tmp_path: Path) -> Iterator[int]:
    exe = shutil.which("chroma", path=os.path.dirname(sys.executable))
    assert exe, "the chroma command comes with chromadb"
    port = free_port()
    # The server logs every request: a pipe nobody reads fills up and blocks it, so log to a file.
    log = open(tmp_path / "chroma-server.log", "w")  # noqa: SIM115 - closed in finally
    proc = subprocess.Popen([exe, "run", "--path", str(tmp_path / "chroma-server"), "--host", "127.0.0.1",
                             "--port", str(port)], stdout=log, stderr=subprocess.STDOUT, text=True)
    try:
        wait_http(f"http://127.0.0.1:{port}/api/v2/heartbeat", proc)
        yield port
    finally:
        stop(proc)
        log.close()


def test_store_works_against_a_chroma_server(chroma_server: int, tmp_path: Path) -> None:
    from fakes import HashEmbedder

    settings = Settings(data_dir=str(tmp_path / "home"), store_backend="server", chroma_port=chroma_server)
    store = MemoryStore(settings, HashEmbedder())
    pipe = MemoryPipeline(store, settings, llm=None)
    ids = [pipe.add(t, mode="fast").note_id for t in
           ("alpha beta gamma", "alpha beta delta", "unrelated words here")]
    store.link(ids[2], ids[0], "by hand")
    store.delete(ids[1])
    again = MemoryStore(settings, HashEmbedder())  # a second client sees the same memory
    assert len(again) == 2 and again.get(ids[2]).link_targets == [ids[0]]
    assert again.nearest(HashEmbedder().embed(["alpha beta gamma"])[0], 1)[0].note.id == ids[0]
    assert not (tmp_path / "home" / "chroma").exists()  # nothing was written locally
