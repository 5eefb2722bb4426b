"""Issue 24, items 5 and 6 on the real models: the relevance floor with the real MiniLM (re-measured on the
labelled pairs it was chosen from, and the issue's bicycle case), the fallback and the short reply to
"thanks!" with the real SmolLM2."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pytest

from memory_core.chat import ChatSession, ConversationStore, MemoryWriter
from memory_core.chat.fallback import ACK_MAX_TOKENS, FALLBACK_LEAD, MEANING_FLOOR, uses_note
from memory_core.config import Settings
from memory_core.memory.pipeline import MemoryPipeline, NewItem
from memory_core.retrieval.floor import DENSE_FLOOR, floor_for
from memory_core.store import MemoryStore

pytestmark = pytest.mark.real_model

PAIRS = Path(__file__).parents[1] / "fixtures" / "relevance_pairs.json"


@pytest.fixture
def writer():
    w = MemoryWriter()
    yield w
    w.stop()


def test_the_floor_separates_the_labelled_pairs_as_its_docstring_says(embedder) -> None:
    data = json.loads(PAIRS.read_text(encoding="utf-8"))
    rel = data["relevant"]
    queries = [q for q, _ in rel]
    notes = [n for _, n in rel]
    qv, nv = embedder.embed(queries), embedder.embed(notes)
    sims = qv @ nv.T
    assert floor_for(embedder) == DENSE_FLOOR
    kept = sum(sims[i, i] >= DENSE_FLOOR for i in range(len(rel)))
    cross = [sims[i, j] for i in range(len(rel)) for j in range(len(rel)) if i != j]
    passed = sum(c >= DENSE_FLOOR for c in cross)
    acks = embedder.embed(data["acknowledgements"]) @ nv.T
    print(f"relevant kept {kept}/{len(rel)}, cross-topic passed {passed}/{len(cross)}, "
          f"acknowledgements passed {(acks >= DENSE_FLOOR).sum()}/{acks.size}")
    assert kept >= 0.9 * len(rel)
    assert passed <= 0.05 * len(cross)
    assert (acks >= DENSE_FLOOR).sum() <= 0.01 * acks.size
    # and the floor is where answers start to go: 0.1 higher would lose more of them
    assert sum(sims[i, i] >= DENSE_FLOOR + 0.1 for i in range(len(rel))) < kept


def test_the_issue_bicycle_case_recalls_the_bicycle_and_not_the_weak_match(tmp_path: Path, embedder,
                                                                          writer: MemoryWriter) -> None:
    """A note whose context (an old reply) says "bike" scaled to first place; with the floor it is not
    shown at all, and the bicycle note, which MiniLM finds related, is first."""
    s = Settings(data_dir=str(tmp_path / "home"))
    store = MemoryStore(s, embedder)
    ids = MemoryPipeline(store, s).add_many([
        NewItem("I'm vegetarian since 2015.",
                turn_context="Person: hi\nMemex: Hello! Your bike is probably a lovely one, tell me about it."),
        NewItem("I ride an old blue bicycle everywhere, a Gazelle from the nineties."),
        NewItem("My brother Mateus is a dentist in Curitiba."),
        NewItem("The quarterly budget review is on Friday."),
    ]).note_ids
    session = ChatSession(store, s, None, ConversationStore(tmp_path / "chat"), writer)
    recalled = session.recall("What color is my bike?", 5)
    assert recalled and recalled[0].id == ids[1]
    assert ids[0] not in [r.id for r in recalled]
    assert all(r.strength >= DENSE_FLOOR for r in recalled)
    assert session.recall("thanks!", 5) == []


def test_a_long_diary_note_is_quoted_by_one_sentence_with_real_minilm(tmp_path: Path, embedder,
                                                                     writer: MemoryWriter) -> None:
    days = [f"Day {d}. Wrote a short poem about the gulls on the harbour wall. The bus was late again."
            for d in range(1, 500)]
    diary = " ".join(days[:250] + ["On the way home I signed the papers for the allotment: it is plot number 17."]
                     + days[250:])
    assert len(diary) > 40_000
    s = Settings(data_dir=str(tmp_path / "home"))
    store = MemoryStore(s, embedder)
    MemoryPipeline(store, s).add_many([NewItem(diary)])
    session = ChatSession(store, s, None, ConversationStore(tmp_path / "chat"), writer)
    recalled = session.recall("What number is my allotment plot?", 3)
    assert len(recalled) == 1
    assert recalled[0].words == "On the way home I signed the papers for the allotment: it is plot number 17."


BIKE = "I ride an old green bicycle to work, a Raleigh from my uncle."


def test_the_meaning_floor_keeps_rewordings_and_still_catches_wrong_answers_with_real_minilm(embedder) -> None:
    """The reviewer's three correct answers are kept; the wrong ones of the flow tests and of the bundled
    model still fall back, with the real MiniLM."""
    assert uses_note("You have 2 children.", ["I have two kids."], "How many children do I have?", embedder)
    assert uses_note("You are about 34 years old.", ["I was born in 1990."], "How old am I?", embedder,
                     today=dt.date(2024, 6, 1))
    assert uses_note("Yes, you are vegetarian.", ["I don't eat meat."], "Do I eat meat?", embedder)
    wrong = [("Your bicycle is red.", BIKE, "What color is my bicycle?"),
             ("I'm sorry for your loss.", BIKE, "What colour is my bicycle?"),
             ("Oyelaran is a fictional character from the movie The Lion King.",
              "Oyelaran is my flatmate from university, we still talk every week.", "Who is Oyelaran?"),
             ("Your sister lives in London.", "My sister lives in Porto.", "Where does my sister live?"),
             ("I don't know.", "The spare key is under the blue flowerpot by the back door.",
              "Where did I hide the spare key?")]
    for said, note, question in wrong:
        assert not uses_note(said, [note], question, embedder), said
    v = embedder.embed(["Yes, you are vegetarian.", "I don't eat meat.", "Your sister lives in London.",
                        "My sister lives in Porto."])
    print(f"vegetarian/meat {float(v[0] @ v[1]):.3f}, London/Porto {float(v[2] @ v[3]):.3f}, floor {MEANING_FLOOR}")


def test_real_smollm2_replies_use_their_note_or_fall_back_to_it(tmp_path: Path, embedder, real_llm,
                                                                writer: MemoryWriter) -> None:
    """Whatever the bundled model writes, the person reads either an answer that used the note or the
    note's own sentence, said plainly; never a reply that ignored it alone."""
    facts = {"Who is Oyelaran?": "Oyelaran is my flatmate from university, we still talk every week.",
             "Where did I hide the spare key?": "The spare key is under the blue flowerpot by the back door.",
             "What is my blood group?": "My blood type is O negative."}
    s = Settings(data_dir=str(tmp_path / "home"))
    store = MemoryStore(s, embedder)
    MemoryPipeline(store, s).add_many([NewItem(t, timestamp="2026-11-02T10:00:00+00:00") for t in facts.values()])
    session = ChatSession(store, s, real_llm, ConversationStore(tmp_path / "chat"), writer)
    outcomes = []
    for question, fact in facts.items():
        reply = session.reply(None, question, remember=False, max_tokens=40)
        reply.consume()
        saved = reply.message
        given = [r.words for r in reply.recalled if r.in_prompt]
        assert given == [fact], (question, given)
        if saved.get("fallback"):
            assert not uses_note(saved["model_reply"], given, question, embedder)
            assert saved["content"].startswith(FALLBACK_LEAD) and f"From your memory: “{fact}”" in saved["content"]
        else:
            assert uses_note(saved["content"], given, question, embedder), saved["content"]
        outcomes.append(bool(saved.get("fallback")))
    print("fell back:", outcomes)


def test_real_smollm2_answers_thanks_in_one_short_line_with_nothing_recalled(tmp_path: Path, embedder, real_llm,
                                                                           writer: MemoryWriter) -> None:
    s = Settings(data_dir=str(tmp_path / "home"))
    store = MemoryStore(s, embedder)
    MemoryPipeline(store, s).add_many([NewItem("Thanks to my sister Lena I finally learned to swim.")])
    session = ChatSession(store, s, real_llm, ConversationStore(tmp_path / "chat"), writer)
    for text in ("thanks!", "good night"):
        reply = session.reply(None, text, remember=False, max_tokens=384)
        reply.consume()
        assert reply.recalled == [] and reply.message["recalled"] == []
        assert 0 < reply.usage["completion_tokens"] <= ACK_MAX_TOKENS
        assert not np.isnan(reply.usage["total_seconds"])
