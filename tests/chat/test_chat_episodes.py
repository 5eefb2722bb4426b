"""Episodes in the chat (scripted LLM, hash embedder): what Memex said is recalled as what was said,
quoted with its date, saved with the reply apart from notes, and never once its note is deleted."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest
from fakes import HashEmbedder, ScriptedLLM

from memory_core.chat import ChatSession, ConversationStore, MemoryWriter, Recalled, build_prompt
from memory_core.chat.episodic import EXCHANGE_FALLBACK_LEAD, RecalledExchange, offered_exchanges
from memory_core.chat.forgetting import delete_notes
from memory_core.config import Settings
from memory_core.retrieval.timespan import TimeSpan
from memory_core.store import MemoryStore

ADVICE = "Try chamomile tea an hour before bed."


@pytest.fixture
def writer():
    w = MemoryWriter()
    yield w
    w.stop()


def settings_in(tmp_path: Path) -> Settings:
    return Settings(data_dir=str(tmp_path / "home"))


def prompt_text(llm: ScriptedLLM) -> str:
    return "\n".join(m["content"] for m in llm.calls[-1]["messages"])


def test_a_new_session_recalls_what_memex_said_in_an_earlier_conversation(tmp_path: Path, writer) -> None:
    s = settings_in(tmp_path)
    first = ChatSession(MemoryStore(s, HashEmbedder()), s, ScriptedLLM(default=ADVICE), writer=writer)
    told = first.reply(None, "I sleep badly lately, any tip for my sleep?")
    assert told.consume() == ADVICE
    writer.wait_idle(60)

    store = MemoryStore(s, HashEmbedder())  # a new store object, a new embedder: nothing shared in memory
    assert not any("chamomile" in n.content for n in store.all_notes())  # Memex's words are never a note
    llm = ScriptedLLM(default="You told me to try chamomile tea.")
    session = ChatSession(store, s, llm, ConversationStore(s.home), writer)
    asked = session.reply(None, "What did you tell me to try for my sleep?")
    asked.consume()
    assert asked.plan.form == "episode" and asked.plan.memory_answer
    day = told.conversation.messages[0]["at"][:10]
    assert ADVICE in prompt_text(llm) and day in prompt_text(llm)
    saved = ConversationStore(s.home).load(asked.conversation_id).messages[-1]
    episode = saved["episodes"][0]
    assert episode["in_prompt"] and episode["conversation_id"] == told.conversation_id
    assert ADVICE in episode["text"] and "I sleep badly" in episode["text"]  # the neighbour comes along
    assert saved["prompt"]["exchanges_used"] == [episode["message_id"]]
    assert all(r.get("kind") != "episode" for r in saved["recalled"])  # notes and episodes kept apart


def test_a_deleted_note_is_not_recalled_through_episodes(tmp_path: Path, writer) -> None:
    s = settings_in(tmp_path)
    store = MemoryStore(s, HashEmbedder())
    convs = ConversationStore(s.home)
    first = ChatSession(store, s, ScriptedLLM(default="Noted: locker code 4812."), convs, writer)
    told = first.reply(None, "My gym locker code is 4812.")
    told.consume()
    writer.wait_idle(60)
    note_id = convs.load(told.conversation_id).messages[0]["memory"]["note_id"]
    llm = ScriptedLLM(default="I do not know.")
    session = ChatSession(store, s, llm, convs, writer)
    before = session.recall_exchanges("What did I tell you about my gym locker code?")
    assert any("4812" in t["text"] for ex in before for t in ex.turns)
    assert delete_notes(store, convs, [note_id]) == 1
    assert convs.load(told.conversation_id).messages[0]["forgotten"] is True
    after = session.reply(None, "What did I tell you about my gym locker code?")
    after.consume()
    assert "4812" not in prompt_text(llm)
    assert all("4812" not in ex.shown_text() for ex in after.plan.exchanges)


def exchange(score: float, strength: float, text: str = "Try chamomile tea.") -> RecalledExchange:
    return RecalledExchange(conversation_id="c" * 32, message_id=f"m{score}", title="sleep",
                            timestamp="2023-05-03T19:00:00+00:00", score=score, strength=strength,
                            turns=[{"message_id": "u", "role": "user", "text": "I sleep badly.", "at": ""},
                                   {"message_id": f"m{score}", "role": "assistant", "text": text, "at": ""}])


def note(strength: float, timestamp: str = "2023-05-01T10:00:00+00:00") -> Recalled:
    return Recalled(id="n1", title="tea", content="I like green tea.", timestamp=timestamp,
                    score=1.0, strength=strength)


def test_which_exchanges_are_given() -> None:
    exs = [exchange(1.0, 0.5), exchange(0.8, 0.4), exchange(0.5, 0.3)]
    assert offered_exchanges("What did you suggest for my sleep?", exs, [note(0.6)]) == [0, 1]  # 0.5 < 0.75 * 1.0
    assert offered_exchanges("What tea do I like?", exs, [note(0.6)]) == []  # a fact question the note answers
    assert offered_exchanges("What tea do I like?", exs, [note(0.3)]) == [0, 1]  # the exchange clearly beats it
    assert offered_exchanges("What tea do I like?", exs, []) == [0, 1]
    may3 = TimeSpan(datetime(2023, 5, 3, tzinfo=timezone.utc), datetime(2023, 5, 4, tzinfo=timezone.utc), "May 3")
    exs[0].in_span = True
    assert offered_exchanges("What tea did I have?", exs, [note(0.6)], span=may3) == [0, 1]  # the note is of May 1
    assert offered_exchanges("What tea did I have?", exs, [note(0.6, "2023-05-03T08:00:00+00:00")], span=may3) == []
    assert offered_exchanges("What did you suggest?", [], [note(0.6)]) == []
    same = exchange(1.0, 0.9)
    same.note_id = "n1"  # found by the message that made the recalled note: it does not beat the note
    assert offered_exchanges("What tea do I like?", [same], [note(0.3)]) == []


def test_the_episode_form_quotes_the_exchange_with_its_date_and_the_question_last() -> None:
    llm = ScriptedLLM()
    exs = [exchange(1.0, 0.5)]
    plan = build_prompt(llm, "What did you suggest for my sleep?", [note(0.6)], [], max_tokens=64, exchanges=exs)
    assert plan.form == "episode" and plan.exchanges_used == [exs[0].message_id] and plan.notes_used == []
    text = "\n".join(m["content"] for m in plan.messages)
    assert "2023-05-03" in text and "Try chamomile tea." in text and "I like green tea." not in text
    assert plan.messages[-1]["content"].rstrip().endswith("sentence.")
    assert "Question: What did Memex suggest for my sleep?" in plan.messages[-1]["content"]  # named, not "you"
    assert exs[0].in_prompt and plan.summary()["exchanges_used"]
    chat = build_prompt(llm, "I slept well today.", [note(0.6)], [], max_tokens=64, exchanges=exs)
    assert chat.form == "chat" and not exs[0].in_prompt and chat.exchanges == exs  # shown, not given


def test_an_answer_that_ignores_the_exchange_falls_back_to_it(tmp_path: Path, writer) -> None:
    s = settings_in(tmp_path)
    first = ChatSession(MemoryStore(s, HashEmbedder()), s, ScriptedLLM(default=ADVICE), writer=writer)
    first.reply(None, "I sleep badly lately, any tip for my sleep?").consume()
    writer.wait_idle(60)
    session = ChatSession(MemoryStore(s, HashEmbedder()), s, ScriptedLLM(default="I'm sorry for your loss."),
                          ConversationStore(s.home), writer)
    asked = session.reply(None, "What did you tell me to try for my sleep?")
    text = asked.consume()
    assert asked.fallback and ADVICE in text and text.startswith(EXCHANGE_FALLBACK_LEAD)
    saved = ConversationStore(s.home).load(asked.conversation_id).messages[-1]
    assert saved["fallback"] and saved["model_reply"] == "I'm sorry for your loss." and ADVICE in saved["content"]


def test_an_answer_from_the_persons_own_turn_is_no_answer_about_what_memex_said(tmp_path: Path, writer) -> None:
    s = settings_in(tmp_path)
    first = ChatSession(MemoryStore(s, HashEmbedder()), s, ScriptedLLM(default=ADVICE), writer=writer)
    first.reply(None, "I sleep badly lately, any tip for my sleep?").consume()
    writer.wait_idle(60)
    echo = "You said that lately you sleep badly."  # the person's words back, nothing Memex said
    session = ChatSession(MemoryStore(s, HashEmbedder()), s, ScriptedLLM(default=echo), ConversationStore(s.home),
                          writer)
    asked = session.reply(None, "What did you tell me to try for my sleep?")
    assert ADVICE in asked.consume() and asked.fallback and asked.model_text == echo
    kept = ChatSession(MemoryStore(s, HashEmbedder()), s, ScriptedLLM(default="Chamomile tea before bed."),
                       ConversationStore(s.home), writer).reply(None, "What did you tell me to try for my sleep?")
    assert kept.consume() == "Chamomile tea before bed." and not kept.fallback
