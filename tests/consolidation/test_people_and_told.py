"""The Profile's People are people, and a digest's "Told" is what the person told (issue 26's browser trial).

The trial found a film ("We watched The Grand Budapest Hotel last night") listed under People, and the
person's own question ("What did I tell you about my sister?") listed as something they told. Both are
read from the person's words by rule, so these checks need no model (the cheap hash embedder).
"""

from __future__ import annotations

import pytest

from memory_core.config import Settings
from memory_core.consolidation import consolidate, lines_of, section_of
from memory_core.consolidation.people import names, person_keys
from memory_core.notes import Note
from memory_core.store import MemoryStore

NOTES = [
    ("We watched The Grand Budapest Hotel last night.", "2024-06-01T20:00:00+00:00"),
    ("My sister Anna said she loves hiking in the Alps.", "2024-06-01T21:00:00+00:00"),
    ("I read Pride and Prejudice again, my favourite book.", "2024-06-02T10:00:00+00:00"),
    ("We saw Dune at the cinema with Tom.", "2024-06-02T19:00:00+00:00"),
    ('My favourite film is "The Shawshank Redemption".', "2024-06-02T20:00:00+00:00"),
    ("Marco texted me from Rome.", "2024-06-03T09:00:00+00:00"),
    ("What did I tell you about my sister?", "2024-06-03T10:00:00+00:00"),  # stored anyway ("Remember")
    ("Can you remind me what Lena's job is? I start my new job on Monday.", "2024-06-03T11:00:00+00:00"),
    ("Hello! Where did I leave my keys?", "2024-06-04T09:00:00+00:00"),
]


@pytest.fixture
def hstore(settings: Settings, hash_embedder) -> MemoryStore:
    store = MemoryStore(settings, hash_embedder)
    with store.writing() as w:
        for text, ts in NOTES:
            w.put(Note(content=text, timestamp=ts, source="chat", speaker="person"))
    return store


def test_people_are_names_spoken_of_as_people_not_titles(hstore: MemoryStore) -> None:
    consolidate(hstore)
    people = {n.content.split(":")[0] for n in lines_of(hstore, "profile") if section_of(n) == "people"}
    assert {"Anna", "Tom", "Marco"} <= people
    for title_word in ("Grand", "Budapest", "Hotel", "Pride", "Prejudice", "Dune", "Shawshank", "Redemption"):
        assert title_word not in people, people


def test_a_title_is_never_a_person_even_with_a_cue_after_it() -> None:
    by_key = {n.key: n for n in names("I watched Anna Karenina with Tom and Lena.")}
    assert by_key["anna"].title and not by_key["anna"].person
    assert by_key["tom"].person and by_key["lena"].person
    assert person_keys(["Anna's husband Mark is a chef.", "Sarah, my boss, is leaving."]) == {"anna", "mark", "sarah"}
    assert person_keys(["Lisbon and Porto are lovely.", "I love Paris."]) == set()


def test_a_digest_lists_what_was_told_never_the_questions_asked(hstore: MemoryStore) -> None:
    consolidate(hstore)
    digests = {n.source_ref: n.content for n in lines_of(hstore, "digest")}
    day3 = digests["digest:day:2024-06-03"]
    assert "Marco texted me from Rome." in day3 and "I start my new job on Monday." in day3
    assert "What did I tell you about my sister?" not in day3
    assert "Can you remind me" not in day3
    assert "Grand" not in digests["digest:day:2024-06-01"].split("Names:")[-1].split("\n")[0]
    # a day whose only note is a greeting and a question has nothing told: no digest of it
    assert "digest:day:2024-06-04" not in digests
    # and no profile line quotes a question
    assert not any("?" in n.content for n in lines_of(hstore, "profile"))
