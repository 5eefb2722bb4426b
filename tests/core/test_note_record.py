"""The Note record's hand-written serialisation equals what dataclasses.asdict gives, and shares nothing."""

from __future__ import annotations

from dataclasses import asdict

from hypothesis import given, settings
from hypothesis import strategies as st

from memory_core.notes import Change, Link, Note

words = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
json_values = st.recursive(st.none() | st.booleans() | st.integers() | words,
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(words, inner, max_size=3),
                           max_leaves=8)


@settings(max_examples=150, deadline=None)
@given(content=words.filter(str.strip), keywords=st.lists(words, max_size=4), targets=st.lists(words, max_size=5),
       changes=st.lists(st.tuples(words, json_values, json_values), max_size=4))
def test_to_dict_equals_asdict_and_is_a_copy(content, keywords, targets, changes) -> None:
    note = Note(content=content, keywords=keywords, tags=list(keywords[:2]))
    note.history.append(Change("created", None, "import", by="import"))
    for name, old, new in changes:
        note.history.append(Change(name, old, new, by="person"))
    note.set_field("links", [Link(t, "similar", by="system") for t in dict.fromkeys(targets)], by="system")

    data = note.to_dict()
    assert data == asdict(note)
    before = asdict(note)
    marker = object()  # equal to nothing the strategies draw
    data["keywords"].append(marker)
    if data["links"]:
        data["links"][0]["target"] = marker
    for entry in data["history"]:
        if isinstance(entry["new"], list):
            entry["new"].append(marker)
    assert asdict(note) == before  # changing the dict changed nothing in the note
    assert Note.from_trusted_dict(asdict(note)).to_dict() == note.to_dict()


def test_embedded_text_adds_only_what_the_content_does_not_say() -> None:
    """Keywords, tags and a context already in the content are not embedded again; new ones are."""
    note = Note(content="We hiked in the Alps with Carla.", keywords=["Alps", "Carla", "mountains"],
                tags=["alps", "travel"], context="We hiked in the Alps with Carla.")
    assert note.text_for_embedding() == "We hiked in the Alps with Carla.\nKeywords: mountains\nTags: travel"
    note.tags, note.keywords = ["alps"], ["Carla"]
    assert note.text_for_embedding() == "We hiked in the Alps with Carla."
