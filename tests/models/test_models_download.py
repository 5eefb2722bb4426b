"""The real download code against a fake Hugging Face hub on 127.0.0.1 (set through HF_ENDPOINT).

The fake hub (tests/fakehub.py) answers like huggingface.co: a HEAD on ``/{repo}/resolve/{rev}/{file}``
redirects to a "CDN" on another port with the size and sha256 headers, and the CDN serves Range
requests. It serves the bundled SmolLM2 GGUF (98 MB); every request is logged.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from fakehub import COMMIT, Hub, cdn_gets, serve_hub

from memory_core.cli import main
from memory_core.config import Settings
from memory_core.errors import ModelError
from memory_core.models import (
    DownloadCancelled,
    download_model,
    list_local_models,
    read_gguf_info,
    remote_file,
)
from memory_core.models.download import partial_downloads
from memory_core.models.llm import bundled_model_path

pytestmark = pytest.mark.real_model  # serves and downloads the bundled 98 MB GGUF

REPO = "HuggingFaceTB/SmolLM2-135M-Instruct-GGUF"
FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


@pytest.fixture(scope="module")
def model_bytes() -> bytes:
    return bundled_model_path().read_bytes()


@pytest.fixture
def hub(model_bytes: bytes, monkeypatch: pytest.MonkeyPatch) -> Iterator[Hub]:
    with serve_hub({(REPO, FILE): model_bytes}) as state:
        monkeypatch.setenv("HF_ENDPOINT", state.hub_url)
        monkeypatch.setenv("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        monkeypatch.delenv("HF_TOKEN", raising=False)
        yield state


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=str(tmp_path / "home"))


def test_size_and_checksum_come_first_from_one_head_request(hub: Hub, model_bytes: bytes) -> None:
    remote = remote_file(REPO, FILE)
    assert remote.size_bytes == len(model_bytes)
    assert remote.sha256 == hashlib.sha256(model_bytes).hexdigest()
    assert remote.revision == COMMIT and remote.url.startswith(hub.cdn_url)
    assert [e["method"] for e in hub.log] == ["HEAD"] and not cdn_gets(hub)  # no byte downloaded yet


def test_download_saves_a_verified_gguf_under_models(hub: Hub, settings: Settings, model_bytes: bytes) -> None:
    seen: list[tuple[int, int]] = []
    path = download_model(REPO, FILE, settings, progress=lambda d, t: seen.append((d, t)))
    assert path == settings.home / "models" / FILE
    assert hashlib.sha256(path.read_bytes()).digest() == hashlib.sha256(model_bytes).digest()
    assert seen[-1] == (len(model_bytes), len(model_bytes)) and len(seen) > 2
    assert [d for d, _t in seen] == sorted(d for d, _t in seen)  # progress only grows
    assert not list(path.parent.glob("*.part*"))
    info = read_gguf_info(path)
    assert info.context_length == 8192 and info.quantisation == "Q4_1"
    listed = {m.path: m for m in list_local_models(settings)}
    assert listed[str(path)].source == "data dir" and listed[str(path)].repo_id == REPO
    assert all(e["authorization"] is None for e in cdn_gets(hub))

    # A second call finds the verified file and downloads nothing.
    before = len(cdn_gets(hub))
    assert download_model(REPO, FILE, settings) == path
    assert len(cdn_gets(hub)) == before


def test_a_dropped_connection_is_resumed_with_a_range_request(hub: Hub, settings: Settings,
                                                               model_bytes: bytes) -> None:
    """huggingface_hub's http_get retries a cut connection from where it stopped (Range)."""
    hub.drop_first_gets_after = 40_000_000
    path = download_model(REPO, FILE, settings)
    gets = cdn_gets(hub)
    assert gets[0]["range"] is None and 0 < gets[0]["sent"] <= 40_000_000
    assert len(gets) == 2
    resumed_at = int(re.match(r"bytes=(\d+)-$", gets[1]["range"]).group(1))
    # From the last whole chunk written to disk (the cut one is read again), not from zero:
    assert 0 < resumed_at <= gets[0]["sent"] and gets[1]["sent"] == len(model_bytes) - resumed_at
    assert path.read_bytes() == model_bytes


def test_an_interrupted_download_resumes_in_the_next_call(hub: Hub, settings: Settings, model_bytes: bytes) -> None:
    """Stopped half-way (the person cancels, the app closes): the .part is kept and the next call resumes."""
    cancel = threading.Event()

    def stop_half_way(done: int, total: int) -> None:
        if done >= total // 2:
            cancel.set()

    with pytest.raises(DownloadCancelled):
        download_model(REPO, FILE, settings, progress=stop_half_way, cancel=cancel)
    target = settings.home / "models" / FILE
    part = target.with_name(FILE + ".part")
    assert not target.exists() and part.exists()
    kept = part.stat().st_size
    assert len(model_bytes) // 4 <= kept < len(model_bytes)  # the chunk in flight when it stopped is not kept
    assert partial_downloads(settings) == [{"filename": FILE, "repo_id": REPO, "total": len(model_bytes),
                                            "done": kept}]

    hub.log.clear()
    path = download_model(REPO, FILE, settings)
    gets = cdn_gets(hub)
    assert [g["range"] for g in gets] == [f"bytes={kept}-"]
    assert gets[0]["sent"] == len(model_bytes) - kept
    assert path.read_bytes() == model_bytes and not part.exists() and partial_downloads(settings) == []


def test_a_part_of_another_file_version_is_not_resumed(hub: Hub, settings: Settings, model_bytes: bytes) -> None:
    models = settings.home / "models"
    models.mkdir(parents=True)
    (models / (FILE + ".part")).write_bytes(b"GGUF old bytes of another version")
    (models / (FILE + ".part.json")).write_text('{"etag": "something-else", "size_bytes": 1, "repo_id": "x/y"}')
    path = download_model(REPO, FILE, settings)
    assert [g["range"] for g in cdn_gets(hub)] == [None]
    assert path.read_bytes() == model_bytes


def test_a_corrupted_download_is_refused_and_removed(hub: Hub, settings: Settings) -> None:
    hub.corrupt = True
    with pytest.raises(ModelError, match="sha256"):
        download_model(REPO, FILE, settings)
    assert not list((settings.home / "models").iterdir())  # neither the file nor a part is left


def test_an_existing_different_file_is_never_overwritten(hub: Hub, settings: Settings) -> None:
    target = settings.home / "models" / FILE
    target.parent.mkdir(parents=True)
    target.write_bytes(b"GGUF the person's own file")
    with pytest.raises(ModelError, match="already exists"):
        download_model(REPO, FILE, settings)
    assert target.read_bytes() == b"GGUF the person's own file"


@pytest.mark.parametrize("repo,file,gated,message", [
    ("nobody/nothing-GGUF", FILE, False, "No repository nobody/nothing-GGUF"),
    (REPO, "missing.gguf", False, "has no file missing.gguf"),
    (REPO, FILE, True, "gated"),
    ("not a repo id", FILE, False, "not a repository id"),
    (REPO, "../../etc/passwd", False, "not a .gguf file"),
])
def test_hub_refusals_are_one_clear_sentence(hub: Hub, settings: Settings, repo: str, file: str, gated: bool,
                                             message: str) -> None:
    hub.gated = gated
    with pytest.raises(ModelError, match=re.escape(message)):
        download_model(repo, file, settings)
    assert not (settings.home / "models").exists() or not list((settings.home / "models").iterdir())


def test_unreachable_hub_is_a_clear_error(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    with pytest.raises(ModelError, match="Cannot reach http://127.0.0.1:9"):
        download_model(REPO, FILE, settings)


def test_offline_mode_is_restored_after_a_download(hub: Hub, settings: Settings) -> None:
    from huggingface_hub import constants

    before = constants.HF_HUB_OFFLINE
    download_model(REPO, FILE, settings)
    assert constants.HF_HUB_OFFLINE == before


def test_cli_download_shows_the_size_then_downloads(hub: Hub, tmp_path: Path, model_bytes: bytes,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "cli-home"
    assert main(["models", "download", REPO, FILE, "--dry-run", "--data-dir", str(data)]) == 0
    out = capsys.readouterr().out
    assert f"{len(model_bytes):,} bytes" in out and "98 MB" in out and not (data / "models" / FILE).exists()
    assert main(["models", "download", REPO, FILE, "--data-dir", str(data)]) == 0
    captured = capsys.readouterr()
    assert "Saved and verified" in captured.out and "100%" in captured.err
    assert (data / "models" / FILE).read_bytes() == model_bytes
