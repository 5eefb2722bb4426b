"""``memex import FILE|DIR`` in new processes: each kind recognised by content, clear errors, no traceback.

The subprocess reads the code from disk (PYTHONPATH is inherited), so this is the command a person runs.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

SAMPLES = Path(__file__).parent / "chat_samples"
VAULT = Path(__file__).resolve().parents[1] / "fixtures" / "vault"


def memex(*args: str, home: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "memory_core.cli", *args, "--data-dir", str(home)],
                          capture_output=True, text=True, timeout=600)


def folder_state(home: Path) -> dict[str, bytes]:
    """Every file under the conversations folder and the notes as exported (what an import may change)."""
    conversations = home / "conversations"
    files = {p.name: p.read_bytes() for p in sorted(conversations.glob("*.json"))} if conversations.is_dir() else {}
    exported = json.loads(memex("export", home=home).stdout)
    exported.pop("exported")
    return {**files, "notes": json.dumps(exported, sort_keys=True).encode()}


@pytest.mark.real_model
def test_import_a_chat_history_twice_in_new_processes(tmp_path: Path) -> None:
    home = tmp_path / "home"
    renamed = tmp_path / "my history.txt"  # recognised by content, not by name
    shutil.copy(SAMPLES / "claude_conversations.json", renamed)
    first = memex("import", str(renamed), "--json", home=home)
    assert first.returncode == 1, first.stderr  # one conversation was skipped (named), the rest imported
    report = json.loads(first.stdout)
    assert report["format"] == "claude" and report["added"] == 1 and report["outcomes"] == {"stored": 1,
                                                                                          "superseded": 1}
    assert report["skipped"] == ["conversation 2 'Bad sender': message 1 has sender 'robot' "
                                 "(expected \"human\" or \"assistant\"); skipped"]
    listed = json.loads(memex("list", "--json", home=home).stdout)
    assert sorted(n["timestamp"] for n in listed) == ["2024-06-02T09:00:10+00:00", "2024-06-02T09:03:00+00:00"]
    assert {n["source"] for n in listed} == {"import"}
    before = folder_state(home)
    again = memex("import", str(renamed), home=home)
    assert "1 already imported (unchanged)" in again.stdout and "Traceback" not in again.stderr
    assert folder_state(home) == before


@pytest.mark.real_model
def test_import_jsonl_and_a_chatgpt_zip(tmp_path: Path) -> None:
    home = tmp_path / "home"
    done = memex("import", str(SAMPLES / "plain.jsonl"), home=home)
    assert done.returncode == 1 and "2 conversations added" in done.stdout
    assert "skipped  line 3: not JSON" in done.stdout and "skipped  conversation 'broken' (line 6)" in done.stdout
    archive = tmp_path / "chatgpt-export.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("chat.html", "<html></html>")
        zf.write(SAMPLES / "chatgpt_conversations.json", "conversations.json")
    done = memex("import", str(archive), "--json", home=home)
    report = json.loads(done.stdout)
    assert report["format"] == "chatgpt" and report["added"] == 2 and report["written"] == 4, done.stderr
    assert len(list((home / "conversations").glob("*.json"))) == 4


@pytest.mark.real_model
def test_import_a_folder_is_a_vault_import(tmp_path: Path) -> None:
    home = tmp_path / "home"
    done = memex("import", str(VAULT), home=home)
    assert done.returncode == 1, done.stderr  # two files of the fixture vault are refused, by name
    assert "refused  Latin-1 note.md" in done.stdout and "Is a directory" not in done.stderr
    same = memex("vault", "import", str(VAULT), "--json", home=home)  # the same thing as `memex vault import`
    assert json.loads(same.stdout)["files"] and "unchanged" in same.stdout


@pytest.mark.parametrize(("content", "says"), [
    (b"", "The file is empty."),
    (b"hello, this is not json", "not valid JSON"),
    (json.dumps({"hello": "world"}).encode(), "not a Memex export"),
    ("zip", "no conversations.json either"),
])
def test_bad_files_get_one_clear_line(tmp_path: Path, content: bytes | str, says: str) -> None:
    path = tmp_path / "conversations.json"
    if content == "zip":
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            zf.writestr("readme.txt", "hello")
        path.write_bytes(buf.getvalue())
    else:
        assert isinstance(content, bytes)
        path.write_bytes(content)
    done = memex("import", str(path), home=tmp_path / "home")
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("memex: ") and says in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "home" / "conversations").exists()


def test_a_file_with_no_usable_conversation_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text(json.dumps({"conversations": [{"title": "x", "messages": [{"role": "robot", "content": "a"}]}]}))
    done = memex("import", str(path), home=tmp_path / "home")
    assert done.returncode == 2 and "No conversation in broken.json could be read" in done.stderr
    assert "'x'" in done.stderr and not (tmp_path / "home" / "conversations").exists()
