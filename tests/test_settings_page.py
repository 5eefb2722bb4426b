"""The Settings page through AppTest: validation before saving, saving, and the model test with the real model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from memory_core.config import SETTINGS_FILE, Settings, load_settings
from memory_core.memory.pipeline import MemoryPipeline, NewItem
from memory_core.store import MemoryStore

pytestmark = pytest.mark.real_model

APP = str(Path(__file__).resolve().parents[1] / "app.py")


def settings_page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=240)
    at.switch_page("pages/settings.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value.endswith("Settings")
    return at


def save(at: AppTest) -> AppTest:
    next(b for b in at.button if b.label == "Save").click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def errors(at: AppTest) -> str:
    return " ".join(e.value for e in at.error)


@pytest.mark.parametrize("kind", ["missing", "folder", "not-gguf"])
def test_bad_model_path_is_refused_and_nothing_saved(app_home: Settings, tmp_path: Path, kind: str) -> None:
    path = tmp_path / ("models" if kind == "folder" else "model.gguf")
    if kind == "folder":
        path.mkdir()
    elif kind == "not-gguf":
        path.write_bytes(b"PK\x03\x04 not a model")
    at = settings_page()
    at.text_input(key="set_model_path").input(str(path))
    at.number_input(key="set_recall_k").set_value(9)
    save(at)
    expected = {"missing": "Model file not found", "folder": "is a folder",
                "not-gguf": "is not a GGUF model"}[kind]
    assert expected in errors(at) and "nothing was saved" in errors(at)
    assert not (app_home.home / SETTINGS_FILE).exists()


def test_truncated_gguf_fails_to_load_with_a_message(app_home: Settings, tmp_path: Path) -> None:
    path = tmp_path / "truncated.gguf"
    path.write_bytes(b"GGUF" + b"\x00" * 64)
    at = settings_page()
    at.text_input(key="set_model_path").input(str(path))
    save(at)
    assert "could not load" in errors(at) and str(path) in errors(at)
    assert not (app_home.home / SETTINGS_FILE).exists()


def test_valid_changes_are_saved(app_home: Settings) -> None:
    at = settings_page()
    at.number_input(key="set_recall_k").set_value(7)
    at.number_input(key="set_neighbours_k").set_value(3)
    at.toggle(key="set_evolution").set_value(False)
    at.slider(key="set_lexical_weight").set_value(0.7)
    at.number_input(key="set_n_ctx").set_value(1024)  # a model change: loaded before saving
    save(at)
    assert not at.error
    assert any("Saved to" in s.value for s in at.success)
    saved = load_settings(app_home.home)
    assert (saved.recall_k, saved.neighbours_k, saved.evolution, saved.lexical_weight, saved.n_ctx) == \
        (7, 3, False, 0.7, 1024)
    assert json.loads((app_home.home / SETTINGS_FILE).read_text())["recall_k"] == 7
    # The Chat page picks the change up: its recall control defaults to the new k.
    at.switch_page("pages/chat.py").run()
    assert not at.exception
    assert at.slider(key="chat_k").value == 7


def test_invalid_server_url_is_refused(app_home: Settings) -> None:
    at = settings_page()
    at.radio(key="set_llm_backend").set_value("server")
    at.text_input(key="set_server_url").input("ftp://example")
    save(at)
    assert "server_url" in errors(at) and "http://" in errors(at)
    assert not (app_home.home / SETTINGS_FILE).exists()


def test_unreachable_server_is_refused(app_home: Settings) -> None:
    at = settings_page()
    at.radio(key="set_llm_backend").set_value("server")
    at.text_input(key="set_server_url").input("http://127.0.0.1:9")
    save(at)
    assert "Cannot reach a llama.cpp server" in errors(at)
    assert not (app_home.home / SETTINGS_FILE).exists()


def test_embedding_model_not_switched_under_existing_notes(app_home: Settings, embedder, tmp_path: Path) -> None:
    MemoryPipeline(MemoryStore(app_home, embedder), app_home).add_many([NewItem("a note")])
    at = settings_page()
    at.selectbox(key="set_embedding_backend").set_value("gguf")
    at.text_input(key="set_embedding_model_path").input(str(tmp_path / "embed.gguf"))
    save(at)
    assert "holds 1 note embedded" in errors(at) and "export" in errors(at)
    assert not (app_home.home / SETTINGS_FILE).exists()


def test_test_model_generates_and_reports_speed(app_home: Settings) -> None:
    at = settings_page()
    next(b for b in at.button if b.label == "Test model").click().run()
    assert not at.exception and not at.error
    reply = at.chat_message[0].markdown[0].value
    assert reply.strip()
    report = " ".join(s.value for s in at.success)
    assert "tokens/s" in report and "SmolLM2" in report
    assert not (app_home.home / SETTINGS_FILE).exists()  # testing does not save
