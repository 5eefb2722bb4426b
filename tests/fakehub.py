"""A fake Hugging Face hub + CDN on 127.0.0.1 for the download tests (see tests/models/test_models_download.py).

The hub answers like huggingface.co: ``HEAD /{repo}/resolve/{rev}/{file}`` redirects to a second
server (the "CDN", another port) with ``X-Repo-Commit``, ``X-Linked-Etag`` (the LFS sha256),
``X-Linked-Size`` and ``ETag``; the CDN serves the bytes with Range support. Every request is logged.
"""

from __future__ import annotations

import hashlib
import http.server
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

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


@contextmanager
def serve_hub(files: dict[tuple[str, str], bytes]) -> Iterator[Hub]:
    """Both servers running on free ports; stopped on exit."""
    state = Hub(files=files)
    servers = []
    for handler in (_hub_handler(state), _cdn_handler(state)):
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
    state.hub_url = f"http://127.0.0.1:{servers[0].server_address[1]}"
    state.cdn_url = f"http://127.0.0.1:{servers[1].server_address[1]}"
    try:
        yield state
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()


def cdn_gets(hub: Hub) -> list[dict[str, Any]]:
    return [e for e in hub.log if e["server"] == "cdn"]
