"""Episodes with the real bundled model: `memex chat`, asked in a new conversation what Memex recommended
in an earlier one, answers from the recalled exchange (quoted with its date)."""

from __future__ import annotations

import json

import pytest

from memory_core.chat import ConversationStore, new_message
from memory_core.chat.episodic import EXCHANGE_FALLBACK_LEAD
from memory_core.cli import main
from memory_core.config import Settings

pytestmark = pytest.mark.real_model


def test_memex_chat_answers_what_it_recommended_in_an_earlier_conversation(
        app_home: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    convs = ConversationStore(app_home.home)
    for day, asked, advice in (
            ("2023-05-02", "Can you suggest a calm film for tonight?", "You could watch Spirited Away, it is gentle."),
            ("2023-05-09", "Where should I go for a weekend trip in spring?",
             "Go to Lisbon: it is sunny in spring and the old town is lovely on foot.")):
        conv = convs.new()
        for role, text, at in (("user", asked, "19:00:00"), ("assistant", advice, "19:00:20")):
            msg = new_message(role, text)
            msg["at"] = f"{day}T{at}+00:00"
            conv.messages.append(msg)
        convs.save(conv)
    code = main(["chat", "Which city did you suggest for my weekend trip?", "--json", "--max-tokens", "32"])
    out, err = capsys.readouterr()
    assert code == 0, err
    asked = json.loads(out)
    assert asked["prompt"]["form"] == "episode", asked["prompt"]
    given = [e for e in asked["episodes"] if e["in_prompt"]]
    assert given and "Lisbon" in given[0]["text"] and given[0]["timestamp"].startswith("2023-05-09")
    assert EXCHANGE_FALLBACK_LEAD not in asked["reply"], asked["reply"]  # the model's own answer, not the fallback
    assert "lisbon" in asked["reply"].lower(), asked["reply"]
