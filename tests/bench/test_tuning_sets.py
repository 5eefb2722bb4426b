"""The generated tuning sets: valid LoCoMo with every evidence id kept, the committed files are what
the generators make, and `memex bench notes` scores its set."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from fakes import HashEmbedder

from memory_core.bench import notes as notes_bench
from memory_core.bench import synth_locomo, synth_notes
from memory_core.config import Settings
from memory_core.errors import InputError
from memory_core.transfer.locomo_format import load_locomo, parse_locomo


def test_the_locomo_set_parses_with_no_evidence_dropped() -> None:
    data = load_locomo(synth_locomo.DEFAULT_OUT)
    assert data.evidence.dropped_total == 0 and not data.problems
    assert len(data.samples) >= 3
    for sample in data.samples:
        assert len(sample.turns) >= 300 and sample.sessions >= 15 and len(set(sample.speakers)) == 2
        assert {t.speaker for t in sample.turns} == set(sample.speakers)
        assert all(q.evidence for q in sample.questions)
    categories = Counter(q.category for s in data.samples for q in s.questions)
    assert set(categories) == {1, 2, 3, 4} and sum(categories.values()) >= 150
    multi = [q for s in data.samples for q in s.questions if q.category == 1]
    assert sum(len(q.evidence) >= 2 for q in multi) >= len(multi) - 1
    for sample in data.samples:  # LoCoMo's kind of multi-hop: a list gathered over sessions, per speaker
        lists = [q for q in sample.questions if q.category == 1 and len(q.evidence) >= 3]
        assert {speaker for speaker in sample.speakers if any(speaker in q.question for q in lists)} == \
            set(sample.speakers)
        assert all(len({e.split(":")[0] for e in q.evidence}) >= 2 for q in lists)  # several sessions


def test_small_talk_is_varied_and_questions_do_not_repeat_their_evidence() -> None:
    data = load_locomo(synth_locomo.DEFAULT_OUT)
    sample = data.samples[0]
    texts = Counter(t.text for t in sample.turns)
    assert len(texts) >= 0.5 * len(sample.turns)  # not one template repeated
    by_id = {t.dia_id: t.text.lower() for t in sample.turns}
    copied = 0
    for q in sample.questions:
        words = {w.strip("?,.'") for w in q.question.lower().split()} - {"what", "did", "the", "a", "of", "is", "to"}
        evidence = " ".join(by_id[e] for e in q.evidence)
        copied += all(w in evidence for w in words)
    assert copied == 0


def test_the_committed_files_are_what_the_generators_make() -> None:
    made = synth_locomo.generate()
    assert json.loads(synth_locomo.DEFAULT_OUT.read_text(encoding="utf-8")) == made
    assert parse_locomo(made).question_count == sum(len(s["qa"]) for s in made)
    assert json.loads(synth_notes.DEFAULT_OUT.read_text(encoding="utf-8")) == synth_notes.generate()
    assert synth_locomo.generate(seed=7) != made


def test_the_notes_set_shape() -> None:
    data = notes_bench.load_set(notes_bench.DEFAULT_FILE)
    assert len(data["notes"]) >= 500 and len(data["queries"]) >= 100
    assert len({n["id"] for n in data["notes"]}) == len(data["notes"])
    assert any(len(q["gold"]) == 2 for q in data["queries"])


def test_a_bad_notes_set_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"notes": [{"id": "a", "text": "x"}], "queries": [{"query": "x", "gold": ["b"]}]}))
    with pytest.raises(InputError, match="not in the set"):
        notes_bench.load_set(bad)
    with pytest.raises(InputError, match="Cannot read"):
        notes_bench.load_set(tmp_path / "missing.json")


def test_the_notes_bench_scores_recall(tmp_path: Path) -> None:
    data = {"notes": [{"id": "a", "text": "Boiler shows E119: top up the pressure to 1.5 bar"},
                      {"id": "b", "text": "Lena loves orchids"}, {"id": "c", "text": "Buy milk and eggs"}],
            "queries": [{"query": "boiler pressure E119", "gold": ["a"], "kind": "home"},
                        {"query": "what flowers", "gold": ["b"], "kind": "person"}]}
    res = notes_bench.measure(data, Settings(data_dir=str(tmp_path / "h")), ["bm25"], HashEmbedder(), tmp_path / "s")
    block = res["retrieval"]["bm25"]
    assert res["notes"] == 3
    assert block["by_kind"]["home"]["recall_any@1"] == 1.0  # shares its words
    assert block["by_kind"]["person"]["recall_any@10"] == 0.0  # shares none: BM25 cannot find it
    assert block["overall"]["recall_any@10"] == 0.5
