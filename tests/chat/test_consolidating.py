"""Consolidation off the reply path: it waits for a streaming reply, a model call gives way at its next
token, it runs when idle (and only when something changed), and ``memex consolidate`` in a new process.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from fakes import ScriptedLLM

from memory_core.chat.consolidating import Consolidator
from memory_core.chat.gate import ReplyGate
from memory_core.config import Settings
from memory_core.consolidation import lines_of
from memory_core.notes import Note
from memory_core.store import MemoryStore

FACTS = ["My sister Anna lives in Lisbon.", "I love sushi but I hate olives.", "Next week I plan to visit Porto with Tom."]


def seed(store: MemoryStore, texts=FACTS) -> None:
    with store.writing() as w:
        for i, text in enumerate(texts):
            w.put(Note(content=text, speaker="person", source="chat", timestamp=f"2024-05-0{i + 1}T10:00:00+00:00"))


@pytest.fixture
def hstore(settings: Settings, hash_embedder) -> MemoryStore:
    store = MemoryStore(settings, hash_embedder)
    seed(store)
    return store


def until(check, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.02)
    return check()


def test_consolidation_waits_while_a_reply_streams(hstore: MemoryStore) -> None:
    gate = ReplyGate()
    runner = Consolidator(hstore, None, gate)
    done: list[object] = []
    with gate.replying():
        worker = threading.Thread(target=lambda: done.append(runner.run_now()))
        worker.start()
        assert until(lambda: runner.state == "waiting for a reply")
        time.sleep(0.3)
        assert not lines_of(hstore) and not done  # nothing written while the reply streams
    worker.join(10)
    assert done and done[0] is not None and runner.waits >= 1
    assert lines_of(hstore)


def test_a_model_call_gives_way_to_a_reply_at_its_next_token(hstore: MemoryStore) -> None:
    gate = ReplyGate()
    reply_started = threading.Event()
    reply_over = threading.Event()

    def reply() -> None:
        with gate.replying():
            reply_started.set()
            time.sleep(0.3)
        reply_over.set()

    def answer(messages, _fmt):
        if not reply_started.is_set():  # a reply starts while the model is writing its first answer
            threading.Thread(target=reply, daemon=True).start()
            reply_started.wait(5)
        body = messages[-1]["content"].split("Sources:\n", 1)[1].split("\n\n", 1)[0].splitlines()
        anna = [i for i, line in enumerate(body, 1) if "Anna" in line] or [1]
        return json.dumps({"lines": [{"text": "The person's sister Anna lives in Lisbon.", "sources": anna[:1]}]})

    llm = ScriptedLLM(default="{}")
    llm.name = "Qwen2.5-7B-Instruct"
    llm.script = [answer] * 100
    runner = Consolidator(hstore, None, gate, model=lambda: llm)
    original = runner._gated_model

    def gated():
        model = original()
        runner.model_seen = model  # type: ignore[attr-defined]
        return model

    runner._gated_model = gated  # type: ignore[method-assign]
    report = runner.run_now()
    assert reply_over.is_set() and report is not None
    assert runner.model_seen.interruptions >= 1  # type: ignore[attr-defined]
    assert "The person's sister Anna lives in Lisbon." in [n.content for n in lines_of(hstore, "profile")]


def test_idle_runs_once_quiet_and_only_after_a_change(hstore: MemoryStore) -> None:
    busy = [True]
    runner = Consolidator(hstore, None, ReplyGate(), busy=lambda: busy[0], idle_seconds=0.3, poll_seconds=0.05)
    runner.start()
    try:
        time.sleep(0.8)
        assert runner.runs == 0  # a write is queued: not idle
        busy[0] = False
        assert until(lambda: runner.runs == 1)
        time.sleep(0.8)
        assert runner.runs == 1  # nothing changed since
        seed(hstore, ["I go climbing with Tom on Sundays."])
        assert until(lambda: runner.runs == 2)
        assert any("climbing" in n.content for n in lines_of(hstore))
        runner.request()  # on demand: at once, changed or not
        assert until(lambda: runner.runs == 3)
    finally:
        runner.stop()


def test_memex_consolidate_in_a_new_process(tmp_path: Path) -> None:
    home = tmp_path / "home"
    run = [sys.executable, "-m", "memory_core.cli"]
    for text in FACTS:
        done = subprocess.run([*run, "add", "--mode", "fast", text, "--data-dir", str(home)],
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr
    done = subprocess.run([*run, "consolidate", "--json", "--data-dir", str(home)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["report"]["written_by"] == "extract" and data["report"]["created"] > 0
    people = [r["text"] for r in data["profile"]["people"]]
    assert "Anna: My sister Anna lives in Lisbon." in people
    assert len(data["digests"]) == 1  # the three notes were added today
    shown = subprocess.run([*run, "consolidate", "--show", "--no-rebuild", "--data-dir", str(home)],
                           capture_output=True, text=True, timeout=600)
    assert shown.returncode == 0 and "Likes and dislikes" in shown.stdout and "I love sushi" in shown.stdout
    assert "Traceback" not in shown.stderr
