"""The Review page (AppTest) and memory_core.explore.reviewlist: diffs, grounding, accept/reject/edit, bulk, badge."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from memory_core.config import Settings
from memory_core.explore import reviewlist as rl
from memory_core.notes import Note
from memory_core.store import MemoryStore
from memory_core.store.proposals import Proposal

APP = str(Path(__file__).resolve().parents[2] / "app.py")
SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"


def seed(settings: Settings, embedder) -> tuple[MemoryStore, list[str], list[str]]:
    store = MemoryStore(settings, embedder)
    notes = [Note("Anna loves mountains and takes photos of glaciers.", tags=["travel"], context="Anna"),
             Note("I went hiking in the Alps with Anna last summer.", tags=["travel"]),
             Note("The budget review is on Friday " + IMG, tags=["work"])]
    with store.writing() as w:
        for n in notes:
            w.put(n)
    ids = [n.id for n in notes]
    pids = [
        store.proposals.add(Proposal(target_id=ids[0], kind="context", before="Anna",
                                     after="Anna photographs glaciers in the Alps", source_id=ids[1],
                                     proposed_by="evolver:SmolLM2-135M",
                                     grounding={"overlap": 0.8, "shared": ["anna", "glacier"],
                                                "why": "80% of its words are in the note"})),
        store.proposals.add(Proposal(target_id=ids[0], kind="tags", before=["travel"],
                                     after=["travel", "photo", SCRIPT], source_id=ids[1],
                                     proposed_by="evolver:SmolLM2-135M",
                                     grounding={"scores": {"photo": 0.7}, "why": "tags come from the note's words"})),
        store.proposals.add(Proposal(target_id=ids[1], kind="link", before=[],
                                     after={"target": ids[0], "reason": "both about Anna " + IMG},
                                     source_id=ids[1], proposed_by="linker:SmolLM2-135M",
                                     grounding={"similarity_target": 0.61, "why": "shared words anna"})),
    ]
    return store, ids, pids


def review_page(at: AppTest | None = None) -> AppTest:
    at = at if at is not None else AppTest.from_file(APP, default_timeout=90)
    at.switch_page("pages/review.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


# ---- the library ---------------------------------------------------------------------------------------
def test_items_diff_grounding_and_edits(settings: Settings, embedder) -> None:
    store, ids, pids = seed(settings, embedder)
    notes = store.notes_view()
    items = {it.proposal.kind: it for it in rl.items(store.proposals.list(), notes)}
    ctx = items["context"]
    assert ctx.target_title.startswith("Anna loves") and ctx.source_title.startswith("I went hiking")
    assert ctx.diff.old_text == "Anna" and ctx.diff.new_text == "Anna photographs glaciers in the Alps"
    assert "80% of its words" in ctx.why and ctx.scores == {"overlap": 0.8}
    tags = items["tags"]
    assert tags.diff.added == ["photo", SCRIPT] and not tags.diff.removed
    assert tags.scores == {"scores.photo": 0.7}
    link = items["link"]
    assert link.diff.added and link.diff.added[0].startswith("→ Anna loves") and IMG in link.diff.added[0]
    p_tags = tags.proposal
    assert rl.editable_text(p_tags) == f"travel, photo, {SCRIPT}"
    assert rl.edited_value(p_tags, "travel,  photo ,") == ["travel", "photo"]
    p_link = link.proposal
    assert rl.edited_value(p_link, "  both   hikers ") == {"target": ids[0], "reason": "both hikers"}
    assert rl.edited_value(ctx.proposal, "a  new\ncontext") == "a new context"
    assert rl.nav_title(0) == "Review" and rl.nav_title(3) == "Review (3)" and rl.nav_title(1200) == "Review (1,200)"


def test_deleted_target_is_marked(settings: Settings, embedder) -> None:
    store, ids, _ = seed(settings, embedder)
    p = store.proposals.list()[0]
    it = rl.item(p, {k: v for k, v in store.notes_view().items() if k != p.target_id})
    assert it.target_missing and it.target_title.endswith("(deleted)")
    assert rl.item(p, store.notes_view()).target_missing is False
    assert rl.proposal_diff(Proposal(target_id="x", kind="link", before=[], after={"target": "y"}), {}).added
    empty = rl.item(Proposal(target_id=p.target_id, kind="context", before="", after="A context."), {})
    assert empty.diff.old_text == "(empty)" and empty.diff.new_text == "A context."


# ---- the page ---------------------------------------------------------------------------------------
def test_empty_inbox_and_badge(app_home: Settings, embedder) -> None:
    MemoryStore(app_home, embedder)
    at = review_page()
    assert at.title[0].value.endswith("Review")
    assert any("Nothing to review" in i.value for i in at.info)
    assert any("No proposal has been accepted" in i.value for i in at.info)


def test_accept_reject_edit_and_history(app_home: Settings, embedder) -> None:
    store, ids, pids = seed(app_home, embedder)
    at = review_page()
    tabs = [t.label for t in at.tabs]
    assert tabs == ["Pending (3)", "Turned down (0)", "Resolved (0)"]
    assert _badge() == "Review (3)"
    # hostile text is escaped in Markdown (every < is backslash-escaped) and literal in code blocks
    text = " ".join(m.value for m in at.markdown)
    assert "\\<img src\\=x onerror\\=alert\\(1\\)\\>" in text and IMG not in text
    assert any("80\\% of its words are in the note" in m.value for m in at.markdown)
    # accept the context proposal
    at.button(key=f"review_accept_{pids[0]}").click().run()
    assert not at.exception
    assert any("Accepted proposal" in s.value for s in at.success), [e.value for e in at.error]
    fresh = MemoryStore(app_home, embedder)
    note = fresh.get(ids[0])
    assert note.context == "Anna photographs glaciers in the Alps"
    assert note.history[-1].field == "context" and note.history[-1].by == "evolver"
    # reject the tags proposal
    at.button(key=f"review_reject_{pids[1]}").click().run()
    assert fresh.get(ids[0]).tags == ["travel"] or MemoryStore(app_home, embedder).get(ids[0]).tags == ["travel"]
    # edit the link's reason, then accept
    at.text_area(key=f"review_edit_{pids[2]}").input("both about Anna, edited")
    at.button(key=f"review_accept_edit_{pids[2]}").click().run()
    assert not at.exception and not at.error
    links = MemoryStore(app_home, embedder).get(ids[1]).links
    assert [(x.target, x.reason) for x in links] == [(ids[0], "Both about Anna, edited.")]  # cleaned by MEMORY
    assert [t.label for t in at.tabs] == ["Pending (0)", "Turned down (0)", "Resolved (3)"]
    assert _badge() == "Review"
    resolved = next(d.value for d in at.dataframe)
    assert sorted(resolved["status"]) == ["accepted", "accepted", "rejected"]
    assert "edited before accepting" in set(resolved["why resolved"])


def test_bulk_select_and_accept_all(app_home: Settings, embedder) -> None:
    store, ids, pids = seed(app_home, embedder)
    at = review_page()
    at.checkbox(key=f"review_pick_{pids[1]}").check().run()
    at.button(key="review_reject_sel").click().run()
    assert any("Rejected 1 proposal" in s.value for s in at.success)
    assert [t.label for t in at.tabs] == ["Pending (2)", "Turned down (0)", "Resolved (1)"]
    at.button(key="review_accept_all").click().run()
    # the link's reason holds markup, which MEMORY refuses to write: it stays pending, the rest is applied
    assert any("Accepted 1; 0 out of date (rejected), 1 could not be applied" in s.value for s in at.success)
    fresh = MemoryStore(app_home, embedder)
    assert fresh.get(ids[0]).context == "Anna photographs glaciers in the Alps"
    assert fresh.get(ids[0]).tags == ["travel"] and fresh.get(ids[1]).links == []
    assert [p.id for p in fresh.proposals.list("pending")] == [pids[2]]
    assert [t.label for t in at.tabs] == ["Pending (1)", "Turned down (0)", "Resolved (2)"]
    # the person fixes the reason and accepts it
    at.text_area(key=f"review_edit_{pids[2]}").input("Both are about Anna.")
    at.button(key=f"review_accept_edit_{pids[2]}").click().run()
    assert [x.target for x in MemoryStore(app_home, embedder).get(ids[1]).links] == [ids[0]]
    assert any("Nothing to review" in i.value for i in at.info)


def test_stale_proposal_is_refused_with_a_message(app_home: Settings, embedder) -> None:
    store, ids, pids = seed(app_home, embedder)
    store.update(ids[0], by="person", context="my own words")
    at = review_page()
    at.button(key=f"review_accept_{pids[0]}").click().run()
    assert not at.exception
    assert any("out of date" in e.value for e in at.error)
    assert MemoryStore(app_home, embedder).get(ids[0]).context == "my own words"


def _badge() -> str:
    """The Review entry's title as app.py computes it (the same store the pages use)."""
    from pages.components.review_badge import review_title

    assert "title=review_title()" in Path(APP).read_text()
    return review_title()


def test_turned_down_tab_filters_by_reason_and_accepts_anyway(app_home: Settings, embedder) -> None:
    """The model's turned-down ideas are listed with why, filterable by reason, and can be accepted."""
    store = MemoryStore(app_home, embedder)
    a, b = Note("We hiked in the Alps with Anna."), Note("Anna sent photos of the glacier.")
    with store.writing() as w:
        w.put(a)
        w.put(b)
    declined = []
    for i, why in enumerate(["the two notes share no name, words or meaning", "tag 'fishing' is not about this note",
                             "tag 'boats' is not about this note"]):
        kind = "link" if i == 0 else "tags"
        after = {"target": a.id, "reason": "Both are about Anna."} if kind == "link" else ["travel"]
        p = Proposal(target_id=b.id if kind == "link" else a.id, kind=kind, before=[], after=after,
                     source_id=b.id, proposed_by="linker:SmolLM2-135M", status="rejected", resolved_by="judge",
                     resolution_note=why)
        store.proposals.add(p)
        declined.append(p.id)
    assert rl.reason_kind("tag 'fishing' is not about this note") == rl.reason_kind("tag 'boats' is not about this note")
    at = review_page()
    assert [t.label for t in at.tabs] == ["Pending (0)", "Turned down (3)", "Resolved (0)"]
    assert any("Why it was turned down" in m.value and "share no name" in m.value for m in at.markdown)
    assert len(at.multiselect(key="review_declined_reasons").options) == 2
    at.multiselect(key="review_declined_reasons").set_value(["tag … is not about this note"]).run()
    assert any("2 of 3 shown" in c.value for c in at.caption)
    at.multiselect(key="review_declined_reasons").set_value(["the two notes share no name, words or meaning"]).run()
    assert any("1 of 3 shown" in c.value for c in at.caption)
    at.button(key=f"review_accept_{declined[0]}").click().run()
    assert not at.exception and any("Accepted proposal" in s.value for s in at.success), [e.value for e in at.error]
    assert MemoryStore(app_home, embedder).get(b.id).link_targets == [a.id]
    assert [t.label for t in at.tabs] == ["Pending (0)", "Turned down (2)", "Resolved (1)"]


def test_a_possible_correction_is_asked_as_a_question(app_home: Settings, embedder) -> None:
    store = MemoryStore(app_home, embedder)
    old, new = Note("My friend Lena lives in Porto."), Note("Lena lives in Lisbon with her partner.")
    with store.writing() as w:
        w.put(old)
        w.put(new)
    pid = store.proposals.add(Proposal(target_id=old.id, kind="supersede", before="", after={"by": new.id},
                                       source_id=new.id, proposed_by="corrections",
                                       grounding={"why": "same subject (lena), a new home", "similarity": 0.7}))
    at = review_page()
    asked = "Does “Lena lives in Lisbon with her partner\\.” replace “My friend Lena lives in Porto\\.”\\?"
    assert any(asked in m.value for m in at.markdown), [m.value for m in at.markdown]
    assert not [t for t in at.text_area if t.key == f"review_edit_{pid}"]  # nothing to edit in a yes/no question
    at.button(key=f"review_accept_{pid}").click().run()
    assert not at.exception and not at.error
    fresh = MemoryStore(app_home, embedder)
    assert fresh.get(old.id).superseded_by == new.id and fresh.get(old.id).valid_until == new.timestamp
