"""A process that only reads leaves every byte of the data folder as it was, Chroma's files included.

Each read command runs as the person runs it (a new ``memex`` process), and each page of the app is
opened (AppTest), over a store written by the real MiniLM with chat-made notes and a write still
queued; once with the snapshot a writer leaves behind and once without it (the reader then folds the
log from Chroma's SQLite file itself). A sha256 of every file is compared before and after.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from memory_core.chat import ConversationStore, new_message
from memory_core.config import Settings
from memory_core.memory.pipeline import MemoryPipeline, NewItem
from memory_core.store import MemoryStore

pytestmark = pytest.mark.real_model

ROOT = Path(__file__).resolve().parents[2]
MEMEX = Path(sys.executable).parent / "memex"
FACTS = ["My dog is called Biscuit and loves the beach.", "I live in Lisbon with my wife Ana.",
         "My brother Mateus is a dentist in Curitiba.", "I have been vegetarian since 2015.",
         "My sister Lena plays the cello in an orchestra."]
PAGES = ["pages/chat.py", "pages/graph.py", "pages/notes.py", "pages/search.py", "pages/review.py",
         "pages/insights.py", "pages/transfer.py", "pages/settings.py"]


def digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def seed(settings: Settings, embedder) -> list[str]:
    """Notes made by the pipeline (with a chat note's context), an edit, a delete, a link, and a
    conversation whose last message still waits to be written."""
    store = MemoryStore(settings, embedder)
    pipe = MemoryPipeline(store, settings)
    ids = pipe.add_many([NewItem(t) for t in FACTS]).note_ids
    convs = ConversationStore(settings.home)
    conv = convs.new()
    told = new_message("user", "My cat Pixel sleeps on the piano.")
    convs.append(conv.id, told, create=conv)
    pipe.remember_turn(told["content"], conversation_id=conv.id, message_id=told["id"],
                       turn_context="(2026-12-06, the first message of a conversation)", mode="fast")
    convs.update_message(conv.id, told["id"], memory={"state": "done", "status": "stored"})
    convs.append(conv.id, new_message("user", "I started learning Portuguese in March.",
                                      memory={"state": "queued", "job": "w1-gone"}))
    store.update(ids[0], context="About the dog.")
    store.link(ids[1], ids[2], "family")
    store.delete([ids[4]])
    store.close()
    return ids


def run(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "MEMEX_HOME": str(home), "HF_HUB_OFFLINE": "1"}
    return subprocess.run([str(MEMEX), *args], capture_output=True, text=True, env=env, timeout=300)


@pytest.mark.parametrize("snapshot", [True, False], ids=["with-snapshot", "log-only"])
def test_every_read_command_in_a_new_process_leaves_the_folder_byte_identical(tmp_path: Path, embedder,
                                                                              snapshot: bool) -> None:
    home = tmp_path / "home"
    ids = seed(Settings(data_dir=str(home)), embedder)
    if not snapshot:
        shutil.rmtree(home / "cache")
    before = digest(home)
    assert any(name.startswith("chroma/") for name in before)
    reads = [("search", "dog beach"), ("search", "Lisbon", "--retriever", "bm25"), ("show", ids[0], "--history"),
             ("list",), ("list", "--text", "brother"), ("stats",), ("export",), ("queue",), ("review", "list"),
             ("search", "cat piano", "--json"), ("show", ids[4])]
    for args in reads:
        done = run(home, *args)
        assert done.returncode in (0, 2), (args, done.stderr)
        assert "Traceback" not in done.stderr and "unexpected error" not in done.stderr, (args, done.stderr)
        assert digest(home) == before, f"`memex {' '.join(args)}` changed the data folder"
    found = run(home, "search", "Where does my brother work?", "-k", "1")
    assert "Mateus" in found.stdout  # the reads answered from the real store
    assert "Portuguese" in run(home, "queue").stdout  # the queued write is listed, and left alone
    assert "No note" in run(home, "show", ids[4]).stderr  # the deleted note is gone for a reader too


def test_opening_every_page_leaves_the_folder_byte_identical(app_home: Settings, embedder) -> None:
    seed(app_home, embedder)
    ConversationStore(app_home.home).update(  # nothing queued: opening the app then has nothing to write
        ConversationStore(app_home.home).list()[0].id,
        lambda c: [m.update(memory={"state": "done", "status": "not_stored"}) for m in c.messages])
    before = digest(app_home.home)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    for page in PAGES:
        at.switch_page(page)
        at.run()
        assert not at.exception, (page, [e.value for e in at.exception])
        assert digest(app_home.home) == before, f"opening {page} changed the data folder"
