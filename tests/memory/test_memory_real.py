"""Items 1-3 of issue 12 against the real bundled SmolLM2-135M and MiniLM: the small model cannot
make the memory worse.

Turns from the issue's trial (job, dog, the dog's fear, a hike, night shifts, and two memory
questions) go through ``remember_turn`` in full mode, as the chat sends them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from memory_core.config import Settings
from memory_core.memory import MemoryPipeline
from memory_core.memory.inbox import inbox
from memory_core.memory.proposals import has_fragment, judge_context, judge_tags
from memory_core.retrieval import search
from memory_core.store import MemoryStore
from memory_core.store.lexical import STOPWORDS

pytestmark = [pytest.mark.real_model, pytest.mark.timeout(2400)]  # six model-backed writes on a busy CPU

TRIAL = [
    ("I work as a nurse at the city hospital.", "Memex: Hello! What would you like to talk about?"),
    ("I have a golden retriever called Biscuit.", "Memex: What do you do for work?"),
    ("Biscuit is afraid of thunderstorms.", "Memex: A golden retriever, lovely!"),
    ("Last summer I hiked in the Alps with Anna.", "Memex: Poor Biscuit."),
    ("I work night shifts most weeks.", "Memex: The Alps must have been beautiful."),
]
QUESTIONS = ["What is my dog's name?", "Where did I go hiking?"]


@pytest.fixture(scope="module")
def trial(tmp_path_factory, embedder, real_llm):
    home = Path(tmp_path_factory.mktemp("real")) / "home"
    settings = Settings(data_dir=str(home))
    store = MemoryStore(settings, embedder)
    pipe = MemoryPipeline(store, settings, real_llm)
    outcomes = []
    for i, (text, before) in enumerate(TRIAL):
        outcomes.append(pipe.remember_turn(text, conversation_id="trial", message_id=f"u{i}",
                                           turn_context=f"(2026-12-03)\n{before}", mode="full"))
    asked = [pipe.remember_turn(q, conversation_id="trial", message_id=f"q{i}", mode="full")
             for i, q in enumerate(QUESTIONS)]
    again = pipe.remember_turn("I have a golden retriever called Biscuit!", conversation_id="trial",
                               message_id="again", mode="full")
    fix = pipe.remember_turn("Actually I moved to day shifts now.", conversation_id="trial", message_id="fix",
                             mode="full")
    return store, pipe, outcomes, asked, again, fix


def test_notes_hold_the_persons_words_and_nothing_else(trial) -> None:
    store, _pipe, outcomes, asked, _again, _fix = trial
    assert [o.status for o in outcomes] == ["stored"] * len(TRIAL)
    for (text, before), out in zip(TRIAL, outcomes):
        note = store.get(out.note_id)
        assert note.content == text and note.speaker == "person"
        assert "Memex" not in note.content and before in note.turn_context
    assert [o.status for o in asked] == ["not_stored", "not_stored"]
    assert all("question" in o.reason for o in asked)
    assert not any(n.content in QUESTIONS for n in store.all_notes())


def test_enrichment_is_readable(trial) -> None:
    store, *_ = trial
    junk = STOPWORDS | {"person", "hiya", "went", "memex"}
    for note in store.all_notes():
        assert note.keywords, note
        assert not {k.lower() for k in note.keywords} & junk, note.keywords
        assert not set(note.tags) & junk, note.tags
        words = note.content.lower()
        for kw in note.keywords:  # keywords are words of the note
            assert all(part.lower() in words for part in kw.split()), (kw, note.content)


def test_repeat_merges_and_correction_supersedes(trial) -> None:
    store, _pipe, outcomes, _asked, again, fix = trial
    assert again.status == "merged" and again.note_id == outcomes[1].note_id
    assert store.get(outcomes[1].note_id).seen_count == 2
    assert fix.status == "superseded" and fix.superseded_id == outcomes[4].note_id
    old = store.get(fix.superseded_id)
    assert old.superseded_by == fix.note_id and old.valid_until and old.content == TRIAL[4][0]
    ids = [h.note.id for h in search(store, store.settings, "Which shifts do I work?", 5, touch=False)]
    assert fix.note_id in ids and (old.id not in ids or ids.index(fix.note_id) < ids.index(old.id))


def test_the_small_model_changed_no_existing_note(trial) -> None:
    """Nothing the 135M model proposed touched a note; what waits for review is grounded and clean."""
    store, *_ = trial
    for note in store.all_notes():
        for change in note.history:  # (the new note's own "evolution" record lists what was decided)
            assert change.by != "evolver" or change.field == "evolution", (note.content, change)
        for link in note.links:
            assert link.by in ("system", "linker") and not has_fragment(link.reason), link
    box = inbox(store)
    for p in box.list("pending"):
        assert p.proposed_by.startswith("evolver:SmolLM2") or p.proposed_by.startswith("linker:SmolLM2")
        target = store.get(p.target_id)
        if p.kind == "context":
            assert judge_context(target, p.after).ok and not has_fragment(p.after)
        elif p.kind == "tags":
            assert judge_tags(target, p.after).ok or p.after == target.tags
        else:
            assert not has_fragment(p.after["reason"]) and len(p.after["reason"].split()) <= 20


def test_entity_link_biscuit(trial) -> None:
    store, _pipe, outcomes, *_ = trial
    fear = store.get(outcomes[2].note_id)
    assert outcomes[1].note_id in fear.link_targets
