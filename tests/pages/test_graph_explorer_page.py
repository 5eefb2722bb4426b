"""Graph page states through AppTest: ?note=, a reply's ?trace=, bad traces, as-of (read-only), what changed."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

from streamlit.testing.v1 import AppTest

from memory_core.config import Settings
from memory_core.notes import Link, Note
from memory_core.store import MemoryStore

APP = str(Path(__file__).resolve().parents[2] / "app.py")
SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"


def seed(settings: Settings, embedder) -> tuple[MemoryStore, list[str]]:
    store = MemoryStore(settings, embedder)
    notes = [Note("Anna lives in Berlin.", tags=["people"]), Note("Tom lives in Rome.", tags=["people"]),
             Note(SCRIPT, tags=["test"]), Note("A note nobody recalled.", tags=["other"])]
    notes[0].links.append(Link(notes[1].id, reason="friends", by="linker"))
    notes[2].links.append(Link(notes[3].id, reason="wiki " + IMG, by="wikilink"))
    with store.writing() as w:
        for n in notes:
            w.put(n)
    return store, [n.id for n in notes]


def conversation(settings: Settings, recalled: list[dict], role: str = "assistant") -> str:
    cid, mid = uuid.uuid4().hex, uuid.uuid4().hex[:12]
    conv = {"format": 1, "id": cid, "title": "About Anna " + SCRIPT, "created": "2024-02-01T10:00:00+00:00",
            "updated": "2024-02-01T10:00:00+00:00", "remember": True,
            "messages": [{"id": mid, "role": role, "content": "reply", "at": "2024-02-01T10:00:00+00:00",
                          "recalled": recalled}]}
    folder = Path(settings.data_dir) / "conversations"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{cid}.json").write_text(json.dumps(conv), encoding="utf-8")
    return f"{cid}:{mid}"


def graph_page(params: dict[str, str] | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=90)
    for k, v in (params or {}).items():
        at.query_params[k] = v
    at.switch_page("pages/graph.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def canvas(at: AppTest) -> dict:
    return json.loads(at.get("bidi_component")[0].proto.json)


def labels(at: AppTest) -> dict[str, str]:
    return {n["id"]: n["label"] for n in canvas(at)["nodes"]}


def test_note_param_selects_and_survives_reruns(app_home: Settings, embedder) -> None:
    store, ids = seed(app_home, embedder)
    at = graph_page({"note": ids[1]})
    assert canvas(at)["selected"] == ids[1]
    assert any(c.value == "Tom lives in Rome." for c in at.code)
    at.run()
    assert canvas(at)["selected"] == ids[1] and at.query_params["note"] in (ids[1], [ids[1]])
    at.sidebar.toggle(key="graph_ego").set_value(False).run()
    assert canvas(at)["selected"] == ids[1] and len(canvas(at)["nodes"]) == 4


def test_reply_trace_is_highlighted_with_ranks(app_home: Settings, embedder) -> None:
    store, ids = seed(app_home, embedder)
    param = conversation(app_home, [
        {"id": ids[0], "rank": 1, "score": 0.8, "signals": {"lexical": 1.0, "dense": 0.7}, "via": "",
         "reasons": ["lexical: matched anna"], "matched_terms": ["anna"], "query": "where does Anna live?"},
        {"id": ids[1], "rank": 2, "score": 0.4, "signals": {"graph": 0.5}, "via": ids[0],
         "reasons": ["linked from Anna"], "matched_terms": [], "query": "where does Anna live?"},
        {"id": ids[2], "rank": 3, "score": 0.1, "signals": {"dense": 0.1}, "via": "",
         "reasons": ["dense " + IMG], "matched_terms": [], "query": "where does Anna live?"},
        {"id": "gone-note", "rank": 4, "score": 0.05, "query": "where does Anna live?"}])
    at = graph_page({"trace": param})
    header = next(i.value for i in at.info if "used" in i.value)
    assert "where does Anna live?" in header.replace("\\", "") and "<script>" not in header
    got = labels(at)
    assert got[ids[0]].startswith("#1 · 0.80\n") and got[ids[1]].startswith("#2 · 0.40\n")
    assert got[ids[2]] == "#3 · 0.10\n" + SCRIPT and not got[ids[3]].startswith("#")
    nodes = {n["id"]: n for n in canvas(at)["nodes"]}
    assert "rgba" in nodes[ids[3]]["color"]["background"]  # faded
    edge = next(e for e in canvas(at)["edges"] if (e["from"], e["to"]) == (ids[0], ids[1]))
    assert edge["title"].startswith("link expansion")
    table = next(d.value for d in at.dataframe if "rank" in d.value.columns)
    assert list(table["rank"]) == [1, 2, 3, 4] and table.iloc[3]["note"] == "(deleted note)"
    assert table.iloc[1]["via"] == "Anna lives in Berlin." and table.iloc[2]["why"] == "dense " + IMG
    assert any("deleted since" in c.value for c in at.caption)
    # clearing the trace draws the plain graph again
    at.button(key="graph_clear_trace").click().run()
    assert not any(v.startswith("#") for v in labels(at).values()) and "trace" not in at.query_params


def test_bad_trace_links_give_a_message(app_home: Settings, embedder) -> None:
    store, ids = seed(app_home, embedder)
    at = graph_page({"trace": "not-a-trace"})
    assert any("malformed" in e.value for e in at.error)
    at = graph_page({"trace": uuid.uuid4().hex + ":abc"})
    assert any("No conversation" in e.value for e in at.error)
    person = conversation(app_home, [], role="user")
    at = graph_page({"trace": person})
    assert any("not a reply" in e.value for e in at.error)
    assert len(canvas(at)["nodes"]) == 4  # the graph is still drawn


def test_as_of_is_read_only_and_shows_the_note_as_it_was(app_home: Settings, embedder) -> None:
    store, ids = seed(app_home, embedder)
    time.sleep(1.1)  # moments are to the second: the edit below gets a later one
    store.update(ids[0], by="person", content="Anna moved to Lisbon.")
    store.link(ids[1], ids[3], "later link", by="person")
    at = graph_page({"note": ids[0]})
    assert any(c.value == "Anna moved to Lisbon." for c in at.code)
    at.toggle(key="graph_past").set_value(True).run()
    slider = at.select_slider(key="graph_when")
    assert slider.value == "now" and len(slider.options) >= 3
    slider.set_value(slider.options[0]).run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("The memory as it was on" in w.value and "Read-only" in w.value for w in at.warning)
    assert any(c.value == "Anna lives in Berlin." for c in at.code)
    assert not any(c.value == "Anna moved to Lisbon." for c in at.code)
    assert not [f for f in at.get("form")] and not any("Edit this note" in e.label for e in at.expander)
    edges = {(e["from"], e["to"]) for e in canvas(at)["edges"]}
    assert (ids[1], ids[3]) not in edges and (ids[0], ids[1]) in edges
    # back to now
    at.select_slider(key="graph_when").set_value("now").run()
    assert not any("The memory as it was on" in w.value for w in at.warning)
    assert any(c.value == "Anna moved to Lisbon." for c in at.code)


def test_what_changed_between_two_dates(app_home: Settings, embedder) -> None:
    store, ids = seed(app_home, embedder)
    store.update(ids[2], by="person", context="hostile " + IMG)
    at = graph_page()
    at.toggle(key="graph_changes").set_value(True).run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("4 added" in c.value for c in at.caption)
    heads = [m.value for m in at.markdown if m.value.startswith(("🆕", "✏️", "🗑️"))]
    assert any(h.startswith("🆕") and "\\<script\\>" in h and "· added" in h for h in heads), heads


def test_reply_trace_answers_why_and_why_not(app_home: Settings, embedder) -> None:
    store, ids = seed(app_home, embedder)
    query = "where does Anna live?"
    param = conversation(app_home, [{"id": ids[0], "rank": 1, "score": 0.8, "signals": {"lexical": 1.0},
                                     "query": query}])
    at = graph_page({"trace": param})
    pick = at.selectbox(key="trace_explain_pick")
    assert pick.options[0].startswith("#1 · Anna lives in Berlin.") and len(pick.options) == 4
    assert any("the chat's way" in c.value for c in at.caption)
    # a note the reply did not use: with 4 notes and the chat's k of 5 it is in the top k, but the
    # chat's relevance floor leaves it out
    pick.set_value(ids[3]).run()
    assert not at.exception, [e.value for e in at.exception]
    verdict = at.warning[0].value.replace("\\", "")
    assert verdict.startswith("in the top k but left out") and "relevance floor" in verdict
    # "Why" from the Chat page arrives as a preset: the recalled note is explained at once
    at = AppTest.from_file(APP, default_timeout=90)
    at.query_params["trace"] = param
    at.session_state["trace_explain_preset"] = ids[0]
    at.switch_page("pages/graph.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key="trace_explain_pick").value == ids[0]
    assert any(s.value.replace("\\", "").startswith("recalled: rank 1 of 4 notes (k = 5)") for s in at.success)
    text = next(c.value for c in at.code if c.value.startswith("query: "))
    assert f"note:  {ids[0][:8]}  Anna lives in Berlin." in text and "relevance floor (the chat applies it)" in text


def test_reply_trace_explains_with_the_time_span_the_reply_read(app_home: Settings, embedder) -> None:
    from datetime import datetime, timezone

    from memory_core.retrieval.timespan import TimeSpan

    store, ids = seed(app_home, embedder)
    param = conversation(app_home, [{"id": ids[0], "rank": 1, "score": 0.8, "query": "what did Tom do yesterday?"}])
    cid, mid = param.split(":")
    path = Path(app_home.data_dir) / "conversations" / f"{cid}.json"
    conv = json.loads(path.read_text())
    day = TimeSpan(datetime(2024, 1, 31, tzinfo=timezone.utc), datetime(2024, 2, 1, tzinfo=timezone.utc), "yesterday")
    conv["messages"][0]["time_span"] = day.to_dict()
    path.write_text(json.dumps(conv))
    at = graph_page({"trace": param})
    at.selectbox(key="trace_explain_pick").set_value(ids[1]).run()
    assert not at.exception, [e.value for e in at.exception]
    text = next(c.value for c in at.code if c.value.startswith("query: "))
    assert "time span read from the question: “yesterday” → Wed 31 Jan 2024" in text
    assert "outside the time span asked about (Wed 31 Jan 2024)" in text
