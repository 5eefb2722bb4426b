"""`memex chat` with the real bundled model and MiniLM: one turn through the Chat page's path.

In-process (``cli.main``) so the model and embedder load once per test session; MEMEX_HOME is a
fresh temporary folder (the ``app_home`` fixture).
"""

from __future__ import annotations

import json

import pytest

from memory_core.chat import ConversationStore
from memory_core.cli import main
from memory_core.config import Settings
from memory_core.store import MemoryStore

pytestmark = pytest.mark.real_model


def chat(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict, str]:
    code = main(["chat", *args, "--json", "--max-tokens", "32"])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out.strip().startswith("{") else {}), err


def test_memex_chat_tells_remembers_and_answers_from_memory_in_a_new_conversation(
        app_home: Settings, embedder, capsys: pytest.CaptureFixture[str]) -> None:
    fact = "My dog is a golden retriever called Biscuit."
    code, told, err = chat(capsys, fact, "--wait")
    assert code == 0, err
    assert told["reply"].strip() and told["conversation_id"]
    memory = told["memory"]
    assert memory["state"] == "done" and memory["status"] == "stored", memory
    note = MemoryStore(app_home, embedder).get(memory["note_id"])
    assert note.content == fact and note.speaker == "person"  # the person's words, no reply
    assert note.conversation_id == told["conversation_id"] and note.message_id == told["message_id"]

    # a second turn in the same conversation
    code, again, err = chat(capsys, "I work as a nurse at the city hospital.", "--conversation", told["conversation_id"],
                            "--wait")
    assert code == 0, err
    assert again["conversation_id"] == told["conversation_id"]
    assert len(ConversationStore(app_home.home).load(told["conversation_id"]).messages) == 4
    assert fact in MemoryStore(app_home, embedder).get(again["memory"]["note_id"]).turn_context

    # asked in a NEW conversation: recalled first, answered from it, the question itself not stored
    code, asked, err = chat(capsys, "What is my dog's name?", "--wait")
    assert code == 0, err
    assert asked["conversation_id"] != told["conversation_id"]
    assert asked["recalled"][0]["id"] == note.id and asked["recalled"][0]["reasons"]
    assert asked["recalled"][0]["in_prompt"] and asked["prompt"]["form"] == "memory"
    assert asked["prompt"]["notes_used"] == [note.id]  # a clear winner goes alone
    assert "biscuit" in asked["reply"].lower(), asked["reply"]
    assert asked["memory"]["status"] == "not_stored" and asked["memory"]["reason"]


def test_memex_chat_without_wait_reports_queued_and_bad_input_is_a_message(
        app_home: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = chat(capsys, "I keep bees on my roof.")
    assert code == 0, err
    assert out["memory"]["status"] in ("queued", "stored"), out["memory"]
    code, out, err = chat(capsys, "hello", "--conversation", "f" * 32)
    assert code != 0 and "No conversation with id" in err and "Traceback" not in err
    code, out, err = chat(capsys, "   ")
    assert code != 0 and "Type a message first" in err
