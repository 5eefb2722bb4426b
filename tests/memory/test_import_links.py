"""Links in fast mode: the topic-word rule and the shared-name rule for notes imported together.

The unit tests drive ``ImportLinker`` with hand-made unit vectors, so each case states the cosine it
is about; the real-path tests send notes through ``MemoryPipeline.add_many(mode="fast")`` (what an
import and the LoCoMo bench use) and ``add(mode="fast")`` with the real MiniLM.
"""

from __future__ import annotations

import numpy as np
import pytest

from memory_core.config import Settings
from memory_core.memory import MemoryPipeline
from memory_core.memory.import_links import ImportLinker
from memory_core.memory.link_kinds import link_kind
from memory_core.memory.records import NewItem
from memory_core.notes import Note
from memory_core.store import MemoryStore

GARDEN = ["I grow tomatoes and basil on the balcony.",
          "The basil needs watering every morning in summer.",
          "This year the tomatoes got blight, so I lost half of them."]
UNRELATED = ["I really like the new bakery on our street.",
             "I like running along the river before work.",
             "Today I finally fixed the leaking bathroom tap.",
             "Today the train to the office was late again."]


class _EmptyStore:
    def notes_view(self) -> dict[str, Note]:
        return {}

    def vectors(self, ids: list[str]) -> np.ndarray:  # pragma: no cover - every note here is indexed with its vector
        raise AssertionError("no stored note to read")


def _pair(cosine: float) -> tuple[np.ndarray, np.ndarray]:
    """Two unit vectors at exactly ``cosine``."""
    return np.array([1.0, 0.0], np.float32), np.array([cosine, np.sqrt(1 - cosine ** 2)], np.float32)


def _links(first: str, second: str, cosine: float, filler: int = 0) -> list[tuple[str, str]]:
    linker = ImportLinker(_EmptyStore())  # type: ignore[arg-type]
    u, v = _pair(cosine)
    for i in range(filler):  # other notes, far in meaning, sharing no word with the two
        linker.add(Note(content=f"Filler number {i} about nothing."), np.array([0.0, -1.0], np.float32))
    linker.add(Note(content=first, timestamp="2026-01-01T10:00:00+00:00"), u)
    return linker.links(Note(content=second, timestamp="2026-01-02T10:00:00+00:00"), v)


def test_a_shared_specific_word_close_in_meaning_links_with_the_word_as_reason() -> None:
    found = _links(GARDEN[0], GARDEN[2], 0.48)
    assert len(found) == 1
    assert found[0][1] == "Both are about tomatoes (cosine 0.48)."
    assert link_kind("system", found[0][1]) == "topic"


def test_a_shared_word_far_in_meaning_does_not_link() -> None:
    assert _links("I'm painting the kitchen this weekend.", "My dog sleeps in the kitchen.", 0.30) == []
    assert _links(GARDEN[0], GARDEN[2], 0.39) == []  # just under TOPIC_FLOOR (0.40)


@pytest.mark.parametrize(("first", "second"), [(UNRELATED[0], UNRELATED[1]), (UNRELATED[2], UNRELATED[3])])
def test_generic_words_are_no_topic_even_when_close(first: str, second: str) -> None:
    assert _links(first, second, 0.9) == []  # "like", "today" (and stopwords) say nothing of a topic


def test_a_word_in_too_many_notes_is_no_topic() -> None:
    linker = ImportLinker(_EmptyStore())  # type: ignore[arg-type]
    vec = np.array([1.0, 0.0], np.float32)
    notes = [Note(content=f"Coffee with colleague {i} at noon.") for i in range(5)]
    for note in notes:
        linker.add(note, vec)
    # "coffee" is in 5 of 5 notes: above TOPIC_MIN_DF (4) and TOPIC_MAX_SHARE; "noon" and "colleague" too
    assert linker.links(Note(content="Coffee at noon tastes better with a colleague."), vec) == []
    small = ImportLinker(_EmptyStore())  # type: ignore[arg-type]
    for note in notes[:3]:
        small.add(note, vec)
    assert len(small.links(Note(content="Coffee at noon tastes better with a colleague."), vec)) == 3


def test_a_closed_note_is_no_target_and_names_link_within_one_import() -> None:
    linker = ImportLinker(_EmptyStore())  # type: ignore[arg-type]
    u, v = _pair(0.9)
    old = Note(content="I grow tomatoes on the balcony.", superseded_by="someone")
    linker.add(old, u)
    assert linker.links(Note(content="The tomatoes got blight."), v) == []
    dog = Note(content="I have a golden retriever called Biscuit.")
    linker.add(dog, u)
    found = linker.links(Note(content="Biscuit is afraid of thunderstorms."), np.array([0.0, 1.0], np.float32))
    assert found == [(dog.id, "Both name Biscuit.")] and link_kind("system", found[0][1]) == "entity"
    digest = Note(content="Biscuit had a vet visit; the tomatoes got blight.", source="digest")
    linker.add(digest, u)  # a digest repeats its sources' words: never a target
    assert digest.id not in {t for t, _ in linker.links(Note(content="Biscuit loves the tomatoes."), u)}


@pytest.mark.real_model  # MiniLM
def test_three_garden_notes_imported_together_link_and_unrelated_ones_do_not(tmp_path, embedder) -> None:
    settings = Settings(data_dir=str(tmp_path / "home"))
    store = MemoryStore(settings, embedder)
    report = MemoryPipeline(store, settings).add_many([NewItem(content=t) for t in GARDEN + UNRELATED], mode="fast")
    assert report.added == 7 and not report.errors
    by_text = {n.content: n for n in store.notes_view().values()}
    first, basil, blight = (by_text[t] for t in GARDEN)
    assert {x.target: x.reason.split(" (")[0] for x in basil.links} == {first.id: "Both are about basil"}
    assert {x.target: x.reason.split(" (")[0] for x in blight.links} == {first.id: "Both are about tomatoes"}
    assert all(link_kind(x.by, x.reason) == "topic" for x in basil.links + blight.links)
    for text in UNRELATED:  # sharing "like" or "today" is no reason, and they are not close enough in meaning
        assert by_text[text].links == []


@pytest.mark.real_model  # MiniLM
def test_the_chat_path_and_the_import_path_link_the_garden_alike(tmp_path, embedder) -> None:
    settings = Settings(data_dir=str(tmp_path / "home"))
    store = MemoryStore(settings, embedder)
    pipe = MemoryPipeline(store, settings)
    for text in GARDEN:
        pipe.add(text, mode="fast")
    pipe.add_many([NewItem(content="Slugs ate the basil seedlings overnight.")], mode="fast")
    by_text = {n.content: n for n in store.notes_view().values()}
    chat_edges = {(by_text[t].id, x.target) for t in GARDEN for x in by_text[t].links}
    assert chat_edges == {(by_text[GARDEN[1]].id, by_text[GARDEN[0]].id), (by_text[GARDEN[2]].id, by_text[GARDEN[0]].id)}
    slugs = by_text["Slugs ate the basil seedlings overnight."]
    assert slugs.links and {x.target for x in slugs.links} <= {by_text[GARDEN[0]].id, by_text[GARDEN[1]].id}
    assert all(x.reason.startswith("Both are about basil") for x in slugs.links)  # stored notes: read vectors
