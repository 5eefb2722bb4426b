"""Judging the model's proposals with a scripted model: only changes grounded in their target note pass.

One test per rule of issue 12: an ungrounded proposal is rejected; a person's edit survives a
proposal; a JSON-fragment link reason is rejected; tags that are not about the note are rejected.
The judging functions are tested directly, and through the write path with a scripted decision.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fakes import ScriptedLLM, enrichment, offered_ids

from memory_core.config import Settings
from memory_core.memory import MemoryPipeline
from memory_core.memory.capability import model_is_capable, parameter_billions
from memory_core.memory.inbox import inbox
from memory_core.memory.proposals import clean_reason, has_fragment, judge_context, judge_link, judge_tags
from memory_core.notes import Note
from memory_core.store import MemoryStore

HIKE = Note("We hiked in the Alps last summer, the views from the ridge were worth it.",
            keywords=["Alps", "ridge"], context="A summer hike in the Alps.")
DOG = Note("I have a golden retriever called Biscuit")
NURSE = Note("I work as a nurse on night shifts.")


def test_a_context_about_another_note_is_rejected() -> None:
    verdict = judge_context(HIKE, "How is it that I have a golden retriever called Biscuit?", source=DOG)
    assert not verdict.ok and "words are in the note" in verdict.why
    verdict = judge_context(NURSE, "He has a fear of storms.")
    assert not verdict.ok
    good = judge_context(HIKE, "A hike in the Alps with views from the ridge.", source=DOG)
    assert good.ok and good.value.endswith(".") and good.grounding["overlap"] >= 0.5 and good.grounding["why"]


def test_a_context_closer_to_the_new_note_than_to_its_target_is_rejected() -> None:
    def sim(a: str, b: str) -> float:  # a scripted similarity: the proposal reads like the new note
        return 0.9 if b == DOG.content else 0.3

    verdict = judge_context(HIKE, "The Alps ridge hike last summer.", source=DOG, similarity=sim)
    assert not verdict.ok and "new note" in verdict.why


def test_a_persons_edit_is_never_overwritten() -> None:
    edited = Note("We hiked in the Alps last summer.", context="Our honeymoon.")
    edited.set_field("context", "Our honeymoon in the Alps.", "person")
    edited.set_field("tags", ["honeymoon"], "person")
    assert not judge_context(edited, "A summer hike in the Alps.").ok
    assert "person" in judge_context(edited, "A summer hike in the Alps.").why
    assert not judge_tags(edited, ["alps"]).ok


def test_json_and_prompt_fragments_never_get_in() -> None:
    for bad in ["How about a day at the beach? }, {", '{"id": "abc"', "NEW note: hiking", "reason: same",
                "<|im_start|>assistant", "see [note]"]:
        assert has_fragment(bad), bad
        assert clean_reason(bad)[0] == "", bad
    assert not judge_context(HIKE, 'Alps hike", "tags": ["x"]').ok
    assert clean_reason("both about the hike in the Alps")[0] == "Both about the hike in the Alps."
    assert clean_reason("x")[0] == "" and clean_reason("word " * 30)[0] == ""
    verdict = judge_link(Note("Biscuit is afraid of thunderstorms."), DOG, "How about a day at the beach? }, {")
    assert not verdict.ok and "JSON" in verdict.why


def test_a_link_must_share_something() -> None:
    fear = Note("Biscuit is afraid of thunderstorms.")
    ok = judge_link(fear, DOG, "Both are about Biscuit the dog")
    assert ok.ok and ok.grounding["shared_names"] == ["biscuit"]
    assert not judge_link(NURSE, DOG, "Both are about animals", similarity=0.1).ok
    assert judge_link(NURSE, DOG, "Both are about animals", similarity=0.6).ok  # close in meaning


def test_tags_must_be_about_the_note_and_not_a_speaker() -> None:
    verdict = judge_tags(NURSE, ["happy", "sunny", "shopping", "work", "person"], speakers={"person"})
    assert verdict.ok and verdict.value == ["work"]
    assert any("happy" in p for p in verdict.reasons) and any("person" in p for p in verdict.reasons)
    assert not judge_tags(NURSE, ["happy", "sunny"]).ok


def test_capability_is_read_from_the_model_name() -> None:
    assert parameter_billions("SmolLM2-135M-Instruct.Q4_1.gguf") == pytest.approx(0.135)
    assert parameter_billions("qwen2.5-7b-instruct-q4_k_m.gguf") == 7.0
    assert parameter_billions("scripted") is None

    class Named:
        def __init__(self, name: str) -> None:
            self.name = name

    assert not model_is_capable(Named("SmolLM2-360M")) and model_is_capable(Named("Llama-3.1-8B"))
    assert not model_is_capable(Named("my-model.gguf"))  # unknown size: its proposals wait


# ---- through the write path ---------------------------------------------------------------------
@pytest.fixture
def env(tmp_path: Path, embedder):
    settings = Settings(data_dir=str(tmp_path / "home"), neighbours_k=4)
    return settings, MemoryStore(settings, embedder)


def scripted_decision(contexts: dict[int, str] | None = None, reasons: dict[int, str] | None = None):
    def step(messages, response_format):
        ids = offered_ids(response_format)
        return json.dumps({
            "links": [{"id": ids[i], "reason": r} for i, r in (reasons or {}).items() if i < len(ids)],
            "evolve": [{"id": ids[i], "context": c, "tags": []} for i, c in (contexts or {}).items() if i < len(ids)],
        })

    return step


def test_the_issue_trial_cannot_happen_again(env, monkeypatch) -> None:
    """The evolver wrote 'How is it that I have a golden retriever called Biscuit?' into the hike note."""
    settings, store = env
    pipe = MemoryPipeline(store, settings, ScriptedLLM())
    hike = pipe.add("We hiked in the Alps last summer, the views from the ridge were worth it.", mode="fast")
    nurse = pipe.add("I work as a nurse on night shifts.", mode="fast")
    before = {n.id: (n.context, n.tags) for n in store.all_notes()}
    llm = ScriptedLLM([enrichment(["golden retriever", "Biscuit"], "A new dog.", ["dogs"]),
                       scripted_decision(contexts={0: "How is it that I have a golden retriever called Biscuit?",
                                                   1: "He has a fear of storms."},
                                         reasons={0: "How about a day at the beach? }, {"})])
    llm.name = "Qwen2.5-7B-Instruct"  # even a capable model's ungrounded ideas are turned down
    report = MemoryPipeline(store, settings, llm).add("I have a golden retriever called Biscuit")
    assert report.proposed == 3 and report.grounded == 0 and report.applied == 0 and not report.proposals
    assert len(report.rejected) == 3
    assert {n.id: (n.context, n.tags) for n in store.all_notes() if n.id in before} == before
    assert not store.get(report.note_id).links  # the JSON-fragment link was not made
    assert hike.note_id in before and nurse.note_id in before


def test_a_person_edit_survives_a_capable_models_proposal(env) -> None:
    settings, store = env
    pipe = MemoryPipeline(store, settings, ScriptedLLM())
    hike = pipe.add("We hiked in the Alps last summer, the views from the ridge were worth it.", mode="fast")
    store.update(hike.note_id, by="person", context="Our honeymoon.")
    llm = ScriptedLLM([enrichment(["Alps"], "Another Alps hike.", ["hiking"]),
                       scripted_decision(contexts={0: "A summer hike in the Alps with ridge views."})])
    llm.name = "Qwen2.5-7B-Instruct"
    report = MemoryPipeline(store, settings, llm).add("Going back to the Alps next summer for the ridge walk.")
    assert store.get(hike.note_id).context == "Our honeymoon."
    assert any("person" in r for r in report.rejected) and hike.note_id not in report.evolved


def test_grounded_proposals_from_the_small_model_wait_for_review(env) -> None:
    settings, store = env
    pipe = MemoryPipeline(store, settings, ScriptedLLM())
    hike = pipe.add("We hiked in the Alps last summer, the views from the ridge were worth it.", mode="fast")
    old_context = store.get(hike.note_id).context
    llm = ScriptedLLM([enrichment(["Alps"], "Another Alps hike.", ["hiking"]),
                       scripted_decision(contexts={0: "A summer hike in the Alps with ridge views."},
                                         reasons={0: "Both are hikes in the Alps"})])
    llm.name = "SmolLM2-135M-Instruct.Q4_1.gguf"
    report = MemoryPipeline(store, settings, llm).add("Going back to the Alps next summer for the ridge walk.")
    # the link idea is no proposal: the rule already links the notes (both name the Alps)
    assert report.grounded == 1 and report.applied == 0 and len(report.proposals) == 1
    assert [(x.target, x.by, x.reason) for x in store.get(report.note_id).links] == \
        [(hike.note_id, "system", "Both name Alps.")]
    assert store.get(hike.note_id).context == old_context  # untouched until a person accepts
    pending = {p.kind: p for p in inbox(store).list("pending")}
    assert pending["context"].target_id == hike.note_id and pending["context"].before == old_context
    assert pending["context"].proposed_by.startswith("evolver:SmolLM2-135M")
    assert pending["context"].grounding["why"]
