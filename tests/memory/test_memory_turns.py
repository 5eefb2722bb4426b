"""remember_turn: the person's words as said, nothing from bare questions, repeats merge, corrections supersede.

Real MiniLM embeddings (the duplicate threshold is MiniLM's); the model is scripted here (fast mode
or a scripted full mode): the real-model run is in test_memory_real.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fakes import ScriptedLLM

from memory_core.config import Settings
from memory_core.errors import InputError
from memory_core.memory import MemoryPipeline, RememberOutcome
from memory_core.retrieval import make_retriever, search
from memory_core.store import MemoryStore

pytestmark = pytest.mark.real_model  # MiniLM


@pytest.fixture
def pipe(tmp_path: Path, embedder) -> MemoryPipeline:
    settings = Settings(data_dir=str(tmp_path / "home"))
    return MemoryPipeline(MemoryStore(settings, embedder), settings, ScriptedLLM())


def turn(pipe: MemoryPipeline, text: str, n: int, context: str = "", **kw) -> RememberOutcome:
    return pipe.remember_turn(text, conversation_id="c1", message_id=f"m{n}", turn_context=context,
                              mode="fast", **kw)


def test_the_note_is_the_persons_words_with_provenance(pipe) -> None:
    ctx = "2026-12-03 Memex: How was your weekend?"
    out = turn(pipe, "We hiked in the Alps with Anna.", 1, ctx)
    assert out.status == "stored" and out.note_id and out.reason
    note = pipe.store.get(out.note_id)
    assert note.content == "We hiked in the Alps with Anna."  # no "Person:" prefix, no reply
    assert note.speaker == "person" and note.conversation_id == "c1" and note.message_id == "m1"
    assert note.turn_context == ctx and "weekend" not in note.content and note.source == "chat"
    assert note.keywords and "Anna" in note.keywords  # created enriched
    data = out.to_dict()
    assert data["status"] == "stored" and data["note_id"] == out.note_id and isinstance(data["report"], dict)


def test_turns_that_carry_nothing_are_not_stored_unless_forced(pipe) -> None:
    for i, text in enumerate(["What is my dog's name?", "hi!", "ok thanks", "Tell me a joke"]):
        out = turn(pipe, text, i)
        assert out.status == "not_stored" and out.note_id == "" and out.reason
    assert len(pipe.store) == 0
    out = turn(pipe, "What is my dog's name?", 9, force=True)  # "Remember this"
    assert out.status == "stored" and pipe.store.get(out.note_id).content == "What is my dog's name?"
    with pytest.raises(InputError):
        turn(pipe, "   ", 10)


def test_the_same_fact_again_is_seen_again_not_a_second_note(pipe) -> None:
    first = turn(pipe, "I work as a nurse on night shifts.", 1)
    again = turn(pipe, "I work as a nurse on night shifts!", 2)
    assert again.status == "merged" and again.note_id == first.note_id and again.similarity >= 0.91
    assert "same as note" in again.reason
    assert len(pipe.store) == 1
    note = pipe.store.get(first.note_id)
    assert note.seen_count == 2 and note.content == "I work as a nurse on night shifts."
    assert [(c.old, c.new) for c in note.history if c.field == "seen_count"] == [(1, 2)]
    other = turn(pipe, "I work as a nurse at the children's hospital.", 3)  # a different fact
    assert other.status == "stored" and len(pipe.store) == 2


def test_a_correction_supersedes_and_recall_prefers_the_current_fact(pipe) -> None:
    old = turn(pipe, "Lena lives in Porto.", 1)
    new = turn(pipe, "Actually Lena moved to Lisbon.", 2, timestamp="2026-12-01T10:00:00+00:00")
    assert new.status == "superseded" and new.superseded_id == old.note_id
    closed = pipe.store.get(old.note_id)
    assert closed.superseded_by == new.note_id and closed.valid_until.startswith("2026-12-01")
    assert closed.content == "Lena lives in Porto."  # kept, not deleted
    assert {c.field for c in closed.history} >= {"superseded_by", "valid_until"}
    for name in ("contextual", "hybrid", "bm25", "dense"):
        hits = make_retriever(pipe.store, pipe.settings, name).search("Where does Lena live? Porto?", 5)
        ids = [h.note.id for h in hits]
        assert new.note_id in ids and ids.index(new.note_id) < ids.index(old.note_id), name
        assert [h.rank for h in hits] == list(range(1, len(hits) + 1))


def test_notes_naming_the_same_pet_are_linked_without_the_model(pipe) -> None:
    dog = turn(pipe, "I have a golden retriever called Biscuit", 1)
    turn(pipe, "My sister works in a bakery.", 2)
    fear = turn(pipe, "Biscuit is afraid of thunderstorms.", 3)
    note = pipe.store.get(fear.note_id)
    assert dog.note_id in note.link_targets
    link = next(x for x in note.links if x.target == dog.note_id)
    assert link.reason == "Both name Biscuit." and link.by == "system"
    assert len(note.links) == 1  # the bakery note names nothing in common


def test_context_finds_a_turn_that_means_nothing_alone(pipe) -> None:
    turn(pipe, "I started a pottery class on Mondays.", 1)
    turn(pipe, "My brother lives in Canada.", 2)
    out = turn(pipe, "Yes, it was amazing!", 3, "2026-11-28 Memex: How was the Radiohead concert?")
    lexical = [h.note.id for h in search(pipe.store, pipe.settings, "Radiohead concert", 3, retriever="bm25")]
    assert out.note_id not in lexical  # the words are only in the context
    hits = search(pipe.store, pipe.settings, "Radiohead concert", 3, retriever="contextual")
    assert hits[0].note.id == out.note_id
    trace = hits[0].trace_dict()
    assert trace["rank"] == 1 and trace["signals"]["context_lexical"] == 1.0 and trace["id"] == out.note_id
    assert set(trace) == {"id", "rank", "score", "signals", "via", "reasons", "matched_terms"}
