"""memory_core.retrieval.trace without Streamlit or a store: saved recall traces, live hits, edges, table rows."""

from __future__ import annotations

from types import SimpleNamespace

import networkx as nx
import pytest

from memory_core.errors import InputError
from memory_core.retrieval import trace as tr

SCRIPT = "<script>alert(1)</script>"


def saved() -> list[dict]:
    """What the chat saves with a reply: Hit.trace_dict() entries plus the query."""
    return [
        {"id": "b", "rank": 2, "score": 0.41, "signals": {"lexical": 0.2, "dense": 0.6}, "via": "",
         "reasons": ["dense: similarity 0.60"], "matched_terms": [], "query": "where did I hike?"},
        {"id": "a", "rank": 1, "score": 0.82, "signals": {"lexical": 1.0, "dense": 0.7, "context_dense": 0.3},
         "via": "", "reasons": ["lexical: matched hike"], "matched_terms": ["hike"], "query": "where did I hike?"},
        {"id": "c", "rank": 3, "score": 0.33, "signals": {"graph": 0.4}, "via": "a",
         "reasons": ["linked from 'a'"], "matched_terms": [], "query": "where did I hike?"},
    ]


def test_from_recalled_orders_by_rank_and_keeps_signals() -> None:
    t = tr.from_recalled(saved(), notes={"a": 1, "b": 1, "c": 1})
    assert t.query == "where did I hike?"
    assert t.ids == ["a", "b", "c"]
    a = t.entry("a")
    assert a.rank == 1 and a.score == 0.82 and a.signals["context_dense"] == 0.3
    assert a.main_signal == "lexical" and t.entry("b").main_signal == "dense"
    assert t.entry("c").via == "a" and t.entry("c").main_signal == "graph"
    assert t.badge("a") == "#1 · 0.82" and t.badge("zzz") == ""
    assert t.highlighted() == {"a", "b", "c"}
    assert t.faded(["a", "b", "c", "d", "e"]) == {"d", "e"}


def test_deleted_notes_are_marked_missing_not_highlighted() -> None:
    t = tr.from_recalled(saved(), notes={"a": 1, "c": 1})
    assert t.entry("b").missing and not t.entry("a").missing
    assert t.highlighted() == {"a", "c"} and t.present_ids == ["a", "c"]
    rows = tr.rows(t, lambda nid: f"title {nid}")
    assert [r["note"] for r in rows] == ["title a", "(deleted note)", "title c"]


def test_old_and_damaged_entries_are_read_tolerantly() -> None:
    old = [{"id": "x", "title": "t", "score": 0.5, "reasons": ["lexical: matched y"], "kind": "lexical", "via": ""},
           {"id": "y", "score": "not a number", "signals": {"dense": 7, "bogus": float("nan")}},
           {"no": "id"}, "junk", {"id": "x", "score": 0.1}]
    t = tr.from_recalled(old, query="q")
    assert t.ids == ["x", "y"] and t.query == "q"
    assert t.entry("x").rank == 1 and t.entry("x").signals == {} and t.entry("x").main_signal == ""
    assert t.entry("y").rank == 2 and t.entry("y").score == 0.0
    assert t.entry("y").signals == {"dense": 1.0, "bogus": 0.0}  # clamped to 0..1, NaN -> 0
    chat = tr.from_recalled([{"id": "p", "score": 1, "in_prompt": True}, {"id": "q", "in_prompt": "yes?"}])
    assert [r["in prompt"] for r in tr.rows(chat, str)] == ["yes", ""]
    assert tr.from_recalled(None).entries == []


def test_from_hits_with_and_without_trace_dict() -> None:
    note = SimpleNamespace(id="n1")
    plain = SimpleNamespace(note=note, score=0.7, lexical=0.5, dense=0.0, via="", reasons=["r"],
                            matched_terms=["t"])
    t = tr.from_hits([plain], "query")
    assert t.source == "search" and t.entry("n1").signals == {"lexical": 0.5} and t.entry("n1").rank == 1

    class WithTrace:
        note = SimpleNamespace(id="n2")

        def trace_dict(self) -> dict:
            return {"id": "n2", "rank": 1, "score": 0.9, "signals": {"dense": 0.9, "graph": 0.0},
                    "via": "", "reasons": [], "matched_terms": []}

    t2 = tr.from_hits([WithTrace(), plain], "query")
    assert t2.ids == ["n2", "n1"] and t2.entry("n2").signals == {"dense": 0.9, "graph": 0.0}


def test_parse_param() -> None:
    cid = "0123456789abcdef0123456789abcdef"
    assert tr.parse_param(f"{cid}:abc123def456") == (cid, "abc123def456")
    for bad in ("", "nope", f"{cid}", f"{cid}:", f"{cid}:{SCRIPT}", "../../etc:passwd"):
        with pytest.raises(InputError, match="malformed"):
            tr.parse_param(bad)


def test_from_message() -> None:
    msg = {"role": "assistant", "content": "reply", "recalled": saved()}
    assert tr.from_message(msg).ids == ["a", "b", "c"]
    with pytest.raises(InputError, match="not a reply"):
        tr.from_message({"role": "user", "content": "hi"})
    with pytest.raises(InputError, match="without its recall"):
        tr.from_message({"role": "assistant", "content": "reply"})
    msg2 = {"role": "assistant", "content": "r", "query": "top level", "recalled": [{"id": "a", "score": 1}]}
    assert tr.from_message(msg2).query == "top level"


def test_edges_expansion_and_links_between_recalled_notes() -> None:
    g = nx.DiGraph()
    g.add_nodes_from("abcde")
    g.add_edge("c", "a")  # stored direction c -> a; c was reached from a
    g.add_edge("a", "b")
    g.add_edge("b", "a")  # both directions: drawn once
    g.add_edge("a", "d")  # d not recalled: not a trace edge
    t = tr.from_recalled(saved(), notes=dict.fromkeys("abcde", 1))
    got = tr.edges(t, g)
    assert ("c", "a", "expansion") in got
    assert sum(1 for u, v, _k in got if {u, v} == {"a", "b"}) == 1
    assert not any("d" in (u, v) for u, v, _ in got)
    assert len(got) == 2


def test_rows_show_every_signal_column() -> None:
    t = tr.from_recalled(saved())
    rows = tr.rows(t, lambda nid: {"a": SCRIPT}.get(nid, nid))
    assert rows[0]["note"] == SCRIPT  # data, shown by the page as a dataframe cell (text)
    assert rows[0]["lexical"] == 1.0 and rows[0]["graph"] is None and rows[2]["via"] == SCRIPT
    assert set(tr.SIGNALS) <= set(rows[0])


def test_moments_are_distinct_sorted_and_thinned() -> None:
    from memory_core.explore.asof import label, moments

    evs = [SimpleNamespace(at=a) for a in ("2024-01-02T10:00:00+00:00", "2024-01-01T10:00:00.5+00:00",
                                           "2024-01-02T10:00:00+00:00", "garbage", "2024-01-01T12:00:00+02:00")]
    got = moments(evs)
    assert got == ["2024-01-01T10:00:00+00:00", "2024-01-02T10:00:00+00:00"]  # 12:00+02:00 == 10:00Z
    many = [SimpleNamespace(at=f"2024-01-01T00:{m:02d}:{s:02d}+00:00") for m in range(60) for s in range(60)]
    thin = moments(many, limit=50)
    assert len(thin) == 50 and thin[0] == "2024-01-01T00:00:00+00:00" and thin[-1] == "2024-01-01T00:59:59+00:00"
    assert thin == sorted(thin)
    assert label(thin[0]) == "2024-01-01 00:00:00"
