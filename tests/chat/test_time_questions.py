"""Time in questions through the chat: the span is read on the conversation's clock, its notes recalled
first (real MiniLM, the store), and the span saved with the reply for "From your memory" and the trace."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest
from fakes import HashEmbedder, ScriptedLLM

from memory_core.chat import ChatSession, ConversationStore, MemoryWriter
from memory_core.config import Settings
from memory_core.memory.pipeline import MemoryPipeline, NewItem
from memory_core.retrieval.timespan import TimeSpan
from memory_core.retrieval.trace import from_message
from memory_core.store import MemoryStore

CLOCK = datetime(2023, 5, 20, 18, tzinfo=timezone.utc)
NOTES = [  # two cooking notes on two days, and other notes on the day asked about
    NewItem("I cooked a big pot of chickpea curry for my flatmates.", timestamp="2023-05-02T19:30:00+00:00",
            source="chat", speaker="person"),
    NewItem("I cooked a mushroom risotto with too much parmesan.", timestamp="2023-05-09T19:10:00+00:00",
            source="chat", speaker="person"),
    NewItem("I finally repaired the puncture on my bike.", timestamp="2023-05-02T11:00:00+00:00",
            source="chat", speaker="person"),
    NewItem("My manager moved the product launch to June.", timestamp="2023-05-09T09:00:00+00:00",
            source="chat", speaker="person"),
]


@pytest.fixture
def writer():
    w = MemoryWriter()
    yield w
    w.stop()


@pytest.mark.real_model
def test_a_past_days_note_is_recalled_for_its_date_over_the_same_topic_on_another_day(
        tmp_path: Path, embedder, writer: MemoryWriter) -> None:
    s = Settings(data_dir=str(tmp_path / "home"))
    store = MemoryStore(s, embedder)
    ids = MemoryPipeline(store, s).add_many(NOTES).note_ids
    session = ChatSession(store, s, None, ConversationStore(tmp_path / "chat"), writer)
    session.clock = lambda: CLOCK
    plain = session.recall("What did I cook on May 2nd?", 5)
    assert plain and plain[0].id == ids[1]  # without the date, the risotto (closer in meaning) came first
    span = session.time_span("What did I cook on May 2nd?")
    assert span is not None and span.start == datetime(2023, 5, 2, tzinfo=timezone.utc)
    recalled = session.recall("What did I cook on May 2nd?", 5, span)
    assert recalled[0].id == ids[0]
    # "what did I do" shares no word with the bike repair, yet that day's notes are what was asked
    day = session.time_span("What did I do on May 2nd?")
    assert {r.id for r in session.recall("What did I do on May 2nd?", 5, day)[:2]} == {ids[0], ids[2]}


def test_the_span_is_saved_with_the_reply_and_shown_by_the_trace(tmp_path: Path, writer: MemoryWriter) -> None:
    s = Settings(data_dir=str(tmp_path / "home"))
    store = MemoryStore(s, HashEmbedder())
    ids = MemoryPipeline(store, s).add_many(NOTES).note_ids
    session = ChatSession(store, s, ScriptedLLM(default="You cooked chickpea curry."),
                          ConversationStore(tmp_path / "chat"), writer)
    session.clock = lambda: CLOCK
    reply = session.reply(None, "What did I cook on May 2nd?", remember=False)
    reply.consume()
    saved = TimeSpan.from_dict(reply.message["time_span"])
    assert saved is not None and saved.phrase == "May 2nd" and saved.start.day == 2
    assert {r.id for r in reply.recalled[:2]} == {ids[0], ids[2]}  # that day's notes first
    assert "Tue 2 May 2023" in from_message(reply.message).span
    plain = session.reply(None, "What do I like to cook?", remember=False)
    plain.consume()
    assert "time_span" not in plain.message
    told = session.reply(None, "I cooked dal on May 2nd.", remember=False)  # a statement: its date is news
    told.consume()
    assert "time_span" not in told.message


@pytest.mark.real_model
def test_a_new_process_reads_the_date_through_the_cli(tmp_path: Path, embedder) -> None:
    """`memex chat` in a new process, on the wall clock (years after the notes): "May 2nd" without a
    year is the latest 2 May that holds memories, and its note comes first; the span is saved."""
    home = tmp_path / "home"
    s = Settings(data_dir=str(home))
    store = MemoryStore(s, embedder)
    MemoryPipeline(store, s).add_many(NOTES)
    store.close()
    out = subprocess.run([sys.executable, "-m", "memory_core.cli", "chat", "--json", "--max-tokens", "8",
                          "--data-dir", str(home), "What did I cook on May 2nd?"], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}, timeout=600)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["time_span"]["start"].startswith("2023-05-02") and report["time_span"]["phrase"] == "May 2nd"
    assert "chickpea" in report["recalled"][0]["title"]
