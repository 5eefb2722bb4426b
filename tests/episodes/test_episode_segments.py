"""Episodes: a conversation cut into segments; what never becomes part of one."""

from __future__ import annotations

from memory_core.episodes.conversations import Conversation, ConversationStore, new_message
from memory_core.episodes.segments import GAP_MINUTES, MAX_TURNS, mark_forgotten, neighbours, segments_of


def msg(role: str, text: str, at: str, **extra) -> dict:
    m = new_message(role, text, **extra)
    m["at"] = at
    return m


def conv_of(*messages: dict, remember: bool = True) -> Conversation:
    return Conversation(id=ConversationStore.new_id(), title="t", remember=remember, messages=list(messages))


def test_a_pause_longer_than_the_gap_starts_a_new_segment():
    conv = conv_of(msg("user", "a", "2023-05-03T10:00:00+00:00"), msg("assistant", "b", "2023-05-03T10:00:30+00:00"),
                   msg("user", "c", f"2023-05-03T10:{GAP_MINUTES:02d}:30+00:00"),  # exactly the gap after b: same
                   msg("assistant", "d", "2023-05-03T11:30:00+00:00"),  # an hour later: new segment
                   msg("user", "e", "2023-05-04T09:00:00+00:00"))
    segs = segments_of(conv)
    assert [[t.text for t in s.turns] for s in segs] == [["a", "b", "c"], ["d"], ["e"]]
    assert [t.role for t in segs[0].turns] == ["user", "assistant", "user"]
    assert [(t.segment, t.position) for t in segs[0].turns] == [(0, 0), (0, 1), (0, 2)]
    assert segs[0].start == "2023-05-03T10:00:00+00:00" and segs[2].turns[0].day == "2023-05-04"


def test_a_long_run_without_pauses_is_cut_at_max_turns():
    conv = conv_of(*[msg("user" if i % 2 == 0 else "assistant", f"m{i}", f"2023-05-03T10:{i:02d}:00+00:00")
                     for i in range(MAX_TURNS + 3)])
    assert [len(s.turns) for s in segments_of(conv)] == [MAX_TURNS, 3]


def test_unremembered_conversations_and_unfinished_turns_are_no_episode():
    at = "2023-05-03T10:00:00+00:00"
    assert segments_of(conv_of(msg("user", "secret", at), remember=False)) == []
    conv = conv_of(msg("user", "ok", at), msg("assistant", "half", at, interrupted=True),
                   msg("assistant", "", at), msg("assistant", "boom", at, error="the model failed"))
    assert [t.text for s in segments_of(conv) for t in s.turns] == ["ok"]


def test_a_forgotten_message_and_the_reply_to_it_are_skipped(tmp_path):
    store = ConversationStore(tmp_path)
    conv = store.new()
    told = msg("user", "My PIN is 4812.", "2023-05-03T10:00:00+00:00",
               memory={"state": "done", "note_id": "abcdef1234567890"})
    reply = msg("assistant", "Noted, your PIN is 4812.", "2023-05-03T10:00:10+00:00", reply_to=told["id"])
    other = msg("user", "I like tea.", "2023-05-03T10:01:00+00:00", memory={"state": "done", "note_id": "ffff00001111"})
    conv.messages = [told, reply, other]
    store.save(conv)
    assert [t.text for s in segments_of(store.load(conv.id)) for t in s.turns] == [told["content"], reply["content"],
                                                                               other["content"]]
    assert mark_forgotten(store, ["abcdef12"]) == 1  # an id prefix, as `memex forget` takes
    kept = [t.text for s in segments_of(store.load(conv.id)) for t in s.turns]
    assert kept == ["I like tea."]
    assert store.load(conv.id).messages[0]["content"] == "My PIN is 4812."  # the conversation itself is kept
    assert mark_forgotten(store, ["abcdef12"]) == 0  # already flagged: nothing written again


def test_neighbours_stay_inside_the_segment():
    conv = conv_of(*[msg("user", f"m{i}", f"2023-05-03T10:0{i}:00+00:00") for i in range(4)])
    seg = segments_of(conv)[0]
    assert [t.text for t in neighbours(seg, 0)] == ["m0", "m1"]
    assert [t.text for t in neighbours(seg, 2)] == ["m1", "m2", "m3"]
    assert [t.text for t in neighbours(seg, 3, before=2, after=0)] == ["m1", "m2", "m3"]


def test_questions_answered_from_memory_are_no_new_episode():
    at = "2023-05-03T10:00:00+00:00"
    asked = msg("user", "Which pet did you say suits my flat?", at)
    conv = conv_of(msg("user", "A pet for a small flat?", at), msg("assistant", "A cat.", at),
                   asked, msg("assistant", "Memex said a dog.", at, reply_to=asked["id"], prompt={"form": "episode"}),
                   msg("user", "And for a garden?", at), msg("assistant", "A dog.", at, prompt={"form": "chat"}))
    assert [t.text for s in segments_of(conv) for t in s.turns] == ["A pet for a small flat?", "A cat.",
                                                                    "And for a garden?", "A dog."]


def test_a_question_about_the_persons_own_past_is_no_episode_even_when_nothing_was_recalled():
    """'Do I have a cat?' after the cat's note was deleted got the model's guess; asked again, that guess
    must not come back as what was said. Advice and requests for ideas stay episodes."""
    at = "2023-05-03T10:00:00+00:00"
    own = msg("user", "Do I have a cat?", at)
    advice = msg("user", "What should I cook tonight?", at)
    conv = conv_of(own, msg("assistant", "Cats are generally not allowed in the UK.", at, reply_to=own["id"],
                            prompt={"form": "chat"}),
                   advice, msg("assistant", "Try a mushroom risotto.", at, reply_to=advice["id"], prompt={"form": "chat"}))
    assert [t.text for s in segments_of(conv) for t in s.turns] == ["What should I cook tonight?",
                                                                    "Try a mushroom risotto."]
