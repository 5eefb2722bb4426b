"""The A-MEM write path's control flow with a scripted model: bad output never blocks a write."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fakes import HashEmbedder, ScriptedLLM, enrichment, offered_ids

from memory_core.config import Settings
from memory_core.errors import InputError
from memory_core.memory.pipeline import MemoryPipeline, NewItem
from memory_core.store import MemoryStore

GOOD = enrichment(["hiking", "Alps"], "A hiking trip in the Alps with Anna.", ["travel", "mountains"])


@pytest.fixture
def env(tmp_path: Path):
    settings = Settings(data_dir=str(tmp_path / "home"), neighbours_k=3, fast_link_threshold=0.2)
    store = MemoryStore(settings, HashEmbedder())
    return settings, store


def seed(store: MemoryStore, settings: Settings, texts: list[str]) -> list[str]:
    report = MemoryPipeline(store, settings, ScriptedLLM()).add_many([NewItem(t) for t in texts], mode="fast")
    return report.note_ids


def decision(links: int = 1, evolve: int = 0, extra_ids: list[str] | None = None):
    """A decision step that links/evolves the first offered neighbours, plus any extra (bogus) ids."""

    def step(messages, response_format):
        ids = offered_ids(response_format)
        return json.dumps({
            "links": [{"id": i, "reason": "same trip"} for i in ids[:links] + (extra_ids or [])],
            "evolve": [{"id": i, "context": "Part of the Alps hiking memories.", "tags": ["hiking", "travel"]}
                       for i in ids[:evolve]],
        })

    return step


def test_capable_model_grounded_proposals_apply_with_history(env) -> None:
    settings, store = env
    ids = seed(store, settings, ["hiking in the Alps with Anna", "Anna likes the Alps", "tax forms due"])
    llm = ScriptedLLM([GOOD, decision(links=2, evolve=1)])
    llm.name = "Qwen2.5-7B-Instruct-Q4_K_M.gguf"  # a capable model: grounded proposals apply on their own
    report = MemoryPipeline(store, settings, llm).add("Hiking the Alps again with Anna next summer")
    note = store.get(report.note_id)
    assert report.enrichment_source == "model"
    assert note.keywords == ["hiking", "Alps"] and note.tags == ["travel", "mountains"]
    assert len(report.links) == 2 and set(report.links) <= set(ids)
    assert note.link_targets == report.links
    assert report.proposed >= 3 and report.applied >= 1 and report.proposals
    assert len(report.evolved) == 1
    evolved = store.get(report.evolved[0])
    assert evolved.context == "Part of the Alps hiking memories."
    assert [c.by for c in evolved.history if c.field in ("context", "tags")][0] == "evolver"
    decision_record = [c for c in note.history if c.field == "evolution"][0]
    assert decision_record.new["evolved"] == report.evolved
    assert report.usage.calls == 2 and report.usage.prompt_tokens > 0
    # v0 of the new note already holds its enrichment
    assert note.state_at(0)["tags"] == ["travel", "mountains"]
    # the evolver's change can be reverted
    before = [c for c in evolved.history if c.field == "context"][0].old
    restored = store.revert(evolved.id, 0)
    assert restored.context == before


def test_small_model_proposals_wait_and_names_link_without_the_model(env) -> None:
    from memory_core.memory.inbox import inbox

    settings, store = env
    seed(store, settings, ["hiking in the Alps with Anna", "Anna likes the Alps", "tax forms due"])
    before = {n.id: n.context for n in store.all_notes()}
    llm = ScriptedLLM([GOOD, decision(links=2, evolve=1)])
    llm.name = "SmolLM2-135M-Instruct.Q4_1.gguf"
    report = MemoryPipeline(store, settings, llm).add("Hiking the Alps again with Anna next summer")
    note = store.get(report.note_id)
    assert not report.evolved and report.applied == 0
    assert {n.id: n.context for n in store.all_notes() if n.id in before} == before  # nothing touched
    pending = inbox(store).list("pending")
    assert {p.id for p in pending} == set(report.proposals) and pending
    assert {p.kind for p in pending} >= {"context"}
    # links made by rule: both notes name Anna or the Alps
    assert note.links and all(link.by == "system" and link.reason.startswith("Both name") for link in note.links)


def test_garbage_output_falls_back_and_marks_for_reenrichment(env) -> None:
    settings, store = env
    llm = ScriptedLLM(["not json at all", '{"keywords": ["I"], "context": "x", "tags": ["LGBTQSGVPBKMZAwLJNjY"]}'])
    report = MemoryPipeline(store, settings, llm).add("Paid the electricity bill for March")
    note = store.get(report.note_id)
    assert report.enrichment_source == "fallback" and report.needs_enrichment and note.needs_enrichment
    assert note.keywords and "I" not in note.keywords
    assert "lgbtqsgvpbkmzawljnjy" not in note.tags
    assert any("invalid JSON" in p for p in report.problems)
    assert any("not a real word" in p or "not in the text" in p for p in report.problems)
    assert report.usage.calls == 2  # two tries, no neighbours so no decision call


def test_ids_that_were_not_offered_are_ignored(env, monkeypatch) -> None:
    from memory_core.memory import linking

    settings, store = env
    ids = seed(store, settings, ["Alps hiking trip", "Alps hiking boots"])
    monkeypatch.setattr(linking, "topic_links", lambda *a, **k: [])  # the rules would link both: see the model's
    llm = ScriptedLLM([GOOD, decision(links=1, extra_ids=["deadbeef", ids[0][:6] + "zz"])])
    llm.name = "llama-3.1-8b-instruct"
    report = MemoryPipeline(store, settings, llm).add("Alps hiking plans")
    note = store.get(report.note_id)
    assert len(note.links) == 1 and note.links[0].target in ids and note.links[0].by == "linker"
    assert "deadbeef" in report.ignored_ids
    assert all(link.target in store for link in note.links)


def test_timeouts_and_exceptions_never_block_a_write(env) -> None:
    settings, store = env
    seed(store, settings, ["hiking in the Alps", "hiking boots for the Alps"])
    llm = ScriptedLLM([TimeoutError("model took too long"), RuntimeError("llama.cpp crashed"),
                       RuntimeError("boom"), TimeoutError("again")])
    report = MemoryPipeline(store, settings, llm).add("hiking in the Alps next week")
    note = store.get(report.note_id)
    assert note.content == "hiking in the Alps next week" and note.needs_enrichment
    assert any("TimeoutError" in p for p in report.problems)
    # the decision failed too, so links came from similarity (made by the system, not the linker)
    assert report.links and all(link.by == "system" for link in note.links)


def test_reenrich_fixes_marked_notes(env) -> None:
    settings, store = env
    report = MemoryPipeline(store, settings, ScriptedLLM(["junk", "junk"])).add("Hiking the Alps with Anna")
    assert store.get(report.note_id).needs_enrichment
    fixed = MemoryPipeline(store, settings, ScriptedLLM([GOOD])).reenrich()
    assert [r.needs_enrichment for r in fixed] == [False]
    note = store.get(report.note_id)
    assert not note.needs_enrichment and note.tags == ["travel", "mountains"]
    assert [c.by for c in note.history if c.field == "tags"][-1] == "enricher"


def test_fast_mode_uses_no_model_and_links_by_similarity(env) -> None:
    settings, store = env
    llm = ScriptedLLM()
    pipe = MemoryPipeline(store, settings, llm)
    report = pipe.add_many([NewItem("red apples and green apples"), NewItem("green apples and red apples"),
                            NewItem("quarterly tax report")], mode="fast")
    assert report.added == 3 and not llm.calls
    a, b, c = (store.get(i) for i in report.note_ids)
    assert a.id in b.link_targets and not c.links


def test_fast_mode_pipeline_links_across_batches_and_numbers_failures_by_item(env) -> None:
    """Batches are embedded ahead of the write (bulk.py); linking must still see every earlier batch."""
    import threading

    settings, store = env
    items = [NewItem("red apples and green apples"), NewItem("quarterly tax report"), NewItem(" "),
             NewItem("green apples and red apples"), NewItem("tax report for the quarter"), NewItem("\x00"),
             NewItem("apples, red and green")]
    seen: list[int] = []
    report = MemoryPipeline(store, settings, ScriptedLLM()).add_many(
        items, mode="fast", batch_size=2, progress=lambda done, total: seen.append(done))
    assert report.added == 5 and len(store) == 5 and not report.cancelled
    assert [e.split(":")[0] for e in report.errors] == ["item 3", "item 6"]
    assert seen == [2, 4, 6, 7]
    apples, tax, apples2, tax2, apples3 = (store.get(i) for i in report.note_ids)
    assert apples.id in apples2.link_targets and tax.id in tax2.link_targets  # batch 2 links to batch 1
    assert {apples.id, apples2.id} <= set(apples3.link_targets)  # batch 4 to batches 1 and 2
    assert [c.field for c in apples3.history] == ["created", "links"]  # the links in one change
    assert not [t for t in threading.enumerate() if t.name.startswith("memex-embed")]  # the worker is gone

    cancel = threading.Event()
    more = MemoryPipeline(store, settings, ScriptedLLM()).add_many(
        [NewItem(f"note number {i}") for i in range(6)], mode="fast", batch_size=2, cancel=cancel,
        progress=lambda done, total: cancel.set())
    assert more.cancelled and more.added == 2 and len(store) == 7  # whole batches only


def test_bad_input_is_refused_before_anything_is_written(env) -> None:
    settings, store = env
    pipe = MemoryPipeline(store, settings, ScriptedLLM())
    with pytest.raises(InputError, match="empty"):
        pipe.add("   ")
    with pytest.raises(InputError, match="at most"):
        pipe.add("x" * 200_000)
    assert len(store) == 0
    report = pipe.add_many([NewItem("fine"), NewItem(""), NewItem("also fine")], mode="fast")
    assert report.added == 2 and len(report.errors) == 1 and "item 2" in report.errors[0]


def test_html_is_stored_intact(env) -> None:
    settings, store = env
    text = "<script>alert(1)</script> and <img src=x onerror=alert(1)>"
    report = MemoryPipeline(store, settings, ScriptedLLM()).add(text, mode="fast")
    assert store.get(report.note_id).content == text
