"""`memex` processes end cleanly and what they were told is stored exactly once (the real model).

- 30 runs of ``memex chat`` without ``--wait`` (half with ``--json``) while another process keeps a
  core busy: every one exits 0, never by a signal. Then three ``memex queue run`` processes start
  together on what was left: every fact told is a note, exactly once.
- Ctrl-C during a reply exits 130; ``memex list | head -1`` ends quietly.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from memory_core.chat import ConversationStore
from memory_core.chat.pending import pending_writes
from memory_core.config import Settings
from memory_core.memory.turns import turn_key as write_key
from memory_core.notes import Note
from memory_core.store import MemoryStore
from memory_core.store.events import CREATE

pytestmark = [pytest.mark.real_model, pytest.mark.server]  # `memex chat` processes

MEMEX = Path(sys.executable).parent / "memex"
FACTS = ["My dog is called Biscuit.", "I live in Lisbon with my wife Ana.", "My brother Mateus is a dentist.",
         "I have been vegetarian since 2015.", "My sister Lena plays the cello.", "I work as a nurse at night.",
         "My bike is a red Brompton.", "I keep two beehives on my roof.", "My favourite book is Dune.",
         "I grew up in a village near Porto.", "My daughter Sofia starts school in September.",
         "I am allergic to peanuts."]
OTHER = ["hello!", "thanks!", "ok", "What is my dog called?", "good morning", "haha nice", "Where do I live?",
         "bye for now", "what do you think?"]


def env(home: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "MEMEX_HOME": str(home), "HF_HUB_OFFLINE": "1", **extra}


def memex(home: Path, *args: str, timeout: float = 600, **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(MEMEX), *args], capture_output=True, text=True, env=env(home, **extra),
                          timeout=timeout)


def test_thirty_chats_without_wait_exit_zero_and_every_fact_is_stored_once(tmp_path: Path, embedder) -> None:
    home = tmp_path / "home"
    said = FACTS + [OTHER[i % len(OTHER)] for i in range(30 - len(FACTS))]
    order = [said[(i * 7) % 30] for i in range(30)]  # facts and small talk interleaved
    assert sorted(order) == sorted(said)
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])  # "while another process is busy"
    codes, runs = [], []
    try:
        for i, text in enumerate(order):
            args = ["chat", text, "--max-tokens", "12"] + (["--json"] if i % 2 else [])
            done = memex(home, *args, MEMEX_EXIT_GRACE="1")
            codes.append(done.returncode)
            runs.append(done)
            assert "Traceback" not in done.stderr and "unexpected error" not in done.stderr, done.stderr
            if i % 2:
                out = json.loads(done.stdout)
                assert out["reply"] and isinstance(out["pending"], list)
                assert all(p["why"] for p in out["pending"])  # every write still pending says why
    finally:
        hog.kill()
        hog.wait()
    print(f"\nexit codes of 30 `memex chat` runs: {dict(Counter(codes))}")
    assert codes == [0] * 30, [(c, r.stderr[-500:]) for c, r in zip(codes, runs) if c]

    # three processes take up what was left, at once
    procs = [subprocess.Popen([str(MEMEX), "queue", "run", "--json"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env(home)) for _ in range(3)]
    outs = [p.communicate(timeout=1800) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], [o[1][-1000:] for o in outs]
    convs = ConversationStore(home)
    assert pending_writes(convs) == []
    store = MemoryStore(Settings(data_dir=str(home)), embedder)
    contents = Counter(n.content for n in store.all_notes())
    for fact in FACTS:
        assert contents[fact] == 1, (fact, contents)
    for summary in convs.list():
        for m in convs.load(summary.id).messages:
            if m["role"] == "user":
                made = [e for e in store._conn.log.read({"cause": write_key(summary.id, m["id"])}) if e.field == CREATE]
                assert len(made) == (1 if m["memory"].get("status") == "stored" else 0), m
    print(f"stored {len(store)} notes for {len(FACTS)} facts told; "
          f"{sum(contents.values()) - len(contents)} duplicated")
    assert len(store) == len(FACTS)


def test_ctrl_c_during_a_reply_exits_130_and_a_closed_pipe_is_quiet(tmp_path: Path, embedder) -> None:
    home = tmp_path / "home"
    proc = subprocess.Popen([str(MEMEX), "chat", "Tell me a long story about the sea.", "--max-tokens", "400"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env(home))
    assert proc.stdout is not None
    proc.stdout.read(20)  # the reply is streaming
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, (proc.returncode, err[-1000:])
    assert "Traceback" not in err and "interrupted" in err

    store = MemoryStore(Settings(data_dir=str(home)), embedder)
    with store.writing() as w:  # enough lines to fill the pipe: `head` closes it while `list` still writes
        for i in range(1500):
            w.put(Note(content=f"Line {i} of a long list of small memories about the garden and the sea."))
    store.close()
    piped = subprocess.run(f"'{MEMEX}' list | head -1; echo \"status=${{PIPESTATUS[0]}}\"", shell=True,
                           executable="/bin/bash", capture_output=True, text=True, env=env(home), timeout=300)
    assert piped.stderr == "", piped.stderr
    assert "status=0" in piped.stdout and len(piped.stdout.strip().splitlines()) == 2

    started = time.monotonic()
    told = memex(home, "chat", "My piano teacher is called Vera.", "--max-tokens", "8", MEMEX_EXIT_GRACE="0")
    assert told.returncode == 0, told.stderr
    assert "left queued" in told.stderr or "stored" in told.stderr  # said what became of the write
    assert time.monotonic() - started < 120
