"""Ctrl-C in the app while it writes a memory: the app ends with a status, never a signal or a traceback,
and the write it was doing is left queued (or done), then finished once by the next process.

The app is the real one (``streamlit run app.py``), opened in Debian's Chromium; the writes are what
an earlier ``memex chat`` left queued, which the app takes up as soon as it starts.
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
from browserkit import CHROMIUM, CHROMIUM_ARGS, require_browser

from memory_core.chat import ConversationStore, new_message
from memory_core.config import Settings
from memory_core.store import MemoryStore, prepare_data_dir

pytestmark = [pytest.mark.browser, pytest.mark.real_model]
MEMEX = Path(sys.executable).parent / "memex"
FACTS = ["My uncle Tomas repairs clocks in Braga.", "I run five kilometres on Sundays.",
         "My phone is an old Nokia.", "My niece Ines is learning the violin."]


def test_ctrl_c_while_the_app_writes_exits_cleanly_and_the_write_is_done_once(tmp_path: Path, embedder,
                                                                             streamlit_server) -> None:
    sync_playwright = require_browser()
    home = tmp_path / "home"
    prepare_data_dir(home)
    convs = ConversationStore(home)
    for text in FACTS:
        conv = convs.new()
        convs.append(conv.id, new_message("user", text, memory={"state": "queued", "job": "w1-cli"}), create=conv)
    env = {**os.environ, "MEMEX_HOME": str(home), "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
    log_path = tmp_path / "streamlit.log"
    with streamlit_server(home, log_path) as app:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            page = browser.new_page()
            page.goto(app.base + "/", timeout=120_000)
            writing = False
            deadline = time.monotonic() + 180  # the app opens the store, then takes up the queue
            while not writing and time.monotonic() < deadline:
                listed = subprocess.run([str(MEMEX), "queue", "--json"], capture_output=True, text=True, env=env,
                                        timeout=120)
                writing = any("another Memex process" in item["why"] for item in json.loads(listed.stdout))
                time.sleep(0.2)
            assert writing, "the app never took up the queued writes"
            os.killpg(app.proc.pid, signal.SIGINT)  # Ctrl-C in the terminal that runs the app
            code = app.proc.wait(timeout=120)
            browser.close()
    text = log_path.read_text()
    assert code == 0, (code, text[-3000:])
    for bad in ("Traceback", "Segmentation", "terminate called", "cannot schedule new futures"):
        assert bad not in text, text[-3000:]
    for summary in convs.list():  # nothing was marked failed by the interruption
        for m in convs.load(summary.id).messages:
            assert m["memory"]["state"] in ("queued", "done"), m["memory"]

    finished = subprocess.run([str(MEMEX), "queue", "run"], capture_output=True, text=True, env=env, timeout=1800)
    assert finished.returncode == 0, finished.stderr
    notes = Counter(n.content for n in MemoryStore(Settings(data_dir=str(home)), embedder).all_notes())
    assert all(notes[f] == 1 for f in FACTS) and len(notes) == len(FACTS), notes
