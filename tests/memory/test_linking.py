"""Links a person would draw, and corrections a person says, through the chat's write path (real MiniLM).

A small realistic chat goes through ``remember_turn`` exactly as the chat's writer sends it (fast
mode: no model, so the links here are the rules' alone). It asserts the links between the notes about
"my brother", "my dog", Lena and the garden, the continuation of "She ...", no link between notes on
different things, and that the correction of one attribute closes the older, richer note, which
then ranks below the new one for "Where does my brother live now?".
"""

from __future__ import annotations

import itertools

import pytest

from memory_core.chat.jobs import describe_outcome
from memory_core.config import Settings
from memory_core.memory import MemoryPipeline, review
from memory_core.memory.linking import aliases, rule_links
from memory_core.retrieval.entities import mentions, relations
from memory_core.store import MemoryStore

pytestmark = pytest.mark.real_model  # MiniLM

CHAT = [
    "Hi there!",
    "My brother Mateus is a dentist in Curitiba.",
    "My sister Lena teaches maths at a secondary school.",
    "I have a dog called Pipoca, a small grey mutt.",
    "My dog hates the vacuum cleaner.",
    "I grow tomatoes and basil on the balcony.",
    "The basil needs watering every morning in summer.",
    "This year the tomatoes got blight, so I lost half of them.",
    "thanks!",
    "I work as a librarian at the university.",
    "Lena is coming to visit me in December.",
    "She wants to see the Christmas market.",
    "Actually my brother moved to Porto Alegre last month.",
]


@pytest.fixture
def chat(tmp_path, embedder):
    settings = Settings(data_dir=str(tmp_path / "home"))
    store = MemoryStore(settings, embedder)
    pipe = MemoryPipeline(store, settings)
    outcomes = {}
    for i, text in enumerate(CHAT):
        outcomes[text] = pipe.remember_turn(text, conversation_id="c1", message_id=f"m{i}", mode="fast")
    by_text = {n.content: n for n in store.notes_view().values()}
    return store, by_text, outcomes


def _linked(by_text, a: str, b: str) -> bool:
    x, y = by_text[a], by_text[b]
    return y.id in x.link_targets or x.id in y.link_targets


def test_relations_pets_and_names_are_entities() -> None:
    assert relations("My brother Mateus is a dentist in Curitiba.") == {"my brother": "person"}
    assert relations("I have a golden retriever called Biscuit.") == {"my dog": "pet"}
    assert relations("Mum says hi.") == {"my mother": "person"}
    assert "my sister" in mentions("My older sister Lena lives in Leeds.")
    assert relations("My friend Lena lives in Porto.") == {}  # "friend" stands for many people: the name links
    assert aliases("I have a dog called Pipoca.") == {"my dog": "pipoca", "pipoca": "my dog"}
    assert aliases("My brother Mateus is a dentist.")["my brother"] == "mateus"


def test_a_realistic_chat_gets_the_links_a_person_would_draw(chat) -> None:
    store, by_text, _ = chat
    assert _linked(by_text, CHAT[1], CHAT[12])  # my brother
    assert _linked(by_text, CHAT[3], CHAT[4])  # my dog (Pipoca)
    assert _linked(by_text, CHAT[2], CHAT[10])  # Lena
    assert _linked(by_text, CHAT[10], CHAT[11])  # "She ..." continues the note before
    garden = [CHAT[5], CHAT[6], CHAT[7]]  # tomatoes and basil: connected through shared words
    assert _linked(by_text, garden[0], garden[1]) and _linked(by_text, garden[0], garden[2])
    reasons = {link.reason for n in by_text.values() for link in n.links}
    assert "Both are about my dog." in reasons and any(r.startswith("Both are about basil") for r in reasons)
    # no link between notes about different things
    unrelated = [(CHAT[3], CHAT[5]), (CHAT[1], CHAT[3]), (CHAT[9], CHAT[6]), (CHAT[2], CHAT[7])]
    assert not any(_linked(by_text, a, b) for a, b in unrelated)
    edges = {frozenset((n.id, t)) for n in by_text.values() for t in n.link_targets}
    assert len(edges) >= 6  # brother, dog, Lena twice, the garden twice
    assert all(link.by == "system" for n in by_text.values() for link in n.links)


def test_a_correction_of_one_attribute_closes_the_richer_note(chat) -> None:
    from memory_core.retrieval.retrievers import search

    store, by_text, outcomes = chat
    old, new = by_text[CHAT[1]], by_text[CHAT[12]]
    assert outcomes[CHAT[12]].status == "superseded" and outcomes[CHAT[12]].superseded_id == old.id
    assert old.superseded_by == new.id and old.valid_until == new.timestamp
    assert [(link.target, link.reason) for link in new.links][0] == (old.id, "Corrects an earlier note.")
    hits = search(store, Settings(), "Where does my brother live now?", k=5)
    ids = [h.note.id for h in hits]
    assert new.id in ids and (old.id not in ids or ids.index(new.id) < ids.index(old.id))


def test_an_unsure_correction_is_asked_in_review_and_accepting_closes_the_old_note(tmp_path, embedder) -> None:
    settings = Settings(data_dir=str(tmp_path / "home"))
    store = MemoryStore(settings, embedder)
    pipe = MemoryPipeline(store, settings)
    first = pipe.remember_turn("My friend Lena lives in Porto.", conversation_id="c", message_id="1", mode="fast")
    # no marker, but a new value for where Lena lives: not sure enough to close the note silently
    second = pipe.remember_turn("Lena lives in Lisbon with her partner.", conversation_id="c", message_id="2",
                                mode="fast")
    assert second.status == "stored" and "Review asks" in second.reason
    assert "Review asks whether it replaces" in describe_outcome(second.to_dict())  # under the chat message
    asks = [p for p in review.pending(store) if p.kind == "supersede"]
    assert len(asks) == 1 and asks[0].target_id == first.note_id and asks[0].after["by"] == second.note_id
    assert not store.get(first.note_id).superseded_by
    review.accept(store, asks[0].id)
    old, new = store.get(first.note_id), store.get(second.note_id)
    assert old.superseded_by == new.id and old.valid_until == new.timestamp
    assert first.note_id in new.link_targets
    with pytest.raises(Exception, match="already accepted"):
        review.accept(store, asks[0].id)


def test_rule_links_never_point_at_the_note_itself_or_a_closed_note(chat) -> None:
    store, by_text, _ = chat
    for note in by_text.values():
        targets = [t for t, _r, _a in rule_links(note, store)]
        assert note.id not in targets
        assert not any(store.get(t).superseded_by for t in targets)
    pairs = list(itertools.combinations(by_text.values(), 2))
    assert pairs  # the fixture made notes
