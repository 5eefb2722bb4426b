"""A capable model writes the digests and the profile; every line must be grounded in what it cites.

The scripted fake model (tests/fakes.py) stands in for a capable one (its name says 7B), so what is
tested is the control flow: grounded lines stored, ungrounded ones rejected, the extractive line kept
when nothing the model wrote survives. The bundled model's path is tested against the real model below.
"""

from __future__ import annotations

import json

import pytest
from fakes import ScriptedLLM

from memory_core.config import Settings
from memory_core.consolidation import cited, consolidate, judge_line, lines_of
from memory_core.notes import Note
from memory_core.store import MemoryStore

FACTS = ["My sister Anna lives in Lisbon.", "I love sushi but I hate olives.", "I work as a nurse at the city hospital."]


@pytest.fixture
def hstore(settings: Settings, hash_embedder) -> MemoryStore:
    store = MemoryStore(settings, hash_embedder)
    with store.writing() as w:
        for i, text in enumerate(FACTS):
            w.put(Note(content=text, speaker="person", source="chat", timestamp=f"2024-05-0{i + 1}T10:00:00+00:00"))
    return store


def capable(answer) -> ScriptedLLM:
    llm = ScriptedLLM(default="{}")
    llm.name = "Qwen2.5-7B-Instruct-Q4_K_M.gguf"
    llm.script = [answer] * 200
    return llm


def source_lines(messages) -> dict[str, int]:
    """The numbered sources in the prompt: text -> number."""
    body = messages[-1]["content"].split("Sources:\n", 1)[1].split("\n\n", 1)[0]
    return {line.split("] ", 1)[1]: int(line[1:line.index("]")]) for line in body.splitlines()}


def test_judge_line_rejects_what_the_sources_do_not_say() -> None:
    src = ["My sister Anna lives in Lisbon.", "I work as a nurse at the city hospital."]
    assert judge_line("Your sister Anna lives in Lisbon.", src).ok
    assert not judge_line("Your sister Lena lives in Lisbon.", src).ok  # a name not in the sources
    assert not judge_line("Anna has lived in Lisbon for 12 years.", src).ok  # a number not in them
    assert not judge_line("You enjoy painting landscapes and playing chess on weekends.", src).ok
    assert not judge_line('{"text": "Anna lives in Lisbon"}', src).ok
    assert not judge_line("Anna lives in Lisbon.", []).ok  # cites nothing


def test_grounded_model_lines_are_stored_with_the_notes_they_cite(hstore: MemoryStore) -> None:
    def answer(messages, _fmt):
        sources = source_lines(messages)
        lines = []
        for text, n in sources.items():
            if "Anna" in text:
                lines.append({"text": "The person's sister Anna lives in Lisbon.", "sources": [n]})
            if "sushi" in text:
                lines.append({"text": "The person loves sushi and hates olives.", "sources": [n]})
        return json.dumps({"lines": lines or [{"text": "Nothing here at all today.", "sources": [1]}]})

    report = consolidate(hstore, None, capable(answer))
    assert report.written_by.startswith("Qwen2.5-7B")
    texts = {n.content: n for n in lines_of(hstore, "profile")}
    anna = texts["The person's sister Anna lives in Lisbon."]
    assert [hstore.get(c).content for c in cited(anna)] == [FACTS[0]]
    assert "The person loves sushi and hates olives." in texts
    digests = lines_of(hstore, "digest")
    assert any("- The person's sister Anna lives in Lisbon." in d.content for d in digests)


def test_an_ungrounded_model_line_is_rejected_and_never_stored(hstore: MemoryStore) -> None:
    invented = "Your sister Lena moved to Madrid in 2019."

    def answer(messages, _fmt):
        return json.dumps({"lines": [{"text": invented, "sources": [1]}]})

    report = consolidate(hstore, None, capable(answer))
    assert any(line == invented and "Lena" in why for line, why in report.rejected)
    stored = [n.content for n in lines_of(hstore)]
    assert stored and not any("Lena" in c or "Madrid" in c for c in stored)
    # nothing the model wrote survived: the extractive lines (the person's words) stand instead
    assert "I love sushi but I hate olives." in stored


@pytest.mark.real_model
def test_the_bundled_model_consolidates_without_free_generation(settings: Settings, embedder, real_llm) -> None:
    store = MemoryStore(settings, embedder)
    with store.writing() as w:
        for i, text in enumerate(FACTS):
            w.put(Note(content=text, speaker="person", source="chat", timestamp=f"2024-05-0{i + 1}T10:00:00+00:00"))
    calls: list[str] = []

    class Counting:  # the real model, counting the calls consolidation makes of it
        name = real_llm.name

        def __getattr__(self, method: str):
            calls.append(method)
            return getattr(real_llm, method)

    assert "135M" in real_llm.name
    report = consolidate(store, None, Counting())  # type: ignore[arg-type]
    assert report.written_by == "extract" and not report.rejected
    assert calls == []  # the capability gate kept the 135M model from writing anything
    notes = [n.content for n in store.notes_view().values() if n.source == "chat"]
    for line in lines_of(store, "profile"):
        said = line.content.split(": ", 1)[-1]
        assert any(said in n for n in notes), line.content  # only the person's own sentences
    assert {n.source_ref for n in lines_of(store, "digest")} == {f"digest:day:2024-05-0{i}" for i in (1, 2, 3)}
