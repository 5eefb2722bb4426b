"""The memory benchmark's conversation and figures (a scripted model here; `memex bench memory` runs the real one)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fakes import ScriptedLLM

from memory_core.bench.memory import load_conversation, run_conversation, turns_of
from memory_core.config import Settings
from memory_core.memory.worth import judge_turn


def test_the_shipped_conversation_has_what_the_issue_asks_for() -> None:
    turns = turns_of(load_conversation())
    kinds = {t["kind"] for t in turns}
    assert len(turns) >= 150 and len({t["session"] for t in turns}) >= 4
    assert kinds >= {"fact", "repeat", "correction", "question", "greeting", "thanks", "ack"}
    facts = {t["fact"] for t in turns if t.get("fact")}
    assert all(t["asks"] in facts for t in turns if t["kind"] == "question")
    assert all(t["corrects"] in facts for t in turns if t["kind"] == "correction")
    # the rule agrees with the script on every turn (a stored kind is worth a note, the others not)
    wrong = [t["text"] for t in turns if judge_turn(t["text"]).worth != (t["kind"] in ("fact", "repeat",
                                                                                          "correction", "chat"))]
    assert wrong == []


@pytest.mark.real_model  # MiniLM
def test_figures_through_the_chat_path(tmp_path: Path, embedder) -> None:
    turns = turns_of(load_conversation())[:60]
    llm = ScriptedLLM(default="{}")
    llm.script = []

    def reply_or_json(messages, response_format):
        return "{}" if response_format else "I'm allergic to peanuts. Nice to hear from you."

    llm.default = reply_or_json  # type: ignore[assignment]
    res = run_conversation(Settings(data_dir=str(tmp_path / "home")), turns, max_tokens=16, say=lambda _m: None,
                           llm=llm, embedder=embedder)
    assert res["turns"] == 60 and 0 < res["notes"] < 60
    assert res["stored_replies"] == 0 and res["bare_questions_stored"] == 0
    assert res["greetings_acks_requests_stored"] == 0 and res["changed_without_person"] == 0
    assert res["notes_not_from_the_persons_turns"] == 0
    assert res["repeats"] >= 1 and res["questions_with_planted_fact"] >= 5
    assert 0.0 <= res["recall_at_5"] <= 1.0 and res["seconds_per_turn"] > 0
    # Biscuit's three notes, the hike and what followed it, ...: the rules link without the model
    assert res["links"] >= 4 and res["notes_linked"] >= 6 and res["links_by"].get("system", 0) >= 4
    table = res["correction_table"]["table"]
    assert table["pairs"] >= 40 and 0.0 <= table["sure_precision"] <= 1.0
