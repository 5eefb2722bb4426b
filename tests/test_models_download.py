"""The real download code against a fake Hugging Face hub on 127.0.0.1 (set through HF_ENDPOINT).

The hub answers like huggingface.co: ``HEAD /{repo}/resolve/{rev}/{file}`` redirects to a second
server (the "CDN", another port) with ``X-Repo-Commit``, ``X-Linked-Etag`` (the LFS sha256),
``X-Linked-Size`` and ``ETag``; the CDN serves the bytes with Range support. It serves the bundled
SmolLM2 GGUF (98 MB). Every request is logged, so the tests can see what was asked for.
"""

from __future__ import annotations

import hashlib
import http.server
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from memory_core.cli import main
from memory_core.config import Settings
from memory_core.errors import ModelError
from memory_core.llm import bundled_model_path
from memory_core.models import (
    DownloadCancelled,
    download_model,
    list_local_models,
    read_gguf_info,
    remote_file,
)
from memory_core.models.download import partial_downloads

REPO = "HuggingFaceTB/SmolLM2-135M-Instruct-GGUF"
FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
COMMIT = "0123456789abcdef0123456789abcdef01234567"


@dataclass
class Hub:
    files: dict[tuple[str, str], bytes]
    log: list[dict[str, Any]] = field(default_factory=list)
    drop_first_gets_after: int | None = None  # close the connection after this many bytes, on the first GET only
    corrupt: bool = False  # serve one flipped byte (the advertised sha256 stays right)
    gated: bool = False
    gets: int = 0
    hub_url: str = ""
    cdn_url: str = ""

    def blob(self, sha: str) -> bytes | None:
        return next((d for d in self.files.values() if hashlib.sha256(d).hexdigest() == sha), None)


def _hub_handler(hub: Hub) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def do_HEAD(self) -> None:  # noqa: N802
            self._resolve(head=True)

        def do_GET(self) -> None:  # noqa: N802
            self._resolve(head=False)

        def _resolve(self, head: bool) -> None:
            hub.log.append({"server": "hub", "method": self.command, "path": self.path})
            m = re.match(r"^/(?P<repo>[^/]+/[^/]+)/resolve/(?P<rev>[^/]+)/(?P<file>.+)$", self.path.split("?")[0])
            if not m or m["repo"] not in {r for r, _f in hub.files}:
                return self._error(404, "RepoNotFound")
            if hub.gated:
                return self._error(403, "GatedRepo")
            data = hub.files.get((m["repo"], m["file"]))
            if data is None:
                return self._error(404, "EntryNotFound")
            sha = hashlib.sha256(data).hexdigest()
            self.send_response(302)
            self.send_header("Location", f"{hub.cdn_url}/blobs/{sha}")
            self.send_header("X-Repo-Commit", COMMIT)
            self.send_header("X-Linked-Etag", f'"{sha}"')
            self.send_header("X-Linked-Size", str(len(data)))
            self.send_header("ETag", '"0f3b-pointer-etag"')
            self.send_header("Content-Length", "0")
            self.end_headers()

        def _error(self, code: int, error: str) -> None:
            self.send_response(code)
            self.send_header("X-Error-Code", error)
            self.send_header("X-Repo-Commit", COMMIT)
            self.send_header("Content-Length", "0")
            self.end_headers()

    return Handler


def _cdn_handler(hub: Hub) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802
            data = hub.blob(self.path.rsplit("/", 1)[-1])
            entry = {"server": "cdn", "method": "GET", "path": self.path, "range": self.headers.get("Range"),
                     "sent": 0, "authorization": self.headers.get("Authorization")}
            hub.log.append(entry)
            if data is None:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if hub.corrupt:
                data = data[:1000] + bytes([data[1000] ^ 0xFF]) + data[1001:]
            start = 0
            rng = re.match(r"bytes=(\d+)-$", self.headers.get("Range") or "")
            if rng:
                start = int(rng.group(1))
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            else:
                self.send_response(200)
            body = data[start:]
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Accept-Ranges", "bytes")
            self.end_headers()
            hub.gets += 1
            limit = hub.drop_first_gets_after if hub.gets == 1 else None
            if limit is not None:
                body = body[:limit]
            view = memoryview(body)
            try:
                for i in range(0, len(view), 1 << 20):
                    self.wfile.write(view[i:i + (1 << 20)])
                    entry["sent"] += len(view[i:i + (1 << 20)])
            except (BrokenPipeError, ConnectionResetError):
                return
            if limit is not None:
                self.close_connection = True
                self.wfile.flush()
                self.connection.shutdown(2)  # a dropped connection in the middle of the body

    return Handler


@pytest.fixture(scope="module")
def model_bytes() -> bytes:
    return bundled_model_path().read_bytes()


@pytest.fixture
def hub(model_bytes: bytes, monkeypatch: pytest.MonkeyPatch) -> Iterator[Hub]:
    state = Hub(files={(REPO, FILE): model_bytes})
    servers = []
    for handler in (_hub_handler(state), _cdn_handler(state)):
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
    state.hub_url = f"http://127.0.0.1:{servers[0].server_address[1]}"
    state.cdn_url = f"http://127.0.0.1:{servers[1].server_address[1]}"
    monkeypatch.setenv("HF_ENDPOINT", state.hub_url)
    monkeypatch.setenv("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    monkeypatch.delenv("HF_TOKEN", raising=False)
    try:
        yield state
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=str(tmp_path / "home"))


def cdn_gets(hub: Hub) -> list[dict[str, Any]]:
    return [e for e in hub.log if e["server"] == "cdn"]


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
