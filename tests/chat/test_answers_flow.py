"""Issue 24, items 5 and 6, control flow with the scripted LLM: the relevance floor, acknowledgements,
long notes quoted by their sentence, the fallback to the note's own sentence, the better-model offer,
and the realistic answers set's own consistency. The floor and the fallback on the real models are
in test_answers_real.py."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fakes import HashEmbedder, ScriptedLLM

from memory_core.bench.answers_realistic import contains_word, realistic_set
from memory_core.chat import ChatSession, ConversationStore, MemoryWriter
from memory_core.chat.fallback import (
    ACK_MAX_TOKENS,
    ACK_SYSTEM,
    FALLBACK_LEAD,
    MEANING_FLOOR,
    answer_words,
    is_acknowledgement,
    misses,
    uses_note,
    with_digits,
)
from memory_core.config import Settings
from memory_core.memory.pipeline import MemoryPipeline, NewItem
from memory_core.models.download import RECOMMENDED, recommended_upgrade
from memory_core.notes import Note
from memory_core.retrieval.floor import DENSE_FLOOR, MEASURED_EMBEDDER, above_floor, best_sentence, floor_for
from memory_core.retrieval.hit import Hit
from memory_core.store import MemoryStore

BIKE = "I ride an old green bicycle to work, a Raleigh from my uncle."
VEGGIE = "I'm vegetarian since 2015."


@pytest.fixture
def hstore(tmp_path: Path) -> MemoryStore:
    return MemoryStore(Settings(data_dir=str(tmp_path / "home")), HashEmbedder())


@pytest.fixture
def writer():
    w = MemoryWriter()
    yield w
    w.stop()


def session_with(hstore: MemoryStore, writer: MemoryWriter, tmp_path: Path, reply: str,
                 notes: list[str]) -> tuple[ChatSession, ScriptedLLM, list[str]]:
    ids = MemoryPipeline(hstore, hstore.settings).add_many(
        [NewItem(t, timestamp="2026-11-02T10:00:00+00:00") for t in notes]).note_ids
    llm = ScriptedLLM(default=reply)
    return ChatSession(hstore, hstore.settings, llm, ConversationStore(tmp_path / "chat"), writer), llm, ids


# ---- acknowledgements -------------------------------------------------------------------------------------
@pytest.mark.parametrize("text", ["thanks!", "ok", "hi", "good night", "Thank you so much!", "cool, thanks", "haha"])
def test_acknowledgements_and_greetings_recall_nothing_and_get_one_short_line(
        hstore: MemoryStore, writer: MemoryWriter, tmp_path: Path, text: str) -> None:
    session, llm, _ = session_with(hstore, writer, tmp_path, "You're welcome!", [BIKE, "thanks for the bike lock"])
    session.relevance_floor = 0.0  # nothing to do with the floor: an acknowledgement is not searched at all
    reply = session.reply(None, text, max_tokens=384)
    assert reply.recalled == []
    assert reply.plan.reply_tokens <= ACK_MAX_TOKENS
    reply.consume()
    assert llm.calls[0]["messages"][0]["content"].startswith(ACK_SYSTEM)
    assert reply.message["recalled"] == [] and not reply.message.get("fallback")


@pytest.mark.parametrize("text", ["What colour is my bike?", "thanks for the tip about the bike shop, it was great",
                                  "I'm vegetarian", "ok so my brother moved to Porto"])
def test_messages_that_ask_or_tell_are_not_acknowledgements(text: str) -> None:
    assert not is_acknowledgement(text)


# ---- the floor ------------------------------------------------------------------------------------------------
def hit(content: str, dense: float = 0.0, raw: dict[str, float] | None = None) -> Hit:
    return Hit(Note(content=content), 1.0, dense=dense, raw=raw or {})


class OneVector:
    """Every text gets the same unit vector, except those containing ``near`` (cosine ``sim`` to it)."""

    name = "fixed"

    def __init__(self, near: str, sim: float) -> None:
        self.near, self.sim = near, sim
        self.embedded: list[str] = []

    def embed(self, texts: list[str]) -> np.ndarray:
        self.embedded += texts
        out = []
        for t in texts:
            v = np.array([self.sim, np.sqrt(1 - self.sim ** 2)]) if self.near in t else np.array([0.0, 1.0])
            out.append(v)
        return np.array(out, dtype=np.float32)


def test_the_floor_reads_unscaled_cosines_so_the_best_of_weak_matches_stays_out() -> None:
    """The issue's case: the vegetarian note was first after min-max scaling (scaled 1.0) with a raw
    cosine of 0.05; the bicycle note (0.57) passes; the order among those passing is kept."""
    weak = hit(VEGGIE, dense=0.05, raw={"context_lexical": 1.3, "dense": 0.05})
    weak.signals = {"context_lexical": 1.0, "dense": 1.0}
    strong = hit(BIKE, dense=0.57)
    passed = above_floor("What color is my bike?", [weak, strong], OneVector("zzz", 0.0),
                         query_vec=np.array([1.0, 0.0]), floor=DENSE_FLOOR)
    assert [p.hit for p in passed] == [strong]
    assert passed[0].passage == BIKE and passed[0].strength == pytest.approx(0.57)


def test_a_note_does_not_pass_on_its_context_alone() -> None:
    """The context is what was said before the note: it ranks, it does not make a note relevant."""
    neighbour = hit(VEGGIE, dense=0.04, raw={"dense": 0.04, "context_dense": 0.39, "context_lexical": 1.2})
    assert above_floor("What color is my bike?", [neighbour], OneVector("zzz", 0.0), query_vec=np.array([1.0, 0.0]),
                       floor=DENSE_FLOOR) == []


def test_the_floor_is_the_measured_one_only_for_the_embedder_it_was_measured_on() -> None:
    class Named:
        def __init__(self, name: str) -> None:
            self.name = name

    assert floor_for(Named("all-MiniLM-L6-v2")) == DENSE_FLOOR
    assert floor_for(Named("nomic-embed-text-v1.5.Q8_0.gguf")) == 0.0
    assert floor_for(HashEmbedder()) == 0.0


def test_a_long_note_is_quoted_by_its_best_sentence_and_measured_by_it() -> None:
    filler = " ".join(f"Day {i}. It rained and I read a book by the window." for i in range(400))
    diary = filler + " The allotment is plot number 17, by the old apple tree. " + filler
    emb = OneVector("plot number 17", 0.6)
    long_hit = hit(diary, dense=0.05)  # one vector of a long text says little
    passed = above_floor("What number is my allotment plot?", [long_hit], emb, query_vec=np.array([1.0, 0.0]),
                         floor=DENSE_FLOOR)
    assert len(passed) == 1
    assert passed[0].passage == "The allotment is plot number 17, by the old apple tree."
    assert passed[0].strength == pytest.approx(0.6, abs=1e-5)
    assert len(emb.embedded) <= 24  # a bounded number of sentences is embedded, not all 800


def test_a_long_note_that_matches_nothing_stays_out_and_a_very_short_sentence_keeps_its_neighbour() -> None:
    diary = " ".join(f"Day {i}. Wrote a short poem about the gulls." for i in range(300))
    assert above_floor("Where does my brother live?", [hit(diary, dense=0.1)], OneVector("zzz", 0.0),
                       query_vec=np.array([1.0, 0.0]), floor=DENSE_FLOOR) == []
    text = "x" * 320 + ". Yes! The concert was in Lisbon on a Tuesday."
    passage, _ = best_sentence("concert", np.array([1.0, 0.0]), text, OneVector("Yes!", 0.9))
    assert passage == "Yes! The concert was in Lisbon on a Tuesday."


def test_chat_recall_applies_the_floor_and_quotes_the_passage(hstore: MemoryStore, writer: MemoryWriter,
                                                              tmp_path: Path) -> None:
    long_note = ("A long day at work with meetings all morning and emails all afternoon. " * 8
                 + "My green bicycle got a flat tyre outside the office. " + "Then I cooked dinner and slept. " * 5)
    session, llm, ids = session_with(hstore, writer, tmp_path, "Your bicycle is green.",
                                     [BIKE, VEGGIE, long_note])
    session.relevance_floor = 0.3
    reply = session.reply(None, "what colour is my green bicycle", k=3, max_tokens=40)
    recalled = {r.id: r for r in reply.recalled}
    assert ids[1] not in recalled  # no shared word: cosine 0 under the hash embedder
    assert ids[0] in recalled and recalled[ids[0]].strength >= 0.3
    # the long note passes on its best sentence, and that sentence is all that is quoted of it
    assert ids[2] in recalled
    assert recalled[ids[2]].words == "My green bicycle got a flat tyre outside the office."
    reply.consume()
    prompt = "\n".join(m["content"] for m in llm.calls[0]["messages"])
    assert "A long day at work" not in prompt
    assert all(len(r.get("text", "")) <= 300 for r in reply.message["recalled"])


# ---- the fallback ---------------------------------------------------------------------------------------------
def test_answer_words_leave_out_the_question_and_match_stems() -> None:
    assert answer_words(BIKE, "What color is my bicycle?") >= {"green", "raleigh"}
    assert "bicycl" not in answer_words(BIKE, "What color is my bicycle?")
    assert uses_note("It is a green one.", [BIKE], "What color is my bicycle?")
    assert not uses_note("Your bicycle is red.", [BIKE], "What color is my bicycle?")
    assert uses_note("You have kept raspberries.", ["The raspberries were amazing."], "Which fruit?")
    assert not uses_note("anything", ["   "], "q")


def test_numbers_count_as_the_same_word_whether_written_in_digits_or_words() -> None:
    assert with_digits("two kids, twenty-one cousins, Forty two, nineteen, ninety") == "2 kids, 21 cousins, 42, 19, 90"
    assert uses_note("You have 2 children.", ["I have two kids."], "How many children do I have?")
    assert uses_note("You have two children.", ["I have 2 kids."], "How many children do I have?")
    assert uses_note("Thirty-five, I think.", ["My grandmother turned 35 in March."], "How old is she?")
    assert not uses_note("You have 3 children.", ["I have two kids."], "How many children do I have?")


def test_a_past_year_in_the_note_stands_for_the_years_since_it() -> None:
    june_2024 = dt.date(2024, 6, 1)
    assert uses_note("You are about 34 years old.", ["I was born in 1990."], "How old am I?", today=june_2024)
    assert uses_note("You are 33.", ["I was born in 1990."], "How old am I?", today=june_2024)  # birthday to come
    assert not uses_note("You are about 50 years old.", ["I was born in 1990."], "How old am I?", today=june_2024)
    assert not uses_note("You are 2 years old.", ["I was born in 2030."], "How old am I?", today=june_2024)


class Angled:
    """Unit vectors in the plane: a text containing ``near`` at angle arccos(sim) from every other text."""

    def __init__(self, near: str, sim: float, name: str = MEASURED_EMBEDDER) -> None:
        self.near, self.sim, self.name = near, sim, name

    def embed(self, texts: list[str]) -> np.ndarray:
        return np.array([[self.sim, np.sqrt(1 - self.sim ** 2)] if self.near in t else [1.0, 0.0] for t in texts],
                        dtype=np.float32)


def test_a_reply_close_in_meaning_to_its_note_counts_only_above_the_floor_and_for_the_measured_model() -> None:
    note, q, said = "I don't eat meat.", "Do I eat meat?", "Yes, you are vegetarian."
    assert not uses_note(said, [note], q)  # no shared word: without an embedder it falls back
    assert uses_note(said, [note], q, Angled("vegetarian", MEANING_FLOOR + 0.02))
    assert not uses_note(said, [note], q, Angled("vegetarian", MEANING_FLOOR - 0.02))
    assert not uses_note(said, [note], q, Angled("vegetarian", 0.99, name="nomic-embed-text"))  # not measured on it
    assert not uses_note("   ", [note], q, Angled("zzz", 0.99))


def test_a_reply_that_says_it_does_not_know_is_no_answer_however_close_in_meaning() -> None:
    note, q = "My blood type is O negative.", "What is my blood type?"
    close = Angled("blood", 0.9)  # "I don't know your blood type" measured 0.75 on MiniLM
    assert not uses_note("I don't know your blood type.", [note], q, close)
    assert not uses_note("I'm sorry, I am not sure about your blood.", [note], q, close)
    assert uses_note("Your blood is O negative, I'm sorry to say.", [note], q, close)  # the note's words count


def test_the_chat_keeps_a_reworded_answer_with_the_store_embedder(tmp_path: Path, writer: MemoryWriter) -> None:
    """The reply checks meaning with the store's embedder; a reworded answer is not replaced by the note."""
    store = MemoryStore(Settings(data_dir=str(tmp_path / "home")), Angled("vegetarian", 0.9))
    session, _, _ = session_with(store, writer, tmp_path, "Yes, you are vegetarian.", ["I don't eat meat."])
    session.relevance_floor = 0.0
    reply = session.reply(None, "Do I eat meat?", k=1, max_tokens=40)
    assert reply.plan.memory_answer and reply.recalled
    assert reply.consume() == "Yes, you are vegetarian." and not reply.message.get("fallback")


def test_a_reply_that_ignores_its_note_says_so_and_shows_the_note(hstore: MemoryStore, writer: MemoryWriter,
                                                                  tmp_path: Path) -> None:
    session, _, ids = session_with(hstore, writer, tmp_path, "I'm sorry for your loss.", [BIKE])
    session.relevance_floor = 0.0
    reply = session.reply(None, "What colour is my bicycle?", k=1, max_tokens=40)
    assert reply.plan.memory_answer
    pieces = list(reply)
    assert pieces[-1].startswith("\n\n" + FALLBACK_LEAD)  # streamed after the model's words
    saved = reply.message
    assert saved["fallback"] is True and saved["model_reply"] == "I'm sorry for your loss."
    assert saved["content"].startswith(FALLBACK_LEAD)
    assert f"From your memory: “{BIKE}” (2026-11-02)" in saved["content"]
    assert "sorry for your loss" not in saved["content"]  # the wrong sentence is not left as the answer
    stored = session.conversations.load(reply.conversation_id).messages[-1]
    assert stored["content"] == saved["content"] and stored["model_reply"] == "I'm sorry for your loss."


def test_a_reply_that_uses_its_note_is_left_alone(hstore: MemoryStore, writer: MemoryWriter, tmp_path: Path) -> None:
    session, _, _ = session_with(hstore, writer, tmp_path, "Your bicycle is green.", [BIKE])
    session.relevance_floor = 0.0
    reply = session.reply(None, "What colour is my bicycle?", k=1, max_tokens=40)
    assert reply.consume() == "Your bicycle is green."
    assert "fallback" not in reply.message and "model_reply" not in reply.message


def test_chat_that_is_not_a_memory_answer_is_never_replaced(hstore: MemoryStore, writer: MemoryWriter,
                                                           tmp_path: Path) -> None:
    session, _, _ = session_with(hstore, writer, tmp_path, "Sounds lovely!", [BIKE])
    session.relevance_floor = 0.0
    reply = session.reply(None, "I cycled to the coast on my bicycle today.", k=1, max_tokens=40)
    assert reply.plan.form == "chat"
    assert reply.consume() == "Sounds lovely!" and not reply.message.get("fallback")


# ---- the better-model offer -------------------------------------------------------------------------------
def test_misses_count_fallback_replies_only() -> None:
    msgs: list[dict[str, Any]] = [{"role": "user", "fallback": True}, {"role": "assistant", "fallback": True},
                                  {"role": "assistant"}, {"role": "assistant", "fallback": True}]
    assert misses(msgs) == 2


def test_the_recommended_upgrade_fits_the_machine() -> None:
    big, small = recommended_upgrade(16 * 1024 ** 3), recommended_upgrade(2 * 1024 ** 3)
    assert big.key == "qwen2.5-1.5b" and small.key == "qwen2.5-0.5b"
    assert big in RECOMMENDED and small.size_bytes < big.size_bytes
    assert recommended_upgrade() in RECOMMENDED


# ---- the realistic answers set ------------------------------------------------------------------------------
def test_the_realistic_set_is_what_the_issue_asks_for() -> None:
    data = realistic_set()
    items = data["items"]
    assert len(items) >= 60
    kinds = {i["kind"] for i in items}
    assert kinds == {"paraphrase", "days_later", "chatty"}
    assert sum(len(i["told"]) > 150 for i in items) >= 15 and sum(len(i["told"]) > 800 for i in items) >= 2
    assert sum(i["days_ago"] <= 14 for i in items) >= 15 and all(i["days_ago"] >= 1 for i in items)
    assert len(data["distractor"]["text"]) > 40_000 and data["acknowledgements"]
    for i in items:
        assert contains_word(i["told"], i["expect"]), i  # the gold answer is in what was told
        assert i["question"] not in i["told"]
    # asked in other words: no question repeats most of its fact's content words
    from memory_core.store.lexical import tokenize
    copied = [i for i in items if len(set(tokenize(i["question"])) & set(tokenize(i["told"])))
              >= 0.75 * len(set(tokenize(i["question"])))]
    assert len(copied) <= 0.2 * len(items), [i["question"] for i in copied]


def test_contains_word_scores_whole_words_only() -> None:
    assert contains_word("It is due in May.", ["May"]) and not contains_word("maybe later", ["May"])
    assert contains_word("Your blood group is O-.", ["O-"]) and contains_word("Le Guin!", ["Le Guin"])
    assert not contains_word("2150", ["15"])


def test_sentence_vectors_are_kept_per_embedder() -> None:
    text = "y" * 320 + ". The allotment is plot number 17."
    _, first = best_sentence("plot", np.array([1.0, 0.0]), text, OneVector("plot number", 0.9))
    _, second = best_sentence("plot", np.array([1.0, 0.0]), text, OneVector("plot number", 0.3))
    assert first == pytest.approx(0.9, abs=1e-5) and second == pytest.approx(0.3, abs=1e-5)
