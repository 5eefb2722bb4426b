"""Episode recall over the conversation files: the index follows the files, hits bring their neighbours."""

from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path

from fakes import HashEmbedder

from memory_core.episodes.conversations import ConversationStore, new_message
from memory_core.episodes.index import index_for
from memory_core.episodes.recall import asks_about_assistant, asks_what_was_said, search_episodes
from memory_core.retrieval.timespan import TimeSpan

FLOOR = 0.1
EMB = HashEmbedder()


def msg(role: str, text: str, at: str, **extra) -> dict:
    m = new_message(role, text, **extra)
    m["at"] = at
    return m


def talk(store: ConversationStore, day: str, *turns: tuple[str, str], remember: bool = True) -> str:
    conv = store.new(remember=remember)
    conv.messages = [msg(role, text, f"{day}T19:0{i}:00+00:00") for i, (role, text) in enumerate(turns)]
    store.save(conv)
    return conv.id


def search(home: Path, query: str, **kw):
    return search_episodes(home, EMB, query, 3, floor=FLOOR, **kw)


def test_a_recommendation_is_found_with_the_turns_around_it(tmp_path):
    store = ConversationStore(tmp_path)
    cid = talk(store, "2023-05-03", ("user", "i sleep badly and wake at 4am"),
               ("assistant", "try chamomile tea before bed"), ("user", "thanks i will"))
    talk(store, "2023-05-04", ("user", "suggest a film"), ("assistant", "watch spirited away tonight"))
    hits = search(tmp_path, "what did you tell me to try, chamomile tea?")
    assert hits and hits[0].conversation_id == cid and hits[0].turn.role == "assistant"
    assert [t.text for t in hits[0].turns] == ["i sleep badly and wake at 4am", "try chamomile tea before bed",
                                               "thanks i will"]
    assert hits[0].day == "2023-05-03" and hits[0].trace_dict()["kind"] == "episode"
    assert "chamomil" in hits[0].matched_terms


def test_the_index_follows_changes_to_the_files(tmp_path):
    store = ConversationStore(tmp_path)
    cid = talk(store, "2023-05-03", ("user", "which bike should i buy"), ("assistant", "a gravel bike suits you"))
    assert search(tmp_path, "gravel bike")[0].conversation_id == cid
    store.append(cid, msg("assistant", "or a folding brompton for the train", "2023-05-03T19:05:00+00:00"))
    assert search(tmp_path, "folding brompton")[0].turn.text == "or a folding brompton for the train"
    other = talk(store, "2023-05-05", ("user", "my gravel bike got a flat"), ("assistant", "patch the tube"))
    assert {h.conversation_id for h in search(tmp_path, "gravel bike")} == {cid, other}
    store.set_remember(other, False)  # "don't remember this conversation": no longer an episode
    assert {h.conversation_id for h in search(tmp_path, "gravel bike")} == {cid}
    store.delete(cid)
    assert search(tmp_path, "gravel bike") == []
    assert len(index_for(tmp_path, EMB)) == 0


def test_unremembered_conversations_are_never_recalled(tmp_path):
    store = ConversationStore(tmp_path)
    talk(store, "2023-05-03", ("user", "my secret diary about the lighthouse"), ("assistant", "the lighthouse"),
         remember=False)
    assert search(tmp_path, "lighthouse diary") == []


def test_the_current_conversation_and_deleted_notes_are_left_out(tmp_path):
    store = ConversationStore(tmp_path)
    conv = store.new()
    told = msg("user", "my locker code is 4812 at the gym", "2023-05-03T19:00:00+00:00",
               memory={"state": "done", "note_id": "note-locker"})
    conv.messages = [told, msg("assistant", "fine, good luck at the gym", "2023-05-03T19:00:10+00:00")]
    store.save(conv)
    assert search(tmp_path, "locker code gym")[0].turn.text == told["content"]
    assert search(tmp_path, "locker code gym", exclude_conversation=conv.id) == []
    gone = search(tmp_path, "locker code gym", is_gone=lambda nid: nid == "note-locker")
    assert all(t.text != told["content"] for h in gone for t in h.turns)  # not the hit, nor a neighbour
    later = store.new()  # a reply in another conversation that was given the note repeats its words
    later.messages = [msg("user", "what is my locker code", "2023-05-04T19:00:00+00:00"),
                      msg("assistant", "your locker code is 4812", "2023-05-04T19:00:10+00:00",
                          recalled=[{"id": "note-locker", "in_prompt": True}])]
    store.save(later)
    assert any("4812" in t.text for h in search(tmp_path, "locker code 4812") for t in h.turns)
    gone = search(tmp_path, "locker code 4812", is_gone=lambda nid: nid == "note-locker")
    assert not any("4812" in t.text for h in gone for t in h.turns)


def Span(start: datetime, end: datetime, phrase: str = "") -> TimeSpan:  # noqa: N802 - reads as the type
    return TimeSpan(start, end, phrase)


def test_a_time_span_keeps_the_turns_inside_it_when_any_matches(tmp_path):
    store = ConversationStore(tmp_path)
    may3 = talk(store, "2023-05-03", ("user", "what to cook tonight"), ("assistant", "cook a lentil soup"))
    may9 = talk(store, "2023-05-09", ("user", "what to cook tonight"), ("assistant", "cook a mushroom risotto"))
    span = Span(datetime(2023, 5, 9, tzinfo=timezone.utc), datetime(2023, 5, 10, tzinfo=timezone.utc), "May 9")
    hits = search(tmp_path, "what did you say to cook tonight", span=span)
    assert {h.conversation_id for h in hits} == {may9} and hits[0].in_span is True
    may3_span = Span(datetime(2023, 5, 3, tzinfo=timezone.utc), datetime(2023, 5, 4, tzinfo=timezone.utc))
    assert {h.conversation_id for h in search(tmp_path, "cook tonight", span=may3_span)} == {may3}
    empty = Span(datetime(2020, 1, 1, tzinfo=timezone.utc), datetime(2020, 1, 2, tzinfo=timezone.utc))
    assert {h.conversation_id for h in search(tmp_path, "cook tonight", span=empty)} == {may3, may9}


def test_building_the_index_writes_nothing(tmp_path):
    store = ConversationStore(tmp_path)
    talk(store, "2023-05-03", ("user", "hello there friend"), ("assistant", "hello to you"))
    before = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")}
    assert search(tmp_path, "hello friend")
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")} == before
    assert not any(name.endswith(".tmp") for name in os.listdir(store.folder))


def test_questions_about_what_was_said():
    assert asks_about_assistant("Which films did you suggest to me that Wednesday?")
    assert asks_about_assistant("What did you tell me to try for my sleep?")
    assert asks_about_assistant("What was your advice about the flat?")
    assert asks_what_was_said("What did we talk about last week?")
    assert asks_what_was_said("Did I tell you about my sister?")
    assert not asks_what_was_said("What is my dog's name?")
