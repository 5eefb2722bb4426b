"""Reading chat histories (transfer.chat_history, chat_formats): each format from a small realistic file.

No model, no store: what the file says, which branch of a ChatGPT tree is taken, what is left out
(system, tool, hidden messages), dates kept as in the file, and broken parts named and skipped.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest

from memory_core.errors import ImportFormatError
from memory_core.transfer import chat_history
from memory_core.transfer.chat_history import conversation_id, message_id, parse_history, read_file
from memory_core.transfer.imports import detect

SAMPLES = Path(__file__).parent / "chat_samples"


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def zipped(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def test_chatgpt_follows_the_current_branch_and_leaves_out_what_was_not_said() -> None:
    history = parse_history(sample("chatgpt_conversations.json"), "conversations.json")
    assert history.format == "chatgpt"
    by_title = {c.title: c for c in history.conversations}
    assert set(by_title) == {"Sourdough starter", "Marathon plan"}
    sourdough = by_title["Sourdough starter"]
    said = [(m.role, m.content) for m in sourdough.messages]
    # the edited first message (the branch the person last saw), not the abandoned one
    assert said[0] == ("user", "My sourdough starter is called Clint and I feed it every evening.")
    assert not any("Bubbles" in text for _, text in said)
    # the image part is dropped, its words kept; the tool call and its result, the system message, the
    # hidden custom instructions and the empty last reply are not words said in the chat
    assert said[2] == ("user", "What flour should I use for a rye loaf? Here is a photo of my bag.")
    assert [r for r, _ in said] == ["user", "assistant", "user", "assistant", "user"]
    assert not any("Leeds" in t or "search(" in t or "results" in t for _, t in said)
    # epoch seconds read as UTC, to the second
    assert [m.at for m in sourdough.messages][:2] == ["2024-05-01T10:01:00+00:00", "2024-05-01T10:01:10+00:00"]
    assert sourdough.source_id == "6a1f0c2e-0000-4000-8000-000000000001"
    assert len(history.problems) == 1 and "'Broken tree'" in history.problems[0]


def test_chatgpt_without_current_node_takes_the_latest_branch() -> None:
    data = json.loads(sample("chatgpt_conversations.json"))
    conv = next(c for c in data if c["title"] == "Sourdough starter")
    del conv["current_node"]
    history = parse_history(json.dumps([conv]).encode())
    assert "Clint" in history.conversations[0].messages[0].content  # the last child at the fork


def test_claude_export() -> None:
    history = parse_history(sample("claude_conversations.json"))
    assert history.format == "claude"
    [conv] = history.conversations
    assert conv.title == "Planning a trip to Porto"
    assert [(m.role, m.at) for m in conv.messages] == [
        ("user", "2024-06-02T09:00:10+00:00"), ("assistant", "2024-06-02T09:00:30+00:00"),
        ("user", "2024-06-02T09:03:00+00:00")]
    assert conv.messages[1].content == "How lovely! Try the Livraria Lello early in the morning."  # content[] text
    assert conv.messages[2].content == "Actually Ana moved to Lisbon last month."  # text when content is empty
    assert history.problems == ["conversation 2 'Bad sender': message 1 has sender 'robot' "
                                "(expected \"human\" or \"assistant\"); skipped"]


def test_plain_json_keeps_the_zone_and_skips_system_messages() -> None:
    history = parse_history(sample("plain.json"))
    assert history.format == "plain"
    garden, cat = history.conversations
    assert garden.title == "Garden" and garden.messages[0].at == "2024-03-10T08:30:00+01:00"
    assert [m.role for m in cat.messages] == ["user", "assistant"]  # the system message is not part of it
    assert history.problems == ["conversation 2 'No times': message 1 has no time, and nothing before it does; "
                                "skipped"]


def test_plain_jsonl_groups_lines_by_conversation_and_names_bad_lines() -> None:
    history = parse_history(sample("plain.jsonl"))
    assert history.format == "plain-jsonl"
    assert [(c.source_id, c.title, len(c.messages)) for c in history.conversations] == [
        ("bikes", "Bikes", 2), ("books", "books", 2)]
    assert history.problems[0].startswith("line 3: not JSON")
    assert "conversation 'broken' (line 6)" in history.problems[1] and "yesterday-ish" in history.problems[1]


def test_a_message_without_time_takes_the_one_before() -> None:
    raw = json.dumps({"conversations": [{"title": "t", "messages": [
        {"role": "user", "content": "I moved to Oslo.", "timestamp": "2024-01-02T03:04:05Z"},
        {"role": "assistant", "content": "Welcome to Oslo!"}]}]}).encode()
    [conv] = parse_history(raw).conversations
    assert [m.at for m in conv.messages] == ["2024-01-02T03:04:05+00:00"] * 2


def test_zip_exports_are_read_by_their_conversations_json() -> None:
    raw = zipped({"chat.html": b"<html></html>", "user.json": b"{}",
                  "conversations.json": sample("chatgpt_conversations.json")})
    assert detect(raw) == "chat"
    history = parse_history(raw, "export.zip")
    assert history.format == "chatgpt" and len(history.conversations) == 2
    assert history.name == "export.zip/conversations.json"
    claude = zipped({"data-2024/conversations.json": sample("claude_conversations.json"), "data-2024/users.json": b"[]"})
    assert parse_history(claude).format == "claude"


def test_detect_by_content_not_by_name() -> None:
    for name in ("chatgpt_conversations.json", "claude_conversations.json", "plain.json", "plain.jsonl"):
        assert detect(sample(name)) == "chat", name
    one_line = json.dumps({"conversation": "x", "role": "user", "content": "hi", "timestamp": "2024-01-01"})
    assert detect(one_line.encode()) == "chat"  # JSONL of one line is no LoCoMo sample
    assert detect(zipped({"notes/a.md": b"# A\n"})) == "vault"


@pytest.mark.parametrize(("raw", "says"), [
    (b"", "empty"),
    (b"   \n", "empty"),
    (b"this is not json", "not valid JSON"),
    (b"\xff\xfe\x00bad", "not UTF-8"),
    (json.dumps({"hello": "world"}).encode(), "not a chat history"),
    (json.dumps([1, 2, 3]).encode(), "not a chat history"),
])
def test_files_that_are_no_chat_history_are_refused_with_a_reason(raw: bytes, says: str) -> None:
    with pytest.raises(ImportFormatError, match=says):
        parse_history(raw)


def test_a_zip_without_conversations_json_is_refused() -> None:
    with pytest.raises(ImportFormatError, match="no conversations.json"):
        parse_history(zipped({"readme.txt": b"hello"}))
    with pytest.raises(ImportFormatError, match="damaged"):
        parse_history(b"PK\x03\x04 this is not really a zip")


def test_a_huge_file_is_refused_unread(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(chat_history, "MAX_BYTES", 1000)
    big = tmp_path / "conversations.json"
    big.write_bytes(b"[" + b" " * 2000 + b"]")
    with pytest.raises(ImportFormatError, match="at most"):
        read_file(big)
    archive = tmp_path / "export.zip"
    archive.write_bytes(zipped({"conversations.json": big.read_bytes()}))
    with pytest.raises(ImportFormatError, match="unpacked"):
        read_file(archive)
    with pytest.raises(ImportFormatError, match="at most"):
        parse_history(big.read_bytes())


def test_a_message_with_a_lone_surrogate_or_nul_breaks_only_its_conversation() -> None:
    raw = json.dumps({"conversations": [
        {"title": "bad", "messages": [{"role": "user", "content": "caf\ud800", "timestamp": "2024-01-01T00:00:00Z"}]},
        {"title": "nul", "messages": [{"role": "user", "content": "a\x00b", "timestamp": "2024-01-01T00:00:00Z"}]},
        {"title": "good", "messages": [{"role": "user", "content": "I like tea.", "timestamp": "2024-01-01T00:00:00Z"}]},
    ]}).encode()
    history = parse_history(raw)
    assert [c.title for c in history.conversations] == ["good"]
    assert [p.split(":")[0] for p in history.problems] == ["conversation 1 'bad'", "conversation 2 'nul'"]


def test_ids_are_stable_and_differ_by_source() -> None:
    a = conversation_id("chatgpt", "abc")
    assert a == conversation_id("chatgpt", "abc") and len(a) == 32 and int(a, 16) >= 0
    assert a != conversation_id("claude", "abc")
    assert message_id(a, "m1") == message_id(a, "m1") != message_id(a, "m2")
    first = parse_history(sample("plain.jsonl")).conversations[0].messages[0].source_id
    assert parse_history(sample("plain.jsonl")).conversations[0].messages[0].source_id == first
