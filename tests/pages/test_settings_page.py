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

APP = str(Path(__file__).resolve().parents[2] / "app.py")


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


# ---- the model manager ----------------------------------------------------------------------------------
@pytest.fixture
def model_home(app_home: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """No model folders but the data dir's models/: a loadable copy of the bundled GGUF and one that is not."""
    from ggufs import write_gguf

    from memory_core.models.llm import bundled_model_path

    home = tmp_path / "userhome"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for var in ("HF_HOME", "HF_HUB_CACHE", "OLLAMA_MODELS"):
        monkeypatch.delenv(var, raising=False)
    models = app_home.home / "models"
    models.mkdir(parents=True)
    copy = models / "SmolLM2-copy-Q4_1.gguf"
    copy.write_bytes(bundled_model_path().read_bytes())
    broken = write_gguf(models / "tiny-Q4_K_M.gguf", name="Tiny Broken")  # a valid header, no real weights
    return {"copy": copy, "broken": broken}


def use_button(at: AppTest, path: Path):
    from pages.model_manager import _key

    return at.button(key=f"use_{_key(str(path))}")


def manager_text(at: AppTest) -> str:
    """The page's Markdown and captions with the escaping backslashes removed."""
    return (" ".join(m.value for m in at.markdown) + " " + " ".join(c.value for c in at.caption)).replace("\\", "")


def test_manager_lists_models_from_their_headers(app_home: Settings, model_home: dict[str, Path]) -> None:
    at = settings_page()
    text = manager_text(at)
    assert "Model manager" in [h.value for h in at.subheader]
    assert "SmolLM2-135M-Instruct.Q4_1.gguf (bundled)** · ✅ in use" in text
    assert "**SmolLM2-copy-Q4_1.gguf**" in text and "**tiny-Q4_K_M.gguf**" in text and "Tiny Broken" in text
    assert "135M parameters · Q4_1 · 98 MB · context 8,192 · llama · data dir" in text
    assert str(model_home["copy"]) in text


def test_one_click_switch_loads_then_saves(app_home: Settings, model_home: dict[str, Path]) -> None:
    at = settings_page()
    use_button(at, model_home["copy"]).click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert any("Now using" in s.value for s in at.success)
    saved = load_settings(app_home.home)
    assert (saved.llm_backend, saved.model_path) == ("local", str(model_home["copy"]))
    assert at.text_input(key="set_model_path").value == str(model_home["copy"])  # the form follows
    with pytest.raises(KeyError):
        use_button(at, model_home["copy"])  # now in use: no button
    # and back to the bundled one: the model path becomes empty again
    from memory_core.models.llm import bundled_model_path

    use_button(at, bundled_model_path()).click().run()
    assert not at.error and load_settings(app_home.home).model_path == ""


def test_switch_to_a_model_that_does_not_load_changes_nothing(app_home: Settings,
                                                              model_home: dict[str, Path]) -> None:
    at = settings_page()
    use_button(at, model_home["broken"]).click().run()
    assert not at.exception
    assert "cannot be used, so nothing was changed" in errors(at) and "could not load" in errors(at)
    assert not (app_home.home / SETTINGS_FILE).exists()


def test_download_from_the_page_shows_the_size_first(app_home: Settings, model_home: dict[str, Path],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from fakehub import cdn_gets, serve_hub

    from memory_core.models import jobs
    from memory_core.models.llm import bundled_model_path

    repo, file = "someone/Tiny-GGUF", "tiny-chat-Q4_1.gguf"
    data = bundled_model_path().read_bytes()
    with serve_hub({(repo, file): data}) as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.hub_url)
        at = settings_page()
        at.selectbox(key="mm_choice").set_value("__other__").run()
        at.text_input(key="mm_repo").input(repo)
        at.text_input(key="mm_file").input(file).run()
        at.button(key="mm_check").click().run()
        assert not at.error, errors(at)
        info = " ".join(i.value for i in at.info)
        assert "98 MB" in info and f"{len(data):,} bytes" in info and "sha256" in info
        assert [e["method"] for e in hub.log] == ["HEAD"] and not cdn_gets(hub)  # nothing downloaded yet
        at.button(key="mm_download").click().run()
        job = next(j for j in jobs.jobs() if j.filename == file)
        try:
            assert jobs.wait(job, 120) and job.state == "done", job.error
            at.run()
            assert any("Downloaded and verified" in s.value for s in at.success)
            target = app_home.home / "models" / file
            assert target.read_bytes() == data
            use_button(at, target)  # listed, with its Use button
        finally:
            jobs.forget(job.id)
