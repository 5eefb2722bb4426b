"""Importing a chat history (chat.history_import) into a real store with the real MiniLM embedder.

What a person relies on: every conversation becomes a conversation file (who said what, when, as
in the file), only the person's words become notes, dated as in the file and through the chat's
write path (worth rule, near-duplicates, corrections in the file's time order), and importing the
same file again changes nothing at all.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from memory_core.chat.history_import import import_history, start_history_import
from memory_core.config import Settings
from memory_core.episodes.conversations import ConversationStore
from memory_core.notes import parse_time
from memory_core.store import MemoryStore
from memory_core.transfer.chat_history import conversation_id, parse_history
from memory_core.transfer.memex_json import export_data

SAMPLES = Path(__file__).parent / "chat_samples"


def load(name: str) -> Any:
    return parse_history((SAMPLES / name).read_bytes(), name)


def snapshot(store: MemoryStore, settings: Settings) -> tuple[dict[str, Any], dict[str, bytes]]:
    data = export_data(store)
    data.pop("exported")
    folder = Path(settings.home) / "conversations"
    files = {p.name: p.read_bytes() for p in sorted(folder.glob("*.json"))} if folder.is_dir() else {}
    return data, files


def plain(*conversations: dict[str, Any]) -> Any:
    return parse_history(json.dumps({"conversations": list(conversations)}).encode(), "mine.json")


def test_chatgpt_history_becomes_conversations_and_dated_notes(store: MemoryStore, settings: Settings) -> None:
    report = import_history(store, settings, load("chatgpt_conversations.json"))
    assert report.added == 2 and report.unchanged == 0 and len(report.skipped) == 1
    assert "'Broken tree'" in report.skipped[0]
    conversations = ConversationStore(settings.home)
    cid = conversation_id("chatgpt", "6a1f0c2e-0000-4000-8000-000000000001")
    conv = conversations.load(cid)
    assert conv.title == "Sourdough starter"
    assert (conv.created, conv.updated) == ("2024-05-01T10:01:00+00:00", "2024-05-01T10:05:00+00:00")
    assert conv.imported == {"format": "chatgpt", "file": "chatgpt_conversations.json",
                             "source_id": "6a1f0c2e-0000-4000-8000-000000000001", "complete": True}
    assert [m["role"] for m in conv.messages] == ["user", "assistant", "user", "assistant", "user"]
    assert conv.messages[1]["at"] == "2024-05-01T10:01:10+00:00"  # the assistant's words, with their time
    notes = {n.content: n for n in store.all_notes()}
    # only the person's words are notes; none of the assistant's
    assert not any("Clint sounds sturdy" in c or "dark rye" in c for c in notes)
    clint = notes["My sourdough starter is called Clint and I feed it every evening."]
    assert clint.timestamp == "2024-05-01T10:01:00+00:00" and clint.source == "import"
    assert (clint.conversation_id, clint.speaker) == (cid, "person")
    assert clint.message_id == conv.messages[0]["id"]
    assert conv.messages[0]["memory"]["status"] == "stored" and conv.messages[0]["memory"]["note_id"] == clint.id
    headingley = notes["I bake at my allotment cabin in Headingley on Saturdays."]
    assert "2024-05-01" in headingley.turn_context and "Clint" not in headingley.turn_context
    assert "rye loaf" in headingley.turn_context  # the person's previous message, as the chat keeps it
    for note in notes.values():  # dated as in the file, never "now"
        assert parse_time(note.timestamp).year == 2024, note.content
    assert len(conversations.list()) == 2


def test_importing_the_same_file_twice_changes_nothing(store: MemoryStore, settings: Settings) -> None:
    first = import_history(store, settings, load("claude_conversations.json"))
    assert first.added == 1 and first.written == 2
    import_history(store, settings, load("plain.jsonl"))
    before = snapshot(store, settings)
    again = import_history(store, settings, load("claude_conversations.json"))
    assert (again.added, again.extended, again.unchanged, again.written) == (0, 0, 1, 0)
    import_history(store, settings, load("plain.jsonl"))
    assert snapshot(store, settings) == before  # the notes, their history, and the conversation files, byte for byte


def test_corrections_follow_the_files_time_not_its_order(store: MemoryStore, settings: Settings) -> None:
    """ChatGPT lists the newest conversation first: the later message must still be the correction."""
    history = plain(
        {"title": "Later", "messages": [{"role": "user", "content": "Actually my brother Tomas moved to Lisbon.",
                                         "timestamp": "2024-06-10T09:00:00Z"}]},
        {"title": "Earlier", "messages": [{"role": "user", "content": "My brother Tomas lives in Porto.",
                                           "timestamp": "2024-06-01T09:00:00Z"}]})
    report = import_history(store, settings, history)
    assert report.outcomes["superseded"] == 1, report.to_dict()
    notes = {n.content: n for n in store.all_notes()}
    old, new = notes["My brother Tomas lives in Porto."], notes["Actually my brother Tomas moved to Lisbon."]
    assert old.superseded_by == new.id and not new.superseded_by
    assert old.valid_until == "2024-06-10T09:00:00+00:00"  # closed from the correction's time in the file


def test_an_imported_message_older_than_a_note_never_replaces_it(store: MemoryStore, settings: Settings) -> None:
    from memory_core.memory.pipeline import MemoryPipeline

    kept = MemoryPipeline(store, settings).add("My brother Tomas lives in Lisbon.", mode="fast", source="chat",
                                               speaker="person", timestamp="2025-03-01T10:00:00Z")
    history = plain({"title": "Old", "messages": [{"role": "user", "content": "Actually my brother Tomas moved to Porto.",
                                                   "timestamp": "2023-05-01T10:00:00Z"}]})
    report = import_history(store, settings, history)
    assert report.outcomes["superseded"] == 0 and report.outcomes["stored"] == 1
    lisbon = store.get(kept.note_id)
    porto = next(n for n in store.all_notes() if "Porto" in n.content)
    assert not lisbon.superseded_by  # the newer word stays current
    assert porto.superseded_by == lisbon.id and porto.valid_until == "2025-03-01T10:00:00+00:00"


def test_worth_rule_and_near_duplicates_apply(store: MemoryStore, settings: Settings) -> None:
    history = plain({"title": "Cats", "messages": [
        {"role": "user", "content": "Our cat Miso is twelve years old.", "timestamp": "2024-04-01T19:00:00Z"},
        {"role": "user", "content": "thanks!", "timestamp": "2024-04-01T19:01:00Z"},
        {"role": "user", "content": "Our cat Miso is twelve years old!", "timestamp": "2024-04-02T19:00:00Z"}]})
    report = import_history(store, settings, history)
    assert dict(report.outcomes) == {"stored": 1, "not_stored": 1, "merged": 1}
    [note] = store.all_notes()
    assert note.seen_count == 2
    conv = ConversationStore(settings.home).load(report.conversation_ids[0])
    assert conv.messages[1]["memory"]["status"] == "not_stored" and conv.messages[1]["memory"]["reason"]


def test_a_malformed_conversation_is_named_and_the_rest_imports(store: MemoryStore, settings: Settings) -> None:
    history = plain(
        {"title": "Fine", "messages": [{"role": "user", "content": "I grow tomatoes on my balcony.",
                                        "timestamp": "2024-01-05T10:00:00Z"}]},
        {"title": "Broken", "messages": [{"role": "robot", "content": "beep", "timestamp": "2024-01-05T10:00:00Z"}]},
        {"title": "Also broken", "messages": "not a list"})
    report = import_history(store, settings, history)
    assert report.added == 1
    assert [s.split(":")[0] for s in report.skipped] == ["conversation 2 'Broken'", "conversation 3 'Also broken'"]
    assert [n.content for n in store.all_notes()] == ["I grow tomatoes on my balcony."]
    assert [s.title for s in ConversationStore(settings.home).list()] == ["Fine"]


def test_a_message_too_long_for_a_note_stays_in_the_conversation(store: MemoryStore, settings: Settings) -> None:
    from memory_core.notes import MAX_CONTENT_CHARS

    history = plain({"title": "Paste", "messages": [
        {"role": "user", "content": "x " * (MAX_CONTENT_CHARS // 2 + 10), "timestamp": "2024-01-05T10:00:00Z"},
        {"role": "user", "content": "I play the cello.", "timestamp": "2024-01-05T10:01:00Z"}]})
    report = import_history(store, settings, history)
    assert len(report.refused) == 1 and "characters" in report.refused[0]
    assert [n.content for n in store.all_notes()] == ["I play the cello."]
    conv = ConversationStore(settings.home).load(report.conversation_ids[0])
    assert len(conv.messages) == 2 and conv.messages[0]["memory"]["status"] == "not_stored"


def test_a_cancelled_import_is_finished_by_importing_again(store: MemoryStore, settings: Settings, tmp_path: Path,
                                                           embedder) -> None:
    history = load("plain.jsonl")
    messages = [{"role": "user", "content": f"My friend number {i} is called {name}.",
                 "timestamp": f"2024-02-0{1 + i // 2}T10:0{i % 2}:00Z"} for i, name in enumerate(
                     ["Ana", "Kofi", "Yuki", "Lena", "Nora", "Sara"])]
    history = plain({"title": "Friends", "messages": messages[:3]}, {"title": "More", "messages": messages[3:]})
    cancel = threading.Event()
    report = import_history(store, settings, history, cancel=cancel,
                            progress=lambda done, _total: cancel.set() if done == 2 else None)
    assert report.cancelled and report.written == 2 and report.incomplete == 1
    conv = ConversationStore(settings.home).load(conversation_id("plain", "Friends|2024-02-01T10:00:00+00:00"))
    assert conv.imported["complete"] is False and "memory" not in conv.messages[2]
    again = import_history(store, settings, history)
    assert again.extended == 1 and again.added == 1 and again.written == 4
    # the same as one import without a cancel
    fresh = MemoryStore(Settings(data_dir=str(tmp_path / "fresh")), embedder)
    import_history(fresh, fresh.settings, history)
    assert sorted((n.content, n.timestamp) for n in store.all_notes()) == \
        sorted((n.content, n.timestamp) for n in fresh.all_notes())


def test_the_background_job_reports_progress(store: MemoryStore, settings: Settings) -> None:
    job = start_history_import(store, settings, load("plain.json"))
    assert job.wait(120) and job.state == "done", job.error
    assert job.report is not None and job.report.added == 2 and job.done == job.total == 3


def test_a_newer_export_adds_only_what_is_new(store: MemoryStore, settings: Settings) -> None:
    said = [{"role": "user", "content": "I started learning the cello in January.", "timestamp": "2024-01-10T18:00:00Z"},
            {"role": "assistant", "content": "Lovely! Practise a little every day.", "timestamp": "2024-01-10T18:00:30Z"}]
    first = import_history(store, settings, plain({"title": "Cello", "messages": said}))
    cid = first.conversation_ids[0]
    kept = ConversationStore(settings.home).load(cid).messages[0]["memory"]
    later = [*said, {"role": "user", "content": "My cello teacher Ines lives in Valencia.",
                     "timestamp": "2024-02-01T18:00:00Z"}]
    again = import_history(store, settings, plain({"title": "Cello", "messages": later}))
    assert (again.added, again.extended, again.written) == (0, 1, 1)  # the one new message, written once
    conv = ConversationStore(settings.home).load(cid)
    assert [m["content"] for m in conv.messages] == [m["content"] for m in later]
    assert conv.messages[0]["memory"] == kept and conv.updated == "2024-02-01T18:00:00+00:00"
    assert sorted(n.content for n in store.all_notes()) == ["I started learning the cello in January.",
                                                            "My cello teacher Ines lives in Valencia."]


def test_the_import_waits_while_a_chat_reply_streams(store: MemoryStore, settings: Settings) -> None:
    from memory_core.chat.gate import ReplyGate

    gate = ReplyGate()
    with gate.replying():  # a reply is streaming when the import starts
        job = start_history_import(store, settings, load("plain.json"), gate=gate)
        assert not job.wait(5) and job.done == 0 and len(store) == 0  # 3 messages take well under 5 s
    assert job.wait(120) and job.state == "done", job.error
    assert job.report is not None and job.report.written == 3


def _race_history(*later: str) -> Any:
    first = {"title": "Training", "messages": [{"role": "user", "content": "I'm running the Leeds half marathon in May.",
                                                "timestamp": "2025-02-01T08:00:00Z"}]}
    return plain(first, *({"title": f"Later {i}", "messages": [{"role": "user", "content": text,
                                                                 "timestamp": f"2025-03-0{i + 1}T08:00:00Z"}]}
                          for i, text in enumerate(later)))


def test_a_later_message_naming_the_old_value_as_replaced_supersedes_it(store: MemoryStore,
                                                                        settings: Settings) -> None:
    """The trial's miss: "York instead of Leeds" a month later closes the Leeds race, dated as in the file."""
    report = import_history(store, settings, _race_history("I switched my race: York half marathon instead of Leeds."))
    assert report.outcomes["superseded"] == 1, report.to_dict()
    notes = {n.content: n for n in store.all_notes()}
    old = notes["I'm running the Leeds half marathon in May."]
    new = notes["I switched my race: York half marathon instead of Leeds."]
    assert old.superseded_by == new.id and old.valid_until == "2025-03-01T08:00:00+00:00"


def test_a_move_between_the_same_cities_leaves_the_race(store: MemoryStore, settings: Settings) -> None:
    report = import_history(store, settings, _race_history("I moved from Leeds to York."))
    assert report.outcomes["superseded"] == 0 and report.outcomes["stored"] == 2, report.to_dict()
    assert not any(n.superseded_by for n in store.all_notes())
