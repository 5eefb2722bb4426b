"""LoCoMo benchmark: lenient parsing, metrics against hand-computed values, ingest and evaluation.

The fixture (tests/fixtures/locomo_small.json) is written by hand: two conversations of three
sessions, 11 questions each over all five categories, one malformed evidence id ("D:3:3"), one
multi-id string ("D1:6; D3:4"), one id naming no turn ("D7:4") and one turn with a photo.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from memory_core.bench.locomo_metrics import (
    abstained,
    aggregate_qa,
    aggregate_retrieval,
    bleu1,
    evidence_metrics,
    normalize_answer,
    percentile,
    session_metrics,
    token_f1,
)
from memory_core.bench.locomo_run import (
    ingest_sample,
    qa_rows,
    recall_rows,
    run_benchmark,
    select_questions,
    select_samples,
)
from memory_core.errors import ImportFormatError, InputError
from memory_core.transfer.locomo_format import load_locomo, parse_locomo, parse_session_time, split_evidence

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "locomo_small.json"


@pytest.fixture(scope="module")
def data():
    return load_locomo(FIXTURE)


@pytest.fixture(scope="module")
def fast_run(data, embedder, tmp_path_factory):
    """One fast-mode retrieval run over the whole fixture (all four retrievers), shared by the tests."""
    from memory_core.config import Settings

    home = tmp_path_factory.mktemp("locomo")
    settings = Settings(data_dir=str(home / "home"))
    return run_benchmark(data, settings, embedder=embedder, progress=False, work_dir=home / "work",
                         source=str(FIXTURE))


# ---------------------------------------------------------------------------------------------
# parsing
# ---------------------------------------------------------------------------------------------
def test_session_dates_become_iso_utc():
    assert parse_session_time("1:56 pm on 8 May, 2023").isoformat() == "2023-05-08T13:56:00+00:00"
    assert parse_session_time("12:05 am on 1 January, 2024").isoformat() == "2024-01-01T00:05:00+00:00"
    assert parse_session_time("12:30 pm on 3 Sept, 2023").isoformat() == "2023-09-03T12:30:00+00:00"
    assert parse_session_time("10:37 am on 27 June, 2023").isoformat() == "2023-06-27T10:37:00+00:00"
    assert parse_session_time("2023-05-08T13:56:00").isoformat() == "2023-05-08T13:56:00+00:00"
    for bad in ("yesterday", "13:56 pm on 8 May, 2023", "1:56 pm on 31 February, 2023", "", None):
        assert parse_session_time(bad) is None


def test_split_evidence():
    assert split_evidence("D1:3") == (["D1:3"], [])
    assert split_evidence(" D1:3; D2:4 ") == (["D1:3", "D2:4"], [])
    assert split_evidence("D1:3,D2:4 D3:1") == (["D1:3", "D2:4", "D3:1"], [])
    assert split_evidence("D:11:26") == ([], ["D:11:26"])
    assert split_evidence("D1:3; D:2") == (["D1:3"], ["D:2"])
    assert split_evidence(7) == ([], ["7"])


def test_fixture_parses_with_dropped_evidence_counted(data):
    assert [s.sample_id for s in data.samples] == ["conv-a", "conv-b"]
    assert [len(s.turns) for s in data.samples] == [20, 18]
    assert [len(s.questions) for s in data.samples] == [11, 11]
    assert data.problems == []
    ev = data.evidence
    # 12 entries in conv-a (one holds two ids) + 14 in conv-b; "D:3:3" malformed, "D7:4" names no turn.
    assert (ev.entries, ev.split, ev.malformed, ev.unknown, ev.dropped_total) == (26, 1, 1, 1, 2)
    assert ev.kept == 25
    assert {(d["sample_id"], d["part"], d["why"]) for d in ev.dropped} == {
        ("conv-a", "D:3:3", "malformed"), ("conv-b", "D7:4", "no such turn")}
    a, b = data.samples
    assert a.questions[3].evidence == ["D1:6", "D3:4"]  # the multi-id string, split
    assert a.questions[10].evidence == []  # only a malformed id: no usable evidence
    assert b.questions[10].evidence == ["D2:2"]  # the unknown id dropped, the good one kept
    assert a.questions[8].category == 5 and a.questions[8].answer == "beagle"  # adversarial_answer used


def test_turn_times_and_contents(data):
    a = data.samples[0]
    t = {turn.dia_id: turn for turn in a.turns}
    assert t["D1:1"].timestamp == "2023-05-08T13:56:00+00:00"
    assert t["D1:2"].timestamp == "2023-05-08T13:56:05+00:00"  # a few seconds per turn keeps the order
    assert t["D2:1"].timestamp == "2023-05-20T10:15:00+00:00"
    assert t["D1:1"].content == "Alice: Hi Bob! I finally adopted a dog last weekend, a beagle named Pepper."
    assert t["D2:2"].content.endswith("every morning. [photo: a photo of a yellow tram on a narrow street]")
    assert t["D2:2"].img_url == "https://example.org/photos/lisbon-tram.jpg"
    times = [turn.timestamp for turn in a.turns]
    assert times == sorted(times) and len(set(times)) == len(times)


def test_lenient_parse_of_odd_samples():
    raw = [{
        "sample_id": "x",
        "conversation": {
            "speaker_a": "A", "speaker_b": "B",
            "session_2_date_time": "not a date",
            "session_2": [{"speaker": "A", "dia_id": "D2:1", "text": "later"}],
            "session_1_date_time": "9:00 am on 1 March, 2024",
            "session_1": [{"speaker": "A", "dia_id": "D1:1", "text": "hello"},
                          {"speaker": "B", "dia_id": "D1:1", "text": "repeated id"},
                          {"speaker": "B", "dia_id": "D1:2", "text": ""},
                          "not a turn"],
        },
        "qa": [{"question": "Q1?", "answer": 2022, "evidence": ["D1:1", "D1:1", "D:1:1", "D1:1;D2:1", 5],
                "category": 2},
               {"question": "", "answer": "x", "evidence": [], "category": 1},
               {"question": "Q3?", "answer": "x", "evidence": "D2:1", "category": "4"},
               {"question": "Q4?", "answer": "x", "category": None}],
    }, {"no": "conversation"}]
    parsed = parse_locomo(json.dumps(raw))
    (s,) = parsed.samples
    assert [t.dia_id for t in s.turns] == ["D1:1", "D2:1"]  # session order by number, bad turns skipped
    assert s.turns[1].timestamp > s.turns[0].timestamp  # unreadable date placed after the previous session
    q1, q3 = s.questions
    assert q1.answer == "2022" and q1.evidence == ["D1:1", "D2:1"]
    assert q3.evidence == ["D2:1"] and q3.category == 4
    ev = parsed.evidence
    assert (ev.entries, ev.duplicates, ev.malformed, ev.split) == (6, 2, 2, 1)
    assert len(parsed.problems) == 7  # bad date, repeated id, empty turn, non-object turn, 2 questions, 1 sample


def test_unusable_files_are_refused_clearly(tmp_path):
    with pytest.raises(ImportFormatError, match="not valid JSON"):
        parse_locomo("{nope")
    with pytest.raises(ImportFormatError, match="list of samples"):
        parse_locomo('{"a": 1}')
    with pytest.raises(ImportFormatError, match="no usable conversation"):
        parse_locomo("[]")
    with pytest.raises(InputError, match="Cannot read"):
        load_locomo(tmp_path / "missing.json")


# ---------------------------------------------------------------------------------------------
# metrics, against values computed by hand
# ---------------------------------------------------------------------------------------------
def test_evidence_metrics_by_hand():
    ranked = ["D1:2", "D1:1", "D3:4", "D2:1", "D1:1"]
    m = evidence_metrics(ranked, ["D1:1", "D2:1"], ks=(1, 2, 5))
    assert m["ranks"] == [2, 4]
    assert m["rr"] == 0.5
    assert (m["any@1"], m["any@2"], m["any@5"]) == (0.0, 1.0, 1.0)
    assert (m["all@1"], m["all@2"], m["all@5"]) == (0.0, 0.0, 1.0)
    miss = evidence_metrics(ranked, ["D9:9", "D1:2"], ks=(1, 2, 5))
    assert miss["rr"] == 1.0 and miss["any@1"] == 1.0 and miss["all@5"] == 0.0 and miss["ranks"] == [None, 1]
    none = evidence_metrics([], ["D1:1"], ks=(1,))
    assert none["rr"] == 0.0 and none["any@1"] == 0.0 and none["all@1"] == 0.0

    agg = aggregate_retrieval([m, miss], ks=(1, 2, 5))
    assert agg["n"] == 2
    assert agg["recall_any@1"] == 0.5 and agg["recall_all@5"] == 0.5 and agg["recall_all@2"] == 0.0
    assert agg["mrr"] == 0.75


def test_session_metrics_by_hand():
    # D1:* are turns of session 1, D2:* of session 2, D3:* of session 3; "??" is a note with no dia_id.
    session_of = {"D1:1": 1, "D1:2": 1, "D2:1": 2, "D2:5": 2, "D3:4": 3}
    ranked = ["??", "D1:2", "D2:1", "D1:1", "D3:4"]
    # gold D1:1 (rank 4) and D2:5 (not retrieved): turn level finds one of two, from rank 4 on ...
    turn = evidence_metrics(ranked, ["D1:1", "D2:5"], ks=(1, 2, 3, 5))
    assert turn["ranks"] == [4, None] and turn["all@5"] == 0.0 and turn["any@3"] == 0.0
    # ... the session level counts D1:2 (rank 2) for session 1 and D2:1 (rank 3) for session 2.
    m = session_metrics(ranked, ["D1:1", "D2:5"], session_of, ks=(1, 2, 3, 5))
    assert m["session_ranks"] == [2, 3] and m["session_rr"] == 0.5
    assert (m["session_any@1"], m["session_any@2"], m["session_any@3"]) == (0.0, 1.0, 1.0)
    assert (m["session_all@2"], m["session_all@3"], m["session_all@5"]) == (0.0, 1.0, 1.0)
    # Two gold turns of one session are one gold session; an unknown note matches no session.
    one = session_metrics(["??", "D1:2"], ["D1:1", "D1:2"], session_of, ks=(1, 2))
    assert one["session_ranks"] == [2] and (one["session_any@1"], one["session_all@2"]) == (0.0, 1.0)
    agg = aggregate_retrieval([{**turn, **m}, {**evidence_metrics(["??"], ["D3:4"], (1, 2, 3, 5)),
                                               **session_metrics(["??"], ["D3:4"], session_of, (1, 2, 3, 5))}],
                              ks=(1, 2, 3, 5))
    assert agg["session_recall_any@2"] == 0.5 and agg["session_recall_all@3"] == 0.5
    assert agg["session_mrr"] == 0.25 and agg["recall_any@5"] == 0.5 and agg["mrr"] == 0.125
    # Rows without the session level (results of older runs) aggregate the turn level only.
    assert "session_mrr" not in aggregate_retrieval([turn], ks=(1,))


def test_score_ties_are_put_in_dialogue_order():
    from types import SimpleNamespace

    from memory_core.bench.locomo_run import _ranked_refs

    def hit(nid: str, score: float) -> SimpleNamespace:
        return SimpleNamespace(note=SimpleNamespace(id=nid), score=score)

    id_to_ref = {"u3": "D1:3", "u1": "D1:1", "u2": "D1:2", "u9": "D2:1"}
    pos = {"D1:1": 0, "D1:2": 1, "D1:3": 2, "D2:1": 3}
    # the retriever's order is kept except inside runs of equal scores
    hits = [hit("u9", 0.9), hit("u3", 0.5), hit("u1", 0.5), hit("u2", 0.7)]
    assert _ranked_refs(hits, id_to_ref, pos) == ["D2:1", "D1:1", "D1:3", "D1:2"]


def test_normalisation_f1_bleu_by_hand():
    assert normalize_answer("The Blue-Bowls, an A+ gift!") == "bluebowls gift"
    assert normalize_answer("  Greta,  her neighbour. ") == "greta her neighbour"
    assert token_f1("The blue bowls, four!", "four blue bowls") == 1.0
    # pred {greta, neighbour} vs gold {greta, her, neighbour}: P = 1, R = 2/3, F1 = 0.8
    assert token_f1("Greta the neighbour", "Greta, her neighbour") == pytest.approx(0.8)
    assert token_f1("Osaka", "Tokyo") == 0.0
    assert token_f1("", "") == 1.0 and token_f1("", "x") == 0.0
    # repeated words are clipped: pred "bowl bowl" vs gold "bowl": common 1, P = 1/2, R = 1, F1 = 2/3
    assert token_f1("bowl bowl", "bowl") == pytest.approx(2 / 3)
    # BLEU-1: precision 2/2, brevity penalty exp(1 - 3/2)
    assert bleu1("Greta the neighbour", "Greta, her neighbour") == pytest.approx(math.exp(-0.5))
    # longer prediction: no penalty, clipped precision 2/4
    assert bleu1("blue bowls blue cups", "four blue bowls") == pytest.approx(0.5)
    assert bleu1("", "x") == 0.0


def test_abstention():
    for text in ("Not mentioned.", "It is not mentioned in the conversation.", "I don't know",
                 "There is no information about Bob's dog.", "Unknown", "The notes do not say.",
                 "None", "Cannot be determined from the notes."):
        assert abstained(text), text
    for text in ("beagle", "Pastel de nata", "He mentioned a beagle", "Nonetheless, a beagle"):
        assert not abstained(text), text


def test_percentile_and_qa_aggregation():
    assert percentile([4, 1, 3, 2], 50) == 2 and percentile([4, 1, 3, 2], 95) == 4 and percentile([], 50) == 0
    rows = [{"category": 4, "f1": 1.0, "bleu1": 0.5, "abstained": False},
            {"category": 4, "f1": 0.0, "bleu1": 0.0, "abstained": True},
            {"category": 2, "f1": 0.5, "bleu1": 0.25, "abstained": False},
            {"category": 5, "f1": None, "bleu1": None, "abstained": True},
            {"category": 5, "f1": None, "bleu1": None, "abstained": False}]
    agg = aggregate_qa(rows)
    assert agg["overall"]["n"] == 3 and agg["overall"]["f1"] == pytest.approx(0.5)
    assert agg["overall"]["bleu1"] == pytest.approx(0.25)
    assert agg["by_category"]["4"]["f1"] == 0.5 and agg["by_category"]["4"]["name"] == "single-hop"
    assert agg["by_category"]["5"] == {"name": "adversarial", "n": 2, "abstention_rate": 0.5}


def test_selection_is_deterministic(data):
    assert [s.sample_id for s in select_samples(data.samples, "1")] == ["conv-a"]
    assert [s.sample_id for s in select_samples(data.samples, "conv-b")] == ["conv-b"]
    assert [s.sample_id for s in select_samples(data.samples, None)] == ["conv-a", "conv-b"]
    with pytest.raises(InputError, match="conv-z"):
        select_samples(data.samples, "conv-a,conv-z")
    first = [q.key for q in select_questions(data.samples, 5, seed=7)]
    assert first == [q.key for q in select_questions(data.samples, 5, seed=7)]
    assert len(first) == 5 and len(set(first)) == 5
    order = [q.key for s in data.samples for q in s.questions]
    assert first == [k for k in order if k in first]  # file order kept
    assert len(select_questions(data.samples, None, seed=7)) == 22


# ---------------------------------------------------------------------------------------------
# ingest and retrieval with the real MiniLM embedder
# ---------------------------------------------------------------------------------------------
def test_ingest_keeps_every_turn_and_dia_id(data, embedder, tmp_path):
    from memory_core.config import Settings

    sample = data.samples[0]
    ing = ingest_sample(sample, Settings(data_dir=str(tmp_path / "home")), tmp_path / "s1", embedder=embedder)
    try:
        notes = ing.store.all_notes()
        assert len(notes) == len(sample.turns) == 20
        assert sorted(ing.ref_to_id) == sorted(t.dia_id for t in sample.turns)
        by_ref = {n.source_ref: n for n in notes}
        for turn in sample.turns:
            note = by_ref[turn.dia_id]
            assert note.content == turn.content and note.timestamp == turn.timestamp
            assert note.source == "import"
        assert ing.stats["notes"] == 20 and ing.stats["llm_calls"] == 0
        with pytest.raises(InputError, match="not empty"):
            ingest_sample(sample, Settings(data_dir=str(tmp_path / "home")), tmp_path / "s1", embedder=embedder)
    finally:
        ing.store.close()


@pytest.mark.parametrize("mode", ["fast", "full"])
def test_turns_are_contextual_notes_in_both_modes(data, embedder, tmp_path, mode):
    """Each turn's note keeps the previous turn of its session and the date apart from its content."""
    from fakes import ScriptedLLM

    from memory_core.config import Settings
    from memory_core.retrieval import make_retriever

    sample = data.samples[1]
    llm = ScriptedLLM(default="not json")  # full mode with a model that never helps: still contextual
    ing = ingest_sample(sample, Settings(data_dir=str(tmp_path / "home")), tmp_path / "s", embedder=embedder,
                        mode=mode, llm=llm)
    try:
        by_ref = {n.source_ref: n for n in ing.store.all_notes()}
        for i, turn in enumerate(sample.turns):
            note = by_ref[turn.dia_id]
            assert note.content == turn.content and note.turn_context.startswith("Date: ")
            previous = sample.turns[i - 1] if i else None
            if previous is not None and previous.session == turn.session:
                assert previous.content in note.turn_context and previous.content not in note.content
        assert (ing.stats["llm_calls"] > 0) == (mode == "full")
        hits = make_retriever(ing.store, ing.settings, "contextual").search(sample.questions[0].question, 5)
        assert hits and all(set(h.signals) >= {"lexical", "dense", "context_lexical", "context_dense"} for h in hits)
    finally:
        ing.store.close()


def test_retrieval_evaluation_is_sane(fast_run):
    res = fast_run
    assert res["selection"] == {"samples": ["conv-a", "conv-b"], "questions": 22, "with_evidence": 21,
                                "without_evidence": 1}
    assert [s["notes"] for s in res["ingest"]["samples"]] == [20, 18]
    assert set(res["retrieval"]) == {"dense", "bm25", "hybrid", "hybrid+links", "contextual", "contextual+ppr"}
    for name, block in res["retrieval"].items():
        o = block["overall"]
        assert o["n"] == 21
        for kind in ("any", "all"):
            values = [o[f"recall_{kind}@{k}"] for k in (1, 5, 10, 25)]
            assert values == sorted(values), (name, kind)  # recall grows with k
            assert all(0.0 <= v <= 1.0 for v in values)
        for k in (1, 5, 10, 25):
            assert o[f"recall_all@{k}"] <= o[f"recall_any@{k}"]
        assert o["recall_any@1"] <= o["mrr"] <= o["recall_any@25"]
        assert sum(c["n"] for c in block["by_category"].values()) == 21
        assert block["latency_ms"]["searches"] == 21 and block["latency_ms"]["p95"] >= block["latency_ms"]["p50"] > 0
    # Each store holds at most 20 notes, so dense search returns every note within 25: all evidence found.
    assert res["retrieval"]["dense"]["overall"]["recall_all@25"] == 1.0
    # Every single-hop question shares a rare word with its evidence turn ("chew", "coach", "workbook",
    # "evening", "longest", "Pepper"...), and BM25 returns every note sharing a word: found within 25.
    assert res["retrieval"]["bm25"]["by_category"]["4"]["recall_any@25"] == 1.0
    rows = {q["key"]: q for q in res["questions"]}
    # "workbook" and "teacher" occur only in D2:3 of conv-b, which also has Tom and Japanese: rank 1.
    assert rows["conv-b#1"]["retrieval"]["bm25"]["ranks"] == [1]
    # Session level: D2:3 is in session 2, so its session is found at rank 1 too.
    assert rows["conv-b#1"]["retrieval"]["bm25"]["session_ranks"] == [1]
    # A gold session is found no later than any of its gold turns.
    for q in rows.values():
        for m in q["retrieval"].values():
            for k in (1, 5, 10, 25):
                assert m[f"session_any@{k}"] >= m[f"any@{k}"] and m[f"session_all@{k}"] >= m[f"all@{k}"]
    for block in res["retrieval"].values():
        o = block["overall"]
        assert o["recall_any@5"] <= o["session_recall_any@5"] and o["mrr"] <= o["session_mrr"]
    assert set(res["definitions"]) == {"turn any@k", "turn all@k", "session any@k", "session all@k", "MRR"}
    # The question whose only evidence was malformed is kept (for answers) but not scored for retrieval.
    assert rows["conv-a#10"]["retrieval"] == {} and rows["conv-a#10"]["evidence"] == []
    assert rows["conv-a#3"]["evidence"] == ["D1:6", "D3:4"]


def test_results_are_json_and_plot_rows(fast_run):
    res = json.loads(json.dumps(fast_run))
    assert res["parse"]["evidence"]["dropped"] == 2 and res["versions"]["python"]
    rows = recall_rows(res)
    # 6 retrievers x (overall + 5 categories) x 4 cut-offs
    assert len(rows) == 6 * 6 * 4
    overall = [r for r in rows if r["retriever"] == "bm25" and r["category"] == "overall" and r["k"] == 10]
    assert overall[0]["recall_any"] == res["retrieval"]["bm25"]["overall"]["recall_any@10"]
    assert {r["category"] for r in rows} == {"overall", "multi-hop", "temporal", "open-domain", "single-hop",
                                             "adversarial"}
    assert qa_rows(res) == [] and recall_rows(None) == [] and recall_rows({"x": 1}) == []


def test_same_seed_same_figures(data, embedder, tmp_path, fast_run):
    from memory_core.config import Settings

    again = run_benchmark(data, Settings(data_dir=str(tmp_path / "home")), embedder=embedder, progress=False,
                          retrievers=["bm25", "hybrid+links"])
    for name in ("bm25", "hybrid+links"):
        assert again["retrieval"][name]["overall"] | {"n": 0} == fast_run["retrieval"][name]["overall"] | {"n": 0}


def test_cli_bench_locomo(tmp_path, monkeypatch, embedder, capsys):
    import memory_core.models.embeddings
    from memory_core.cli import main

    monkeypatch.setattr(memory_core.models.embeddings, "get_embedder", lambda _settings: embedder)
    home, out = tmp_path / "home", tmp_path / "out" / "res.json"
    code = main(["bench", "locomo", str(FIXTURE), "--data-dir", str(home), "--samples", "conv-b",
                 "--retrievers", "bm25,dense", "--quiet", "--output", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "evidence recall (overall)" in printed and "bm25" in printed and "single-hop" in printed
    lines = printed.splitlines()
    assert any(line.split()[:2] == ["bm25", "turn"] for line in lines)
    assert any(line.split()[:2] == ["bm25", "session"] for line in lines)
    assert any("session any@k: share of questions where the session of at least one gold" in line for line in lines)
    saved = json.loads((home / "bench" / "locomo-latest.json").read_text())
    assert saved["benchmark"] == "locomo" and saved["selection"]["samples"] == ["conv-b"]
    assert json.loads(out.read_text())["retrieval"].keys() == {"bm25", "dense"}

    assert main(["bench", "locomo", str(tmp_path / "nope.json"), "--data-dir", str(home)]) == 2
    assert main(["bench", "locomo", str(FIXTURE), "--data-dir", str(home), "--samples", "zzz", "--quiet"]) == 2
    assert main(["bench", "locomo", str(FIXTURE), "--data-dir", str(home), "--retrievers", "magic"]) == 2
    err = capsys.readouterr().err
    assert "Cannot read" in err and "zzz" in err and "magic" in err and "Traceback" not in err


def test_bench_all_reports_missing_and_failing_benchmarks(tmp_path, monkeypatch):
    import sys
    import types

    from memory_core.bench import all as bench_all

    row = bench_all.run_one("no_such_bench", tmp_path)
    assert row["status"] == "missing" and "no_such_bench.py" in row["detail"]

    broken = types.ModuleType("memory_core.bench.broken_bench")
    broken.add_arguments = lambda parser: parser.add_argument("--rounds", type=int, default=100)
    seen = {}

    def run(args):
        seen["rounds"] = args.rounds
        raise RuntimeError("disk on fire")

    broken.run = run
    monkeypatch.setitem(sys.modules, broken.__name__, broken)
    monkeypatch.setitem(bench_all.SMALL, "broken_bench", {"rounds": 2, "not_an_option": 1})
    row = bench_all.run_one("broken_bench", tmp_path)
    assert row["status"] == "failed" and "disk on fire" in row["detail"] and seen["rounds"] == 2


def test_bench_all_runs_locomo_and_prints_one_table(tmp_path, monkeypatch, embedder, capsys):
    import memory_core.models.embeddings
    from memory_core.cli import main

    monkeypatch.setattr(memory_core.models.embeddings, "get_embedder", lambda _settings: embedder)
    home = tmp_path / "home"
    assert main(["bench", "all", "--only", "locomo", "--data-dir", str(home)]) == 0
    out = capsys.readouterr().out
    assert "locomo" in out and " ok " in out and "bm25 R@10" in out and "1 of 1 benchmarks ran" in out
    saved = json.loads((home / "bench" / "all-latest.json").read_text())
    (row,) = saved["benchmarks"]
    assert row["status"] == "ok" and row["results"]["selection"]["questions"] == 22
    assert not (home / "bench" / "locomo-latest.json").exists()  # small runs never replace full results


# ---------------------------------------------------------------------------------------------
# answers with the real bundled model
# ---------------------------------------------------------------------------------------------
@pytest.mark.real_model
def test_qa_with_the_real_model(data, embedder, real_llm, tmp_path):
    from memory_core.config import Settings

    res = run_benchmark(data, Settings(data_dir=str(tmp_path / "home")), embedder=embedder, llm=real_llm,
                        qa=True, k=5, samples="conv-a", limit_questions=2, seed=3, retrievers=["bm25"],
                        progress=False)
    qs = res["questions"]
    assert len(qs) == 2
    for q in qs:
        a = q["qa"]
        assert isinstance(a["prediction"], str) and isinstance(a["abstained"], bool)
        assert 1 <= len(a["context"]) <= 5 and set(a["context"]) <= {f"D{s}:{t}" for s in (1, 2, 3) for t in range(8)}
        if q["category"] == 5:
            assert a["f1"] is None
        else:
            assert 0.0 <= a["f1"] <= 1.0 and 0.0 <= a["bleu1"] <= 1.0
    qa = res["qa"]
    assert qa["usage"]["calls"] == 2 and 0 < qa["usage"]["completion_tokens"] <= 2 * 32
    assert sum(c["n"] for c in qa["by_category"].values()) == 2
    assert qa_rows(res) and all(r["n"] >= 1 for r in qa_rows(res))
