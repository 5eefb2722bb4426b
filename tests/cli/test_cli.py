"""The `memex` CLI end to end in subprocesses: JSON output, clear errors, no tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from memory_core.cli import build_parser
from memory_core.config import Settings, load_settings
from memory_core.errors import ConfigError

COMMANDS = ["add", "search", "explain", "show", "list", "edit", "delete", "link", "unlink", "revert", "export", "import",
            "stats", "reenrich", "doctor", "bench", "review"]


def memex(*args: str, home: Path, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "memory_core.cli", *args, "--data-dir", str(home)],
                          capture_output=True, text=True, input=stdin, timeout=600)


def test_every_command_has_help_data_dir_and_json() -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    for name in COMMANDS:
        text = sub.choices[name].format_help()
        assert "--data-dir" in text and "--json" in text, name


@pytest.mark.real_model
def test_cli_workflow(tmp_path: Path) -> None:
    home = tmp_path / "home"
    a = json.loads(memex("add", "--mode", "fast", "--json", "Berlin museum visit with Tom", home=home).stdout)
    b = json.loads(memex("add", "--mode", "fast", "--json", "--file", "-", home=home,
                         stdin="Tom recommended the Pergamon museum in Berlin").stdout)
    a_id, b_id = a["note"]["id"], b["note"]["id"]
    hits = json.loads(memex("search", "Pergamon", "--json", home=home).stdout)
    assert hits[0]["id"] == b_id and any("lexical" in r for r in hits[0]["reasons"])
    assert memex("link", a_id[:8], b_id[:8], "--reason", "same trip", home=home).returncode == 0
    shown = json.loads(memex("show", a_id, "--json", home=home).stdout)
    assert [link["target"] for link in shown["links"]] == [b_id]
    assert memex("edit", a_id, "--tags", "travel,berlin", home=home).returncode == 0
    plan = memex("revert", a_id, "1", home=home)  # not a terminal: the plan, and nothing applied
    assert plan.returncode == 1 and "tags:" in plan.stdout and "--yes" in plan.stdout
    assert json.loads(memex("show", a_id, "--json", home=home).stdout)["tags"] == ["travel", "berlin"]
    assert memex("revert", a_id, "1", "--yes", home=home).returncode == 0
    shown = json.loads(memex("show", a_id, "--json", "--history", home=home).stdout)
    assert shown["tags"] != ["travel", "berlin"] and shown["history"][-1]["by"] == "person"
    stats = json.loads(memex("stats", "--json", home=home).stdout)
    assert stats["notes"] == 2 and stats["links"] == 1
    export = tmp_path / "out.json"
    assert memex("export", str(export), home=home).returncode == 0
    assert memex("delete", b_id, home=home).returncode == 0
    assert json.loads(memex("show", a_id, "--json", home=home).stdout)["links"] == []
    other = tmp_path / "other"
    imported = json.loads(memex("import", str(export), "--json", home=other).stdout)
    assert imported["added"] == 2
    assert json.loads(memex("stats", "--json", home=other).stdout)["links"] == 1


@pytest.mark.parametrize("args, message", [
    (["add", "   "], "cannot be empty"),
    (["show", "no-such-id"], "No note with id"),
    (["import", "/nonexistent/file.json"], "Cannot read /nonexistent/file.json"),
    (["revert", "whatever", "3"], "No note"),
])
@pytest.mark.server  # `memex` processes
def test_errors_are_one_clear_line(tmp_path: Path, args: list[str], message: str) -> None:
    out = memex(*args, home=tmp_path / "home")
    assert out.returncode == 2
    assert message in out.stderr and "Traceback" not in out.stderr


@pytest.mark.server  # `memex` processes
def test_foreign_data_dir_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "cat.jpg").write_bytes(b"meow")
    out = memex("stats", home=tmp_path / "photos")
    assert out.returncode == 2 and "not a Memex data directory" in out.stderr and "Traceback" not in out.stderr
    assert sorted(p.name for p in (tmp_path / "photos").iterdir()) == ["cat.jpg"]


@pytest.mark.server  # `memex` processes
def test_wrong_model_path_is_a_clear_error(tmp_path: Path) -> None:
    home = tmp_path / "home"
    Settings(data_dir=str(home), model_path=str(tmp_path / "missing.gguf")).save()
    out = memex("add", "hello there", home=home)
    assert out.returncode == 2 and "Model file not found" in out.stderr and "Traceback" not in out.stderr
    assert "missing.gguf" in out.stderr


@pytest.mark.server  # `memex` processes
def test_settings_validation_and_broken_settings_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="n_ctx"):
        Settings(data_dir=str(tmp_path), n_ctx=10).validate()
    with pytest.raises(ConfigError, match="llm_backend"):
        Settings(data_dir=str(tmp_path)).replace(llm_backend="cloud")
    assert Settings(data_dir=str(tmp_path)).replace(n_ctx="4096").n_ctx == 4096
    s = Settings(data_dir=str(tmp_path), temperature=0.3)
    s.save()
    assert load_settings(tmp_path).temperature == 0.3
    (tmp_path / "settings.json").write_text("{oops")
    with pytest.raises(ConfigError, match="cannot be read"):
        load_settings(tmp_path)
    out = memex("stats", home=tmp_path)
    assert out.returncode == 2 and "settings file" in out.stderr


def test_memex_home_env_is_the_default(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("MEMEX_HOME", str(tmp_path / "envhome"))
    assert load_settings().home == tmp_path / "envhome"


@pytest.mark.server  # `memex` processes
def test_doctor_reports_a_wrong_model_path_and_exits_non_zero(tmp_path: Path) -> None:
    home = tmp_path / "home"
    Settings(data_dir=str(home), model_path=str(tmp_path / "gone.gguf")).save()
    out = memex("doctor", "--quick", home=home)
    assert out.returncode == 1
    assert "Model file not found" in out.stdout and "gone.gguf" in out.stdout and "Traceback" not in out.stdout + out.stderr


@pytest.mark.real_model
def test_doctor_loads_both_models_and_times_them(tmp_path: Path) -> None:
    out = memex("doctor", "--json", home=tmp_path / "home")
    assert out.returncode == 0, out.stdout[-2000:]
    report = json.loads(out.stdout)
    checks = {c["check"]: c for c in report["checks"]}
    assert report["ok"] and all(c["ok"] for c in checks.values())
    assert "tok/s" in checks["generate a few tokens"]["detail"]
    assert "dimension 384" in checks["embed one sentence"]["detail"]
    assert "+cu" not in report["packages"]["torch"]
