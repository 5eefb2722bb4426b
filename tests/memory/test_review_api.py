"""The review inbox: accept (as is or edited), reject, accept-all; history names the proposal; CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from fakes import ScriptedLLM, enrichment, offered_ids

from memory_core.config import Settings
from memory_core.errors import InputError
from memory_core.memory import MemoryPipeline, review
from memory_core.memory.inbox import inbox
from memory_core.store import MemoryStore

pytestmark = pytest.mark.real_model  # MiniLM

HIKE = "We hiked in the Alps last summer, the views from the ridge were worth it."
NEW = "Going back to the mountains next summer for the ridge walk."


def decision(messages, response_format):
    ids = offered_ids(response_format)
    return json.dumps({"links": [{"id": ids[0], "reason": "Both are hikes in the Alps"}],
                       "evolve": [{"id": ids[0], "context": "A summer hike in the Alps with ridge views.",
                                   "tags": ["hiking", "alps"]}]})


@pytest.fixture
def waiting(tmp_path: Path, embedder, monkeypatch):
    """A store with one old note and the small model's three grounded proposals waiting. (The rules
    would link the two notes by topic themselves, leaving no link to propose: they are off here.)"""
    from memory_core.memory import linking

    monkeypatch.setattr(linking, "topic_links", lambda *a, **k: [])
    settings = Settings(data_dir=str(tmp_path / "home"))
    store = MemoryStore(settings, embedder)
    hike = MemoryPipeline(store, settings, ScriptedLLM()).add(HIKE, mode="fast").note_id
    llm = ScriptedLLM([enrichment(["mountains"], "A hike planned for next summer.", ["hiking"]), decision])
    llm.name = "SmolLM2-135M-Instruct.Q4_1.gguf"
    report = MemoryPipeline(store, settings, llm).add(NEW)
    assert len(report.proposals) == 3
    return store, hike, report.note_id, {p.kind: p for p in inbox(store).list("pending")}


def test_accept_applies_with_the_proposal_as_cause(waiting) -> None:
    store, hike, _new, props = waiting
    p = props["context"]
    done = review.accept(store, p.id[:8])
    assert done.status == "accepted" and done.resolved_by == "person"
    note = store.get(hike)
    assert note.context == "A summer hike in the Alps with ridge views."
    change = [c for c in note.history if c.field == "context"][-1]
    assert change.by == "evolver"
    events = [e for e in store.events(hike) if e.field == "context"]
    assert events[-1].cause == f"proposal:{p.id}" and events[-1].by == "evolver"
    with pytest.raises(InputError, match="already accepted"):
        review.accept(store, p.id)


def test_an_accept_cut_off_before_it_was_recorded_is_recorded_not_applied_again(waiting) -> None:
    """Killed between applying a proposal and marking it accepted: accepting again marks it accepted
    (it is not called out of date because of its own change) and writes nothing twice."""
    store, hike, _new, props = waiting
    p = props["context"]
    review.apply(store, p, None, by="evolver")  # what the killed process got done
    changes = len(store.events(hike))
    done = review.accept(store, p.id)
    assert done.status == "accepted" and "applied earlier" in done.resolution_note
    assert len(store.events(hike)) == changes
    assert store.get(hike).context == "A summer hike in the Alps with ridge views."


def test_edit_then_accept_writes_the_persons_words(waiting) -> None:
    store, hike, _new, props = waiting
    review.accept(store, props["tags"].id, edited_after=["alps", "honeymoon"])
    note = store.get(hike)
    assert note.tags == ["alps", "honeymoon"]
    assert [c for c in note.history if c.field == "tags"][-1].by == "person"


def test_reject_leaves_the_note_and_a_stale_proposal_is_not_applied(waiting) -> None:
    store, hike, new, props = waiting
    before = store.get(hike).context
    assert review.reject(store, props["context"].id).status == "rejected"
    assert store.get(hike).context == before
    store.update(hike, by="person", tags=["mine"])  # the person edits the field after the proposal
    with pytest.raises(InputError, match="out of date"):
        review.accept(store, props["tags"].id)
    assert store.get(hike).tags == ["mine"]
    assert inbox(store).get(props["tags"].id).status == "rejected"
    counts = review.accept_all(store)  # the link is left
    assert counts == {"accepted": 1, "stale": 0, "failed": 0}
    assert store.get(new).link_targets.count(hike) == 1
    link = next(x for x in store.get(new).links if x.target == hike)
    assert link.reason == "Both are hikes in the Alps." and link.by == "linker"
    assert inbox(store).count("pending") == 0


def test_deciding_many_goes_on_past_the_ones_that_fail(waiting) -> None:
    """One out-of-date or already-decided proposal does not stop the others; each is said apart."""
    store, hike, new, props = waiting
    store.update(hike, by="person", tags=["mine"])  # the tags proposal is now out of date
    review.reject(store, props["context"].id)  # already decided
    result = review.decide_many(store, [props["tags"].id, props["context"].id, props["link"].id], "accept")
    assert result.accepted == [props["link"].id] and result.stale == [props["tags"].id]
    assert len(result.problems) == 1 and result.problems[0].startswith(f"{props['context'].id}: ")
    assert "already rejected" in result.problems[0]
    assert store.get(hike).tags == ["mine"] and hike in store.get(new).link_targets
    assert review.decide_many(store, [props["link"].id], "reject").problems  # accepted: cannot be rejected
    with pytest.raises(InputError, match="accept or reject"):
        review.decide_many(store, [], "maybe")


def test_review_cli(waiting) -> None:
    store, hike, _new, props = waiting
    home = str(store.settings.home)
    store.close()

    def memex(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "memory_core.cli", "review", *args, "--data-dir", home],
                              capture_output=True, text=True, timeout=600)

    listed = memex("list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert {p["kind"] for p in json.loads(listed.stdout)} == {"context", "tags", "link"}
    text = memex().stdout
    assert "before:" in text and "after:" in text and props["context"].id[:8] in text
    assert memex("reject", props["link"].id[:8]).returncode == 0
    bad = memex("accept", "nope")
    assert bad.returncode == 2 and "No proposal" in bad.stderr and "Traceback" not in bad.stderr
    done = memex("accept-all", "--json")
    assert json.loads(done.stdout)["accepted"] == 2
    assert json.loads(memex("list", "--json").stdout) == []


def test_turned_down_proposals_say_why_and_can_be_accepted_anyway(tmp_path: Path, embedder, monkeypatch) -> None:
    """The small model's ideas the checker turns down are kept with why, and the person may accept one."""
    from memory_core.memory import linking
    from memory_core.memory.evolve import UNREADABLE_REASON

    monkeypatch.setattr(linking, "topic_links", lambda *a, **k: [])  # leave the link to the model here
    settings = Settings(data_dir=str(tmp_path / "home"))
    store = MemoryStore(settings, embedder)
    hike = MemoryPipeline(store, settings, ScriptedLLM()).add(HIKE, mode="fast").note_id

    def bad(messages, response_format):
        ids = offered_ids(response_format)
        return json.dumps({"links": [{"id": ids[0], "reason": "{id: " + ids[0] + "}"}],
                           "evolve": [{"id": ids[0], "context": "Quarterly tax forms are due at the bank.",
                                       "tags": ["finance"]}]})

    llm = ScriptedLLM([enrichment(["mountains"], "A hike planned for next summer.", ["hiking"]), bad])
    llm.name = "SmolLM2-135M-Instruct.Q4_1.gguf"
    report = MemoryPipeline(store, settings, llm).add(NEW)
    assert report.proposed == 3 and report.grounded == 0 and not review.pending(store)
    down = review.declined(store)
    assert {p.kind for p in down} == {"link", "context", "tags"}
    assert all(p.resolution_note and p.resolved_by == "judge" for p in down)
    link = next(p for p in down if p.kind == "link")
    assert "JSON" in link.resolution_note and link.after["reason"] == UNREADABLE_REASON
    done = review.accept(store, link.id)
    assert done.status == "accepted" and "turned it down" in done.resolution_note
    new = store.get(report.note_id)
    assert hike in new.link_targets and next(x for x in new.links if x.target == hike).by == "linker"
    assert link.id not in {p.id for p in review.declined(store)}
    ctx = next(p for p in down if p.kind == "context")
    review.accept(store, ctx.id, edited_after="A hike along the ridge in the Alps.")  # the person's version
    assert store.get(hike).context == "A hike along the ridge in the Alps."
